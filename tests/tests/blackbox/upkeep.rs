//! Black-box tests of the UpKeep connector on the running stack, against the UpKeep stand-in
//! that scripts/test starts (infra/local/standins/upkeep.py). Each test logs in as a user of its
//! own (the email is the stand-in's tenant), so it has its own copy of the sample account.

use crate::connectors::{connect, full, listed, requests, sync, user};
use millwright_blackbox::{Api, StandIn, account, counts, demo_connection};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SYSTEM: &str = "upkeep";

/// The stand-in's tenant of a test user: its email.
fn tenant(user: &str) -> String {
    demo_connection(SYSTEM, user)["credentials"]["email"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upkeep_connects_for_one_credit_and_a_wrong_password_costs_nothing() {
    let (api, key, name) = (Api::new(), account(3), user("UKC"));
    let mut wrong = demo_connection(SYSTEM, &name);
    wrong["credentials"]["password"] = json!("guess");
    let refused = api.post("/v1/connections", &key, wrong).await;
    refused.error(400, "INVALID_CREDENTIALS");
    assert!(refused.body.to_string().contains("Invalid email or password"), "UpKeep's reason: {}", refused.body);
    assert_eq!(api.credits(&key).await["available"], 3);
    connect(&api, &key, SYSTEM, &name, "cloud").await;
    assert_eq!(api.credits(&key).await["available"], 2, "tier 1: one credit");
    let log = StandIn::of(SYSTEM).requests(&tenant(&name)).await;
    assert!(requests(&log, "POST", "/api/v2/auth").len() >= 2, "a real login at connect: {log:?}");
}

#[tokio::test]
async fn upkeep_syncs_every_entity_then_exactly_what_changed_and_renews_its_session() {
    let (api, key, up, name) = (Api::new(), account(2), StandIn::of(SYSTEM), user("UKS"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    let tenant = tenant(&name);
    let entities =
        ["work-orders", "purchase-orders", "assets", "materials", "inventories", "vendors", "sites", "locations"];
    let mut fetched = Vec::new();
    for entity in entities {
        fetched.push(full(&api, &token, entity).await);
    }
    assert_eq!(fetched[6], 2, "two root locations stand for sites: {fetched:?}");
    assert_eq!(fetched[3], fetched[4], "a part is a material and its stock");

    // Through the unified model: statuses, priorities, sites, stock, lines.
    let wo = api.get("/v1/work-orders/Wo5Ne8Vy1P", &token).await.body["data"].clone();
    assert_eq!(wo["statusKey"], "on_hold", "{wo}");
    let room = api.get("/v1/locations/Lc5Kb1Tz9Q", &token).await.body["data"].clone();
    assert_eq!((&room["parentKey"], &room["siteKey"]), (&json!("Lc2Mn6Fd8Y"), &json!("Lc4Hq8Zp2A")), "{room}");
    let empty = api.get("/v1/inventories/Pt7Cv4Jn6B", &token).await.body["data"].clone();
    assert_eq!(empty["statusKey"], "out_of_stock", "{empty}");
    let low = api.get("/v1/inventories/Pt1Nb9Qs3R", &token).await.body["data"].clone();
    assert_eq!(low["statusKey"], "low_stock", "{low}");
    let po = api.get("/v1/purchase-orders/Po9Xe3Vk6L", &token).await.body["data"].clone();
    assert_eq!(po["statusKey"], "pending_approval", "{po}");
    assert!(
        po["lineItems"][0]["materialKey"].is_string() && po["customFields"].as_object().is_some_and(|c| !c.is_empty()),
        "{po}"
    );

    // A change in UpKeep; an incremental sync updates exactly that record, from the mark.
    up.clear(&tenant).await;
    up.touch(
        json!({"tenant": tenant, "type": "work-orders", "id": "Wo6Rf1Gh8J", "fields": {"title": "Check the chiller"}}),
    )
    .await;
    let run = sync(&api, &token, "work-orders", "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let [_, created, updated, deleted] = counts(&run);
    assert_eq!((created, updated, deleted), (0, 1, 0), "{run}");
    let log = up.requests(&tenant).await;
    let list = &requests(&log, "GET", "/api/v2/work-orders")[0];
    assert!(list["query"]["updatedAtGreaterThan"].is_string(), "from the mark: {list}");
    assert_eq!(api.get("/v1/work-orders/Wo6Rf1Gh8J", &token).await.body["data"]["title"], "Check the chiller");

    // The session stops working in the middle: UpKeep refuses the run's first call with it, a new
    // login, the run goes on. (Refused by a fault rather than by expiring the tenant's sessions:
    // a run may land on a Lambda instance holding none, which would log in first.)
    up.faults_on(&tenant, "GET", "/api/v2/work-orders", json!([{"status": 401}])).await;
    up.touch(json!({"tenant": tenant, "type": "work-orders", "id": "Wo3Uz7Bq5T", "fields": {"title": "Grease the conveyor"}})).await;
    let run = sync(&api, &token, "work-orders", "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = up.requests(&tenant).await;
    let refused = log.iter().position(|r| r["status"] == 401).unwrap_or_else(|| panic!("a refusal: {log:?}"));
    assert_eq!(requests(&log[refused..], "POST", "/api/v2/auth").len(), 1, "then one new login: {log:?}");
}

#[tokio::test]
async fn upkeep_work_orders_and_purchase_orders_are_created_updated_and_moved() {
    let (api, key, name) = (Api::new(), account(2), user("UKW"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;

    let order = json!({"title": "Replace filter on AHU-3", "instructions": "Use the MERV 13 filters.",
                       "severity": "high", "assetKey": "As2Kd7Xn4P", "dueAt": "2026-12-20T17:00:00Z"});
    let made = api.post("/v1/work-orders", &token, order).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let wo = made.body["data"].clone();
    assert_eq!((&wo["statusKey"], &wo["severity"]), (&json!("open"), &json!("high")), "{wo}");
    let path = format!("/v1/work-orders/{}", wo["key"].as_str().unwrap());
    let changed = api.patch(&path, &token, json!({"title": "Replace filters on AHU-3", "severity": "medium"})).await;
    assert_eq!(
        (changed.status, &changed.body["data"]["severity"]),
        (StatusCode::OK, &json!("medium")),
        "{}",
        changed.body
    );
    let moved =
        api.call(Method::PUT, &format!("{path}/status"), Some(&token), Some(r#"{"statusKey":"completed"}"#)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert!(moved.body["data"]["completedAt"].is_string(), "UpKeep stamps the completion: {}", moved.body);
    // UpKeep's own refusal, with its reason.
    let refused = api.post("/v1/work-orders", &token, json!({"instructions": "no title"})).await;
    refused.error(400, "INVALID_REQUEST");

    let po = json!({"title": "Restock filters", "vendorKey": "Vd7Jc4Mt2S", "dueAt": "2026-12-22T00:00:00Z",
                    "lineItems": [{"materialKey": "Pt1Nb9Qs3R", "quantity": "6"}]});
    let made = api.post("/v1/purchase-orders", &token, po).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let key_po = made.body["data"]["key"].as_str().unwrap().to_owned();
    assert_eq!(made.body["data"]["statusKey"], "pending_approval", "{}", made.body);
    let path = format!("/v1/purchase-orders/{key_po}");
    let changed = api.patch(&path, &token, json!({"title": "Restock MERV 13 filters"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let status = |to: &str| format!(r#"{{"statusKey":"{to}"}}"#);
    let approved = api.call(Method::PUT, &format!("{path}/status"), Some(&token), Some(&status("approved"))).await;
    assert_eq!(
        (approved.status, &approved.body["data"]["statusKey"]),
        (StatusCode::OK, &json!("approved")),
        "{}",
        approved.body
    );
    assert!(approved.body["data"]["approvedAt"].is_string(), "{}", approved.body);
    api.call(Method::PUT, &format!("{path}/status"), Some(&token), Some(&status("rejected")))
        .await
        .error(422, "INVALID_STATE");
    let received = api.call(Method::PUT, &format!("{path}/status"), Some(&token), Some(&status("received"))).await;
    assert_eq!(received.body["data"]["statusKey"], "received", "{}", received.body);
    let listed_now = listed(&api, &token, "purchase-orders", Some("received")).await;
    assert!(listed_now.iter().any(|p| p["key"] == key_po.as_str()), "the write's record is in the copy");
}
