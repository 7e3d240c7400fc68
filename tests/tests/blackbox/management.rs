//! Black-box tests of what an account does with its connections and itself once they exist:
//! change a connection's name, settings and metadata (the schedule follows the interval),
//! replace credentials a system stopped taking, delete a disconnected connection's data, and
//! rotate the account key.

use crate::{
    defaults::fire_schedule,
    stored::{events_of, items_starting},
    syncs::schedule,
    webhooks::{Receiver, bodies, endpoint},
};
use millwright_blackbox::{Api, StandIn, account, demo_connection, first_sync_succeeds, follow, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The schedule expression EventBridge Scheduler holds for the connection.
async fn expression(connection_id: &str) -> String {
    let found = schedule(connection_id).await.expect("the connection has a schedule");
    found.schedule_expression().unwrap().to_owned()
}

/// A connection without its sync progress, which its first syncs move on while a test runs.
fn settled(connection: &Value) -> Value {
    let mut connection = connection.clone();
    for moving in ["lastSync", "initialSyncPending"] {
        connection.as_object_mut().unwrap().remove(moving);
    }
    connection
}

#[tokio::test]
async fn a_connection_changes_name_settings_and_metadata_and_its_schedule_follows() {
    let (api, key) = (Api::new(), account(10));
    let user = format!("P{}", &ulid::Ulid::new().to_string()[16..]);
    let connected = api.post("/v1/connections", &key, demo_connection("ibm_maximo", &user)).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let id = connected.body["connection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/connections/{id}");
    assert_eq!(connected.body["connection"]["metadata"], json!({}));
    assert_eq!(expression(&id).await, "rate(60 minutes)", "the default interval");

    let change = json!({
        "name": "Plant 4",
        "settings": {"syncIntervalMinutes": 15, "syncEntities": ["purchase-orders", "vendors"], "historicalDays": 30},
        "metadata": {"customerId": "cus_42", "plan": "gold", "seats": 12},
    });
    let changed = api.patch(&path, &key, change.clone()).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let read = api.get(&path, &key).await.body["connection"].clone();
    assert_eq!(settled(&read), settled(&changed.body["connection"]), "the answer is what is stored");
    assert_eq!((&read["name"], &read["metadata"]), (&change["name"], &change["metadata"]));
    assert_eq!(read["settings"], change["settings"]);
    assert_eq!(expression(&id).await, "rate(15 minutes)", "the schedule moved with the interval");

    // What the body leaves out stays; null removes the name; metadata is replaced as a whole.
    let renamed = api.patch(&path, &key, json!({"name": null, "metadata": {"plan": "silver"}})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let connection = &renamed.body["connection"];
    assert_eq!((&connection["name"], &connection["metadata"]), (&Value::Null, &json!({"plan": "silver"})));
    assert_eq!(connection["settings"], change["settings"]);
    let interval = api.patch(&path, &key, json!({"settings": {"syncIntervalMinutes": 1}})).await;
    assert_eq!(interval.body["connection"]["settings"]["syncEntities"], json!(["purchase-orders", "vendors"]));
    assert_eq!(expression(&id).await, "rate(1 minute)");

    // Bad input: the structured error, and nothing changes.
    let before = api.get(&path, &key).await.body["connection"].clone();
    let too_many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let too_big = json!({"notes": "x".repeat(4100)});
    for (body, field) in [
        (json!({"colour": "red"}), None),
        (json!({}), None),
        (json!({"settings": {"syncIntervalMinutes": "5"}}), None),
        (json!({"settings": {"syncIntervalMinutes": 0}}), Some("settings.syncIntervalMinutes")),
        (json!({"settings": {"syncIntervalMinutes": 1441}}), Some("settings.syncIntervalMinutes")),
        (json!({"settings": {"historicalDays": 0}}), Some("settings.historicalDays")),
        (json!({"settings": {"syncEntities": ["spaceships"]}}), Some("settings.syncEntities[0]")),
        (json!({"name": "n".repeat(201)}), Some("name")),
        (json!({"metadata": too_many}), Some("metadata")),
        (json!({"metadata": too_big}), Some("metadata")),
        (json!({"metadata": "gold"}), None),
    ] {
        let refused = api.patch(&path, &key, body.clone()).await;
        refused.error(400, "INVALID_REQUEST");
        if let Some(field) = field {
            assert_eq!(refused.body["error"]["details"][0]["field"], field, "{body}: {}", refused.body);
        }
    }
    let unlistable = api.patch(&path, &key, json!({"settings": {"syncEntities": ["vendors", "materials"]}})).await;
    unlistable.error(422, "ENTITY_NOT_SYNCABLE");
    assert_eq!(unlistable.body["error"]["details"][0]["field"], "settings.syncEntities[1]");
    api.call(Method::PATCH, &path, Some(&key), Some("{\"name\": ")).await.error(400, "INVALID_REQUEST");
    assert_eq!(settled(&api.get(&path, &key).await.body["connection"]), settled(&before), "nothing changed");
    assert_eq!(expression(&id).await, "rate(1 minute)");

    // Only the owner, with the account key, finds it.
    let body = json!({"name": "mine now"});
    api.patch(&path, &account(1), body.clone()).await.error(404, "NOT_FOUND");
    api.patch("/v1/connections/conn_nope", &key, body.clone()).await.error(404, "NOT_FOUND");
    api.patch(&path, connected.body["token"].as_str().unwrap(), body.clone()).await.error(403, "PERMISSION_DENIED");
    api.call(Method::PATCH, &path, None, Some(&body.to_string())).await.error(401, "AUTHENTICATION_FAILED");

    // Disconnected, it changes no more.
    assert_eq!(api.post(&format!("{path}/disconnect"), &key, json!({})).await.status, StatusCode::OK);
    api.patch(&path, &key, body).await.error(409, "CONFLICT");
}

#[tokio::test]
async fn a_second_account_key_rotates_the_first_out_without_downtime() {
    let api = Api::new();
    let first = account(3);
    let keys = api.get("/v1/account/keys", &first).await;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.body);
    let listed = keys.body["data"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{}", keys.body);
    assert_eq!(listed[0]["last4"], first[first.len() - 4..], "{}", keys.body);
    assert!(!keys.body.to_string().contains(&first), "a listing never shows a key");

    let issued = api.post("/v1/account/keys", &first, json!({})).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    let second = issued.body["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("mw_acct_") && second != first);
    // Side by side: both see the same account.
    assert_eq!(api.credits(&first).await, api.credits(&second).await);
    let ids: Vec<String> = api.get("/v1/account/keys", &second).await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], issued.body["key"]["id"], "oldest first");

    // Revoke the first with the second: the first fails on its very next request.
    let revoked = api.call(Method::DELETE, &format!("/v1/account/keys/{}", ids[0]), Some(&second), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    api.get("/v1/credits", &first).await.error(401, "AUTHENTICATION_FAILED");
    assert_eq!(api.get("/v1/credits", &second).await.status, StatusCode::OK);

    // The last key stays; unknown keys, other accounts' keys and connection tokens get nowhere.
    let last = format!("/v1/account/keys/{}", ids[1]);
    api.call(Method::DELETE, &last, Some(&second), None).await.error(409, "CONFLICT");
    api.call(Method::DELETE, &format!("/v1/account/keys/{}", ids[0]), Some(&second), None)
        .await
        .error(404, "NOT_FOUND");
    api.call(Method::DELETE, "/v1/account/keys/key_nope", Some(&second), None).await.error(404, "NOT_FOUND");
    api.call(Method::DELETE, &last, Some(&account(1)), None).await.error(404, "NOT_FOUND");
    let (_, token) = api.connect_sandbox(&second, "k").await;
    api.get("/v1/account/keys", &token).await.error(403, "PERMISSION_DENIED");
    api.call(Method::DELETE, &last, Some(&token), None).await.error(403, "PERMISSION_DENIED");
    assert_eq!(api.get("/v1/credits", &second).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_changed_password_stops_calls_until_new_credentials_make_the_connection_active_again() {
    let (api, key, sap, receiver) = (Api::new(), account(10), StandIn::of("sap_s4hana"), Receiver::new());
    let (hook, url) = receiver.hook("ok");
    endpoint(&api, &key, &url, Some(&["connection.status_changed"])).await;
    let tenant = format!("PW{}", &ulid::Ulid::new().to_string()[16..]);
    let body = demo_connection("sap_s4hana", &tenant);
    let connected = api.post("/v1/connections", &key, body.clone()).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let (id, token) = (connected.body["connection"]["id"].as_str().unwrap(), connected.body["token"].as_str().unwrap());
    let path = format!("/v1/connections/{id}");
    first_sync_succeeds(&api, token, &connected.body).await;

    // The customer's administrator changes the password in SAP: the next sync is refused there.
    sap.password(&tenant, "Changed-Password-2").await;
    let queued = api.post("/v1/syncs", token, json!({"entities": ["purchase-orders"]})).await;
    let (_, failed) = follow(&api, token, queued.body["syncs"][0]["id"].as_str().unwrap()).await;
    assert_eq!((&failed["status"], &failed["error"]["code"]), (&json!("failed"), &json!("INVALID_CREDENTIALS")));
    assert_eq!(api.get(&path, &key).await.body["connection"]["status"], "auth_required");

    // The schedule fires: its runs are recorded as skipped, and SAP is not asked at all.
    sap.clear(&tenant).await;
    fire_schedule(id).await;
    let entities = connected.body["connection"]["settings"]["syncEntities"].as_array().unwrap().len();
    let runs = format!("/v1/syncs?connectionId={id}&limit=100");
    let skipped = wait_for("the skipped scheduled runs", Duration::from_millis(500), || async {
        let all = api.get(&runs, &key).await.body["data"].as_array().unwrap().clone();
        let fired: Vec<Value> = all.into_iter().filter(|r| r["trigger"] == "schedule").collect();
        if fired.len() == entities { Ok(fired) } else { Err(format!("{fired:?}")) }
    })
    .await;
    assert!(skipped.iter().all(|r| r["status"] == "skipped" && r["startedAt"].is_null()), "{skipped:?}");
    assert_eq!(sap.requests(&tenant).await, Vec::<Value>::new(), "the rejected password was not presented again");
    api.post("/v1/syncs", token, json!({})).await.error(409, "CONFLICT");

    // New credentials: ones SAP refuses change nothing; the right ones make it active again.
    let credentials = |password: &str| {
        let mut credentials = body["credentials"].clone();
        credentials["password"] = json!(password);
        json!({"credentials": credentials}).to_string()
    };
    let replace = format!("{path}/credentials");
    let wrong = api.call(Method::PUT, &replace, Some(&key), Some(&credentials("guess"))).await;
    wrong.error(400, "INVALID_CREDENTIALS");
    assert_eq!(api.get(&path, &key).await.body["connection"]["status"], "auth_required");
    let fixed = api.call(Method::PUT, &replace, Some(&key), Some(&credentials("Changed-Password-2"))).await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);
    assert_eq!(fixed.body["connection"]["status"], "active");
    let again = api.post("/v1/syncs", token, json!({"entities": ["purchase-orders"]})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "the same token works: {}", again.body);
    let (_, synced) = follow(&api, token, again.body["syncs"][0]["id"].as_str().unwrap()).await;
    assert_eq!(synced["status"], "succeeded", "{synced}");
    let log = receiver
        .wait(&hook, "the event of the way back to active", |log| {
            bodies(log)
                .iter()
                .any(|e| e["data"]["status"] == "active" && e["data"]["previousStatus"] == "auth_required")
        })
        .await;
    assert!(bodies(&log).iter().any(|e| e["data"]["status"] == "auth_required"), "and the way there");

    // Bad input: the structured error.
    for bad in [r#"{"credentials": "x"}"#, r#"{"password": "x"}"#, "{}", "not json"] {
        api.call(Method::PUT, &replace, Some(&key), Some(bad)).await.error(400, "INVALID_REQUEST");
    }
    let missing = api.call(Method::PUT, &replace, Some(&key), Some(r#"{"credentials": {}}"#)).await;
    assert_eq!(missing.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "credentials.baseUrl");
    let stranger = api.call(Method::PUT, &replace, Some(&account(1)), Some(&credentials("Changed-Password-2"))).await;
    stranger.error(404, "NOT_FOUND");
    api.call(Method::PUT, &replace, Some(token), Some(&credentials("x"))).await.error(403, "PERMISSION_DENIED");
    assert_eq!(api.post(&format!("{path}/disconnect"), &key, json!({})).await.status, StatusCode::OK);
    let gone = api.call(Method::PUT, &replace, Some(&key), Some(&credentials("Changed-Password-2"))).await;
    gone.error(409, "CONFLICT");
}

#[tokio::test]
async fn a_disconnected_connections_data_can_be_deleted_and_then_nothing_of_it_is_left() {
    let (api, key) = (Api::new(), account(10));
    let tenant = format!("DEL{}", &ulid::Ulid::new().to_string()[16..]);
    let connected = api.post("/v1/connections", &key, demo_connection("ibm_maximo", &tenant)).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let id = connected.body["connection"]["id"].as_str().unwrap();
    first_sync_succeeds(&api, connected.body["token"].as_str().unwrap(), &connected.body).await;
    let (path, reads) = (format!("/v1/connections/{id}"), format!("/v1/purchase-orders?connectionId={id}"));
    let first = api.get(&reads, &key).await.body["data"][0]["key"].as_str().unwrap().to_owned();
    let one = format!("/v1/purchase-orders/{first}?connectionId={id}");
    assert_eq!(api.get(&one, &key).await.status, StatusCode::OK);
    assert!(items_starting("RECORDS_TABLE", "partition", &format!("{id}#")).await > 0);
    api.call(Method::DELETE, &format!("{path}/data"), Some(&key), None).await.error(409, "CONFLICT");

    assert_eq!(api.post(&format!("{path}/disconnect"), &key, json!({})).await.status, StatusCode::OK);
    let credits = api.credits(&key).await;
    let asked = api.call(Method::DELETE, &format!("{path}/data"), Some(&key), None).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert!(asked.body["connection"]["dataDeletion"]["requestedAt"].is_string(), "{}", asked.body);
    api.get(&reads, &key).await.error(404, "NOT_FOUND");
    let done = wait_for("the data deletion", Duration::from_millis(500), || async {
        let connection = api.get(&path, &key).await.body["connection"].clone();
        if connection["dataDeletion"]["status"] == "deleted" { Ok(connection) } else { Err(connection.to_string()) }
    })
    .await;
    assert!(done["dataDeletion"]["deletedAt"].is_string(), "{done}");
    assert_eq!(items_starting("RECORDS_TABLE", "partition", &format!("{id}#")).await, 0, "no record is left");
    assert_eq!(items_starting("SYNC_RUNS_TABLE", "connectionId", id).await, 0, "no run or mark is left");
    assert!(events_of(id).await.contains(&"connection.data_deleted".to_owned()));
    assert_eq!(api.credits(&key).await, credits, "credits are not involved");
    api.get(&one, &key).await.error(404, "NOT_FOUND");

    // Asking again changes nothing; only the owner finds it.
    let again = api.call(Method::DELETE, &format!("{path}/data"), Some(&key), None).await;
    assert_eq!(
        (again.status, &again.body["connection"]["dataDeletion"]),
        (StatusCode::ACCEPTED, &done["dataDeletion"])
    );
    api.call(Method::DELETE, &format!("{path}/data"), Some(&account(1)), None).await.error(404, "NOT_FOUND");
    api.call(Method::DELETE, "/v1/connections/conn_nope/data", Some(&key), None).await.error(404, "NOT_FOUND");
}
