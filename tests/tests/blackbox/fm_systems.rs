//! Black-box tests of the FM:Systems connector on the running stack, against the FMInteract Web
//! Service stand-in that scripts/test starts (infra/local/standins/fm_systems.py). Each test
//! signs in as a web-service user of its own (the user name is the stand-in's tenant), so it has
//! its own copy of the sample tenant.

use crate::connectors::{connect, full, sync, user};
use millwright_blackbox::{Api, StandIn, account, counts, demo_connection};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SYSTEM: &str = "fm_systems";

/// The stand-in's `GetData` calls of a tenant for one object.
fn calls<'a>(log: &'a [Value], object: &str) -> Vec<&'a Value> {
    log.iter().filter(|r| r["objectName"].as_str().is_some_and(|o| o.eq_ignore_ascii_case(object))).collect()
}

#[tokio::test]
async fn fm_systems_connects_for_two_credits_and_refuses_bad_credentials_and_ungranted_objects_for_nothing() {
    let (api, key, fm, name) = (Api::new(), account(6), StandIn::of(SYSTEM), user("FMC"));
    let mut wrong = demo_connection(SYSTEM, &name);
    wrong["credentials"]["password"] = json!("guess");
    let refused = api.post("/v1/connections", &key, wrong).await;
    refused.error(400, "INVALID_CREDENTIALS");
    assert!(
        refused.body.to_string().contains("Invalid web service credentials"),
        "the system's reason: {}",
        refused.body
    );

    // The administrator has not granted the assets view: the connection field that names it.
    fm.post("grants", json!({"tenant": name, "revoke": ["vw_WS_Assets"]})).await;
    let refused = api.post("/v1/connections", &key, demo_connection(SYSTEM, &name)).await;
    refused.error(400, "INVALID_CREDENTIALS");
    let detail = &refused.body["error"]["details"][0];
    assert_eq!(detail["field"], "credentials.assetsObject", "{}", refused.body);
    assert!(detail["message"].as_str().unwrap().contains("vw_WS_Assets"), "{}", refused.body);
    // Named otherwise in this tenant, the view is found under its name.
    fm.post("grants", json!({"tenant": name, "grant": ["vw_WS_Assets"]})).await;
    let mut renamed = demo_connection(SYSTEM, &name);
    renamed["credentials"]["assetsObject"] = json!("vw_ws_assets");
    renamed["initialSync"] = json!(false);
    assert_eq!(api.credits(&key).await["available"], 6, "nothing charged for refusals");
    let connected = api.post("/v1/connections", &key, renamed).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    assert_eq!(api.credits(&key).await["available"], 4, "tier 2: two credits in the cloud");
    connect(&api, &key, SYSTEM, &user("FMP"), "on_prem").await;
    assert_eq!(api.credits(&key).await["available"], 0, "and four on premises");
    let log = fm.requests(&name).await;
    for object in ["vw_WS_Sites", "vw_WS_Buildings", "vw_WS_Floors", "vw_WS_Spaces", "vw_WS_WorkOrders"] {
        assert!(!calls(&log, object).is_empty(), "verify reads {object}: {log:?}");
    }
    assert!(!calls(&log, "sp_WS_GetWorkOrdersModifiedSince").is_empty(), "and the procedure: {log:?}");
    assert_eq!(fm.violations(&name).await, Vec::<Value>::new(), "requests as the WSDL says");

    // A password with XML's own characters travels escaped and signs in.
    let mut escape = demo_connection(SYSTEM, "svc_escape");
    escape["credentials"]["password"] = json!("Mw<Demo&Pass]]>1");
    escape["initialSync"] = json!(false);
    let (api, key) = (Api::new(), account(2));
    let connected = api.post("/v1/connections", &key, escape).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
}

#[tokio::test]
async fn fm_systems_syncs_every_entity_then_exactly_what_changed() {
    let (api, key, fm, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("FMS"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    let fetched: Vec<u64> = {
        let mut all = Vec::new();
        for entity in ["sites", "locations", "assets", "work-orders"] {
            all.push(full(&api, &token, entity).await);
        }
        all
    };
    assert_eq!(fetched, [3, 5 + 10 + 15, 8, 7], "sites; buildings, floors and spaces; assets; work orders");

    // One hierarchy, with space on the rooms.
    let room = api.get("/v1/locations/room-5012", &token).await.body["data"].clone();
    let expected = json!({"code": "HQ1-03-0312", "name": "Conference Room Maple", "type": "room",
        "parentKey": "floor-103", "siteKey": "1", "area": "412.5", "areaUnit": "sqft", "capacity": "12",
        "spaceUse": "Meeting", "department": "Facilities"});
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&room[field], value, "{field}: {room}");
    }
    let floor = api.get("/v1/locations/floor-103", &token).await.body["data"].clone();
    assert_eq!((&floor["type"], &floor["parentKey"]), (&json!("floor"), &json!("building-10")), "{floor}");
    let dock = api.get("/v1/assets/70050", &token).await.body["data"].clone();
    assert_eq!(
        (&dock["locationKey"], &dock["siteKey"], &dock["isActive"]),
        (&json!("room-5050"), &json!("3"), &json!(true)),
        "{dock}"
    );
    let wo = api.get("/v1/work-orders/91001", &token).await.body["data"].clone();
    assert_eq!(
        (&wo["statusKey"], &wo["severity"], &wo["siteKey"]),
        (&json!("completed"), &json!("medium"), &json!("1")),
        "{wo}"
    );
    assert!(
        wo["locationKey"].as_str().unwrap().starts_with("room-"),
        "placed by building, floor and space codes: {wo}"
    );
    assert_eq!(wo["customFields"]["WorkRequestID"], "87990", "{wo}");

    // A work order closed in FM:Systems: the procedure finds it from the mark; exactly it changes.
    fm.clear(&name).await;
    fm.touch(json!({"tenant": name, "object": "vw_WS_WorkOrders", "key": 91001, "fields": {"Status": "Closed"}})).await;
    let run = sync(&api, &token, "work-orders", "incremental").await;
    let [_, created, updated, deleted] = counts(&run);
    assert_eq!((run["status"].as_str(), created, updated, deleted), (Some("succeeded"), 0, 1, 0), "{run}");
    let log = fm.requests(&name).await;
    let asked = calls(&log, "sp_WS_GetWorkOrdersModifiedSince");
    assert!(asked.len() == 1 && asked[0]["parameters"].to_string().contains("Since"), "{log:?}");
    assert_eq!(api.get("/v1/work-orders/91001", &token).await.body["data"]["statusKey"], "closed");

    // A room's new capacity: the views are read whole, and only what changed since the mark is kept.
    fm.touch(json!({"tenant": name, "object": "vw_WS_Spaces", "key": 5012, "fields": {"Capacity": 14}})).await;
    let run = sync(&api, &token, "locations", "incremental").await;
    let [fetched, created, updated, deleted] = counts(&run);
    assert_eq!((run["status"].as_str(), created, updated, deleted), (Some("succeeded"), 0, 1, 0), "{run}");
    assert!(fetched < 30, "not every location again: {run}");
    assert_eq!(api.get("/v1/locations/room-5012", &token).await.body["data"]["capacity"], "14");

    // A room removed in FM:Systems: a full sync finds it gone.
    fm.touch(json!({"tenant": name, "object": "vw_WS_Spaces", "key": 5013, "delete": true})).await;
    let run = sync(&api, &token, "locations", "full").await;
    assert_eq!((run["status"].as_str(), counts(&run)[3]), (Some("succeeded"), 1), "{run}");
    assert!(api.get("/v1/locations/room-5013", &token).await.body["data"]["deletedAt"].is_string());

    // A tenant without the procedure: work orders come from their view, read whole.
    let mut body = demo_connection(SYSTEM, &name);
    body["credentials"]["workOrdersSinceProcedure"] = json!("none");
    body["initialSync"] = json!(false);
    let connected = api.post("/v1/connections", &key, body).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    fm.clear(&name).await;
    assert_eq!(full(&api, connected.body["token"].as_str().unwrap(), "work-orders").await, 7);
    let log = fm.requests(&name).await;
    assert!(calls(&log, "sp_WS_GetWorkOrdersModifiedSince").is_empty(), "{log:?}");
    assert!(calls(&log, "vw_WS_WorkOrders").iter().any(|r| r["parameters"] == ""), "{log:?}");
}

#[tokio::test]
async fn fm_systems_faults_cut_off_envelopes_and_error_pages_are_structured_errors() {
    let (api, key, fm, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("FMF"));
    // At connect: an IIS error page instead of SOAP is the system's failure, and costs nothing.
    fm.faults(&name, "vw_WS_Sites", json!([{"kind": "html", "status": 404}])).await;
    let failed = api.call_upstream(Method::POST, "/v1/connections", &key, Some(demo_connection(SYSTEM, &name))).await;
    failed.error(502, "UPSTREAM_ERROR");
    assert!(failed.body.to_string().contains("HTML page"), "{}", failed.body);
    assert_eq!(api.credits(&key).await["available"], 4);

    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    for (fault, says) in [
        (
            json!({"kind": "soapFault", "faultcode": "Client", "faultstring": "Query timeout on vw_WS_Sites."}),
            "Query timeout",
        ),
        (json!({"kind": "malformed"}), "not well-formed"),
        (json!({"kind": "html", "status": 404}), "HTML page"),
        (json!({"kind": "plainText"}), "instead of rows"),
    ] {
        fm.faults(&name, "vw_WS_Sites", json!([fault])).await;
        let run = sync(&api, &token, "sites", "full").await;
        assert_eq!(
            (run["status"].as_str(), run["error"]["code"].as_str()),
            (Some("failed"), Some("UPSTREAM_ERROR")),
            "{run}"
        );
        assert!(run["error"].to_string().contains(says), "{says}: {run}");
    }
    // A fault the service itself may outgrow is asked again; the run succeeds.
    fm.faults(&name, "vw_WS_Sites", json!([{"kind": "soapFault"}])).await;
    assert_eq!(full(&api, &token, "sites").await, 3);

    // The password changed in FM:Systems: the connection needs new credentials.
    fm.post("settings", json!({"tenant": name, "password": "Changed-1"})).await;
    let run = sync(&api, &token, "sites", "full").await;
    assert_eq!(run["error"]["code"], "INVALID_CREDENTIALS", "{run}");
    let connections = api.get("/v1/connections", &key).await.body["data"].clone();
    assert_eq!(connections[0]["status"], "auth_required", "{connections}");
}
