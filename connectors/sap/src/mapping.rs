//! SAP's records in the unified model and back: purchase orders (`A_PurchaseOrder` with its
//! items), maintenance orders as work orders, equipment as assets. Statuses are the unified keys
//! the capabilities declare; `remoteData` keeps the record as SAP sent it.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::odata::{date, rfc3339};
use millwright::entities::Record;

/// `PurchasingProcessingStatus` codes and the unified statuses they are shown as.
pub const PO_STATUSES: [(&str, &str, &str); 4] = [
    ("02", "draft", "Active (not yet released)"),
    ("03", "pending_approval", "In release"),
    ("05", "approved", "Released"),
    ("08", "rejected", "Release refused"),
];

/// The first word of `SystemStatusText` and the unified work order statuses.
pub const WO_STATUSES: [(&str, &str, &str); 4] = [
    ("CRTD", "open", "Created"),
    ("REL", "released", "Released"),
    ("TECO", "completed", "Technically completed"),
    ("CLSD", "closed", "Closed"),
];

/// The unified asset statuses equipment flags give.
pub const ASSET_STATUSES: [(&str, &str); 3] =
    [("active", "Active"), ("inactive", "Inactive"), ("marked_for_deletion", "Marked for deletion")];

/// The deletion indicator that soft-deletes a purchasing document.
const DELETED: &str = "L";

fn text(record: &Map<String, Value>, property: &str) -> Value {
    match record.get(property).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.into(),
        _ => Value::Null,
    }
}

fn instant(record: &Map<String, Value>, property: &str) -> Value {
    record.get(property).and_then(date).map_or(Value::Null, |t| rfc3339(t).into())
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn flag(record: &Map<String, Value>, property: &str) -> bool {
    record.get(property).and_then(Value::as_bool).unwrap_or(false)
}

/// The unified fields common to every record: key, timestamps, custom fields and the original.
fn common(key: Value, record: &Map<String, Value>, created: &str, deleted: bool) -> Record {
    let updated = instant(record, "LastChangeDateTime");
    let created = instant(record, created);
    let deleted_at =
        if deleted { if updated.is_null() { created.clone() } else { updated.clone() } } else { Value::Null };
    let mut remote = record.clone();
    remote.remove("__metadata");
    let mut out = Map::new();
    out.insert("key".into(), key);
    out.insert("createdAt".into(), created);
    out.insert("updatedAt".into(), updated);
    out.insert("deletedAt".into(), deleted_at);
    out.insert("customFields".into(), json!({}));
    out.insert("remoteData".into(), Value::Object(remote));
    out
}

fn look_up<'a>(table: &'a [(&'a str, &'a str, &'a str)], code: &str) -> Value {
    table
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or_else(|| code.to_lowercase().into(), |(_, unified, _)| (*unified).into())
}

/// The items of a purchase order as SAP nests them (`{"results": […]}`) or lists them.
pub fn items(order: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let nav = &order.get("to_PurchaseOrderItem");
    let list = nav.and_then(|n| n.get("results").or(Some(n))).and_then(Value::as_array);
    list.into_iter().flatten().filter_map(Value::as_object).cloned().collect()
}

/// An `A_PurchaseOrder` (items expanded) as a unified purchase order.
pub fn purchase_order(order: &Map<String, Value>) -> Option<Record> {
    let key = text(order, "PurchaseOrder");
    if key.is_null() {
        return None;
    }
    let deleted = order.get("PurchasingDocumentDeletionCode").and_then(Value::as_str) == Some(DELETED);
    let currency = text(order, "DocumentCurrency");
    let items = items(order);
    // The header has no plant of its own: the order's site is its first item's.
    let plant = items.first().map_or(Value::Null, |item| text(item, "Plant"));
    let mut net = Decimal::ZERO;
    let lines: Vec<Value> = items
        .iter()
        .map(|item| {
            let quantity = item.get("OrderQuantity").and_then(decimal);
            let price = item.get("NetPriceAmount").and_then(decimal);
            let per = item.get("NetPriceQuantity").and_then(decimal).filter(|p| !p.is_zero()).unwrap_or(Decimal::ONE);
            let total = quantity.zip(price).map(|(q, p)| (q * p / per).round_dp(2));
            let line_deleted = item.get("PurchasingDocumentDeletionCode").and_then(Value::as_str) == Some(DELETED);
            if !line_deleted {
                net += total.unwrap_or_default();
            }
            let number = text(item, "PurchaseOrderItem");
            json!({
                "key": format!("{}-{}", key.as_str().unwrap_or_default(), number.as_str().unwrap_or_default()),
                "lineNo": number,
                "materialKey": text(item, "Material"),
                "name": text(item, "PurchaseOrderItemText"),
                "description": text(item, "PurchaseOrderItemText"),
                "quantity": quantity.map(|q| q.normalize().to_string()),
                "uomKey": text(item, "PurchaseOrderQuantityUnit"),
                "price": price.map(|p| p.round_dp(2).to_string()),
                "currencyKey": currency,
                "lineTotalValue": total.map(|t| t.to_string()),
                "statusKey": if line_deleted { "deleted" } else if flag(item, "IsCompletelyDelivered") { "delivered" } else { "open" },
            })
        })
        .collect();
    let mut out = common(key.clone(), order, "CreationDate", deleted);
    let status = order.get("PurchasingProcessingStatus").and_then(Value::as_str).unwrap_or_default();
    if let Some(Value::Object(remote)) = out.get_mut("remoteData") {
        remote.remove("to_PurchaseOrderItem");
        remote.insert("to_PurchaseOrderItem".into(), Value::Array(items.into_iter().map(Value::Object).collect()));
    }
    out.extend(
        json!({
            "orderNo": key,
            "title": Value::Null,
            "statusKey": look_up(&PO_STATUSES, status),
            "vendorKey": text(order, "Supplier"),
            "siteKey": plant,
            "currencyKey": currency,
            "orderDate": instant(order, "PurchaseOrderDate"),
            "terms": text(order, "PaymentTerms"),
            "totalNetValue": net.round_dp(2).to_string(),
            "lineItems": lines,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some(out)
}

/// A `MaintenanceOrder` as a unified work order.
pub fn work_order(order: &Map<String, Value>) -> Option<Record> {
    let key = text(order, "MaintenanceOrder");
    if key.is_null() {
        return None;
    }
    let status = order.get("SystemStatusText").and_then(Value::as_str).unwrap_or_default();
    let status = status.split_whitespace().next().unwrap_or_default();
    let mut out = common(key.clone(), order, "CreationDate", false);
    out.extend(
        json!({
            "code": key,
            "title": text(order, "MaintenanceOrderDesc"),
            "statusKey": look_up(&WO_STATUSES, status),
            "severity": text(order, "MaintPriority"),
            "siteKey": text(order, "MaintenancePlant"),
            "locationKey": text(order, "FunctionalLocation"),
            "assetKey": text(order, "Equipment"),
            "categoryName": text(order, "MaintenanceOrderType"),
            "scheduledAt": instant(order, "MaintOrdBasicStartDateTime"),
            "dueAt": instant(order, "MaintOrdBasicEndDateTime"),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some(out)
}

/// An `Equipment` as a unified asset.
pub fn asset(equipment: &Map<String, Value>) -> Option<Record> {
    let key = text(equipment, "Equipment");
    if key.is_null() {
        return None;
    }
    let marked = flag(equipment, "EquipmentIsMarkedForDeletion");
    let inactive = flag(equipment, "EquipmentIsInactive");
    let status = if marked {
        "marked_for_deletion"
    } else if inactive {
        "inactive"
    } else {
        "active"
    };
    let mut out = common(key, equipment, "CreationDate", marked);
    out.extend(
        json!({
            "name": text(equipment, "EquipmentName"),
            "statusKey": status,
            "siteKey": text(equipment, "MaintenancePlant"),
            "locationKey": text(equipment, "FunctionalLocation"),
            "parentKey": text(equipment, "SuperordinateEquipment"),
            "categoryName": text(equipment, "EquipmentCategory"),
            "makeName": text(equipment, "AssetManufacturerName"),
            "modelName": text(equipment, "ManufacturerPartTypeName"),
            "serialNumber": text(equipment, "ManufacturerSerialNumber"),
            "isActive": !inactive && !marked,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some(out)
}

/// The SAP header properties a unified purchase order create or update sets.
pub const PO_HEADER_FIELDS: [(&str, &str); 3] =
    [("vendorKey", "Supplier"), ("currencyKey", "DocumentCurrency"), ("terms", "PaymentTerms")];

/// The SAP item properties a unified line item sets.
pub const PO_ITEM_FIELDS: [(&str, &str); 5] = [
    ("materialKey", "Material"),
    ("description", "PurchaseOrderItemText"),
    ("quantity", "OrderQuantity"),
    ("uomKey", "PurchaseOrderQuantityUnit"),
    ("price", "NetPriceAmount"),
];

/// The SAP properties a unified work order update sets.
pub const WO_FIELDS: [(&str, &str); 2] = [("title", "MaintenanceOrderDesc"), ("severity", "MaintPriority")];

/// Renames the unified fields of `body` that `fields` names to SAP properties.
pub fn to_sap(body: &Record, fields: &[(&str, &str)]) -> Map<String, Value> {
    fields.iter().filter_map(|(unified, sap)| body.get(*unified).map(|v| ((*sap).to_owned(), v.clone()))).collect()
}

/// The deep-insert body of a new purchase order: header defaults, the unified fields, SAP
/// properties from `customFields` (they override), and the items, each at the order's plant.
pub fn new_purchase_order(body: &Record, defaults: &Map<String, Value>) -> Value {
    let mut header = defaults.clone();
    header.extend(to_sap(body, &PO_HEADER_FIELDS));
    if let Some(Value::Object(custom)) = body.get("customFields") {
        header.extend(custom.clone());
    }
    let plant = body.get("siteKey").cloned().unwrap_or(Value::Null);
    let items: Vec<Value> = body
        .get("lineItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .enumerate()
        .map(|(i, line)| {
            let mut item = to_sap(line, &PO_ITEM_FIELDS);
            item.insert("PurchaseOrderItem".into(), ((i + 1) * 10).to_string().into());
            item.insert("Plant".into(), plant.clone());
            Value::Object(item)
        })
        .collect();
    header.insert("to_PurchaseOrderItem".into(), json!({ "results": items }));
    Value::Object(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sap(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_purchase_order_reads_into_the_unified_model() {
        let order = sap(json!({
            "__metadata": {"type": "API_PURCHASEORDER_PROCESS_SRV.A_PurchaseOrderType"},
            "PurchaseOrder": "4500000001", "Supplier": "17300001", "DocumentCurrency": "EUR",
            "PurchasingProcessingStatus": "05", "PurchasingDocumentDeletionCode": "",
            "CreationDate": "/Date(1735689600000)/", "LastChangeDateTime": "/Date(1735776000000+0000)/",
            "PurchaseOrderDate": "/Date(1735689600000)/", "PaymentTerms": "0001",
            "to_PurchaseOrderItem": {"results": [
                {"PurchaseOrderItem": "10", "Plant": "1010", "Material": "TG11", "OrderQuantity": "3",
                 "NetPriceAmount": "12.50", "NetPriceQuantity": "1", "PurchaseOrderQuantityUnit": "PC",
                 "PurchaseOrderItemText": "Trading good", "PurchasingDocumentDeletionCode": ""},
                {"PurchaseOrderItem": "20", "Plant": "1010", "Material": "TG12", "OrderQuantity": "10",
                 "NetPriceAmount": "5.00", "NetPriceQuantity": "10", "PurchasingDocumentDeletionCode": "L"}
            ]}
        }));
        let po = purchase_order(&order).unwrap();
        assert_eq!(po["key"], "4500000001");
        assert_eq!(po["statusKey"], "approved");
        assert_eq!(po["vendorKey"], "17300001");
        assert_eq!(po["siteKey"], "1010");
        assert_eq!(po["updatedAt"], "2025-01-02T00:00:00.000Z");
        assert_eq!(po["deletedAt"], Value::Null);
        assert_eq!(po["totalNetValue"], "37.50", "the deleted line does not count");
        assert_eq!(po["lineItems"][0]["lineTotalValue"], "37.50");
        assert_eq!(po["lineItems"][1]["lineTotalValue"], "5.00", "price per 10");
        assert_eq!(po["lineItems"][1]["statusKey"], "deleted");
        assert!(po["remoteData"].get("__metadata").is_none());
        let mut deleted = order.clone();
        deleted.insert("PurchasingDocumentDeletionCode".into(), "L".into());
        assert_eq!(purchase_order(&deleted).unwrap()["deletedAt"], "2025-01-02T00:00:00.000Z");
        assert!(purchase_order(&sap(json!({"Supplier": "1"}))).is_none());
    }

    #[test]
    fn work_orders_and_equipment_read_their_statuses() {
        let wo =
            work_order(&sap(json!({"MaintenanceOrder": "4000001", "SystemStatusText": "TECO MANC NMAT"}))).unwrap();
        assert_eq!(wo["statusKey"], "completed");
        let eq = asset(&sap(json!({"Equipment": "10000001", "EquipmentIsMarkedForDeletion": true}))).unwrap();
        assert_eq!((eq["statusKey"].as_str(), eq["isActive"].as_bool()), (Some("marked_for_deletion"), Some(false)));
    }

    #[test]
    fn a_new_order_becomes_a_deep_insert() {
        let body = sap(json!({"vendorKey": "17300001", "siteKey": "1710", "currencyKey": "USD",
            "customFields": {"PurchasingGroup": "002"},
            "lineItems": [{"materialKey": "TG11", "quantity": "2", "price": "9.99"}]}));
        let defaults = sap(json!({"PurchaseOrderType": "NB", "PurchasingGroup": "001"}));
        let insert = new_purchase_order(&body, &defaults);
        assert_eq!(insert["Supplier"], "17300001");
        assert_eq!(insert["PurchasingGroup"], "002");
        assert_eq!(insert["PurchaseOrderType"], "NB");
        let item = &insert["to_PurchaseOrderItem"]["results"][0];
        assert_eq!((item["Plant"].as_str(), item["OrderQuantity"].as_str()), (Some("1710"), Some("2")));
        assert_eq!(item["PurchaseOrderItem"], "10");
    }
}
