//! Black-box tests of webhooks on the running local stack: events travel from the change that
//! makes them (connect, sync, disconnect) through the events stream, the fan-out and the delivery
//! queue to receivers played by tests/receiver.py, which verifies every delivery with the official
//! Python `standardwebhooks` library; each delivery is verified here again with the official Rust
//! crate `standardwebhooks`.

use millwright_blackbox::{Api, StandIn, account, client, demo_connection, env, wait_for};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

/// The test receiver (tests/receiver.py) started by scripts/test.
pub(crate) struct Receiver {
    base: String,
    http: reqwest::Client,
}

impl Receiver {
    pub(crate) fn new() -> Self {
        Self { base: env("MILLWRIGHT_RECEIVER_URL"), http: client() }
    }

    /// A fresh hook name with the given behaviour (ok, flaky, slow, gone) and its URL.
    pub(crate) fn hook(&self, behaviour: &str) -> (String, String) {
        let name = format!("{behaviour}-{}", ulid::Ulid::new().to_string().to_lowercase());
        let url = format!("{}/hooks/{name}", self.base);
        (name, url)
    }

    /// Tells the receiver which secrets to verify a hook's deliveries with, by label.
    async fn secrets(&self, name: &str, secrets: Value) {
        let r = self.http.put(format!("{}/secrets/{name}", self.base)).json(&secrets).send().await.unwrap();
        assert!(r.status().is_success());
    }

    /// Everything the hook received, in arrival order.
    async fn log(&self, name: &str) -> Vec<Value> {
        let r = self.http.get(format!("{}/log/{name}", self.base)).send().await.unwrap();
        r.json::<Vec<Value>>().await.unwrap()
    }

    /// Waits until `done` holds for the hook's log; answers the log.
    pub(crate) async fn wait(&self, name: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let done = &done;
        wait_for(&format!("{name}: {what}"), Duration::from_millis(250), move || async move {
            let log = self.log(name).await;
            if done(&log) { Ok(log) } else { Err(format!("{log:#?}")) }
        })
        .await
    }
}

/// The distinct event ids a hook answered 2xx to.
fn accepted(log: &[Value]) -> BTreeSet<String> {
    log.iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| (200..300).contains(&s)))
        .map(|r| r["webhookId"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies a received request with the official Rust crate and a secret.
fn rust_verifies(record: &Value, secret: &str) -> bool {
    let mut headers = HeaderMap::new();
    for (name, value) in record["headers"].as_object().unwrap() {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.as_str().unwrap().parse().unwrap(),
        );
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(record["body"].as_str().unwrap().as_bytes(), &headers)
        .is_ok()
}

/// Creates an endpoint; answers its id and secret.
pub(crate) async fn endpoint(api: &Api, key: &str, url: &str, events: Option<&[&str]>) -> (String, String) {
    let mut body = json!({"url": url, "description": "test receiver"});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let a = api.post("/v1/webhook-endpoints", key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let secret = a.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(a.body["webhookEndpoint"]["status"], "enabled");
    assert!(a.body["webhookEndpoint"].get("secret").is_none());
    (a.body["webhookEndpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

/// An endpoint's delivery log (first page).
async fn deliveries(api: &Api, key: &str, endpoint: &str) -> Vec<Value> {
    let a = api.get(&format!("/v1/webhook-endpoints/{endpoint}/deliveries?limit=100"), key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["data"].as_array().unwrap().clone()
}

/// Waits until every delivery of the endpoint satisfies `done` and there are `count` of them.
async fn settled(api: &Api, key: &str, endpoint: &str, count: usize, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let done = &done;
    wait_for(&format!("the deliveries of {endpoint} settled"), Duration::from_millis(250), move || async move {
        let log = deliveries(api, key, endpoint).await;
        if log.len() == count && log.iter().all(done) { Ok(log) } else { Err(format!("{log:#?}")) }
    })
    .await
}

/// The distinct events a hook accepted (2xx), each once, by webhook id; in no particular order.
pub(crate) fn bodies(log: &[Value]) -> Vec<Value> {
    let mut by_id = BTreeMap::new();
    for record in log.iter().filter(|r| r["status"].as_u64().is_some_and(|s| (200..300).contains(&s))) {
        let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["id"], record["webhookId"], "webhook-id is the event id");
        by_id.insert(record["webhookId"].as_str().unwrap().to_owned(), body);
    }
    by_id.into_values().collect()
}

/// An event's time, as a receiver reads it.
fn created_at(event: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(event["createdAt"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn connect_sync_and_disconnect_reach_a_receiver_and_both_official_verifiers_accept_them() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(10));
    let (name, url) = receiver.hook("ok");
    let (hook, secret) = endpoint(&api, &key, &url, None).await;
    receiver.secrets(&name, json!({"current": secret})).await;

    let (connection, token) = api.connect_sandbox(&key, "hooks").await;
    let a = api.post("/v1/syncs", &token, json!({"entities": ["vendors"], "mode": "full"})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let sync_id = a.body["syncs"][0]["id"].as_str().unwrap().to_owned();
    receiver.wait(&name, "created + connected + sync.completed", |log| accepted(log).len() >= 3).await;
    let a = api.post(&format!("/v1/connections/{connection}/disconnect"), &key, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let log = receiver.wait(&name, "four events", |log| accepted(log).len() >= 4).await;

    for record in &log {
        assert_eq!(record["verified"]["current"], true, "the Python library refused {record:#}");
        assert!(rust_verifies(record, &secret), "the Rust crate refused {record:#}");
        assert!(!rust_verifies(record, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    }
    // Deliveries are at least once and in no particular order: each event is found by what it is.
    let events = bodies(&log);
    assert_eq!(events.len(), 4, "{events:#?}");
    let find = |kind: &str, status: &str| {
        events
            .iter()
            .find(|e| e["type"] == kind && e["data"]["status"] == status)
            .unwrap_or_else(|| panic!("no {kind} {status} in {events:#?}"))
    };
    for event in &events {
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["connectionId"], connection.as_str());
    }
    let created = events.iter().find(|e| e["type"] == "connection.created").expect("connection.created");
    assert_eq!(created["data"]["connection"]["id"], connection.as_str());
    assert_eq!(created["data"]["connection"]["status"], "active");
    assert!(created.to_string().find("accountId").is_none(), "{created}");
    let connected = find("connection.status_changed", "active");
    assert_eq!(connected["data"]["previousStatus"], Value::Null);
    assert_eq!(created_at(created), created_at(connected), "made and active at the same instant");
    let synced = find("sync.completed", "succeeded");
    assert_eq!(synced["data"]["id"], sync_id.as_str());
    let run = api.get(&format!("/v1/syncs/{sync_id}"), &key).await;
    assert_eq!(synced["data"]["counts"], run.body["sync"]["counts"], "{}", run.body);
    let disconnected = find("connection.status_changed", "disconnected");
    assert_eq!(disconnected["data"]["previousStatus"], "active");
    assert!(created_at(connected) < created_at(disconnected), "status events are timed in the order they happened");

    // The log: one succeeded attempt per delivery, newest first.
    let log = settled(&api, &key, &hook, 4, |d| d["status"] == "succeeded").await;
    for d in &log {
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{d:#}");
        assert_eq!(attempts[0]["statusCode"], 200);
        assert!(attempts[0]["latencyMs"].is_u64() && attempts[0]["error"].is_null());
        assert!(d["id"].as_str().unwrap().starts_with("whd_"));
    }
    assert_eq!(log[0]["eventType"], "connection.status_changed");
    assert_eq!(log[0]["payload"]["data"]["status"], "disconnected");

    // A redelivery sends the same event (same webhook-id) again and logs a second attempt.
    let oldest = log[3]["id"].as_str().unwrap();
    let a = api.post(&format!("/v1/webhook-deliveries/{oldest}/redeliver"), &key, json!({})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let first_id = log[3]["eventId"].as_str().unwrap().to_owned();
    receiver
        .wait(&name, "the redelivery", |log| log.iter().filter(|r| r["webhookId"] == first_id.as_str()).count() == 2)
        .await;
    settled(&api, &key, &hook, 4, |d| {
        d["status"] == "succeeded" && (d["id"] != oldest || d["attempts"].as_array().unwrap().len() == 2)
    })
    .await;

    // Another account sees none of it.
    let stranger = account(1);
    api.get(&format!("/v1/webhook-endpoints/{hook}"), &stranger).await.error(404, "NOT_FOUND");
    api.get(&format!("/v1/webhook-endpoints/{hook}/deliveries"), &stranger).await.error(404, "NOT_FOUND");
    api.post(&format!("/v1/webhook-deliveries/{oldest}/redeliver"), &stranger, json!({})).await.error(404, "NOT_FOUND");
    let listed = api.get("/v1/webhook-endpoints", &stranger).await;
    assert_eq!(listed.body["data"], json!([]));
    // Connection tokens manage no webhooks; the disconnected one works nowhere.
    let (_, live) = api.connect_sandbox(&stranger, "stranger").await;
    api.get("/v1/webhook-endpoints", &live).await.error(403, "PERMISSION_DENIED");
    api.get("/v1/webhook-endpoints", &token).await.error(401, "AUTHENTICATION_FAILED");
}

#[tokio::test]
async fn a_receiver_applying_status_events_by_created_at_in_any_order_ends_with_the_connections_status() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(4));
    let (name, url) = receiver.hook("ok");
    let (_, secret) = endpoint(&api, &key, &url, Some(&["connection.status_changed"])).await;
    receiver.secrets(&name, json!({"s": secret})).await;

    // Active, then auth_required (SAP refuses the stored credentials on a write), then disconnected.
    let tenant = format!("ORDER{}", &ulid::Ulid::new().to_string()[16..]);
    // No first sync: the fault below is for the write.
    let mut body = demo_connection("sap_s4hana", &tenant);
    body["initialSync"] = json!(false);
    let a = api.post("/v1/connections", &key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let (id, token) = (a.body["connection"]["id"].as_str().unwrap(), a.body["token"].as_str().unwrap());
    StandIn::of("sap_s4hana").faults(&tenant, "A_PurchaseOrder", json!([{"status": 401}])).await;
    let order =
        json!({"vendorKey": "17300001", "siteKey": "1010", "lineItems": [{"materialKey": "TG11", "quantity": "1"}]});
    api.post("/v1/purchase-orders", token, order).await.error(400, "INVALID_CREDENTIALS");
    let gone = api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    let log = receiver.wait(&name, "three status changes", |log| accepted(log).len() == 3).await;

    // Each event carries the status it reports and when the change happened; the times follow
    // the changes, and the connection inside says the same.
    let mut events = bodies(&log);
    events.sort_by_key(created_at);
    let statuses: Vec<&Value> = events.iter().map(|e| &e["data"]["status"]).collect();
    assert_eq!(statuses, [&json!("active"), &json!("auth_required"), &json!("disconnected")], "{events:#?}");
    for e in &events {
        assert_eq!(e["data"]["connection"]["status"], e["data"]["status"]);
        assert_eq!(created_at(&json!({"createdAt": e["data"]["connection"]["statusChangedAt"]})), created_at(e));
    }

    // Whatever order they arrive in, and with repeats, keeping the latest by createdAt ends right.
    let current = api.get(&format!("/v1/connections/{id}"), &key).await.body["connection"]["status"].clone();
    assert_eq!(current, "disconnected");
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let mut applied: Option<&Value> = None;
        for i in order.iter().chain(order.iter()) {
            let event = &events[*i];
            if applied.is_none_or(|seen| created_at(event) > created_at(seen)) {
                applied = Some(event);
            }
        }
        assert_eq!(applied.unwrap()["data"]["status"], current, "applied in the order {order:?}");
    }
}

#[tokio::test]
async fn during_a_rotation_the_old_and_the_new_secret_both_verify() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(10));
    let (name, url) = receiver.hook("ok");
    let (hook, old) = endpoint(&api, &key, &url, Some(&["connection.status_changed"])).await;
    let a = api.post(&format!("/v1/webhook-endpoints/{hook}/rotate-secret"), &key, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let new = a.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let until =
        chrono::DateTime::parse_from_rfc3339(a.body["webhookEndpoint"]["previousSecretExpiresAt"].as_str().unwrap())
            .unwrap();
    let hours = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");
    receiver.secrets(&name, json!({"old": old, "new": new})).await;

    api.connect_sandbox(&key, "rotation").await;
    let log = receiver.wait(&name, "the connect event", |log| !accepted(log).is_empty()).await;
    let record = log.iter().find(|r| r["status"] == 200).unwrap();
    assert_eq!(record["webhookSignature"].as_str().unwrap().split(' ').count(), 2);
    assert_eq!(record["verified"], json!({"old": true, "new": true}), "Python verifiers");
    assert!(rust_verifies(record, &old) && rust_verifies(record, &new), "Rust verifiers");
}

#[tokio::test]
async fn flaky_and_slow_receivers_get_every_event_and_410_disables_an_endpoint() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(10));
    let only = Some(&["connection.status_changed"][..]);
    let (flaky_name, flaky_url) = receiver.hook("flaky");
    let (flaky, flaky_secret) = endpoint(&api, &key, &flaky_url, only).await;
    let (slow_name, slow_url) = receiver.hook("slow");
    let (slow, slow_secret) = endpoint(&api, &key, &slow_url, only).await;
    let (gone_name, gone_url) = receiver.hook("gone");
    let (gone, _) = endpoint(&api, &key, &gone_url, only).await;
    receiver.secrets(&flaky_name, json!({"s": flaky_secret})).await;
    receiver.secrets(&slow_name, json!({"s": slow_secret})).await;

    let (connection, _) = api.connect_sandbox(&key, "flaky").await;
    receiver.wait(&gone_name, "the 410", |log| !log.is_empty()).await;
    api.post(&format!("/v1/connections/{connection}/disconnect"), &key, json!({})).await;

    for name in [&flaky_name, &slow_name] {
        let log = receiver.wait(name, "both events accepted", |log| accepted(log).len() == 2).await;
        assert!(log.iter().all(|r| r["verified"]["s"] == true), "{log:#?}");
    }
    // Every attempt is in the log: a 500 then a 200 for the flaky one, a timeout then a 200 for the slow one.
    for d in settled(&api, &key, &flaky, 2, |d| d["status"] == "succeeded").await {
        let codes: Vec<&Value> = d["attempts"].as_array().unwrap().iter().map(|a| &a["statusCode"]).collect();
        assert_eq!(codes, [&json!(500), &json!(200)], "{d:#}");
        assert_eq!(d["attempts"][0]["error"], "the endpoint answered 500");
    }
    for d in settled(&api, &key, &slow, 2, |d| d["status"] == "succeeded").await {
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{d:#}");
        assert_eq!((&attempts[0]["statusCode"], &attempts[0]["error"]), (&Value::Null, &json!("timed out")));
        assert!(attempts[0]["latencyMs"].as_u64().unwrap() >= 10_000);
        assert_eq!(attempts[1]["statusCode"], 200);
    }

    // 410 Gone: the endpoint is disabled; nothing was delivered to it and nothing more is tried.
    let a = api.get(&format!("/v1/webhook-endpoints/{gone}"), &key).await;
    assert_eq!(a.body["webhookEndpoint"]["status"], "disabled", "{}", a.body);
    assert!(a.body["webhookEndpoint"]["disabledReason"].as_str().unwrap().contains("410"));
    let log = deliveries(&api, &key, &gone).await;
    assert!(!log.is_empty() && log.iter().all(|d| d["status"] == "failed"), "{log:#?}");
    assert_eq!(
        log.iter().map(|d| d["attempts"].as_array().unwrap().len()).sum::<usize>(),
        receiver.log(&gone_name).await.len()
    );

    // Turning it back on is the user's call.
    let a = api
        .call(Method::PATCH, &format!("/v1/webhook-endpoints/{gone}"), Some(&key), Some(r#"{"status":"enabled"}"#))
        .await;
    assert_eq!((a.status, &a.body["webhookEndpoint"]["disabledReason"]), (StatusCode::OK, &Value::Null), "{}", a.body);
}

#[tokio::test]
async fn internal_and_plain_http_urls_are_refused_and_endpoints_are_managed() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(1));
    for url in [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "http://example.com/hook",
        "https://[::1]/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let a = api.post("/v1/webhook-endpoints", &key, json!({"url": url})).await;
        a.error(400, "INVALID_REQUEST");
        assert_eq!(a.body["error"]["details"][0]["field"], "url", "{url}: {}", a.body);
    }
    let a = api
        .post("/v1/webhook-endpoints", &key, json!({"url": receiver.hook("ok").1, "events": ["sync.started"]}))
        .await;
    a.error(400, "INVALID_REQUEST");
    assert_eq!(a.body["error"]["details"][0]["field"], "events[0]");

    // Create, list, update, delete.
    let (hook, _) = endpoint(&api, &key, &receiver.hook("ok").1, Some(&["sync.failed"])).await;
    let listed = api.get("/v1/webhook-endpoints", &key).await;
    assert_eq!(listed.body["data"][0]["id"], hook.as_str());
    assert_eq!(listed.body["data"][0]["events"], json!(["sync.failed"]));
    let path = format!("/v1/webhook-endpoints/{hook}");
    let a = api.call(Method::PATCH, &path, Some(&key), Some(r#"{"url":"https://10.1.2.3/x"}"#)).await;
    a.error(400, "INVALID_REQUEST");
    let a = api.call(Method::PATCH, &path, Some(&key), Some(r#"{"events":null,"description":"all of it"}"#)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["webhookEndpoint"]["allEvents"], true);
    let every = [
        "sync.completed",
        "sync.failed",
        "connection.created",
        "connection.status_changed",
        "connection.auth_required",
    ];
    assert_eq!(a.body["webhookEndpoint"]["events"], json!([every.as_slice(), &["connection.data_deleted"]].concat()));
    assert_eq!(a.body["webhookEndpoint"]["description"], "all of it");
    let a = api.call(Method::DELETE, &path, Some(&key), None).await;
    assert_eq!((a.status, &a.body["deleted"]), (StatusCode::OK, &json!(true)), "{}", a.body);
    api.get(&path, &key).await.error(404, "NOT_FOUND");
    api.call(Method::DELETE, &path, Some(&key), None).await.error(404, "NOT_FOUND");

    // Every event goes to every endpoint, so an account has at most 16.
    for _ in 0..16 {
        endpoint(&api, &key, &receiver.hook("ok").1, None).await;
    }
    let a = api.post("/v1/webhook-endpoints", &key, json!({"url": receiver.hook("ok").1})).await;
    a.error(400, "INVALID_REQUEST");
    assert!(a.body["error"]["message"].as_str().unwrap().contains("at most 16"), "{}", a.body);
}

#[tokio::test]
async fn a_connections_own_webhook_url_gets_its_events_and_no_other_connections() {
    let (api, receiver, key) = (Api::new(), Receiver::new(), account(10));
    let (own_hook, own_url) = receiver.hook("ok");
    let (all_hook, all_url) = receiver.hook("ok");
    endpoint(&api, &key, &all_url, None).await;
    let body = |url: &str| json!({"system": "sandbox", "credentials": {"apiKey": "own"}, "webhookUrl": url});

    // An address the rules refuse is refused before anything is made or charged.
    let refused = api.post("/v1/connections", &key, body("https://10.0.0.8/hook")).await;
    assert_eq!(refused.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "webhookUrl");
    assert!(api.get("/v1/connections", &key).await.body["data"].as_array().unwrap().is_empty());
    // So is a connect the system refuses: no connection and no endpoint are left.
    let rejected = json!({"system": "sandbox", "credentials": {"apiKey": "invalid"}, "webhookUrl": own_url});
    api.post("/v1/connections", &key, rejected).await.error(400, "INVALID_CREDENTIALS");
    assert_eq!(api.get("/v1/webhook-endpoints", &key).await.body["data"].as_array().unwrap().len(), 1);

    let connected = api.post("/v1/connections", &key, body(&own_url)).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let (own, token) =
        (connected.body["connection"]["id"].as_str().unwrap(), connected.body["token"].as_str().unwrap());
    let webhook = &connected.body["webhook"];
    let secret = webhook["secret"].as_str().unwrap();
    assert_eq!(webhook["webhookEndpoint"]["connectionId"], own);
    let hook_id = webhook["webhookEndpoint"]["id"].as_str().unwrap();
    receiver.secrets(&own_hook, json!({"current": secret})).await;
    let (other, other_token) = api.connect_sandbox(&key, "other").await;
    for bearer in [token, other_token.as_str()] {
        let queued = api.post("/v1/syncs", bearer, json!({"entities": ["vendors"], "mode": "full"})).await;
        assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    }

    // The account-wide endpoint hears both connections; by then every event has been fanned out.
    receiver
        .wait(&all_hook, "both connections' sync.completed", |log| {
            let events = bodies(log);
            [own, other.as_str()]
                .iter()
                .all(|c| events.iter().any(|e| e["type"] == "sync.completed" && e["connectionId"] == *c))
        })
        .await;
    let log = receiver.wait(&own_hook, "its connect and sync events", |log| accepted(log).len() >= 2).await;
    for record in &log {
        assert_eq!(record["verified"]["current"], true, "the Python library refused {record:#}");
        assert!(rust_verifies(record, secret), "the Rust crate refused {record:#}");
    }
    let events = bodies(&log);
    assert!(events.iter().all(|e| e["connectionId"] == own), "only its connection's events: {events:#?}");
    assert!(events.iter().any(|e| e["type"] == "sync.completed"), "{events:#?}");
    let first = |e: &&Value| e["type"] == "connection.status_changed" && e["data"]["status"] == "active";
    assert!(events.iter().any(|e| first(&e)), "the endpoint exists before the connection's first event: {events:#?}");
    let logged = deliveries(&api, &key, hook_id).await;
    assert!(logged.iter().all(|d| d["connectionId"] == own), "{logged:#?}");

    // It is an endpoint like any other: listed with its connection, and another's connection
    // cannot be named for one.
    let listed = api.get(&format!("/v1/webhook-endpoints/{hook_id}"), &key).await;
    assert_eq!(listed.body["webhookEndpoint"]["connectionId"], own, "{}", listed.body);
    let stranger = account(1);
    let foreign = json!({"url": own_url, "connectionId": own});
    api.post("/v1/webhook-endpoints", &stranger, foreign).await.error(404, "NOT_FOUND");

    // By PATCH: the other connection gets one (its secret shown once), moves it, then drops it.
    let path = format!("/v1/connections/{other}");
    let bad = api.patch(&path, &key, json!({"webhookUrl": "http://hooks.example.com/x", "name": "kept?"})).await;
    assert_eq!(bad.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "webhookUrl");
    assert!(api.get(&path, &key).await.body["connection"]["name"].is_null(), "a refused URL changes nothing");
    let (_, first_url) = receiver.hook("ok");
    let made = api.patch(&path, &key, json!({"webhookUrl": first_url})).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(made.body["webhook"]["secret"].as_str().unwrap().starts_with("whsec_"), "{}", made.body);
    let made_id = made.body["webhook"]["webhookEndpoint"]["id"].clone();
    assert_eq!(made.body["webhook"]["webhookEndpoint"]["connectionId"], other.as_str());
    let (_, second_url) = receiver.hook("ok");
    let moved = api.patch(&path, &key, json!({"webhookUrl": second_url})).await;
    assert_eq!(moved.body["webhook"]["webhookEndpoint"]["id"], made_id, "the same endpoint: {}", moved.body);
    assert_eq!(moved.body["webhook"]["webhookEndpoint"]["url"], second_url.as_str());
    assert!(moved.body["webhook"].get("secret").is_none(), "no new secret for a moved endpoint");
    let dropped = api.patch(&path, &key, json!({"webhookUrl": null})).await;
    assert_eq!((dropped.status, &dropped.body["webhook"]), (StatusCode::OK, &Value::Null), "{}", dropped.body);
    let made_path = format!("/v1/webhook-endpoints/{}", made_id.as_str().unwrap());
    api.get(&made_path, &key).await.error(404, "NOT_FOUND");
}
