//! Fair use: each credential gets so many requests per 10-second window, whatever else the
//! account's other connections do, and every answer says how many are left; a connection whose
//! system stalls holds only a few calls to it at once.

use millwright_blackbox::{Api, StandIn, account, account_limited, demo_connection};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::{sync::Arc, time::Duration};

/// Waits, when the current window has less than `needed` seconds left, for the next one.
async fn fresh_window(api: &Api, path: &str, token: &str, needed: u64) {
    let reset = api.get(path, token).await.number("ratelimit-reset").expect("RateLimit-Reset on every answer");
    if reset < needed {
        tokio::time::sleep(Duration::from_secs(reset) + Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_burst_past_a_credentials_limit_gets_429s_that_say_when_to_retry() {
    let api = Arc::new(Api::new());
    let key = account_limited(5, 5);
    let (_, token) = api.connect_sandbox(&key, "k").await;
    let (_, other) = api.connect_sandbox(&key, "k").await;
    fresh_window(&api, "/v1/capabilities", &token, 6).await;
    let used = api.get("/v1/capabilities", &token).await;
    let already = 5 - used.number("ratelimit-remaining").unwrap();

    // Eight at once: what the window has left passes, the rest are refused.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (api, token) = (api.clone(), token.clone());
        tasks.spawn(async move { api.call_upstream(Method::GET, "/v1/capabilities", &token, None).await });
    }
    let burst: Vec<_> = tasks.join_all().await;
    let (passed, refused): (Vec<_>, Vec<_>) = burst.iter().partition(|a| a.status == StatusCode::OK);
    assert_eq!(passed.len() as u64, 5 - already, "the window allows 5 in all");
    for answer in &refused {
        answer.error(429, "RATE_LIMIT_EXCEEDED");
        let retry = answer.number("retry-after").expect("Retry-After on a 429");
        assert!((1..=10).contains(&retry) && answer.number("ratelimit-remaining") == Some(0));
    }
    for answer in &burst {
        assert_eq!(answer.number("ratelimit-limit"), Some(5), "the account's own limit, on every answer");
    }
    // Another connection of the same account has a budget of its own.
    let elsewhere = api.get("/v1/capabilities", &other).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
}

#[tokio::test]
async fn every_answer_carries_the_default_limits() {
    let api = Api::new();
    let key = account(1);
    let (_, token) = api.connect_sandbox(&key, "k").await;
    let read = api.get("/v1/purchase-orders?limit=1", &token).await;
    assert_eq!(read.number("ratelimit-limit"), Some(100), "a connection's token");
    assert!(read.number("ratelimit-remaining").unwrap() < 100 && read.number("ratelimit-reset").unwrap() <= 10);
    let listed = api.get("/v1/connections", &key).await;
    assert_eq!(listed.number("ratelimit-limit"), Some(200), "an account key");
}

#[tokio::test]
async fn a_connection_whose_system_never_answers_slows_no_other_connection() {
    let api = Arc::new(Api::new());
    let key = account(10);
    let tenant = format!("ST{}", &ulid::Ulid::new().to_string()[16..]);
    let sap = StandIn::of("sap_s4hana");
    let mut body = demo_connection("sap_s4hana", &tenant);
    body["initialSync"] = json!(false);
    let stalled = api.post("/v1/connections", &key, body).await.body["token"].as_str().unwrap().to_owned();
    let (_, other) = api.connect_sandbox(&key, "k").await;
    // Every order SAP is sent from now on waits 15 s before SAP even looks at it, longer than
    // the connector waits for an answer.
    sap.faults(&tenant, "A_PurchaseOrder", json!(vec![json!({"delaySeconds": 15}); 12])).await;
    let order = json!({"vendorKey": "17300001", "siteKey": "1010", "currencyKey": "EUR",
        "lineItems": [{"materialKey": "TG11", "quantity": "1", "price": "1.00"}]});
    let (sent, mut answered) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..12 {
        let (api, token, order, sent) = (api.clone(), stalled.clone(), order.clone(), sent.clone());
        tokio::spawn(async move {
            let _ = sent.send(api.call_upstream(Method::POST, "/v1/purchase-orders", &token, Some(order)).await);
        });
    }
    drop(sent);
    // Two calls at most go to the stalled system; the other ten are turned away at once.
    for _ in 0..10 {
        answered.recv().await.expect("an answer to every write").error(503, "SYSTEM_UNAVAILABLE");
    }
    // While those two are held, the other connection reads on, and all of it is answered before
    // they are: nothing of it queued behind them. (An order, not a timing: how fast a read is
    // depends on the machine; whether it waits for another system does not.)
    for _ in 0..5 {
        let read = api.get("/v1/purchase-orders?limit=5", &other).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    }
    assert!(answered.try_recv().is_err(), "a stalled write was answered before the other connection's reads");
    for _ in 0..2 {
        let held = answered.recv().await.expect("an answer to every write");
        assert!(held.status.is_server_error() && held.status != StatusCode::SERVICE_UNAVAILABLE, "{}", held.body);
    }
}
