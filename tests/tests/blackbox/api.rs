//! Black-box tests: the running local stack (scripts/dev, started by scripts/test) driven over
//! HTTP as a new user would, plus a look at what it stored and logged.
//!
//! Needs `MILLWRIGHT_API_URL`, `MILLWRIGHT_ADMIN_BIN` (opens accounts), `MILLWRIGHT_STACK_LOG`
//! (the stack's captured output) and the stack's AWS settings (`.local/stack.env`).

use millwright_blackbox::{Api, account, demo_connection, env, log_line};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn random_hex() -> String {
    format!("{:032x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

#[tokio::test]
async fn sandbox_connect_read_disconnect() {
    let api = Api::new();
    let key = account(20);
    let before = api.credits(&key).await;
    let (id, token) = api.connect_sandbox(&key, "x").await;
    assert!(token.starts_with("mw_test_"));

    let list = api.get("/v1/purchase-orders", &token).await;
    assert_eq!(list.status, StatusCode::OK);
    let first = &list.body["data"][0];
    assert!(first["key"].is_string() && first["lineItems"].is_array() && first["remoteData"].is_object());
    let one = api.get(&format!("/v1/purchase-orders/{}", first["key"].as_str().unwrap()), &token).await;
    assert_eq!(one.body["data"], *first);
    api.get("/v1/purchase-orders/PO-0", &token).await.error(404, "NOT_FOUND");

    let mut keys = Vec::new();
    let mut path = "/v1/purchase-orders?limit=7".to_owned();
    loop {
        let page = api.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        keys.extend(page.body["data"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap().to_owned()));
        match page.body["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/purchase-orders?limit=7&cursor={c}"),
            None => break,
        }
    }
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert!(keys.len() >= 50);
    assert_eq!(unique.len(), keys.len(), "every record exactly once");

    let gone = api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.body["connection"]["status"], "disconnected");
    api.get("/v1/purchase-orders", &token).await.error(401, "AUTHENTICATION_FAILED");
    let again = api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["connection"], gone.body["connection"], "a repeat changes nothing");
    assert_eq!(api.credits(&key).await["available"], before["available"]);
}

#[tokio::test]
async fn the_catalogue_prices_every_system() {
    let api = Api::new();
    let a = api.call(Method::GET, "/v1/systems", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let systems = a.body["data"].as_array().unwrap();
    let credits = |id: &str, dep: &str| {
        let s = systems.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} listed"));
        s["deployments"].as_array().unwrap().iter().find(|d| d["type"] == dep).map(|d| d["credits"].as_u64().unwrap())
    };
    assert_eq!(credits("sap_s4hana", "cloud"), Some(4));
    assert_eq!(credits("sap_s4hana", "on_prem"), Some(8));
    assert_eq!(credits("sap_ecc", "on_prem"), Some(8));
    assert_eq!(credits("ibm_maximo", "cloud"), Some(2));
    assert_eq!(credits("sandbox", "cloud"), Some(0));
    for id in ["sandbox", "sap_s4hana", "sap_ecc", "ibm_maximo", "netsuite", "fm_systems", "upkeep", "limble", "fiix"] {
        let s = systems.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} listed"));
        assert!(s["tier"].is_u64() && s["category"].is_string() && s["credentials"].is_array(), "{s}");
    }
    assert!(a.body["nextCursor"].is_null());
}

#[tokio::test]
async fn bad_input_gets_the_right_error_and_moves_nothing() {
    let api = Api::new();
    let key = account(5);
    let before = api.credits(&key).await;
    let c = "/v1/connections";
    let bad = api.post(c, &key, json!({"system": "sandbox", "credentials": {"apiKey": "invalid"}})).await;
    bad.error(400, "INVALID_CREDENTIALS");
    assert!(!bad.body["error"]["details"].as_array().unwrap().is_empty(), "the system's reason");
    api.call(Method::POST, c, Some(&key), None).await.error(400, "INVALID_REQUEST");
    api.call(Method::POST, c, Some(&key), Some("{\"system\": ")).await.error(400, "INVALID_REQUEST");
    let unknown = api.post(c, &key, json!({"system": "nope", "credentials": {}})).await;
    assert_eq!(unknown.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "system");
    let missing = api.post(c, &key, json!({"system": "sandbox", "credentials": {}})).await;
    assert_eq!(missing.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "credentials.apiKey");
    let deployment = api.post(c, &key, json!({"system": "sap_ecc", "deployment": "cloud", "credentials": {}})).await;
    assert_eq!(deployment.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "deployment");
    let interval = json!({"system": "sandbox", "credentials": {"apiKey": "k"}, "settings": {"syncIntervalMinutes": 0}});
    api.post(c, &key, interval).await.error(400, "INVALID_REQUEST");
    api.call(Method::GET, c, None, None).await.error(401, "AUTHENTICATION_FAILED");
    api.get(c, "not-a-token").await.error(401, "AUTHENTICATION_FAILED");
    api.get(c, &format!("mw_acct_{}{}", random_hex(), random_hex())).await.error(401, "AUTHENTICATION_FAILED");
    let (_, token) = api.connect_sandbox(&key, "k").await;
    api.get(c, &token).await.error(403, "PERMISSION_DENIED");
    // The account key reads a connection's synced copy only when it names the connection, and never writes.
    let unnamed = api.get("/v1/purchase-orders", &key).await;
    assert_eq!(unnamed.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "connectionId");
    api.post("/v1/purchase-orders", &key, json!({})).await.error(403, "PERMISSION_DENIED");
    api.get("/v1/capabilities", &key).await.error(403, "PERMISSION_DENIED");
    api.get("/v1/purchase-orders?limit=0", &token).await.error(400, "INVALID_REQUEST");
    api.get("/v1/purchase-orders?cursor=zz", &token).await.error(400, "INVALID_REQUEST");
    // Ids, keys and cursors longer than any the API issues are 400s, not storage errors.
    let long = "c".repeat(1100);
    for path in [
        format!("/v1/connections/{long}"),
        format!("/v1/syncs/{long}"),
        format!("/v1/webhook-endpoints/{long}"),
        format!("/v1/connections?cursor={}", "63".repeat(1100)),
    ] {
        api.get(&path, &key).await.error(400, "INVALID_REQUEST");
    }
    api.call(Method::POST, &format!("/v1/connections/{long}/disconnect"), Some(&key), None)
        .await
        .error(400, "INVALID_REQUEST");
    let after = api.credits(&key).await;
    assert_eq!(after["available"], before["available"]);
    assert_eq!(after["total"], before["total"]);
}

#[tokio::test]
async fn a_connect_retried_with_its_idempotency_key_connects_and_charges_once() {
    let api = Api::new();
    let key = account(5);
    let mut body = demo_connection("ibm_maximo", &format!("retry-{}", ulid::Ulid::new()));
    body["initialSync"] = json!(false);
    let first = api.write_once(Method::POST, "/v1/connections", &key, &body, "onboard-acme").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.body["token"].is_string());
    // The answer was lost; the client sends the same request again.
    let again = api.write_once(Method::POST, "/v1/connections", &key, &body, "onboard-acme").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["connection"]["id"], first.body["connection"]["id"]);
    assert!(again.body["token"].is_null(), "a token is shown once and never stored");
    assert_eq!(api.credits(&key).await["available"], 3, "charged once: a Maximo cloud connection costs 2");
    let listed = api.get("/v1/connections", &key).await.body["data"].as_array().unwrap().len();
    assert_eq!(listed, 1, "one connection");
    let other = json!({"system": "sandbox", "credentials": {"apiKey": "k"}});
    let reused = api.write_once(Method::POST, "/v1/connections", &key, &other, "onboard-acme").await;
    reused.error(409, "IDEMPOTENCY_KEY_REUSED");
}

#[tokio::test]
async fn what_no_route_takes_gets_the_structured_404() {
    let api = Api::new();
    let key = account(1);
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/v2/connections"),
        (Method::PUT, "/v1/connections"),
        (Method::DELETE, "/v1/credits"),
        (Method::GET, "/v1/connections/a/b/c"),
    ] {
        let answer = api.call(method.clone(), path, Some(&key), None).await;
        answer.error(404, "NOT_FOUND");
        assert!(answer.body["error"]["message"].as_str().unwrap().contains("openapi.json"), "{method} {path}");
    }
}

#[tokio::test]
async fn one_account_cannot_reach_another_accounts_connections() {
    let api = Api::new();
    let (a, b) = (account(2), account(2));
    let (id, token) = api.connect_sandbox(&a, "k").await;
    api.get(&format!("/v1/connections/{id}"), &b).await.error(404, "NOT_FOUND");
    api.post(&format!("/v1/connections/{id}/disconnect"), &b, json!({})).await.error(404, "NOT_FOUND");
    api.post(&format!("/v1/connections/{id}/token"), &b, json!({})).await.error(404, "NOT_FOUND");
    let listed = api.get("/v1/connections", &b).await;
    assert!(listed.body["data"].as_array().unwrap().iter().all(|c| c["id"] != id.as_str()));
    assert_eq!(api.get(&format!("/v1/connections/{id}"), &a).await.body["connection"]["status"], "active");
    assert_eq!(api.get("/v1/purchase-orders?limit=1", &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_token_replaces_the_old_one_at_once() {
    let api = Api::new();
    let key = account(1);
    let (id, old) = api.connect_sandbox(&key, "k").await;
    let rotated = api.post(&format!("/v1/connections/{id}/token"), &key, json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new = rotated.body["token"].as_str().unwrap();
    assert!(new.starts_with("mw_test_") && new != old);
    api.get("/v1/purchase-orders", &old).await.error(401, "AUTHENTICATION_FAILED");
    assert_eq!(api.get("/v1/purchase-orders", new).await.status, StatusCode::OK);
    let listed = api.get("/v1/connections", &key).await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
}

/// Every string value in every item of a table, as one text.
async fn table_text(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> String {
    let out = dynamo.scan().table_name(table).send().await.unwrap();
    format!("{:?}", out.items())
}

#[tokio::test]
async fn no_token_key_or_credential_is_stored_or_logged() {
    let api = Api::new();
    let key = account(1);
    let credential = format!("sandbox-credential-{}", random_hex());
    let connected = api
        .post(
            "/v1/connections",
            &key,
            json!({"system": "sandbox", "deployment": "cloud", "credentials": {"apiKey": credential}}),
        )
        .await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let id = connected.body["connection"]["id"].as_str().unwrap().to_owned();
    let token = connected.body["token"].as_str().unwrap().to_owned();
    let rotated = api.post(&format!("/v1/connections/{id}/token"), &key, json!({})).await;
    let new_token = rotated.body["token"].as_str().unwrap().to_owned();
    let read = api.get("/v1/purchase-orders", &new_token).await;
    let gone = api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await;

    let aws = crate::local_aws().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let mut stored = String::new();
    for table in ["ACCOUNTS_TABLE", "CONNECTIONS_TABLE", "TOKENS_TABLE"] {
        stored.push_str(&table_text(&dynamo, &env(table)).await);
    }
    assert!(stored.contains(&id), "the scan sees this test's connection");
    // Every request of this test is in the captured log before the log is searched.
    for answer in [&connected, &rotated, &read, &gone] {
        log_line(&answer.request_id).await;
    }
    let logs = std::fs::read_to_string(env("MILLWRIGHT_STACK_LOG")).unwrap();
    assert!(logs.contains(&id), "the log holds this test's requests");
    for secret in [&key, &token, &new_token, &credential] {
        assert!(!stored.contains(secret.as_str()), "DynamoDB holds a secret");
        assert!(!logs.contains(secret.as_str()), "the logs hold a secret");
    }
}
