//! NetSuite records ↔ unified records: purchase orders as the REST record service serves them
//! (lines, references, custom fields), the reference entities as SuiteQL rows, and the bodies of
//! purchase order creates and updates. `o:errorPath`s in NetSuite's refusals are traced back to
//! the unified fields they came from.

use chrono::{DateTime, NaiveDate, SecondsFormat};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use millwright::{
    capabilities::Status,
    connectors::ConnectorError,
    entities::{Entity, Record},
    error::ErrorCode,
};

use crate::{
    assumed::{LINE_KEY, PLANNED, STOCK_TABLE, suiteql_time},
    suiteql::{Order, Table, number, text},
};

/// Purchase order status letters, the unified status key and its name.
pub const PO_STATUSES: [(&str, &str, &str); 9] = [
    ("A", "pending_approval", "Pending supervisor approval"),
    ("B", "approved", "Pending receipt"),
    ("C", "rejected", "Rejected by supervisor"),
    ("D", "partially_received", "Partially received"),
    ("E", "partially_received_pending_billing", "Pending billing, partially received"),
    ("F", "pending_billing", "Pending bill"),
    ("G", "fully_billed", "Fully billed"),
    ("H", "closed", "Closed"),
    (PLANNED, "planned", "Planned"),
];

/// The statuses in which NetSuite's approval workflow locks a purchase order.
pub const LOCKED: [&str; 6] = [
    "approved",
    "partially_received",
    "partially_received_pending_billing",
    "pending_billing",
    "fully_billed",
    "closed",
];

/// A SuiteQL-read entity: its table and how a row becomes a record.
pub struct Feed {
    /// The table and its order.
    pub table: Table,
    /// A row as a unified record.
    pub record: fn(&Map<String, Value>) -> Record,
}

/// The ids and change times of purchase orders; each is then read whole from the record service.
pub static PURCHASE_ORDERS: Table = Table {
    name: "transaction",
    alias: "t",
    columns: &["id"],
    filter: Some("t.type = 'PurchOrd'"),
    order: Order::Changed,
    // Each id costs a record read, so a page is a hundred.
    page: 100,
};

static VENDORS: Feed = Feed {
    table: Table {
        name: "vendor",
        alias: "v",
        columns: &["id", "entityid", "companyname", "email", "isinactive", "currency"],
        filter: None,
        order: Order::Changed,
        page: 1000,
    },
    record: vendor,
};

static MATERIALS: Feed = Feed {
    table: Table {
        name: "item",
        alias: "i",
        columns: &["id", "itemid", "displayname", "description", "itemtype", "isinactive", "stockunit"],
        filter: Some("i.itemtype = 'InvtPart'"),
        order: Order::Changed,
        page: 1000,
    },
    record: material,
};

static INVENTORIES: Feed = Feed {
    table: Table {
        name: STOCK_TABLE,
        alias: "il",
        columns: &["item", "location", "quantityonhand", "quantityavailable", "quantityonorder"],
        filter: None,
        order: Order::Keys("item", "location"),
        page: 1000,
    },
    record: inventory,
};

static SITES: Feed = Feed {
    table: Table {
        name: "subsidiary",
        alias: "s",
        columns: &["id", "name", "fullname", "isinactive", "currency", "country"],
        filter: None,
        order: Order::Changed,
        page: 1000,
    },
    record: site,
};

static LOCATIONS: Feed = Feed {
    table: Table {
        name: "location",
        alias: "l",
        columns: &["id", "name", "fullname", "isinactive", "subsidiary", "parent"],
        filter: None,
        order: Order::Changed,
        page: 1000,
    },
    record: location,
};

/// The SuiteQL feed of an entity read from rows; none for purchase orders (see
/// `PURCHASE_ORDERS`) and for what NetSuite does not hold (work orders, assets).
pub fn feed(entity: Entity) -> Option<&'static Feed> {
    match entity {
        Entity::Vendors => Some(&VENDORS),
        Entity::Materials => Some(&MATERIALS),
        Entity::Inventories => Some(&INVENTORIES),
        Entity::Sites => Some(&SITES),
        Entity::Locations => Some(&LOCATIONS),
        Entity::PurchaseOrders | Entity::WorkOrders | Entity::Assets => None,
    }
}

/// Whether a key is a NetSuite internal id.
pub fn is_id(key: &str) -> bool {
    !key.is_empty() && key.len() <= 18 && key.bytes().all(|b| b.is_ascii_digit())
}

/// An inventory key, `<item>-<location>`, as its two ids.
pub fn stock_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('-').filter(|(i, l)| is_id(i) && is_id(l))
}

/// The conditions that find one row of an entity by its key.
pub fn key_conditions(feed: &Feed, key: &str) -> Option<Vec<String>> {
    let a = feed.table.alias;
    match feed.table.order {
        Order::Changed => is_id(key).then(|| vec![format!("{a}.id = {key}")]),
        Order::Keys(x, y) => stock_key(key).map(|(i, l)| vec![format!("{a}.{x} = {i}"), format!("{a}.{y} = {l}")]),
    }
}

/// A decimal from a JSON number or numeric string, in its shortest form ("10.0" → "10").
fn decimal(value: Option<&Value>) -> Value {
    let text = match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => return Value::Null,
    };
    text.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(&text).ok())
        .map_or(Value::Null, |d| d.normalize().to_string().into())
}

/// An ISO time of the record service (`2026-01-21T09:15:32Z`) as RFC 3339 UTC.
fn time(value: Option<&Value>) -> Value {
    value
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(Value::Null, |t| t.to_utc().to_rfc3339_opts(SecondsFormat::Secs, true).into())
}

/// A date of the record service (`2026-01-20`) as midnight UTC.
fn date(value: Option<&Value>) -> Value {
    value
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(Value::Null, |t| t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true).into())
}

/// The id of a reference (`{"id": "321", "refName": …}`).
fn reference(value: Option<&Value>) -> Value {
    value.and_then(|r| r.get("id")).and_then(Value::as_str).map_or(Value::Null, Value::from)
}

/// The display name of a reference.
fn reference_name(value: Option<&Value>) -> Value {
    value.and_then(|r| r.get("refName")).and_then(Value::as_str).map_or(Value::Null, Value::from)
}

/// A text column, or null when SuiteQL left it out.
fn column(row: &Map<String, Value>, name: &str) -> Value {
    text(row, name).map_or(Value::Null, Value::from)
}

/// Whether a SuiteQL boolean column is true (`'T'`).
fn flag(row: &Map<String, Value>, name: &str) -> bool {
    text(row, name) == Some("T")
}

/// The custom fields of a record or line: its `custbody…` / `custcol…` properties.
fn custom(fields: &Map<String, Value>, prefix: &str) -> Map<String, Value> {
    fields.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The fields every record has, around an entity's own.
fn finish(mut record: Record, key: Value, updated: Value, remote: Map<String, Value>) -> Record {
    record.insert("key".into(), key);
    record.entry("createdAt").or_insert(Value::Null);
    record.insert("updatedAt".into(), updated);
    record.insert("deletedAt".into(), Value::Null);
    record.entry("customFields").or_insert_with(|| Value::Object(Map::new()));
    record.insert("remoteData".into(), Value::Object(remote));
    record
}

fn changed(row: &Map<String, Value>) -> Value {
    text(row, "lastmodified")
        .and_then(suiteql_time)
        .map_or(Value::Null, |t| t.to_rfc3339_opts(SecondsFormat::Secs, true).into())
}

fn active(row: &Map<String, Value>) -> Value {
    Value::from(if flag(row, "isinactive") { "inactive" } else { "active" })
}

fn vendor(row: &Map<String, Value>) -> Record {
    let name = text(row, "companyname").or_else(|| text(row, "entityid"));
    let record = Record::from_iter([
        ("code".into(), column(row, "entityid")),
        ("name".into(), name.map_or(Value::Null, Value::from)),
        // An inactive vendor takes no new orders: blocked, in the unified statuses.
        ("statusKey".into(), Value::from(if flag(row, "isinactive") { "blocked" } else { "active" })),
    ]);
    finish(record, column(row, "id"), changed(row), row.clone())
}

fn material(row: &Map<String, Value>) -> Record {
    let name = text(row, "displayname").or_else(|| text(row, "itemid"));
    let record = Record::from_iter([
        ("code".into(), column(row, "itemid")),
        ("partNumber".into(), column(row, "itemid")),
        ("name".into(), name.map_or(Value::Null, Value::from)),
        ("description".into(), column(row, "description")),
        ("statusKey".into(), active(row)),
        ("uomKey".into(), column(row, "stockunit")),
        ("isActive".into(), Value::Bool(!flag(row, "isinactive"))),
    ]);
    finish(record, column(row, "id"), changed(row), row.clone())
}

fn inventory(row: &Map<String, Value>) -> Record {
    let available = decimal(row.get("quantityavailable")).as_str().and_then(|q| q.parse::<Decimal>().ok());
    let in_stock = available.is_some_and(|q| q > Decimal::ZERO);
    let on_hand = decimal(row.get("quantityonhand"));
    let record = Record::from_iter([
        ("code".into(), column(row, "item")),
        ("materialKey".into(), column(row, "item")),
        ("locationKey".into(), column(row, "location")),
        ("quantity".into(), if on_hand.is_null() { "0".into() } else { on_hand }),
        ("statusKey".into(), Value::from(if in_stock { "in_stock" } else { "out_of_stock" })),
    ]);
    let key = match (number(row, "item"), number(row, "location")) {
        (Some(i), Some(l)) => Value::from(format!("{i}-{l}")),
        _ => Value::Null,
    };
    finish(record, key, Value::Null, row.clone())
}

fn site(row: &Map<String, Value>) -> Record {
    let record = Record::from_iter([
        ("code".into(), column(row, "id")),
        ("name".into(), column(row, "name")),
        ("description".into(), column(row, "fullname")),
        ("statusKey".into(), active(row)),
    ]);
    finish(record, column(row, "id"), changed(row), row.clone())
}

fn location(row: &Map<String, Value>) -> Record {
    let record = Record::from_iter([
        ("code".into(), column(row, "id")),
        ("name".into(), column(row, "name")),
        ("description".into(), column(row, "fullname")),
        ("statusKey".into(), active(row)),
        ("siteKey".into(), column(row, "subsidiary")),
        ("parentKey".into(), column(row, "parent")),
        ("isActive".into(), Value::Bool(!flag(row, "isinactive"))),
    ]);
    finish(record, column(row, "id"), changed(row), row.clone())
}

/// The unified status of a purchase order's status letter (unknown letters in lower case).
fn po_status(letter: &str) -> String {
    PO_STATUSES.iter().find(|s| s.0 == letter).map_or_else(|| letter.to_lowercase(), |s| s.1.to_owned())
}

/// The statuses of purchase orders, as capabilities declare them.
pub fn po_statuses() -> Vec<Status> {
    PO_STATUSES.iter().map(|&(_, key, name)| Status { key, name }).collect()
}

/// A line's status: closed, received in full or part, or open.
fn line_status(line: &Map<String, Value>) -> &'static str {
    let quantity = |name| decimal(line.get(name)).as_str().and_then(|q| q.parse::<Decimal>().ok()).unwrap_or_default();
    if line.get("isClosed").and_then(Value::as_bool) == Some(true) {
        "closed"
    } else if quantity("quantityReceived") >= quantity("quantity") && quantity("quantity") > Decimal::ZERO {
        "received"
    } else if quantity("quantityReceived") > Decimal::ZERO {
        "partially_received"
    } else {
        "open"
    }
}

/// A purchase order as the record service serves it (`expandSubResources=true`), unified.
pub fn purchase_order(po: &Map<String, Value>) -> Record {
    let currency = reference(po.get("currency"));
    let lines = sublist(po, "item");
    let line_items = lines.iter().map(|line| {
        let key = line_key(line).map_or(Value::Null, Value::from);
        json!({
            "key": key, "lineNo": key,
            "materialKey": reference(line.get("item")), "name": reference_name(line.get("item")),
            "description": line.get("description").cloned().unwrap_or(Value::Null),
            "quantity": decimal(line.get("quantity")), "uomKey": line.get("units").cloned().unwrap_or(Value::Null),
            "price": decimal(line.get("rate")), "currencyKey": currency,
            "lineTotalValue": decimal(line.get("amount")), "statusKey": line_status(line),
        })
    });
    let mut fields = custom(po, "custbody");
    let line_fields: Map<String, Value> = lines
        .iter()
        .filter_map(|line| {
            let own = custom(line, "custcol");
            (!own.is_empty()).then_some((line_key(line)?, Value::Object(own)))
        })
        .collect();
    if !line_fields.is_empty() {
        fields.insert("lines".into(), Value::Object(line_fields));
    }
    let status = po.get("status").and_then(|s| s.get("id").or(Some(s))).and_then(Value::as_str);
    let record = Record::from_iter([
        ("orderNo".into(), po.get("tranId").cloned().unwrap_or(Value::Null)),
        ("title".into(), po.get("memo").cloned().unwrap_or(Value::Null)),
        ("statusKey".into(), status.map_or(Value::Null, |s| po_status(s).into())),
        ("vendorKey".into(), reference(po.get("entity"))),
        ("siteKey".into(), reference(po.get("subsidiary"))),
        ("locationKey".into(), reference(po.get("location"))),
        ("currencyKey".into(), currency.clone()),
        ("orderDate".into(), date(po.get("tranDate"))),
        ("dueAt".into(), date(po.get("dueDate"))),
        ("totalNetValue".into(), decimal(po.get("subtotal"))),
        ("totalGrossValue".into(), decimal(po.get("total"))),
        ("lineItems".into(), Value::Array(line_items.collect())),
        ("createdAt".into(), time(po.get("createdDate"))),
        ("customFields".into(), Value::Object(fields)),
    ]);
    let key = po.get("id").cloned().unwrap_or(Value::Null);
    finish(record, key, time(po.get("lastModifiedDate")), po.clone())
}

/// The lines of a record's sublist: `{"item": {"items": [...]}}`.
fn sublist<'a>(record: &'a Map<String, Value>, name: &str) -> Vec<&'a Map<String, Value>> {
    let items = record.get(name).and_then(|s| s.get("items")).and_then(Value::as_array);
    items.into_iter().flatten().filter_map(Value::as_object).collect()
}

/// A line's number, as text.
fn line_key(line: &Map<String, Value>) -> Option<String> {
    match line.get(LINE_KEY)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A refusal of a value in a write, naming the unified field.
fn invalid(field: &str, why: &str) -> ConnectorError {
    ConnectorError::Rule { code: ErrorCode::InvalidValue, message: format!("{field} {why}"), field: Some(field.into()) }
}

/// `{"id": …}` for a unified key that must be a NetSuite internal id.
fn id_reference(value: &Value, field: &str) -> Result<Value, ConnectorError> {
    match value.as_str() {
        Some(key) if is_id(key) => Ok(json!({ "id": key })),
        _ => Err(invalid(field, "must be a NetSuite internal id (digits)")),
    }
}

/// A unified decimal as the JSON number NetSuite takes.
fn number_of(value: &Value, field: &str) -> Result<Value, ConnectorError> {
    value
        .as_str()
        .and_then(|s| s.parse::<Decimal>().ok())
        .and_then(|d| serde_json::from_str(&d.to_string()).ok())
        .ok_or_else(|| invalid(field, "must be a decimal number"))
}

/// A unified timestamp as a NetSuite date (`YYYY-MM-DD`).
fn date_of(value: &Value, field: &str) -> Result<Value, ConnectorError> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| Value::from(t.to_utc().format("%Y-%m-%d").to_string()))
        .ok_or_else(|| invalid(field, "must be an RFC 3339 timestamp"))
}

/// The header fields of a create or update body.
fn header_field(name: &str, value: &Value, body: &mut Map<String, Value>) -> Result<(), ConnectorError> {
    let (property, converted) = match name {
        "vendorKey" => ("entity", id_reference(value, name)?),
        "siteKey" => ("subsidiary", id_reference(value, name)?),
        "locationKey" => ("location", id_reference(value, name)?),
        "currencyKey" => ("currency", id_reference(value, name)?),
        "orderDate" => ("tranDate", date_of(value, name)?),
        "dueAt" => ("dueDate", date_of(value, name)?),
        "title" => ("memo", value.clone()),
        "customFields" => {
            let fields = value.as_object().ok_or_else(|| invalid(name, "must be an object"))?;
            for (field, v) in fields {
                if !field.starts_with("custbody") {
                    return Err(invalid(
                        &format!("customFields.{field}"),
                        "is not a transaction body field (custbody…)",
                    ));
                }
                body.insert(field.clone(), v.clone());
            }
            return Ok(());
        }
        _ => {
            return Err(ConnectorError::Rule {
                code: ErrorCode::FieldNotUpdatable,
                message: format!("{name} cannot be written to NetSuite"),
                field: Some(name.into()),
            });
        }
    };
    body.insert(property.into(), converted);
    Ok(())
}

/// One line of a create (a new line) or update (`key` names the line to change).
fn line_body(item: &Value, i: usize) -> Result<Value, ConnectorError> {
    let path = |f: &str| format!("lineItems[{i}].{f}");
    let item = item.as_object().ok_or_else(|| invalid(&format!("lineItems[{i}]"), "must be an object"))?;
    let mut line = Map::new();
    for (field, value) in item {
        match field.as_str() {
            "key" | "lineNo" => {
                let n = value
                    .as_str()
                    .and_then(|k| k.parse::<u32>().ok())
                    .ok_or_else(|| invalid(&path(field), "must be a line number"))?;
                line.insert(LINE_KEY.into(), n.into());
            }
            "materialKey" => {
                line.insert("item".into(), id_reference(value, &path(field))?);
            }
            "quantity" => {
                line.insert("quantity".into(), number_of(value, &path(field))?);
            }
            "price" => {
                line.insert("rate".into(), number_of(value, &path(field))?);
            }
            "description" => {
                line.insert("description".into(), value.clone());
            }
            "statusKey" => {
                let closed = match value.as_str() {
                    Some("closed") => true,
                    Some("open") => false,
                    _ => return Err(invalid(&path(field), "can be set to \"closed\" or \"open\"")),
                };
                line.insert("isClosed".into(), closed.into());
            }
            _ => {
                return Err(ConnectorError::Rule {
                    code: ErrorCode::FieldNotUpdatable,
                    message: format!("{} cannot be written to NetSuite", path(field)),
                    field: Some(path(field)),
                });
            }
        }
    }
    Ok(Value::Object(line))
}

/// The record service body of a unified purchase order create or update: header fields as
/// NetSuite names them, lines as the `item` sublist (keyed by line number on updates).
pub fn po_body(unified: &Record) -> Result<Map<String, Value>, ConnectorError> {
    let mut body = Map::new();
    for (name, value) in unified {
        if name == "lineItems" {
            let items = value.as_array().ok_or_else(|| invalid(name, "must be an array"))?;
            let lines = items.iter().enumerate().map(|(i, item)| line_body(item, i)).collect::<Result<Vec<_>, _>>()?;
            body.insert("item".into(), json!({ "items": lines }));
        } else {
            header_field(name, value, &mut body)?;
        }
    }
    Ok(body)
}

/// The unified field a NetSuite `o:errorPath` points at, e.g. `item.items[0].item` →
/// `lineItems[0].materialKey`; a path it cannot trace comes back as NetSuite wrote it.
pub fn unified_path(path: &str) -> String {
    const HEADER: [(&str, &str); 7] = [
        ("entity", "vendorKey"),
        ("subsidiary", "siteKey"),
        ("location", "locationKey"),
        ("currency", "currencyKey"),
        ("tranDate", "orderDate"),
        ("dueDate", "dueAt"),
        ("memo", "title"),
    ];
    const LINE: [(&str, &str); 4] =
        [("item", "materialKey"), ("quantity", "quantity"), ("rate", "price"), ("description", "description")];
    if let Some(&(_, unified)) = HEADER.iter().find(|(p, _)| *p == path) {
        return unified.into();
    }
    if path.starts_with("custbody") {
        return format!("customFields.{path}");
    }
    if path == "item" || path == "item.items" {
        return "lineItems".into();
    }
    let Some(rest) = path.strip_prefix("item.items[") else { return path.into() };
    match rest.split_once("].") {
        Some((i, field)) if i.parse::<usize>().is_ok() => match LINE.iter().find(|(p, _)| *p == field) {
            Some((_, unified)) => format!("lineItems[{i}].{unified}"),
            None => format!("lineItems[{i}]"),
        },
        _ => "lineItems".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_paths_lead_back_to_unified_fields() {
        assert_eq!(unified_path("item.items[0].item"), "lineItems[0].materialKey");
        assert_eq!(unified_path("item.items[12].rate"), "lineItems[12].price");
        assert_eq!(unified_path("item.items[1].custcol_asset_tag"), "lineItems[1]");
        assert_eq!(unified_path("entity"), "vendorKey");
        assert_eq!(unified_path("custbody_external_ref"), "customFields.custbody_external_ref");
        assert_eq!(unified_path("item"), "lineItems");
        assert_eq!(unified_path("shipMethod"), "shipMethod");
    }

    #[test]
    fn bodies_name_netsuite_fields_and_refuse_what_it_cannot_take() {
        let create: Record = serde_json::from_value(json!({
            "vendorKey": "321", "siteKey": "1", "title": "Pump parts", "dueAt": "2026-02-03T00:00:00Z",
            "customFields": {"custbody_external_ref": "MK-1"},
            "lineItems": [{"materialKey": "880", "quantity": "10", "price": "24.50"}]
        }))
        .unwrap();
        assert_eq!(
            Value::Object(po_body(&create).unwrap()),
            json!({"entity": {"id": "321"}, "subsidiary": {"id": "1"}, "memo": "Pump parts", "dueDate": "2026-02-03",
                   "custbody_external_ref": "MK-1", "item": {"items": [{"item": {"id": "880"}, "quantity": 10, "rate": 24.5}]}})
        );
        let close: Record =
            serde_json::from_value(json!({"lineItems": [{"key": "2", "statusKey": "closed"}]})).unwrap();
        assert_eq!(
            Value::Object(po_body(&close).unwrap()),
            json!({"item": {"items": [{"line": 2, "isClosed": true}]}})
        );
        let refused = |v: Value| match po_body(&serde_json::from_value(v).unwrap()).unwrap_err() {
            ConnectorError::Rule { code, field, .. } => (code, field.unwrap()),
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(json!({"vendorKey": "ACME"})), (ErrorCode::InvalidValue, "vendorKey".into()));
        assert_eq!(refused(json!({"lineItems": [{"key": "x"}]})), (ErrorCode::InvalidValue, "lineItems[0].key".into()));
        assert_eq!(refused(json!({"lineItems": [{"statusKey": "received"}]})).1, "lineItems[0].statusKey");
        assert_eq!(refused(json!({"customFields": {"custcol_x": 1}})).1, "customFields.custcol_x");
        assert_eq!(refused(json!({"terms": "NET30"})), (ErrorCode::FieldNotUpdatable, "terms".into()));
    }

    #[test]
    fn rows_become_records() {
        let row = |v: Value| v.as_object().cloned().unwrap();
        let blocked = vendor(&row(json!({"id": "323", "entityid": "V323", "companyname": "Obsolete Parts Co",
                                         "isinactive": "T", "lastmodified": "2026-01-10 08:00:00"})));
        assert_eq!((blocked["key"].clone(), blocked["statusKey"].clone()), (json!("323"), json!("blocked")));
        assert_eq!(blocked["updatedAt"], "2026-01-10T08:00:00Z");
        // A NULL column is absent from the row: the field is null, not missing.
        let bare = vendor(&row(json!({"id": "324", "entityid": "V324"})));
        assert_eq!((bare["name"].clone(), bare["statusKey"].clone()), (json!("V324"), json!("active")));
        let empty = inventory(&row(json!({"item": "882", "location": "5", "quantityonhand": "0"})));
        assert_eq!(
            (empty["key"].clone(), empty["quantity"].clone(), empty["statusKey"].clone()),
            (json!("882-5"), json!("0"), json!("out_of_stock"))
        );
        let stocked =
            inventory(&row(json!({"item": 880, "location": 6, "quantityonhand": "12.0", "quantityavailable": "10"})));
        assert_eq!(
            (stocked["key"].clone(), stocked["quantity"].clone(), stocked["statusKey"].clone()),
            (json!("880-6"), json!("12"), json!("in_stock"))
        );
        assert_eq!(key_conditions(&INVENTORIES, "880-6").unwrap(), ["il.item = 880", "il.location = 6"]);
        assert_eq!(key_conditions(&VENDORS, "321").unwrap(), ["v.id = 321"]);
        assert!(key_conditions(&VENDORS, "3 OR 1=1").is_none() && key_conditions(&INVENTORIES, "880").is_none());
    }
}
