//! Black-box tests of the real connectors on the running stack, against the local stand-ins of
//! SAP S/4HANA, SAP ECC and IBM Maximo that scripts/test starts (infra/local/standins). Each
//! test signs in to a stand-in as a user of its own, so it has its own copy of the sample data;
//! the stand-in's request log shows what the connector asked, and its violation list stays
//! empty as long as every request keeps to the vendor's spec files.

use crate::stored::events_of;
use millwright_blackbox::{Api, StandIn, account, counts, demo_connection, env, first_sync_succeeds, follow, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// SAP's change stamp.
const CHANGED: &str = "LastChangeDateTime";

/// A user name of its own for one test: its own copy of the stand-in's data.
pub(crate) fn user(prefix: &str) -> String {
    format!("{prefix}{}", &ulid::Ulid::new().to_string()[16..])
}

/// Connects a stand-in as `user` with the demo body (deployment as given); answers id and token.
/// No first sync: these tests start each sync themselves and count what it does (the first sync
/// a user gets by default is tested in defaults.rs).
pub(crate) async fn connect(api: &Api, key: &str, system: &str, user: &str, deployment: &str) -> (String, String) {
    let mut body = demo_connection(system, user);
    body["deployment"] = json!(deployment);
    body["initialSync"] = json!(false);
    let a = api.post("/v1/connections", key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (a.body["connection"]["id"].as_str().unwrap().to_owned(), a.body["token"].as_str().unwrap().to_owned())
}

/// Runs one sync of an entity to its end; answers the run.
pub(crate) async fn sync(api: &Api, token: &str, entity: &str, mode: &str) -> Value {
    let queued = api.post("/v1/syncs", token, json!({"entities": [entity], "mode": mode})).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    follow(api, token, queued.body["syncs"][0]["id"].as_str().unwrap()).await.1
}

/// A full sync that must succeed; answers how many records it fetched.
pub(crate) async fn full(api: &Api, token: &str, entity: &str) -> u64 {
    let run = sync(api, token, entity, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let [fetched, created, ..] = counts(&run);
    assert!(fetched > 0 && created == fetched, "{run}");
    fetched
}

/// The synced records of an entity (up to 200), optionally in one status.
pub(crate) async fn listed(api: &Api, token: &str, entity: &str, status: Option<&str>) -> Vec<Value> {
    let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
    let a = api.get(&format!("/v1/{entity}?limit=200{filter}"), token).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["data"].as_array().unwrap().clone()
}

pub(crate) fn key_of(record: &Value) -> String {
    record["key"].as_str().unwrap().to_owned()
}

/// Requests of the log whose path contains `part`, with this method.
pub(crate) fn requests<'a>(log: &'a [Value], method: &str, part: &str) -> Vec<&'a Value> {
    log.iter().filter(|r| r["method"] == method && r["path"].as_str().unwrap_or_default().contains(part)).collect()
}

/// Connect costs, and bad credentials cost nothing.
async fn credits_move_as_priced(
    api: &Api,
    key: &str,
    system: &str,
    user: &str,
    deployment: &str,
    cost: u64,
) -> (String, String) {
    let before = api.credits(key).await["available"].as_u64().unwrap();
    let mut bad = demo_connection(system, user);
    bad["deployment"] = json!(deployment);
    match bad["credentials"].get("apiKey") {
        Some(_) => bad["credentials"]["apiKey"] = json!("stolen-key"),
        None => bad["credentials"]["password"] = json!("wrong"),
    }
    api.post("/v1/connections", key, bad).await.error(400, "INVALID_CREDENTIALS");
    assert_eq!(api.credits(key).await["available"].as_u64().unwrap(), before, "bad credentials charge nothing");
    let connected = connect(api, key, system, user, deployment).await;
    assert_eq!(api.credits(key).await["available"].as_u64().unwrap(), before - cost, "{system} {deployment}");
    connected
}

/// SAP's writes after a sync, as S/4HANA and ECC share them: a PATCH of an active order, the
/// released-order rule, a status change by function import and a move SAP has no function for.
/// Answers the released order's key.
async fn sap_rules_hold(api: &Api, token: &str) -> String {
    let draft = key_of(&listed(api, token, "purchase-orders", Some("draft")).await[0]);
    let patch = api
        .call(Method::PATCH, &format!("/v1/purchase-orders/{draft}"), Some(token), Some(r#"{"terms":"0002"}"#))
        .await;
    assert_eq!((patch.status, &patch.body["data"]["terms"]), (StatusCode::OK, &json!("0002")), "{}", patch.body);
    let released = key_of(&listed(api, token, "purchase-orders", Some("approved")).await[0]);
    api.call(Method::PATCH, &format!("/v1/purchase-orders/{released}"), Some(token), Some(r#"{"terms":"0001"}"#))
        .await
        .error(422, "INVALID_STATE");
    let open = key_of(&listed(api, token, "work-orders", Some("open")).await[0]);
    let status = |to: &str| format!(r#"{{"statusKey":"{to}"}}"#);
    let path = format!("/v1/work-orders/{open}/status");
    let moved = api.call(Method::PUT, &path, Some(token), Some(&status("released"))).await;
    assert_eq!(
        (moved.status, &moved.body["data"]["statusKey"]),
        (StatusCode::OK, &json!("released")),
        "{}",
        moved.body
    );
    api.call(Method::PUT, &path, Some(token), Some(&status("closed"))).await.error(422, "INVALID_STATE");
    released
}

#[tokio::test]
async fn sap_s4hana_syncs_reads_and_writes_over_odata() {
    let (api, key, tenant, sap) = (Api::new(), account(20), user("S4"), StandIn::of("sap_s4hana"));
    let (_, token) = credits_move_as_priced(&api, &key, "sap_s4hana", &tenant, "cloud", 4).await;
    sap.clear(&tenant).await;
    let orders = full(&api, &token, "purchase-orders").await;
    full(&api, &token, "work-orders").await;
    full(&api, &token, "assets").await;
    let log = sap.requests(&tenant).await;
    let first_pages = requests(&log, "GET", "A_PurchaseOrder");
    assert!(first_pages.len() >= 2, "{orders} orders arrive over server-driven pages: {first_pages:?}");
    // The second page starts after the first page's last record, not at an offset.
    let second = first_pages[1]["query"]["$filter"].as_str().unwrap_or_default();
    assert!(second.contains("LastChangeDateTime eq") && second.contains("PurchaseOrder gt '"), "{first_pages:?}");
    assert!(first_pages[1]["query"].get("$skiptoken").is_none() && first_pages[1]["query"].get("$skip").is_none());

    // Reads serve the synced copy in the unified model.
    let po = api.get("/v1/purchase-orders/4500000001", &token).await;
    assert_eq!(po.status, StatusCode::OK, "{}", po.body);
    let po = &po.body["data"];
    assert!(po["vendorKey"].is_string() && po["lineItems"][0]["quantity"].is_string(), "{po}");
    assert_eq!(po["remoteData"]["PurchaseOrder"], "4500000001");
    let live = listed(&api, &token, "purchase-orders", None).await;
    let all = api.get("/v1/purchase-orders?limit=200&includeDeleted=true", &token).await.body["data"].clone();
    let deleted: Vec<_> = all.as_array().unwrap().iter().filter(|r| r["deletedAt"].is_string()).collect();
    assert!(!deleted.is_empty() && live.len() + deleted.len() == all.as_array().unwrap().len());
    assert!(deleted.iter().all(|r| r["remoteData"]["PurchasingDocumentDeletionCode"] == "L"));

    // A change inside SAP: the incremental sync asks for changes at or after the mark (a change
    // stamped in the mark's own millisecond is not lost), so it gets the change and the record
    // at the mark, which is unchanged.
    sap.touch(json!({"tenant": tenant, "entitySet": "A_PurchaseOrder", "key": "4500000002",
        "changes": {"PaymentTerms": "ZB14"}}))
        .await;
    sap.clear(&tenant).await;
    let run = sync(&api, &token, "purchase-orders", "incremental").await;
    assert_eq!(counts(&run), [2, 0, 1, 0], "{run}");
    let log = sap.requests(&tenant).await;
    let asked = requests(&log, "GET", "A_PurchaseOrder");
    assert_eq!(asked.len(), 1, "{log:?}");
    assert!(asked[0]["query"]["$filter"].as_str().unwrap().starts_with("LastChangeDateTime ge datetimeoffset'"));
    assert_eq!(asked[0]["returned"], 2);
    assert_eq!(api.get("/v1/purchase-orders/4500000002", &token).await.body["data"]["terms"], "ZB14");

    // Writes go to SAP: a deep insert, a PATCH of an active order, the released-order rule.
    let create = |vendor: &str| {
        json!({"vendorKey": vendor, "siteKey": "1010", "currencyKey": "EUR",
            "lineItems": [{"materialKey": "TG11", "quantity": "5", "price": "12.50"}, {"description": "Gloves", "quantity": "2"}]})
    };
    let created = api.post("/v1/purchase-orders", &token, create("17300001")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let new = &created.body["data"];
    assert!(key_of(new).starts_with("45") && new["statusKey"] == "draft", "{new}");
    assert_eq!(new["lineItems"].as_array().unwrap().len(), 2);
    api.post("/v1/purchase-orders", &token, create("17300009")).await.error(422, "INVALID_VENDOR");

    let released = sap_rules_hold(&api, &token).await;

    let log = sap.requests(&tenant).await;
    assert!(requests(&log, "POST", "ReleaseMaintenanceOrder").len() == 1, "{log:?}");
    assert!(requests(&log, "PATCH", &released).is_empty(), "the released order never reached SAP");
    assert!(log.iter().filter(|r| r["method"] != "GET").all(|r| r["csrf"] == true), "every write carries its token");
    assert_eq!(sap.violations(&tenant).await, Vec::<Value>::new());
}

/// Runs a full sync of purchase orders while one of the `orders` was edited in the system between
/// two of its pages: the edit is an update, the order is read again at its new place, and every
/// order `live` before is live still (none taken for deleted).
async fn full_sync_missed_nothing(api: &Api, token: &str, orders: u64, live: &[Value]) {
    let run = sync(api, token, "purchase-orders", "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let [fetched, _, updated, deleted] = counts(&run);
    assert_eq!((updated, deleted), (1, 0), "the edit is an update and no order was missed as deleted: {run}");
    assert!(fetched > orders, "the edited order is read again at its new place: {run}");
    let after: Vec<String> = listed(api, token, "purchase-orders", None).await.iter().map(key_of).collect();
    assert_eq!(after, live.iter().map(key_of).collect::<Vec<_>>(), "every live order is still live");
}

#[tokio::test]
async fn a_change_inside_sap_while_a_sync_pages_through_hides_no_record() {
    let (api, key, tenant, sap) = (Api::new(), account(20), user("PG"), StandIn::of("sap_s4hana"));
    let (_, token) = connect(&api, &key, "sap_s4hana", &tenant, "cloud").await;
    let orders = full(&api, &token, "purchase-orders").await;
    let live = listed(&api, &token, "purchase-orders", None).await;
    // The order SAP changed longest ago comes first in change order, on the first page.
    let oldest = live.iter().min_by_key(|po| po["updatedAt"].as_str().unwrap().to_owned()).map(key_of).unwrap();
    // A user edits it in SAP just after the next full sync has read its first page: it moves to
    // the end of the change order, and every order after the first page moves up a place.
    sap.touch(json!({"tenant": tenant, "entitySet": "A_PurchaseOrder", "key": oldest,
        "changes": {"PaymentTerms": "ZB77"}, "afterNextPage": true}))
        .await;
    full_sync_missed_nothing(&api, &token, orders, &live).await;
    assert_eq!(api.get(&format!("/v1/purchase-orders/{oldest}"), &token).await.body["data"]["terms"], "ZB77");
    assert_eq!(sap.violations(&tenant).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_change_inside_maximo_while_a_sync_pages_through_hides_no_record() {
    let (api, key, tenant, maximo) = (Api::new(), account(20), user("mp"), StandIn::of("ibm_maximo"));
    let apikey = format!("demo-{tenant}");
    let (_, token) = connect(&api, &key, "ibm_maximo", &tenant, "cloud").await;
    let orders = full(&api, &token, "purchase-orders").await;
    let live = listed(&api, &token, "purchase-orders", None).await;
    let oldest = live.iter().min_by_key(|po| po["updatedAt"].as_str().unwrap().to_owned()).unwrap();
    // Edited in Maximo just after the next sync's first page (the stand-in serves 10 a page).
    maximo
        .touch(json!({"tenant": apikey, "objectStructure": "mxapipo", "key": oldest["orderNo"],
            "changes": {"description": "Edited while a sync paged"}, "afterNextPage": true}))
        .await;
    maximo.clear(&apikey).await;
    full_sync_missed_nothing(&api, &token, orders, &live).await;
    let edited = api.get(&format!("/v1/purchase-orders/{}", key_of(oldest)), &token).await.body["data"].clone();
    assert_eq!(edited["remoteData"]["description"], "Edited while a sync paged");
    let log = maximo.requests(&apikey).await;
    let pages = requests(&log, "GET", "mxapipo");
    assert!(pages.len() >= 3 && pages.iter().all(|p| p["query"].get("pageno").is_none()), "{pages:?}");
}

#[tokio::test]
async fn a_write_sap_carries_out_too_late_to_answer_is_not_sent_again_for_its_key() {
    let (api, key, tenant, sap) = (Api::new(), account(20), user("IK"), StandIn::of("sap_s4hana"));
    let (_, token) = connect(&api, &key, "sap_s4hana", &tenant, "cloud").await;
    // SAP takes the order in only after the connector has stopped waiting and looked for it.
    sap.faults_on(&tenant, "POST", "A_PurchaseOrder", json!([{"delaySeconds": 15}])).await;
    let order = json!({"vendorKey": "17300001", "siteKey": "1010", "currencyKey": "EUR",
        "lineItems": [{"materialKey": "TG11", "quantity": "5", "price": "12.50"}]});
    let first = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "order-77").await;
    first.error(504, "UPSTREAM_TIMEOUT");
    assert!(first.body["error"]["message"].as_str().unwrap().contains("may have been carried out"), "{}", first.body);
    // The client retries with the same key: the same answer, and nothing is sent to SAP.
    let again = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "order-77").await;
    again.error(504, "UPSTREAM_TIMEOUT");
    assert_eq!(again.body["error"]["message"], first.body["error"]["message"]);
    let log = wait_for("SAP's answer to the late create", Duration::from_millis(500), || async {
        let log = sap.requests(&tenant).await;
        match log.iter().any(|r| r["method"] == "POST" && r["status"] == 201) {
            true => Ok(log),
            false => Err(format!("{log:?}")),
        }
    })
    .await;
    assert_eq!(requests(&log, "POST", "A_PurchaseOrder").len(), 1, "one order in SAP: {log:?}");
    // A new key is a new write.
    let other = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "order-78").await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
}

#[tokio::test]
async fn writes_sap_carried_out_but_never_answered_are_read_back_and_answered() {
    let (api, key, tenant, sap) = (Api::new(), account(20), user("RB"), StandIn::of("sap_s4hana"));
    let (_, token) = connect(&api, &key, "sap_s4hana", &tenant, "cloud").await;
    full(&api, &token, "purchase-orders").await;
    let draft = key_of(&listed(&api, &token, "purchase-orders", Some("draft")).await[0]);
    // SAP changes the order, then answers only after the connector has stopped waiting.
    sap.faults_on(&tenant, "PATCH", "A_PurchaseOrder", json!([{"stallSeconds": 12}])).await;
    let change = json!({"terms": "0004"});
    let path = format!("/v1/purchase-orders/{draft}");
    let answer = api.write_once(Method::PATCH, &path, &token, &change, "terms-0004").await;
    assert_eq!(answer.status, StatusCode::OK, "read back, the change is there: {}", answer.body);
    assert_eq!(answer.body["data"]["terms"], "0004");
    let again = api.write_once(Method::PATCH, &path, &token, &change, "terms-0004").await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &answer.body), "the key answers the same");
    let log = wait_for("SAP's answer to the stalled change", Duration::from_millis(500), || async {
        let log = sap.requests(&tenant).await;
        match requests(&log, "PATCH", "A_PurchaseOrder").iter().any(|r| r["status"] == 204) {
            true => Ok(log),
            false => Err(format!("{log:?}")),
        }
    })
    .await;
    assert_eq!(requests(&log, "PATCH", "A_PurchaseOrder").len(), 1, "one change sent: {log:?}");

    // A create carries a reference of its key into SAP ("Your Reference"): a create whose answer
    // never came is found by it.
    sap.faults_on(&tenant, "POST", "A_PurchaseOrder", json!([{"stallSeconds": 12}])).await;
    let order = json!({"vendorKey": "17300001", "siteKey": "1010", "currencyKey": "EUR",
        "lineItems": [{"materialKey": "TG11", "quantity": "3", "price": "9.00"}]});
    let made = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "order-found").await;
    assert_eq!(made.status, StatusCode::CREATED, "found by its reference: {}", made.body);
    let reference = made.body["data"]["remoteData"]["CorrespncExternalReference"].as_str().unwrap_or_default();
    assert!(reference.starts_with("MW") && reference.len() == 12, "{}", made.body);
    let again = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "order-found").await;
    assert_eq!(again.body["data"]["key"], made.body["data"]["key"], "the key answers the same order");
}

#[tokio::test]
async fn sap_ecc_names_its_client_and_finds_changes_without_header_timestamps() {
    let (api, key, tenant, ecc) = (Api::new(), account(20), user("ECC"), StandIn::of("sap_ecc"));
    let (_, token) = credits_move_as_priced(&api, &key, "sap_ecc", &tenant, "on_prem", 8).await;
    let orders = full(&api, &token, "purchase-orders").await;
    full(&api, &token, "work-orders").await;

    // Maintenance orders carry LastChangeDateTime: an incremental sync asks for just the change.
    ecc.touch(json!({"tenant": tenant, "entitySet": "MaintenanceOrder", "key": "4000001",
        "changes": {"MaintenanceOrderDesc": "Pump P-101 seal leaks again"}}))
        .await;
    ecc.touch(json!({"tenant": tenant, "entitySet": "A_PurchaseOrder", "key": "4500000003",
        "changes": {"PaymentTerms": "ZB30"}}))
        .await;
    ecc.clear(&tenant).await;
    let run = sync(&api, &token, "work-orders", "incremental").await;
    assert_eq!(counts(&run), [2, 0, 1, 0], "the change and the unchanged record at the mark: {run}");
    // Purchase order headers have no change stamp in ECC: the whole set is read, the content
    // hashes find the one order that changed.
    let run = sync(&api, &token, "purchase-orders", "incremental").await;
    assert_eq!(counts(&run), [orders, 0, 1, 0], "{run}");
    let log = ecc.requests(&tenant).await;
    assert!(requests(&log, "GET", "MaintenanceOrder")[0]["query"]["$filter"].is_string());
    let headers = requests(&log, "GET", "A_PurchaseOrder");
    assert!(
        headers.iter().all(|r| !r["query"]["$filter"].as_str().unwrap_or_default().contains(CHANGED)),
        "{headers:?}"
    );
    assert!(log.iter().all(|r| r["query"]["sap-client"] == "100"), "every request names the client: {log:?}");
    assert_eq!(api.get("/v1/work-orders/4000001", &token).await.body["data"]["title"], "Pump P-101 seal leaks again");

    let created = api
        .post(
            "/v1/purchase-orders",
            &token,
            json!({"vendorKey": "17300002", "siteKey": "1710",
            "lineItems": [{"materialKey": "RM120", "quantity": "40", "uomKey": "KG"}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    sap_rules_hold(&api, &token).await;
    assert_eq!(ecc.violations(&tenant).await, Vec::<Value>::new());
}

#[tokio::test]
async fn maximo_syncs_reads_and_writes_over_its_json_api() {
    let (api, key, tenant, maximo) = (Api::new(), account(20), user("mx"), StandIn::of("ibm_maximo"));
    let apikey = format!("demo-{tenant}");
    credits_move_as_priced(&api, &key, "ibm_maximo", &format!("{tenant}-onprem"), "on_prem", 4).await;
    let (_, token) = credits_move_as_priced(&api, &key, "ibm_maximo", &tenant, "cloud", 2).await;
    for entity in ["purchase-orders", "work-orders", "assets", "inventories", "vendors", "locations"] {
        full(&api, &token, entity).await;
    }
    let po = &listed(&api, &token, "purchase-orders", None).await[0];
    assert!(po["orderNo"].is_string() && po["lineItems"].is_array() && po["remoteData"]["href"].is_string(), "{po}");

    // A change inside Maximo: the incremental sync asks by changedate (seconds, inclusive: the
    // record at the mark may come again, unchanged) and updates just the change.
    maximo
        .touch(json!({"tenant": apikey, "objectStructure": "mxapipo", "key": "1002", "changes": {"description": "Urgent: pump seals"}}))
        .await;
    maximo.clear(&apikey).await;
    let run = sync(&api, &token, "purchase-orders", "incremental").await;
    let [fetched, created, updated, deleted] = counts(&run);
    assert!((1..=2).contains(&fetched) && (created, updated, deleted) == (0, 1, 0), "{run}");
    let log = maximo.requests(&apikey).await;
    let asked = requests(&log, "GET", "mxapipo");
    assert!(asked[0]["query"]["oslc.where"].as_str().unwrap().starts_with("changedate>=\""), "{log:?}");
    assert!(asked[0]["returned"].as_u64().unwrap() <= 2);
    let changed = listed(&api, &token, "purchase-orders", None).await;
    assert!(changed.iter().any(|r| r["orderNo"] == "1002" && r["title"] == "Urgent: pump seals"));

    // Writes: create, update while awaiting approval, the status change, then the approved rule.
    let vendor = key_of(&listed(&api, &token, "vendors", Some("active")).await[0]);
    let vendor = listed(&api, &token, "vendors", None).await.into_iter().find(|v| key_of(v) == vendor).unwrap();
    let body = |vendor: &Value| {
        json!({"vendorKey": vendor, "siteKey": "BEDFORD", "title": "Spare bearings",
            "lineItems": [{"description": "Bearing 6205", "quantity": "4", "price": "12.00"}]})
    };
    let created = api.post("/v1/purchase-orders", &token, body(&vendor["code"])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let new = key_of(&created.body["data"]);
    assert_eq!(created.body["data"]["statusKey"], "pending_approval");
    api.post("/v1/purchase-orders", &token, body(&json!("BADVEND"))).await.error(422, "INVALID_VENDOR");
    let path = format!("/v1/purchase-orders/{new}");
    let patch = api.call(Method::PATCH, &path, Some(&token), Some(r#"{"title":"Spare bearings, 4 off"}"#)).await;
    assert_eq!(patch.body["data"]["title"], "Spare bearings, 4 off", "{}", patch.body);
    let approve =
        api.call(Method::PUT, &format!("{path}/status"), Some(&token), Some(r#"{"statusKey":"approved"}"#)).await;
    assert_eq!(approve.body["data"]["statusKey"], "approved", "{}", approve.body);
    api.call(Method::PATCH, &path, Some(&token), Some(r#"{"title":"too late"}"#)).await.error(422, "INVALID_STATE");
    let log = maximo.requests(&apikey).await;
    let writes = requests(&log, "POST", "mxapipo/_");
    assert!(writes.iter().all(|r| r["headers"]["x-method-override"] == "PATCH"), "{writes:?}");
    assert!(writes.iter().any(|r| r["query"]["action"] == "wsmethod:changeStatus"), "{writes:?}");
    assert_eq!(maximo.violations(&apikey).await, Vec::<Value>::new());
}

#[tokio::test]
async fn ten_concurrent_sap_connects_on_twenty_credits_make_five_and_disconnects_return_all() {
    let (api, key) = (std::sync::Arc::new(Api::new()), account(20));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (api, key) = (api.clone(), key.clone());
        tasks.spawn(async move {
            let body = demo_connection("sap_s4hana", &user(&format!("C{i}")));
            api.post("/v1/connections", &key, body).await
        });
    }
    let mut made = Vec::new();
    while let Some(a) = tasks.join_next().await {
        let a = a.unwrap();
        match a.status {
            StatusCode::CREATED => made.push(a.body["connection"]["id"].as_str().unwrap().to_owned()),
            _ => drop(a.error(402, "INSUFFICIENT_CREDITS")),
        }
    }
    assert_eq!(made.len(), 5);
    assert_eq!(api.credits(&key).await["available"], 0);
    for id in made.iter().chain(made.iter()) {
        let (api, key, id) = (api.clone(), key.clone(), id.clone());
        tasks.spawn(async move { api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await });
    }
    while let Some(a) = tasks.join_next().await {
        assert_eq!(a.unwrap().status, StatusCode::OK);
    }
    let credits = api.credits(&key).await;
    assert_eq!((credits["available"].as_u64(), credits["used"].as_u64()), (Some(20), Some(0)), "{credits}");
}

#[tokio::test]
async fn sap_failures_are_retried_or_reported_and_rejected_credentials_require_auth() {
    let (api, key, tenant, sap) = (Api::new(), account(20), user("F"), StandIn::of("sap_s4hana"));
    let (id, token) = connect(&api, &key, "sap_s4hana", &tenant, "cloud").await;
    let order = json!({"vendorKey": "17300003", "siteKey": "1010",
        "lineItems": [{"materialKey": "TG12", "quantity": "1"}]});

    // A CSRF token SAP no longer accepts: the connector fetches a fresh one and succeeds.
    sap.faults(&tenant, "A_PurchaseOrder", json!([{"status": 403, "csrf": true}])).await;
    let created = api.post("/v1/purchase-orders", &token, order.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let log = sap.requests(&tenant).await;
    let posts = requests(&log, "POST", "A_PurchaseOrder");
    assert_eq!(posts.iter().map(|r| r["status"].as_u64().unwrap()).collect::<Vec<_>>(), [403, 201]);

    // 429 with Retry-After and a 503 during a sync: retried, and the run succeeds.
    sap.clear(&tenant).await;
    sap.faults(&tenant, "MaintenanceOrder", json!([{"status": 429, "retryAfter": 1}, {"status": 503}])).await;
    let run = sync(&api, &token, "work-orders", "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = sap.requests(&tenant).await;
    let statuses: Vec<_> =
        requests(&log, "GET", "MaintenanceOrder").iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses[..3], [429, 503, 200]);

    // A Retry-After longer than a call waits: the run carries on from its checkpoint that much later.
    sap.clear(&tenant).await;
    sap.faults(&tenant, "MaintenanceOrder", json!([{"status": 429, "retryAfter": 6}])).await;
    let run = sync(&api, &token, "work-orders", "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let log = sap.requests(&tenant).await;
    let asked = requests(&log, "GET", "MaintenanceOrder");
    assert_eq!((asked[0]["status"].as_u64(), asked[1]["status"].as_u64()), (Some(429), Some(200)));
    let waited = chrono::DateTime::parse_from_rfc3339(asked[1]["at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(asked[0]["at"].as_str().unwrap()).unwrap();
    assert!(waited.num_seconds() >= 6, "waited {waited}");

    // SAP stays unavailable, or asks to be left alone for a minute: 503, nothing written twice.
    sap.faults(&tenant, "A_PurchaseOrder", json!([{"status": 503}, {"status": 503}, {"status": 503}])).await;
    let a = api.call_upstream(Method::POST, "/v1/purchase-orders", &token, Some(order.clone())).await;
    a.error(503, "SYSTEM_UNAVAILABLE");
    sap.faults(&tenant, "A_PurchaseOrder", json!([{"status": 429, "retryAfter": 60}])).await;
    let a = api.call_upstream(Method::POST, "/v1/purchase-orders", &token, Some(order.clone())).await;
    a.error(503, "SYSTEM_UNAVAILABLE");
    assert!(a.body["error"]["details"][0]["message"].as_str().unwrap().contains("retry after 60 s"), "{}", a.body);

    // SAP rejects the stored credentials during a sync: the connection needs new ones.
    sap.faults(&tenant, "A_PurchaseOrder", json!([{"status": 401}])).await;
    let run = sync(&api, &token, "purchase-orders", "full").await;
    assert_eq!((run["status"].as_str(), run["error"]["code"].as_str()), (Some("failed"), Some("INVALID_CREDENTIALS")));
    let connection = api.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(connection.body["connection"]["status"], "auth_required", "{}", connection.body);
    let events = events_of(&id).await;
    assert!(events.contains(&"connection.auth_required".to_owned()), "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "connection.status_changed").count(), 2, "connected, then auth_required");
}

#[tokio::test]
async fn a_base_url_on_an_internal_address_is_refused_before_anything_is_sent_or_charged() {
    let (api, key) = (Api::new(), account(8));
    for base in ["https://169.254.169.254", "https://10.0.0.8", "http://sap.example.com", "https://localhost"] {
        let mut body = demo_connection("sap_s4hana", &user("X"));
        body["credentials"]["baseUrl"] = json!(base);
        let a = api.post("/v1/connections", &key, body).await;
        a.error(400, "INVALID_CREDENTIALS");
        let detail = a.body["error"]["details"][0]["message"].as_str().unwrap_or_default();
        assert!(detail.contains("https") || detail.contains("resolves to"), "{base}: {}", a.body);
        // What a name resolved to inside the network is not told.
        assert!(!detail.contains("127.0.0.1") && !detail.contains("::1"), "{base}: {}", a.body);
    }
    assert_eq!(api.credits(&key).await["available"], 8);
}

#[tokio::test]
async fn sap_oauth_client_credentials_and_maximo_maxauth_sign_in_too() {
    let (api, key) = (Api::new(), account(20));
    // SAP with an OAuth 2.0 client instead of a user: the stand-in's token endpoint issues it.
    let client = user("OAUTH");
    let mut body = demo_connection("sap_s4hana", &client);
    let credentials = body["credentials"].as_object_mut().unwrap();
    let origin = env("MILLWRIGHT_STANDIN_SAP_S4HANA");
    for field in ["username", "password"] {
        credentials.remove(field);
    }
    credentials.insert("clientId".into(), json!(client));
    credentials.insert("clientSecret".into(), json!("Millwright-Demo-1"));
    credentials.insert("tokenUrl".into(), json!(format!("{origin}/oauth/token")));
    let mut wrong = body.clone();
    wrong["credentials"]["clientSecret"] = json!("guess");
    api.post("/v1/connections", &key, wrong).await.error(400, "INVALID_CREDENTIALS");
    let a = api.post("/v1/connections", &key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    first_sync_succeeds(&api, a.body["token"].as_str().unwrap(), &a.body).await;
    let log = StandIn::of("sap_s4hana").requests(&client).await;
    assert!(log.iter().any(|r| r["path"] == "/oauth/token"), "{log:?}");

    // ECC needs its client number: the catalogue says so, and the API asks before SAP is asked.
    let mut ecc = demo_connection("sap_ecc", &user("ECC"));
    ecc["credentials"].as_object_mut().unwrap().remove("sapClient");
    let refused = api.post("/v1/connections", &key, ecc).await;
    assert_eq!(refused.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "credentials.sapClient");

    // Maximo with a user and password (maxauth) instead of an API key.
    let person = user("maxuser");
    let mut body = demo_connection("ibm_maximo", &person);
    let credentials = body["credentials"].as_object_mut().unwrap();
    credentials.remove("apiKey");
    credentials.insert("username".into(), json!(person));
    credentials.insert("password".into(), json!("Millwright-Demo-1"));
    let a = api.post("/v1/connections", &key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    first_sync_succeeds(&api, a.body["token"].as_str().unwrap(), &a.body).await;
    assert!(!StandIn::of("ibm_maximo").requests(&person).await.is_empty(), "the user is the tenant");
    assert_eq!(api.credits(&key).await["available"], 20 - 4 - 2);
}

#[tokio::test]
async fn credentials_rejected_on_a_write_also_require_auth() {
    let (api, key, tenant, sap) = (Api::new(), account(4), user("W"), StandIn::of("sap_s4hana"));
    let (id, token) = connect(&api, &key, "sap_s4hana", &tenant, "cloud").await;
    sap.faults(&tenant, "A_PurchaseOrder", json!([{"status": 401}])).await;
    let order =
        json!({"vendorKey": "17300001", "siteKey": "1010", "lineItems": [{"materialKey": "TG11", "quantity": "1"}]});
    api.post("/v1/purchase-orders", &token, order).await.error(400, "INVALID_CREDENTIALS");
    let connection = api.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(connection.body["connection"]["status"], "auth_required", "{}", connection.body);
    assert!(events_of(&id).await.contains(&"connection.auth_required".to_owned()));
}
