//! The UpKeep connector held to the vendor dossier's example files (`upkeep` in the vendor
//! folder; skipped where it is absent): the example objects read into the unified model, the
//! bodies it writes use the example requests' names, and the example errors map as they mean.

#[path = "../../vendor_specs.rs"]
mod vendor;

use millwright::{
    connectors::ConnectorError,
    entities::{Entity, Record},
    error::ErrorCode,
};
use millwright_outbound::upstream::Answer;
use millwright_upkeep::{mapping, session};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn example(file: &str) -> Value {
    let path = vendor::folder("upkeep").join("examples").join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The objects of an example answer (`result` or `results`).
fn objects(file: &str) -> Vec<Value> {
    let answer = example(file);
    match (answer.get("result"), answer.get("results")) {
        (Some(one), _) => vec![one.clone()],
        (_, Some(Value::Array(many))) => many.clone(),
        _ => panic!("{file}: no result"),
    }
}

fn read(entity: Entity, file: &str) -> Vec<Record> {
    let all = objects("locations-list-response.json");
    let lineage = mapping::Lineage::of(&all);
    objects(file).iter().map(|o| mapping::record(entity, o, &lineage)).collect()
}

#[test]
fn the_example_objects_read_into_the_unified_model() {
    if !vendor::present("upkeep") {
        return;
    }
    let wo = &read(Entity::WorkOrders, "work-order-get-response.json")[0];
    for (field, value) in [
        ("key", json!("Wo4Bn7Cx1M")),
        ("code", json!("1042")),
        ("statusKey", json!("in_progress")),
        ("severity", json!("medium")),
        ("assetKey", json!("As2Kd7Xn4P")),
        ("dueAt", json!("2024-08-09T17:00:00.000Z")),
        ("updatedAt", json!("2024-08-06T13:02:55.640Z")),
    ] {
        assert_eq!(wo[field], value, "{field}");
    }
    let pos = read(Entity::PurchaseOrders, "purchase-orders-list-response.json");
    assert_eq!(
        (pos[0]["statusKey"].clone(), pos[1]["statusKey"].clone()),
        (json!("pending_approval"), json!("received"))
    );
    assert_eq!(pos[0]["lineItems"], json!([{"key": "1", "lineNo": "1", "materialKey": "Pt1Nb9Qs3R", "quantity": "4"}]));
    assert_eq!(pos[0]["customFields"], json!({"ERPReference": "PR-55120"}));
    let assets = read(Entity::Assets, "assets-list-response.json");
    assert_eq!((assets[0]["isActive"].clone(), assets[1]["isActive"].clone()), (json!(true), json!(false)));
    let locations = read(Entity::Locations, "locations-list-response.json");
    assert_eq!(locations[1]["siteKey"], "Lc4Hq8Zp2A", "the root ancestor");
    let parts = read(Entity::Inventories, "parts-list-response.json");
    assert!(parts.iter().all(|p| p["quantity"].is_string() && p["materialKey"] == p["key"]));
    assert_eq!(read(Entity::Vendors, "vendors-list-response.json")[0]["name"], "Acme Industrial Supply");
    // Every field is one of the unified model's.
    for (entity, records) in
        [(Entity::WorkOrders, vec![wo.clone()]), (Entity::PurchaseOrders, pos), (Entity::Assets, assets)]
    {
        for field in records.iter().flat_map(|r| r.keys()) {
            assert!(entity.field(field).is_some(), "{entity:?}.{field}");
        }
    }
}

#[test]
fn writes_use_the_example_requests_names() {
    if !vendor::present("upkeep") {
        return;
    }
    let wo: Record = serde_json::from_value(json!({"title": "Investigate low boiler pressure", "instructions": "x",
        "severity": "high", "categoryName": "Electrical", "dueAt": "2024-08-12T17:00:00Z", "assetKey": "As2Kd7Xn4P",
        "locationKey": "Lc9Vt3Wm7B"}))
    .unwrap();
    let body = mapping::work_order_body(&wo).unwrap();
    let theirs = example("work-order-create-request.json");
    for (name, value) in &body {
        assert!(theirs.get(name).is_some(), "{name} is not in the example create");
        if name != "description" {
            assert_eq!(value, &theirs[name], "{name}");
        }
    }
    let po: Record = serde_json::from_value(json!({"title": "Restock compressor filters", "vendorKey": "Vd7Jc4Mt2S",
        "description": "Below minimum quantity", "dueAt": "2024-08-20T00:00:00Z", "orderDate": "2024-08-07T00:00:00Z",
        "lineItems": [{"materialKey": "Pt1Nb9Qs3R", "quantity": "4"}], "customFields": {"ERPReference": "PR-55120"}}))
    .unwrap();
    let body = mapping::purchase_order_body(&po).unwrap();
    let theirs = example("purchase-order-create-request.json");
    for (name, value) in &body {
        assert_eq!(value, &theirs[name], "{name}");
    }
}

#[test]
fn the_example_errors_map_as_they_mean() {
    if !vendor::present("upkeep") {
        return;
    }
    let answer = |status: u16, file: &str| Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers: Default::default(),
        body: example(file).to_string().into_bytes(),
    };
    assert!(matches!(
        session::failure(&answer(400, "error-400-response.json")),
        ConnectorError::Rule { code: ErrorCode::InvalidRequest, message, .. } if message == "title is required"
    ));
    assert!(matches!(session::failure(&answer(401, "error-401-response.json")), ConnectorError::Rejected(_)));
    assert_eq!(session::failure(&answer(404, "error-404-response.json")), ConnectorError::NotFound);
}
