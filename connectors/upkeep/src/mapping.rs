//! UpKeep's objects ↔ unified records, per the dossier's mapping: work orders, assets,
//! locations (root locations standing for sites), parts (as materials, and as the stock of
//! each), vendors and purchase orders (their parts as lines); and the bodies of work order and
//! purchase order writes.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use millwright::{
    capabilities::Status,
    connectors::ConnectorError,
    entities::{Entity, Record},
    error::ErrorCode,
};

use crate::assumed::SITES_ARE_ROOT_LOCATIONS;

/// Work order statuses: UpKeep's, the unified key, the name.
pub const WO_STATUSES: [(&str, &str, &str); 4] = [
    ("open", "open", "Open"),
    ("onHold", "on_hold", "On hold"),
    ("inProgress", "in_progress", "In progress"),
    ("complete", "completed", "Complete"),
];

/// Purchase order statuses: UpKeep's, the unified key, the name.
pub const PO_STATUSES: [(&str, &str, &str); 4] = [
    ("awaiting", "pending_approval", "Awaiting approval"),
    ("approved", "approved", "Approved"),
    ("declined", "rejected", "Declined"),
    ("fulfilled", "received", "Fulfilled"),
];

/// Work order priorities 0–3, as unified severities.
const SEVERITIES: [&str; 4] = ["none", "low", "medium", "high"];

/// The list an entity is read from.
pub fn path(entity: Entity) -> Option<&'static str> {
    Some(match entity {
        Entity::WorkOrders => "work-orders",
        Entity::PurchaseOrders => "purchase-orders",
        Entity::Assets => "assets",
        Entity::Materials | Entity::Inventories => "parts",
        Entity::Vendors => "vendors",
        Entity::Sites | Entity::Locations => "locations",
    })
}

/// The statuses of an entity, as capabilities declare them.
pub fn statuses(list: &[(&str, &'static str, &'static str)]) -> Vec<Status> {
    list.iter().map(|&(_, key, name)| Status { key, name }).collect()
}

/// The unified key of an UpKeep status (unknown ones as they are).
fn status_key(list: &[(&str, &str, &str)], status: Option<&str>) -> Value {
    status.map_or(Value::Null, |s| list.iter().find(|t| t.0 == s).map_or(s, |t| t.1).into())
}

/// The UpKeep status of a unified key.
pub fn upkeep_status(list: &[(&'static str, &str, &str)], key: &str) -> Option<&'static str> {
    list.iter().find(|t| t.1 == key).map(|t| t.0)
}

/// Each location's parent, to find a location's site (its root ancestor).
#[derive(Default)]
pub struct Lineage(HashMap<String, Option<String>>);

impl Lineage {
    /// The lineage of these locations.
    pub fn of(locations: &[Value]) -> Self {
        Self(
            locations
                .iter()
                .filter_map(|l| {
                    let id = l.get("id")?.as_str()?.to_owned();
                    Some((id, l.get(SITES_ARE_ROOT_LOCATIONS).and_then(Value::as_str).map(str::to_owned)))
                })
                .collect(),
        )
    }

    /// The root ancestor of a location (itself when it has no parent); none past a cycle.
    fn root<'a>(&'a self, mut id: &'a str) -> Option<&'a str> {
        for _ in 0..=self.0.len() {
            match self.0.get(id) {
                Some(Some(parent)) => id = parent,
                _ => return Some(id),
            }
        }
        None
    }
}

/// Whether a location is a root one, standing for a site.
pub fn is_root(location: &Value) -> bool {
    location.get(SITES_ARE_ROOT_LOCATIONS).is_none_or(Value::is_null)
}

fn text(item: &Map<String, Value>, name: &str) -> Value {
    match item.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        _ => Value::Null,
    }
}

/// A number as a decimal string, never through float arithmetic.
fn decimal(value: Option<&Value>) -> Value {
    let text = match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => return Value::Null,
    };
    text.parse::<Decimal>().map_or(Value::Null, |d| d.normalize().to_string().into())
}

/// An ISO time (or a `yyyy-MM-dd` date, as midnight UTC) as RFC 3339 UTC.
fn time(value: Option<&Value>) -> Value {
    let Some(text) = value.and_then(Value::as_str) else { return Value::Null };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return t.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true).into();
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(Value::Null, |t| t.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true).into())
}

/// The change time of an object, for feeds.
pub fn updated_at(item: &Value) -> Option<DateTime<Utc>> {
    item.get("updatedAt").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc())
}

/// An UpKeep object as a unified record of `entity`; `lineage` finds locations' sites.
pub fn record(entity: Entity, object: &Value, lineage: &Lineage) -> Record {
    let empty = Map::new();
    let item = object.as_object().unwrap_or(&empty);
    let mut record = Record::new();
    let mut put = |name: &str, value: Value| {
        record.insert(name.to_owned(), value);
    };
    match entity {
        Entity::WorkOrders => {
            put("code", text(item, "workOrderNo"));
            put("title", text(item, "title"));
            put("instructions", text(item, "description"));
            put("statusKey", status_key(&WO_STATUSES, item.get("status").and_then(Value::as_str)));
            let severity = item.get("priority").and_then(Value::as_u64).and_then(|p| SEVERITIES.get(p as usize));
            put("severity", severity.map_or(Value::Null, |s| Value::from(*s)));
            put("categoryName", text(item, "category"));
            put("dueAt", time(item.get("dueDate")));
            put("completedAt", time(item.get("dateCompleted")));
            put("assetKey", text(item, "asset"));
            put("locationKey", text(item, "location"));
        }
        Entity::PurchaseOrders => {
            put("orderNo", text(item, "purchaseOrderNumber"));
            put("title", text(item, "title"));
            put("description", text(item, "description"));
            put("statusKey", status_key(&PO_STATUSES, item.get("status").and_then(Value::as_str)));
            put("vendorKey", text(item, "vendor"));
            put("orderDate", time(item.get("poDate")));
            put("dueAt", time(item.get("dueDate")));
            put("approvedAt", time(item.get("approvedAt")));
            put("completedAt", time(item.get("fulfilledAt")));
            let parts = item.get("parts").and_then(Value::as_array).into_iter().flatten();
            let lines = parts.enumerate().map(|(i, part)| {
                let line = (i + 1).to_string();
                json!({"key": line, "lineNo": line, "materialKey": part.get("id").cloned().unwrap_or(Value::Null),
                       "quantity": decimal(part.get("quantity"))})
            });
            put("lineItems", Value::Array(lines.collect()));
            let fields = item.get("customFieldsPO").and_then(Value::as_array).into_iter().flatten();
            let custom: Map<String, Value> = fields
                .filter_map(|f| {
                    Some((f.get("name")?.as_str()?.to_owned(), f.get("value").cloned().unwrap_or(Value::Null)))
                })
                .collect();
            put("customFields", Value::Object(custom));
        }
        Entity::Assets => {
            put("name", text(item, "name"));
            put("description", text(item, "description"));
            put("serialNumber", text(item, "serialNumber"));
            put("modelName", text(item, "model"));
            put("categoryName", text(item, "category"));
            put("statusKey", text(item, "status"));
            put("isActive", Value::Bool(item.get("status").and_then(Value::as_str) == Some("active")));
            put("locationKey", text(item, "location"));
            put("parentKey", text(item, "parentAsset"));
        }
        Entity::Materials => {
            let code = text(item, "partNumber");
            put("code", if code.is_null() { text(item, "barcode") } else { code });
            put("partNumber", text(item, "partNumber"));
            put("name", text(item, "name"));
            put("description", text(item, "description"));
            put("statusKey", "active".into());
            put("isActive", Value::Bool(true));
        }
        Entity::Inventories => {
            let quantity = decimal(item.get("quantity"));
            let amount = |v: &Value| v.as_str().and_then(|q| q.parse::<Decimal>().ok()).unwrap_or_default();
            let status = match (amount(&quantity), amount(&decimal(item.get("minimumQuantity")))) {
                (q, _) if q <= Decimal::ZERO => "out_of_stock",
                (q, min) if q < min => "low_stock",
                _ => "in_stock",
            };
            put("code", text(item, "area"));
            put("name", text(item, "name"));
            put("materialKey", text(item, "id"));
            put("locationKey", text(item, "location"));
            put("quantity", quantity);
            put("unitCost", decimal(item.get("cost")));
            put("statusKey", status.into());
        }
        Entity::Vendors => {
            put("code", text(item, "id"));
            put("name", text(item, "businessName"));
            put("statusKey", "active".into());
        }
        Entity::Sites => {
            put("code", text(item, "id"));
            put("name", text(item, "name"));
            put("description", text(item, "address"));
            put("statusKey", "active".into());
            put("lat", decimal(item.get("latitude")));
            put("lng", decimal(item.get("longitude")));
        }
        Entity::Locations => {
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            put("code", text(item, "id"));
            put("name", text(item, "name"));
            put("description", text(item, "address"));
            put("statusKey", "active".into());
            put("parentKey", text(item, SITES_ARE_ROOT_LOCATIONS));
            put("siteKey", lineage.root(id).map_or(Value::Null, Value::from));
            put("isActive", Value::Bool(true));
        }
    }
    record.insert("key".into(), text(item, "id"));
    record.insert("createdAt".into(), time(item.get("createdAt")));
    record.insert("updatedAt".into(), time(item.get("updatedAt")));
    record.insert("deletedAt".into(), Value::Null);
    record.entry("customFields").or_insert_with(|| Value::Object(Map::new()));
    record.insert("remoteData".into(), object.clone());
    record
}

/// A refusal of a value in a write, naming the unified field.
fn invalid(field: &str, why: &str) -> ConnectorError {
    ConnectorError::Rule { code: ErrorCode::InvalidValue, message: format!("{field} {why}"), field: Some(field.into()) }
}

fn not_writable(field: &str) -> ConnectorError {
    ConnectorError::Rule {
        code: ErrorCode::FieldNotUpdatable,
        message: format!("{field} cannot be written to UpKeep"),
        field: Some(field.into()),
    }
}

/// A unified timestamp as UpKeep's ISO time, or as its `yyyy-MM-dd` date.
fn upkeep_time(value: &Value, field: &str, date_only: bool) -> Result<Value, ConnectorError> {
    let t = value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| invalid(field, "must be an RFC 3339 timestamp"))?
        .to_utc();
    Ok(if date_only { t.format("%Y-%m-%d").to_string() } else { t.to_rfc3339_opts(SecondsFormat::Millis, true) }.into())
}

/// A unified decimal as a JSON number.
fn number(value: &Value, field: &str) -> Result<Value, ConnectorError> {
    value
        .as_str()
        .and_then(|s| s.parse::<Decimal>().ok())
        .and_then(|d| serde_json::from_str(&d.to_string()).ok())
        .ok_or_else(|| invalid(field, "must be a decimal number"))
}

/// The body of a work order create or update.
pub fn work_order_body(unified: &Record) -> Result<Map<String, Value>, ConnectorError> {
    let mut body = Map::new();
    for (name, value) in unified {
        let (property, converted) = match name.as_str() {
            "title" => ("title", value.clone()),
            "instructions" => ("description", value.clone()),
            "categoryName" => ("category", value.clone()),
            "assetKey" => ("asset", value.clone()),
            "locationKey" => ("location", value.clone()),
            "dueAt" => ("dueDate", upkeep_time(value, name, false)?),
            "severity" => {
                let named =
                    value.as_str().and_then(|s| SEVERITIES.iter().position(|n| *n == s).or_else(|| s.parse().ok()));
                let priority = named
                    .filter(|p| *p < SEVERITIES.len())
                    .ok_or_else(|| invalid(name, "must be none, low, medium or high (or 0 to 3)"))?;
                ("priority", priority.into())
            }
            _ => return Err(not_writable(name)),
        };
        body.insert(property.into(), converted);
    }
    Ok(body)
}

/// The body of a purchase order create or update: its lines as `parts`.
pub fn purchase_order_body(unified: &Record) -> Result<Map<String, Value>, ConnectorError> {
    let mut body = Map::new();
    for (name, value) in unified {
        let (property, converted) = match name.as_str() {
            "title" => ("title", value.clone()),
            "description" => ("description", value.clone()),
            "vendorKey" => ("vendor", value.clone()),
            "orderDate" => ("poDate", upkeep_time(value, name, true)?),
            "dueAt" => ("dueDate", upkeep_time(value, name, true)?),
            "customFields" => {
                let fields = value.as_object().ok_or_else(|| invalid(name, "must be an object"))?;
                ("customFieldsPO", fields.iter().map(|(k, v)| json!({"name": k, "value": v})).collect())
            }
            "lineItems" => {
                let lines = value.as_array().ok_or_else(|| invalid(name, "must be an array"))?;
                let parts = lines
                    .iter()
                    .enumerate()
                    .map(|(i, line)| {
                        let field = |f: &str| format!("lineItems[{i}].{f}");
                        if let Some(other) = line
                            .as_object()
                            .into_iter()
                            .flat_map(|l| l.keys())
                            .find(|k| !matches!(k.as_str(), "materialKey" | "quantity"))
                        {
                            return Err(not_writable(&field(other)));
                        }
                        let part = line
                            .get("materialKey")
                            .and_then(Value::as_str)
                            .ok_or_else(|| invalid(&field("materialKey"), "is required"))?;
                        let quantity = number(line.get("quantity").unwrap_or(&Value::Null), &field("quantity"))?;
                        Ok(json!({"id": part, "quantity": quantity}))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                ("parts", Value::Array(parts))
            }
            _ => return Err(not_writable(name)),
        };
        body.insert(property.into(), converted);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_find_their_site_and_roots_stand_for_sites() {
        let all = vec![
            json!({"id": "A", "parentLocation": null, "name": "Main Plant"}),
            json!({"id": "B", "parentLocation": "A", "name": "Boiler Room"}),
            json!({"id": "C", "parentLocation": "B", "name": "Panel"}),
        ];
        let lineage = Lineage::of(&all);
        let panel = record(Entity::Locations, &all[2], &lineage);
        assert_eq!((panel["siteKey"].clone(), panel["parentKey"].clone()), (json!("A"), json!("B")));
        assert!(is_root(&all[0]) && !is_root(&all[1]));
        let cycle =
            Lineage::of(&[json!({"id": "X", "parentLocation": "Y"}), json!({"id": "Y", "parentLocation": "X"})]);
        assert_eq!(cycle.root("X"), None, "a cycle ends nowhere, not in a loop");
    }

    #[test]
    fn bodies_use_upkeeps_names_and_refuse_what_it_cannot_take() {
        let wo: Record = serde_json::from_value(
            json!({"title": "Fix", "severity": "high", "dueAt": "2024-08-12T17:00:00Z", "assetKey": "As2"}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(work_order_body(&wo).unwrap()),
            json!({"title": "Fix", "priority": 3, "dueDate": "2024-08-12T17:00:00.000Z", "asset": "As2"})
        );
        let po: Record =
            serde_json::from_value(json!({"title": "Filters", "vendorKey": "Vd7", "dueAt": "2024-08-20T00:00:00Z",
            "lineItems": [{"materialKey": "Pt1", "quantity": "4"}], "customFields": {"ERPReference": "PR-1"}}))
            .unwrap();
        assert_eq!(
            Value::Object(purchase_order_body(&po).unwrap()),
            json!({"title": "Filters", "vendor": "Vd7", "dueDate": "2024-08-20", "parts": [{"id": "Pt1", "quantity": 4}],
                   "customFieldsPO": [{"name": "ERPReference", "value": "PR-1"}]})
        );
        let refused = |r: Result<Map<String, Value>, ConnectorError>| match r.unwrap_err() {
            ConnectorError::Rule { code, field, .. } => (code, field.unwrap()),
            other => panic!("{other:?}"),
        };
        let bad: Record = serde_json::from_value(json!({"severity": "urgent"})).unwrap();
        assert_eq!(refused(work_order_body(&bad)), (ErrorCode::InvalidValue, "severity".into()));
        let bad: Record = serde_json::from_value(json!({"lineItems": [{"materialKey": "P", "price": "1"}]})).unwrap();
        assert_eq!(refused(purchase_order_body(&bad)), (ErrorCode::FieldNotUpdatable, "lineItems[0].price".into()));
    }
}
