//! The Maximo connector held to IBM's own lean-format records (`maximo` in the vendor folder,
//! see vendor/; skipped where it is absent): each fixture's members read into the unified model with every field whose
//! Maximo attribute the fixture carries filled in, keys taken from the `href`s as Maximo writes
//! them, and line items from `poline`.

#[path = "../../vendor_specs.rs"]
mod vendor;

use millwright::entities::{Entity, Record};
use millwright_maximo::mapping::{self, Shape};
use serde_json::{Map, Value};

fn members(file: &str) -> Vec<Map<String, Value>> {
    let path = vendor::folder("maximo").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).unwrap();
    let list = value.get("member").and_then(Value::as_array).cloned().unwrap_or_else(|| vec![value]);
    list.into_iter().filter_map(|m| m.as_object().cloned()).collect()
}

/// Every member of a fixture in the unified model; fails on a member without a key.
fn read(entity: Entity, file: &str) -> Vec<Record> {
    let shape: &Shape = mapping::shape(entity).unwrap();
    members(file)
        .iter()
        .map(|m| {
            let key = mapping::key_of(m).unwrap_or_else(|| panic!("{file}: no key in {:?}", m.get("href")));
            shape.record(key, m)
        })
        .collect()
}

/// Each field is filled in on every record whose member carries the attribute.
fn filled(records: &[Record], raw: &[Map<String, Value>], fields: &[(&str, &str)]) {
    for (record, member) in records.iter().zip(raw) {
        for (field, attribute) in fields {
            if member.get(*attribute).is_some_and(|v| !v.is_null() && v != "") {
                assert!(!record[*field].is_null(), "{field} is empty though Maximo sent {attribute}: {record:?}");
            }
        }
        assert!(record["key"].as_str().is_some_and(|k| k.starts_with('_')));
        assert!(record["remoteData"].is_object() && record["customFields"].is_object());
    }
}

#[test]
fn purchase_orders_and_their_lines_read_as_maximo_sends_them() {
    if !vendor::present("maximo") {
        return;
    }
    let file = "mxapipo-list-sample.json";
    let orders = read(Entity::PurchaseOrders, file);
    filled(
        &orders,
        &members(file),
        &[("orderNo", "ponum"), ("title", "description"), ("vendorKey", "vendor"), ("orderDate", "orderdate")],
    );
    assert_eq!(orders.len(), 18);

    // The fixture of an order's lines, nested as `poline` is in the order.
    let lines = members("mxapipo-poline-sample.json");
    let mut order = members(file)[0].clone();
    order.insert("poline".into(), Value::Array(lines.iter().cloned().map(Value::Object).collect()));
    let po = mapping::shape(Entity::PurchaseOrders).unwrap().record("_MTAxNy8wL0JFREZPUkQ-", &order);
    let items = po["lineItems"].as_array().unwrap();
    assert_eq!(items.len(), lines.len());
    for (item, line) in items.iter().zip(&lines) {
        assert_eq!(item["materialKey"], line["itemnum"]);
        assert_eq!(item["quantity"].as_str().unwrap().parse::<f64>().unwrap(), line["orderqty"].as_f64().unwrap());
        assert_eq!(item["uomKey"], line["orderunit"]);
        assert!(item["lineNo"].is_string());
    }
}

#[test]
fn work_orders_assets_inventories_and_vendors_read_as_maximo_sends_them() {
    if !vendor::present("maximo") {
        return;
    }
    let wo = "mxapiwodetail-list-with-nextPage-sample.json";
    let records = read(Entity::WorkOrders, wo);
    filled(
        &records,
        &members(wo),
        &[
            ("code", "wonum"),
            ("title", "description"),
            ("statusKey", "status"),
            ("severity", "wopriority"),
            ("categoryName", "worktype"),
        ],
    );
    assert!(records.iter().any(|r| r["statusKey"] == "approved"), "APPR reads as approved");

    let asset = "mxapiasset-list-sample.json";
    let raw: Vec<_> =
        members(asset).into_iter().filter(|m| m["href"].as_str().unwrap().contains("mxapiasset")).collect();
    let shape = mapping::shape(Entity::Assets).unwrap();
    let records: Vec<_> = raw.iter().map(|m| shape.record(mapping::key_of(m).unwrap(), m)).collect();
    filled(
        &records,
        &raw,
        &[
            ("siteKey", "siteid"),
            ("locationKey", "location"),
            ("parentKey", "parent"),
            ("makeName", "manufacturer"),
            ("statusKey", "status"),
        ],
    );

    let inventory = "mxapiinventory-tool-sample.json";
    let records = read(Entity::Inventories, inventory);
    filled(
        &records,
        &members(inventory),
        &[("materialKey", "itemnum"), ("locationKey", "location"), ("siteKey", "siteid"), ("statusKey", "status")],
    );

    let vendor = "mxapivendor-list-sample.json";
    let records = read(Entity::Vendors, vendor);
    filled(&records, &members(vendor), &[("code", "company"), ("name", "name")]);
    assert!(records.iter().all(|r| r["statusKey"] == "active" || r["statusKey"] == "blocked"));
}
