//! Black-box tests of the NetSuite connector on the running stack, against the NetSuite stand-in
//! that scripts/test starts (infra/local/standins/netsuite.py). Each test connects as an
//! integration of its own (`clientId` `demo-…`), so it has its own copy of the sample account;
//! the stand-in's request log, login audit trail and concurrency figures show what the
//! connector did.

use crate::connectors::{connect, full, key_of, listed, requests, sync, user};
use millwright_blackbox::{Api, StandIn, account, counts, demo_connection, first_sync_succeeds};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SYSTEM: &str = "netsuite";

/// A test fixture key (tests/fixtures/netsuite).
fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/netsuite/{name}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The stand-in's tenant of a test user: its integration's client id.
fn tenant(user: &str) -> String {
    format!("demo-{user}")
}

/// A connect refused with INVALID_CREDENTIALS: answers what the error says.
async fn refused(api: &Api, key: &str, body: Value) -> Value {
    let a = api.post("/v1/connections", key, body).await;
    a.error(400, "INVALID_CREDENTIALS");
    a.body["error"].clone()
}

#[tokio::test]
async fn netsuite_connects_machine_to_machine_for_two_credits_and_refuses_bad_keys_for_nothing() {
    let (api, key, ns) = (Api::new(), account(10), StandIn::of(SYSTEM));
    let name = user("NSC");
    let body = |change: &dyn Fn(&mut Value)| {
        let mut b = demo_connection(SYSTEM, &name);
        b["initialSync"] = json!(false);
        change(&mut b);
        b
    };

    // A certificate NetSuite does not know, and a key its certificate does not match: NetSuite's
    // refusal (invalid_client) with what to check.
    let error =
        refused(&api, &key, body(&|b| b["credentials"]["certificateId"] = json!("Mw7NoSuchCertificate0A"))).await;
    assert!(error.to_string().contains("invalid_client"), "{error}");
    let error = refused(&api, &key, body(&|b| b["credentials"]["privateKey"] = json!(fixture("other_p256")))).await;
    assert!(error.to_string().contains("invalid_client"), "{error}");
    // An RSA key is signed with RSASSA-PSS (PS256), never RS256, which NetSuite no longer takes.
    refused(&api, &key, body(&|b| b["credentials"]["privateKey"] = json!(fixture("rsa3072")))).await;
    let tokens = requests(&ns.requests(&tenant(&name)).await, "POST", "/oauth2/v1/token")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    let algorithms: Vec<&str> = tokens.iter().filter_map(|t| t["jwt"]["header"]["alg"].as_str()).collect();
    assert_eq!(algorithms, ["ES256", "ES256", "PS256"], "{tokens:?}");
    // A revoked certificate, and a clock two hours off NetSuite's: invalid_grant, the time window named.
    let error =
        refused(&api, &key, body(&|b| b["credentials"]["certificateId"] = json!("Mw7RevokedCertifica02AQ"))).await;
    assert!(error.to_string().contains("invalid_grant"), "{error}");
    ns.post("clock", json!({"tenant": tenant(&name), "offsetSeconds": 7200})).await;
    let error = refused(&api, &key, body(&|_| {})).await;
    assert!(error.to_string().contains("time window"), "{error}");
    ns.post("clock", json!({"tenant": tenant(&name), "offsetSeconds": 0})).await;
    let audit = ns.get(&format!("audit?tenant={}", tenant(&name))).await;
    assert!(audit["audit"].as_array().unwrap().iter().all(|a| a["result"] == "Failure"), "{audit}");

    // Keys NetSuite would refuse are refused before it is asked, naming the field.
    ns.clear(&tenant(&name)).await;
    for (pem, says) in [(fixture("rsa2048"), "2048 bits"), (fixture("p521"), "P-521"), ("not a key".into(), "PEM")] {
        let error = refused(&api, &key, body(&|b| b["credentials"]["privateKey"] = json!(pem))).await;
        assert_eq!(error["details"][0]["field"], "credentials.privateKey", "{error}");
        assert!(error["details"][0]["message"].as_str().unwrap().contains(says), "{error}");
    }
    assert!(ns.requests(&tenant(&name)).await.is_empty(), "nothing sent");
    assert_eq!(api.credits(&key).await["available"], 10, "refusals cost nothing");

    // The demo body: tier 2, two credits; NetSuite issued a token and answered a read.
    let a = api.post("/v1/connections", &key, body(&|_| {})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(api.credits(&key).await["available"], 8);
    let audit = ns.get(&format!("audit?tenant={}", tenant(&name))).await;
    assert_eq!(audit["audit"].as_array().unwrap().last().unwrap()["result"], "Success", "{audit}");
    let systems = api.call(Method::GET, "/v1/systems", None, None).await.body;
    let netsuite = systems["data"].as_array().unwrap().iter().find(|s| s["id"] == SYSTEM).unwrap().clone();
    assert_eq!((&netsuite["available"], &netsuite["tier"]), (&json!(true), &json!(2)), "{netsuite}");
}

#[tokio::test]
async fn netsuite_syncs_every_entity_then_only_what_changed_and_renews_a_token_mid_sync() {
    let (api, key, ns, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("NSS"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    let tenant = tenant(&name);
    let fetched = [
        full(&api, &token, "purchase-orders").await,
        full(&api, &token, "materials").await,
        full(&api, &token, "inventories").await,
        full(&api, &token, "vendors").await,
        full(&api, &token, "sites").await,
        full(&api, &token, "locations").await,
    ];
    assert_eq!(
        fetched,
        [11, 3, 6, 3, 2, 3],
        "every purchase order, inventory item, stock row, vendor, subsidiary, location"
    );

    // Purchase orders in every status, with lines and custom fields; the blocked vendor; stock out.
    let orders = listed(&api, &token, "purchase-orders", None).await;
    let mut statuses: Vec<&str> = orders.iter().filter_map(|o| o["statusKey"].as_str()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(statuses.len(), 8, "{statuses:?}");
    let po = api.get("/v1/purchase-orders/4711", &token).await.body["data"].clone();
    assert_eq!(
        (&po["statusKey"], &po["vendorKey"], &po["siteKey"]),
        (&json!("partially_received"), &json!("321"), &json!("1")),
        "{po}"
    );
    assert!(po["lineItems"].as_array().unwrap().len() == 2 && po["lineItems"][0]["quantity"].is_string(), "{po}");
    assert!(po["customFields"]["custbody_external_ref"].is_string(), "{po}");
    assert!(po["customFields"]["lines"].is_object(), "custcol fields by line: {po}");
    let blocked = api.get("/v1/vendors/323", &token).await.body["data"].clone();
    assert_eq!(blocked["statusKey"], "blocked", "{blocked}");
    let stock = api.get("/v1/inventories/882-5", &token).await.body["data"].clone();
    assert_eq!((&stock["statusKey"], &stock["quantity"]), (&json!("out_of_stock"), &json!("0")), "{stock}");
    // SuiteQL with Prefer: transient read every entity; no call was refused as off-spec.
    let log = ns.requests(&tenant).await;
    let queries = requests(&log, "POST", "/query/v1/suiteql");
    assert!(
        queries.iter().all(|q| q["headers"]["Prefer"] == "transient" || q["headers"]["prefer"] == "transient"),
        "{queries:?}"
    );

    // A change in NetSuite; an incremental sync reads only it, from the mark.
    ns.clear(&tenant).await;
    ns.touch(json!({"tenant": tenant, "type": "purchaseOrder", "id": "4713", "fields": {"memo": "Expedite please"}}))
        .await;
    let run = sync(&api, &token, "purchase-orders", "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // The mark is inclusive (NetSuite keeps seconds): the order changed at the mark comes again,
    // unchanged.
    let [fetched, created, updated, _] = counts(&run);
    assert!((fetched <= 2, created, updated) == (true, 0, 1), "fetched, created, updated: {run}");
    let log = ns.requests(&tenant).await;
    let query = requests(&log, "POST", "/query/v1/suiteql")[0]["body"]["q"].as_str().unwrap().to_owned();
    assert!(query.contains("t.lastmodifieddate >= TO_TIMESTAMP("), "{query}");
    let reads = requests(&log, "GET", "/record/v1/purchaseOrder/");
    assert_eq!(reads.len() as u64, fetched, "only what the feed listed is read: {reads:?}");
    assert!(reads.iter().any(|r| r["path"].as_str().unwrap().ends_with("/4713")), "{reads:?}");
    assert_eq!(api.get("/v1/purchase-orders/4713", &token).await.body["data"]["title"], "Expedite please");

    // The token stops working in the middle: NetSuite refuses the run's first call with it, a new
    // token is minted, the run goes on. (Refused by a fault rather than by expiring the tenant's
    // tokens: a run may land on a Lambda instance holding none, which would mint one first.)
    ns.post("faults", json!({"tenant": tenant, "fault": "401", "path": "/query/v1/suiteql"})).await;
    ns.touch(
        json!({"tenant": tenant, "type": "vendor", "id": "322", "fields": {"companyName": "Northwind Fasteners Ltd"}}),
    )
    .await;
    let run = sync(&api, &token, "vendors", "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(api.get("/v1/vendors/322", &token).await.body["data"]["name"], "Northwind Fasteners Ltd");
    let log = ns.requests(&tenant).await;
    let refused = log.iter().position(|r| r["status"] == 401).unwrap_or_else(|| panic!("a refusal: {log:?}"));
    assert!(requests(&log[refused..], "POST", "/oauth2/v1/token").len() == 1, "a new token after the refusal: {log:?}");
}

#[tokio::test]
async fn netsuite_writes_purchase_orders_and_keeps_approved_ones_frozen() {
    let (api, key, ns, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("NSW"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    let tenant = tenant(&name);
    full(&api, &token, "purchase-orders").await;

    // Create: NetSuite answers 204 with a Location; the order is read back.
    let order = json!({"vendorKey": "321", "siteKey": "1", "locationKey": "5", "title": "Bearings for pump 17",
                       "customFields": {"custbody_external_ref": "MK-9"},
                       "lineItems": [{"materialKey": "880", "quantity": "4", "price": "24.00"},
                                     {"materialKey": "881", "quantity": "1", "price": "750"}]});
    let created = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "create-1").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let po = created.body["data"].clone();
    assert_eq!((&po["statusKey"], &po["title"]), (&json!("pending_approval"), &json!("Bearings for pump 17")), "{po}");
    assert_eq!(po["lineItems"].as_array().unwrap().len(), 2, "{po}");
    let log = ns.requests(&tenant).await;
    let post = requests(&log, "POST", "/record/v1/purchaseOrder")[0].clone();
    assert!(post["body"]["externalId"].as_str().unwrap().starts_with("MW"), "the reference: {post}");
    assert!(post["headers"].to_string().to_lowercase().contains("x-netsuite-idempotency-key"), "{post}");
    let key_po = key_of(&po);

    // Update a header field, then close a line.
    let path = format!("/v1/purchase-orders/{key_po}");
    let updated = api.patch(&path, &token, json!({"title": "Bearings, expedited"})).await;
    assert_eq!(
        (updated.status, &updated.body["data"]["title"]),
        (StatusCode::OK, &json!("Bearings, expedited")),
        "{}",
        updated.body
    );
    let closed = api.patch(&path, &token, json!({"lineItems": [{"key": "2", "statusKey": "closed"}]})).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["data"]["lineItems"][1]["statusKey"], "closed", "{}", closed.body);
    assert_eq!(closed.body["data"]["lineItems"][0]["statusKey"], "open", "{}", closed.body);

    // An approved order is frozen, as in SAP; NetSuite's refusals name the unified field.
    let approved = key_of(&listed(&api, &token, "purchase-orders", Some("approved")).await[0]);
    api.patch(&format!("/v1/purchase-orders/{approved}"), &token, json!({"title": "x"}))
        .await
        .error(422, "INVALID_STATE");
    let mut blocked = order.clone();
    blocked["vendorKey"] = json!("323");
    let a = api.post("/v1/purchase-orders", &token, blocked).await;
    assert_eq!(a.error(422, "INVALID_VENDOR").body["error"]["details"][0]["field"], "vendorKey", "{}", a.body);
    let mut unknown = order.clone();
    unknown["lineItems"][0]["materialKey"] = json!("9999");
    let a = api.post("/v1/purchase-orders", &token, unknown).await;
    assert_eq!(
        a.error(422, "INVALID_VALUE").body["error"]["details"][0]["field"],
        "lineItems[0].materialKey",
        "{}",
        a.body
    );

    // NetSuite's concurrency limit stays full (other integrations): retried, then 503 with Retry-After.
    let fault =
        json!({"tenant": tenant, "fault": "429", "count": 3, "method": "POST", "path": "/services/rest/record"});
    let posts = |log: Vec<Value>| requests(&log, "POST", "/record/v1/purchaseOrder").len();
    let before = posts(ns.requests(&tenant).await);
    ns.post("faults", fault).await;
    let busy = api.call_upstream(Method::POST, "/v1/purchase-orders", &token, Some(order.clone())).await;
    busy.error(503, "SYSTEM_UNAVAILABLE");
    assert_eq!(busy.number("retry-after"), Some(5), "{}", busy.body);
    assert_eq!(posts(ns.requests(&tenant).await), before + 3, "three tries, each refused before NetSuite acted");
}

#[tokio::test]
async fn a_create_retried_after_a_stalled_answer_makes_one_order() {
    let (api, key, ns, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("NSI"));
    let (_, token) = connect(&api, &key, SYSTEM, &name, "cloud").await;
    let tenant = tenant(&name);
    let before = full(&api, &token, "purchase-orders").await;
    // NetSuite makes the order, then answers only after the connector stopped waiting.
    ns.post("faults", json!({"tenant": tenant, "fault": "stall", "method": "POST", "path": "/services/rest/record/v1/purchaseOrder", "seconds": 12})).await;
    let order = json!({"vendorKey": "322", "siteKey": "1", "lineItems": [{"materialKey": "881", "quantity": "2"}]});
    let first = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "stalled-1").await;
    let again = api.write_once(Method::POST, "/v1/purchase-orders", &token, &order, "stalled-1").await;
    assert_eq!(first.status, again.status, "{} / {}", first.body, again.body);
    let creates = requests(&ns.requests(&tenant).await, "POST", "/record/v1/purchaseOrder").len();
    assert_eq!(creates, 1, "the retry did not send the create again");
    let run = sync(&api, &token, "purchase-orders", "full").await;
    assert_eq!(counts(&run)[0], before + 1, "one order more: {run}");
}

#[tokio::test]
async fn netsuite_calls_stay_within_the_connections_limit_and_busy_answers_are_waited_out() {
    let (api, key, ns, name) = (Api::new(), account(4), StandIn::of(SYSTEM), user("NSL"));
    let tenant = tenant(&name);
    // NetSuite lets this account run one request at a time, each taking a while.
    ns.post("limits", json!({"tenant": tenant, "concurrency": 1, "latencyMs": 150})).await;
    // The demo body's defaults: one call at once, a first sync of all six entities.
    let a = api.post("/v1/connections", &key, demo_connection(SYSTEM, &name)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let token = a.body["token"].as_str().unwrap().to_owned();
    assert_eq!(a.body["initialSync"]["syncIds"].as_array().map(Vec::len), Some(6), "{}", a.body);
    first_sync_succeeds(&api, &token, &a.body).await;
    let stats = ns.get(&format!("stats?tenant={tenant}")).await;
    assert_eq!((&stats["maxInFlight"], &stats["rejectedConcurrency"]), (&json!(1), &json!(0)), "{stats}");

    // Other integrations fill the account's limit for a while: NetSuite answers 429; the sync
    // waits and succeeds.
    ns.post("faults", json!({"tenant": tenant, "fault": "429", "count": 2, "path": "/services/rest/query"})).await;
    let run = sync(&api, &token, "vendors", "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let stats = ns.get(&format!("stats?tenant={tenant}")).await;
    assert_eq!((&stats["maxInFlight"], &stats["rejectedConcurrency"]), (&json!(1), &json!(2)), "{stats}");
}
