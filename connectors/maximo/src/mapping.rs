//! Maximo's lean JSON records ↔ unified records. One table per object structure pairs unified
//! fields with Maximo attributes and says how values convert; the same table reads members and
//! writes create and update bodies, so the two directions cannot drift apart. What a table cannot
//! say (statuses, purchase order lines, derived fields) is spelled out below it.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use millwright::{
    capabilities::Status,
    connectors::ConnectorError,
    entities::{Entity, Record},
    error::ErrorCode,
};

/// How a value converts between Maximo and the unified model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Text; a number becomes its text, and a related object (`"location": {"location": …}`,
    /// as selections of related attributes answer) its attribute of the same name.
    Text,
    /// A whole number Maximo keeps as a number (`wopriority`), shown as text.
    Whole,
    /// A decimal Maximo sends as a JSON number, shown as a decimal string.
    Amount,
    /// A Maximo ISO timestamp, shown as RFC 3339 UTC.
    Time,
    /// A code Maximo keeps in capitals, shown in lower case.
    Lower,
}

/// A unified field, the Maximo attribute it comes from, and how it converts.
#[derive(Debug, Clone, Copy)]
struct Field(&'static str, &'static str, Kind);

/// A Maximo status (its internal value), the unified status key, and its name for people.
#[derive(Debug, Clone, Copy)]
struct Named(&'static str, &'static str, &'static str);

/// How one unified entity lives in Maximo.
#[derive(Debug)]
pub struct Shape {
    /// The unified entity.
    entity: Entity,
    /// The object structure that serves it, e.g. `mxapipo`.
    pub structure: &'static str,
    /// The fields a table can convert.
    fields: &'static [Field],
    /// The statuses Maximo knows for it.
    statuses: &'static [Named],
}

use Kind::*;

/// `updatedAt` of every structure.
const CHANGED: Field = Field("updatedAt", "changedate", Time);

static PURCHASE_ORDERS: Shape = Shape {
    entity: Entity::PurchaseOrders,
    structure: "mxapipo",
    fields: &[
        Field("orderNo", "ponum", Text),
        Field("title", "description", Text),
        Field("description", "description", Text),
        Field("vendorKey", "vendor", Text),
        Field("siteKey", "siteid", Text),
        Field("currencyKey", "currencycode", Text),
        Field("orderDate", "orderdate", Time),
        Field("dueAt", "requireddate", Time),
        Field("createdAt", "orderdate", Time),
        CHANGED,
    ],
    statuses: &[
        Named("WAPPR", "pending_approval", "Waiting on approval"),
        Named("APPR", "approved", "Approved"),
        Named("INPRG", "in_progress", "In progress"),
        Named("CLOSE", "completed", "Closed"),
        Named("CAN", "cancelled", "Cancelled"),
    ],
};

/// The fields of a purchase order line (`poline`); its currency is the order's.
const LINE_FIELDS: &[Field] = &[
    Field("key", "polinenum", Whole),
    Field("lineNo", "polinenum", Whole),
    Field("materialKey", "itemnum", Text),
    Field("description", "description", Text),
    Field("quantity", "orderqty", Amount),
    Field("uomKey", "orderunit", Text),
    Field("price", "unitcost", Amount),
    Field("lineTotalValue", "linecost", Amount),
];

static WORK_ORDERS: Shape = Shape {
    entity: Entity::WorkOrders,
    structure: "mxapiwodetail",
    fields: &[
        Field("code", "wonum", Text),
        Field("title", "description", Text),
        Field("siteKey", "siteid", Text),
        Field("locationKey", "location", Text),
        Field("assetKey", "assetnum", Text),
        Field("severity", "wopriority", Whole),
        Field("dueAt", "targcompdate", Time),
        Field("scheduledAt", "targstartdate", Time),
        Field("categoryName", "worktype", Text),
        Field("completedAt", "actfinish", Time),
        Field("createdAt", "reportdate", Time),
        CHANGED,
    ],
    statuses: &[
        Named("WAPPR", "pending_approval", "Waiting on approval"),
        Named("APPR", "approved", "Approved"),
        Named("INPRG", "in_progress", "In progress"),
        Named("COMP", "completed", "Completed"),
        Named("CLOSE", "closed", "Closed"),
        Named("CAN", "cancelled", "Cancelled"),
    ],
};

/// The statuses assets and locations share (domain LOCASSETSTATUS).
const DECOMMISSIONED: &str = "DECOMMISSIONED";

static ASSETS: Shape = Shape {
    entity: Entity::Assets,
    structure: "mxapiasset",
    fields: &[
        Field("siteKey", "siteid", Text),
        Field("locationKey", "location", Text),
        Field("parentKey", "parent", Text),
        Field("vendorKey", "vendor", Text),
        Field("makeName", "manufacturer", Text),
        Field("serialNumber", "serialnum", Text),
        CHANGED,
    ],
    statuses: &[
        Named("OPERATING", "operating", "Operating"),
        Named("NOT READY", "not_ready", "Not ready"),
        Named(DECOMMISSIONED, "decommissioned", "Decommissioned"),
    ],
};

static INVENTORIES: Shape = Shape {
    entity: Entity::Inventories,
    structure: "mxapiinventory",
    fields: &[
        Field("code", "itemnum", Text),
        Field("materialKey", "itemnum", Text),
        Field("locationKey", "location", Text),
        Field("siteKey", "siteid", Text),
        Field("quantity", "curbaltotal", Amount),
        Field("unitCost", "avgcost", Amount),
        CHANGED,
    ],
    statuses: &[
        Named("ACTIVE", "active", "Active"),
        Named("PENDOBS", "pendobs", "Pending obsolescence"),
        Named("PLANNING", "planning", "Planning"),
        Named("OBSOLETE", "obsolete", "Obsolete"),
    ],
};

/// The status a vendor stands for: Maximo has none, only the `disabled` flag.
const BLOCKED: &str = "BLOCKED";

static VENDORS: Shape = Shape {
    entity: Entity::Vendors,
    structure: "mxapivendor",
    fields: &[Field("code", "company", Text), Field("name", "name", Text), CHANGED],
    statuses: &[Named("ACTIVE", "active", "Active"), Named(BLOCKED, "blocked", "Blocked")],
};

static LOCATIONS: Shape = Shape {
    entity: Entity::Locations,
    structure: "mxapilocation",
    fields: &[
        Field("code", "location", Text),
        Field("name", "description", Text),
        Field("description", "description", Text),
        Field("siteKey", "siteid", Text),
        Field("parentKey", "parent", Text),
        Field("type", "type", Lower),
        CHANGED,
    ],
    statuses: &[
        Named("OPERATING", "operating", "Operating"),
        Named("ACTIVE", "active", "Active"),
        Named("NOT READY", "not_ready", "Not ready"),
        Named(DECOMMISSIONED, "decommissioned", "Decommissioned"),
    ],
};

/// How an entity lives in Maximo; none for the entities the connector does not serve
/// (materials, sites).
pub fn shape(entity: Entity) -> Option<&'static Shape> {
    match entity {
        Entity::PurchaseOrders => Some(&PURCHASE_ORDERS),
        Entity::WorkOrders => Some(&WORK_ORDERS),
        Entity::Assets => Some(&ASSETS),
        Entity::Inventories => Some(&INVENTORIES),
        Entity::Vendors => Some(&VENDORS),
        Entity::Locations => Some(&LOCATIONS),
        Entity::Materials | Entity::Sites => None,
    }
}

/// Whether `key` is a record id as Maximo puts it at the end of an `href`: `_` and base64url
/// characters, one URL path segment that needs no escaping.
pub fn is_key(key: &str) -> bool {
    key.len() > 1
        && key.len() <= 512
        && key.starts_with('_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The record id at the end of a record URL (absolute or relative), if it ends in one.
pub fn key_in(href: &str) -> Option<&str> {
    let path = href.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().filter(|k| is_key(k))
}

/// The record id of a member, from its `href`.
pub fn key_of(member: &Map<String, Value>) -> Option<&str> {
    member.get("href").and_then(Value::as_str).and_then(key_in)
}

/// A timestamp in the form Maximo's queries and attributes take, to the second.
pub fn maximo_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// A decimal from a JSON number's text (or a numeric string), never through float arithmetic.
fn parse_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&text).ok())
}

/// A Maximo value as the unified model shows it.
fn read(kind: Kind, value: Option<&Value>, attribute: &str) -> Value {
    let Some(value) = value else { return Value::Null };
    match (kind, value) {
        (Text | Whole | Lower, Value::Object(related)) => read(kind, related.get(attribute), attribute),
        (Text | Whole, Value::String(s)) => Value::String(s.clone()),
        (Text | Whole, Value::Number(n)) => Value::String(n.to_string()),
        (Lower, Value::String(s)) => Value::String(s.to_lowercase()),
        (Amount, v) => parse_decimal(v).map_or(Value::Null, |d| Value::String(d.to_string())),
        (Time, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map_or(Value::Null, |t| t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true).into()),
        _ => Value::Null,
    }
}

/// A refusal of a value in a write, naming the unified field.
fn invalid(field: &str, why: &str) -> ConnectorError {
    ConnectorError::Rule {
        code: ErrorCode::InvalidRequest,
        message: format!("{field} {why}"),
        field: Some(field.into()),
    }
}

/// A unified value as Maximo takes it; `field` names it in refusals.
fn write(kind: Kind, value: &Value, field: &str) -> Result<Value, ConnectorError> {
    let Value::String(text) = value else {
        return if value.is_null() { Ok(Value::Null) } else { Err(invalid(field, "must be a string")) };
    };
    match kind {
        Text => Ok(value.clone()),
        Lower => Ok(Value::String(text.to_uppercase())),
        Whole => text.trim().parse::<i64>().map(Value::from).map_err(|_| invalid(field, "must be a whole number")),
        // Through the decimal's text, so "12.50" reaches Maximo as the number 12.50.
        Amount => parse_decimal(value)
            .and_then(|d| serde_json::from_str(&d.to_string()).ok())
            .ok_or_else(|| invalid(field, "must be a decimal number")),
        Time => DateTime::parse_from_rfc3339(text)
            .map(|t| Value::String(maximo_time(t.with_timezone(&Utc))))
            .map_err(|_| invalid(field, "must be an RFC 3339 timestamp")),
    }
}

/// The unified fields a table converts, read from a Maximo record.
fn read_fields(fields: &[Field], member: &Map<String, Value>) -> Record {
    fields
        .iter()
        .map(|&Field(name, attribute, kind)| (name.to_owned(), read(kind, member.get(attribute), attribute)))
        .collect()
}

/// The Maximo attributes of a unified body, by a table; `prefix` leads field names in refusals.
fn write_fields(fields: &[Field], body: &Record, prefix: &str) -> Result<Map<String, Value>, ConnectorError> {
    body.iter()
        .map(|(name, value)| {
            let path = format!("{prefix}{name}");
            let &Field(_, attribute, kind) =
                fields.iter().find(|f| f.0 == name).ok_or_else(|| ConnectorError::Rule {
                    code: ErrorCode::FieldNotUpdatable,
                    message: format!("{path} cannot be written to Maximo"),
                    field: Some(path.clone()),
                })?;
            Ok((attribute.to_owned(), write(kind, value, &path)?))
        })
        .collect()
}

impl Shape {
    /// The status the record is in, as Maximo's internal value: `status_maxvalue` where the
    /// status is a synonym, and for vendors what the `disabled` flag means.
    fn internal_status<'a>(&self, member: &'a Map<String, Value>) -> Option<&'a str> {
        if self.entity == Entity::Vendors {
            let disabled = member.get("disabled").and_then(Value::as_bool).unwrap_or(false);
            return Some(if disabled { BLOCKED } else { "ACTIVE" });
        }
        member.get("status_maxvalue").or_else(|| member.get("status")).and_then(Value::as_str)
    }

    /// The unified status key of a Maximo status: from the table, or the status itself in lower
    /// case with `_` for spaces.
    fn status_key(&self, status: &str) -> String {
        self.statuses
            .iter()
            .find(|s| s.0 == status)
            .map_or_else(|| status.to_lowercase().replace(' ', "_"), |s| s.1.to_owned())
    }

    /// The Maximo status to ask for when the unified model asks for `key`.
    pub fn maximo_status(&self, key: &str) -> String {
        self.statuses
            .iter()
            .find(|s| s.1 == key)
            .map_or_else(|| key.to_uppercase().replace('_', " "), |s| s.0.to_owned())
    }

    /// The statuses, as capabilities declare them.
    pub fn statuses(&self) -> Vec<Status> {
        self.statuses.iter().map(|&Named(_, key, name)| Status { key, name }).collect()
    }

    /// The unified record of a Maximo member under `key`; `remoteData` is the member as sent.
    pub fn record(&self, key: &str, member: &Map<String, Value>) -> Record {
        let mut record = Record::new();
        record.insert("key".into(), key.into());
        record.insert("createdAt".into(), Value::Null);
        record.extend(read_fields(self.fields, member));
        let status = self.internal_status(member);
        record.insert("statusKey".into(), status.map_or(Value::Null, |s| self.status_key(s).into()));
        match self.entity {
            Entity::PurchaseOrders => {
                let total = ["pretaxtotal", "totalcost"].iter().find_map(|a| member.get(*a).and_then(parse_decimal));
                record.insert("totalNetValue".into(), total.map_or(Value::Null, |t| t.to_string().into()));
                let currency = record.get("currencyKey").cloned().unwrap_or(Value::Null);
                let lines = member.get("poline").and_then(Value::as_array).into_iter().flatten();
                let lines = lines.filter_map(Value::as_object).map(|line| {
                    let mut item = read_fields(LINE_FIELDS, line);
                    item.insert("currencyKey".into(), currency.clone());
                    Value::Object(item)
                });
                record.insert("lineItems".into(), Value::Array(lines.collect()));
            }
            Entity::Assets => {
                let name = ["description", "assetnum"].iter().find_map(|a| member.get(*a).and_then(Value::as_str));
                record.insert("name".into(), name.map_or(Value::Null, Value::from));
                record.insert("isActive".into(), Value::Bool(status != Some(DECOMMISSIONED)));
            }
            Entity::Locations => {
                record.insert("isActive".into(), Value::Bool(matches!(status, Some("OPERATING" | "ACTIVE"))));
            }
            _ => {}
        }
        // Maximo deletes nothing softly in these structures: a cancelled order is a status.
        record.insert("deletedAt".into(), Value::Null);
        record.insert("customFields".into(), Value::Object(Map::new()));
        record.insert("remoteData".into(), Value::Object(member.clone()));
        record
    }

    /// The Maximo body of a unified create or update: only the attributes the body sets, with
    /// purchase order `lineItems` as `poline`.
    pub fn body(&self, unified: &Record) -> Result<Map<String, Value>, ConnectorError> {
        let (lines, fields): (Record, Record) = unified
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| self.entity == Entity::PurchaseOrders && k == "lineItems");
        let mut body = write_fields(self.fields, &fields, "")?;
        for items in lines.values() {
            let items = items.as_array().ok_or_else(|| invalid("lineItems", "must be an array"))?;
            let poline = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let prefix = format!("lineItems[{i}].");
                    let item =
                        item.as_object().ok_or_else(|| invalid(&format!("lineItems[{i}]"), "must be an object"))?;
                    write_fields(LINE_FIELDS, item, &prefix).map(Value::Object)
                })
                .collect::<Result<Vec<_>, _>>()?;
            body.insert("poline".into(), Value::Array(poline));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn shape_of(entity: Entity) -> &'static Shape {
        shape(entity).unwrap()
    }

    #[test]
    fn keys_are_the_last_segment_of_href() {
        let abs = member(json!({"href": "http://localhost/maximo/api/os/mxapipo/_MTAxNy8wL0JFREZPUkQ-"}));
        assert_eq!(key_of(&abs), Some("_MTAxNy8wL0JFREZPUkQ-"));
        let relative = member(
            json!({"href": "oslc/os/mxapiinvbal/_QS02LTIvfk5VTEx_LzIzMC0wMC9TRVQxL0NFTlRSQUwvfk5VTEx_L0JFREZPUkQ-"}),
        );
        assert_eq!(key_of(&relative), Some("_QS02LTIvfk5VTEx_LzIzMC0wMC9TRVQxL0NFTlRSQUwvfk5VTEx_L0JFREZPUkQ-"));
        assert_eq!(key_of(&member(json!({"href": "http://childkey#UE8vUE9MSU5FLzIvMTAyMi8wL0JFREZPUkQ-"}))), None);
        assert_eq!(key_of(&member(json!({"href": 4}))), None);
        assert_eq!(key_of(&member(json!({}))), None);
        assert!(is_key("_UFVSR0UvU0VUMS9HQVJBR0UvQkVERk9SRA--"));
        for bad in ["", "_", "MTAx", "_a/b", "_a%2Fb", "_a.b", "_..", "_a?b"] {
            assert!(!is_key(bad), "{bad}");
        }
    }

    #[test]
    fn purchase_orders_map_with_lines_totals_and_statuses() {
        let po = member(json!({
            "href": "http://localhost/maximo/api/os/mxapipo/_MTAyMi8wL0JFREZPUkQ-",
            "_rowstamp": "322655",
            "ponum": "1022",
            "description": "Seals for Central Storeroom",
            "status": "APPR",
            "status_description": "Approved",
            "vendor": "KENNEDY",
            "vendordesc": "Txn Server Marketplc",
            "siteid": "BEDFORD",
            "currencycode": "USD",
            "orderdate": "2001-12-12T00:00:00+08:00",
            "requireddate": "2002-01-15T09:30:00-05:00",
            "changedate": "2026-11-30T10:00:00+00:00",
            "pretaxtotal": 1234.5,
            "totalcost": 1300.1,
            "poline": [
                {"polinenum": 1, "itemnum": "900810", "description": "Lubricator Assembly", "orderqty": 3,
                 "orderunit": "EACH", "unitcost": 25.99, "linecost": 77.97, "href": "http://childkey#UE8v"},
                {"polinenum": 2, "itemnum": "0-0031", "description": "Elbow, Street- 1-1/8 In X 90 Deg",
                 "orderqty": 1.5, "orderunit": "EACH"}
            ]
        }));
        let record = shape_of(Entity::PurchaseOrders).record("_MTAyMi8wL0JFREZPUkQ-", &po);
        let expected = json!({
            "key": "_MTAyMi8wL0JFREZPUkQ-",
            "orderNo": "1022",
            "title": "Seals for Central Storeroom",
            "description": "Seals for Central Storeroom",
            "statusKey": "approved",
            "vendorKey": "KENNEDY",
            "siteKey": "BEDFORD",
            "currencyKey": "USD",
            "orderDate": "2001-12-11T16:00:00Z",
            "dueAt": "2002-01-15T14:30:00Z",
            "createdAt": "2001-12-11T16:00:00Z",
            "updatedAt": "2026-11-30T10:00:00Z",
            "totalNetValue": "1234.5",
            "lineItems": [
                {"key": "1", "lineNo": "1", "materialKey": "900810", "description": "Lubricator Assembly",
                 "quantity": "3", "uomKey": "EACH", "price": "25.99", "lineTotalValue": "77.97", "currencyKey": "USD"},
                {"key": "2", "lineNo": "2", "materialKey": "0-0031", "description": "Elbow, Street- 1-1/8 In X 90 Deg",
                 "quantity": "1.5", "uomKey": "EACH", "price": null, "lineTotalValue": null, "currencyKey": "USD"}
            ],
            "deletedAt": null,
            "customFields": {},
            "remoteData": Value::Object(po.clone()),
        });
        assert_eq!(Value::Object(record), expected);

        // Without a pre-tax total the total cost counts; unknown statuses show lowercased.
        let bare = member(json!({"ponum": "1017", "status": "PNDREV", "totalcost": 10}));
        let record = shape_of(Entity::PurchaseOrders).record("_x", &bare);
        assert_eq!((record["totalNetValue"].as_str(), record["statusKey"].as_str()), (Some("10"), Some("pndrev")));
        assert_eq!(record["lineItems"], json!([]));
        assert_eq!(record["updatedAt"], Value::Null);
    }

    #[test]
    fn status_synonyms_map_by_their_internal_value() {
        let synonym = member(json!({"status": "APPRD", "status_maxvalue": "APPR"}));
        assert_eq!(shape_of(Entity::PurchaseOrders).record("_k", &synonym)["statusKey"], "approved");
        let po = shape_of(Entity::PurchaseOrders);
        let statuses: Vec<_> = po.statuses().iter().map(|s| s.key).collect();
        assert_eq!(statuses, ["pending_approval", "approved", "in_progress", "completed", "cancelled"]);
        for (key, maximo) in [("pending_approval", "WAPPR"), ("completed", "CLOSE"), ("cancelled", "CAN")] {
            assert_eq!(po.maximo_status(key), maximo);
        }
        let wo = shape_of(Entity::WorkOrders);
        assert_eq!((wo.maximo_status("completed"), wo.maximo_status("closed")), ("COMP".into(), "CLOSE".into()));
        assert_eq!(wo.maximo_status("wait_material"), "WAIT MATERIAL");
    }

    #[test]
    fn work_orders_map_priority_related_location_and_dates() {
        let wo = member(json!({
            "href": "oslc/os/mxapiwodetail/_QkVERk9SRC8xMTE2",
            "wonum": "1116",
            "description": "Issue PC",
            "status": "WAPPR",
            "status_maxvalue": "WAPPR",
            "wopriority": 1,
            "worktype": "CM",
            "siteid": "BEDFORD",
            "location": {"description": "Boiler Room Reciprocating Compressor", "location": "BR300"},
            "assetnum": "11430",
            "targcompdate": "2026-12-05T17:00:00+01:00",
            "targstartdate": "2026-12-04T08:00:00+01:00",
            "reportdate": "2026-11-29T08:00:00+00:00",
            "changedate": "2026-11-30T10:00:00+00:00"
        }));
        let record = shape_of(Entity::WorkOrders).record("_QkVERk9SRC8xMTE2", &wo);
        for (field, value) in [
            ("code", json!("1116")),
            ("title", json!("Issue PC")),
            ("statusKey", json!("pending_approval")),
            ("severity", json!("1")),
            ("categoryName", json!("CM")),
            ("siteKey", json!("BEDFORD")),
            ("locationKey", json!("BR300")),
            ("assetKey", json!("11430")),
            ("dueAt", json!("2026-12-05T16:00:00Z")),
            ("scheduledAt", json!("2026-12-04T07:00:00Z")),
            ("completedAt", Value::Null),
            ("createdAt", json!("2026-11-29T08:00:00Z")),
            ("updatedAt", json!("2026-11-30T10:00:00Z")),
            ("deletedAt", Value::Null),
        ] {
            assert_eq!(record[field], value, "{field}");
        }
        // A related location selected without attributes answers `{}`.
        let empty = member(json!({"wonum": "1138", "location": {}, "status": "CLOSE"}));
        let record = shape_of(Entity::WorkOrders).record("_k", &empty);
        assert_eq!((record["locationKey"].clone(), record["statusKey"].clone()), (Value::Null, json!("closed")));
    }

    #[test]
    fn assets_inventories_vendors_and_locations_map() {
        let asset = member(json!({
            "href": "oslc/os/mxapiasset/_MTAwOC9CRURGT1JE", "assetnum": "1008",
            "description": "Windows XP Operating System",
            "status": "OPERATING", "status_maxvalue": "OPERATING", "siteid": "BEDFORD", "location": "OFF301",
            "parent": "ASK1190", "vendor": "vendor", "manufacturer": "manufacturer", "serialnum": "SN-1", "priority": 2
        }));
        let record = shape_of(Entity::Assets).record("_MTAwOC9CRURGT1JE", &asset);
        assert_eq!(
            [&record["name"], &record["statusKey"], &record["locationKey"], &record["parentKey"], &record["makeName"]],
            [
                &json!("Windows XP Operating System"),
                &json!("operating"),
                &json!("OFF301"),
                &json!("ASK1190"),
                &json!("manufacturer")
            ]
        );
        assert_eq!((record["serialNumber"].clone(), record["isActive"].clone()), (json!("SN-1"), json!(true)));
        let retired =
            shape_of(Entity::Assets).record("_k", &member(json!({"assetnum": "1009", "status": "DECOMMISSIONED"})));
        assert_eq!(
            (retired["name"].clone(), retired["statusKey"].clone(), retired["isActive"].clone()),
            (json!("1009"), json!("decommissioned"), json!(false))
        );
        let not_ready = shape_of(Entity::Assets).record("_k", &member(json!({"status": "NOT READY"})));
        assert_eq!(not_ready["statusKey"], "not_ready");

        let inventory = member(json!({
            "href": "oslc/os/mxapiinventory/_UFVSR0UvU0VUMS9HQVJBR0UvQkVERk9SRA--", "itemnum": "PURGE",
            "status": "ACTIVE",
            "status_maxvalue": "ACTIVE", "siteid": "BEDFORD", "location": "GARAGE", "curbaltotal": 42, "avgcost": 3.125
        }));
        let record = shape_of(Entity::Inventories).record("_UFVSR0UvU0VUMS9HQVJBR0UvQkVERk9SRA--", &inventory);
        assert_eq!(
            [&record["code"], &record["materialKey"], &record["locationKey"], &record["quantity"], &record["unitCost"]],
            [&json!("PURGE"), &json!("PURGE"), &json!("GARAGE"), &json!("42"), &json!("3.125")]
        );
        assert_eq!(record["statusKey"], "active");

        let vendor = |disabled: bool| {
            member(json!({"href": "http://localhost/maximo/oslc/os/mxapivendor/_UExVUy9FQUdMRU5B", "company": "PLUS",
                "name": "Plus Industrial Conveyor Corporation", "disabled": disabled, "type": "V"}))
        };
        let active = shape_of(Entity::Vendors).record("_UExVUy9FQUdMRU5B", &vendor(false));
        assert_eq!(
            [&active["code"], &active["name"], &active["statusKey"]],
            [&json!("PLUS"), &json!("Plus Industrial Conveyor Corporation"), &json!("active")]
        );
        assert_eq!(shape_of(Entity::Vendors).record("_k", &vendor(true))["statusKey"], "blocked");

        let location = member(json!({"location": "BR300", "description": "Boiler Room", "siteid": "BEDFORD",
            "parent": "BR", "type": "OPERATING", "status": "OPERATING", "changedate": "2026-11-30T10:00:00+00:00"}));
        let record = shape_of(Entity::Locations).record("_QlIzMDAvQkVERk9SRA--", &location);
        assert_eq!(
            [
                &record["code"],
                &record["name"],
                &record["type"],
                &record["statusKey"],
                &record["isActive"],
                &record["parentKey"]
            ],
            [
                &json!("BR300"),
                &json!("Boiler Room"),
                &json!("operating"),
                &json!("operating"),
                &json!(true),
                &json!("BR")
            ]
        );
        let storeroom =
            shape_of(Entity::Locations).record("_k", &member(json!({"type": "STOREROOM", "status": "NOT READY"})));
        assert_eq!((storeroom["type"].clone(), storeroom["isActive"].clone()), (json!("storeroom"), json!(false)));
    }

    #[test]
    fn decimals_never_pass_through_float_arithmetic() {
        // 0.1 + 0.2 in floats is 0.30000000000000004; Maximo's text "0.3" must stay "0.3".
        assert_eq!(read(Amount, Some(&json!(0.3)), "x"), json!("0.3"));
        assert_eq!(read(Amount, Some(&json!(1e-7)), "x"), json!("0.0000001"));
        assert_eq!(read(Amount, Some(&json!("12.50")), "x"), json!("12.50"));
        assert_eq!(read(Amount, Some(&json!(true)), "x"), Value::Null);
        assert_eq!(write(Amount, &json!("12.50"), "price").unwrap().to_string(), "12.5");
        assert_eq!(write(Amount, &json!("3"), "quantity").unwrap(), json!(3));
        assert_eq!(read(Time, Some(&json!("yesterday")), "x"), Value::Null);
    }

    #[test]
    fn create_and_update_bodies_speak_maximo() {
        let po = shape_of(Entity::PurchaseOrders);
        let create = member(json!({
            "vendorKey": "ATI", "siteKey": "BEDFORD", "title": "Seals", "currencyKey": "USD",
            "dueAt": "2026-12-10T09:00:00+01:00",
            "lineItems": [{"materialKey": "11453", "quantity": "2", "price": "12.50", "uomKey": "EACH"},
                          {"description": "Freight", "quantity": "1.5"}]
        }));
        assert_eq!(
            Value::Object(po.body(&create).unwrap()),
            json!({"vendor": "ATI", "siteid": "BEDFORD", "description": "Seals", "currencycode": "USD",
                   "requireddate": "2026-12-10T08:00:00+00:00",
                   "poline": [{"itemnum": "11453", "orderqty": 2, "unitcost": 12.5, "orderunit": "EACH"},
                              {"description": "Freight", "orderqty": 1.5}]})
        );
        assert_eq!(
            Value::Object(po.body(&member(json!({"title": "New", "dueAt": null}))).unwrap()),
            json!({"description": "New", "requireddate": null})
        );
        let bad = po.body(&member(json!({"lineItems": [{"quantity": "lots"}]}))).unwrap_err();
        let quantity = Some("lineItems[0].quantity".to_owned());
        assert!(
            matches!(bad, ConnectorError::Rule { code: ErrorCode::InvalidRequest, field, .. } if field == quantity)
        );
        let unknown = po.body(&member(json!({"notes": "x"}))).unwrap_err();
        assert!(matches!(unknown, ConnectorError::Rule { code: ErrorCode::FieldNotUpdatable, .. }));

        let wo = shape_of(Entity::WorkOrders);
        let create = member(json!({"title": "Replace seal", "siteKey": "BEDFORD", "assetKey": "11430",
            "locationKey": "BR300", "severity": "2", "dueAt": "2026-12-05T16:00:00Z"}));
        assert_eq!(
            Value::Object(wo.body(&create).unwrap()),
            json!({"description": "Replace seal", "siteid": "BEDFORD", "assetnum": "11430", "location": "BR300",
                   "wopriority": 2, "targcompdate": "2026-12-05T16:00:00+00:00"})
        );
        let update = member(json!({"scheduledAt": "2026-12-04T07:00:00Z", "severity": "high"}));
        let err = wo.body(&update).unwrap_err();
        assert!(matches!(err, ConnectorError::Rule { field: Some(f), .. } if f == "severity"));
        // Work orders have no lines: `lineItems` is not theirs to write.
        assert!(wo.body(&member(json!({"lineItems": []}))).is_err());
    }

    #[test]
    fn materials_and_sites_are_not_served() {
        assert!(shape(Entity::Materials).is_none() && shape(Entity::Sites).is_none());
        assert_eq!(maximo_time("2026-11-30T10:00:00.987Z".parse().unwrap()), "2026-11-30T10:00:00+00:00");
    }
}
