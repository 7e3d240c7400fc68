//! Black-box tests of what a connection does with the defaults a user gets: connected with no
//! settings, a real system syncs what it can list at once and on schedule; settings it cannot
//! honour are refused at connect, before anything is charged.

use crate::syncs::schedule;
use millwright_blackbox::{Api, account, demo_connection, env, first_sync_succeeds, follow, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The entities the catalogue says a system can list.
async fn listable(api: &Api, system: &str) -> Vec<String> {
    let systems = api.call(Method::GET, "/v1/systems", None, None).await.body;
    let found = systems["data"].as_array().unwrap().iter().find(|s| s["id"] == system).unwrap().clone();
    assert_eq!(found["available"], true, "{found}");
    let entities = found["entities"].as_array().unwrap().iter();
    entities
        .filter(|e| e["operations"].as_array().unwrap().contains(&json!("list")))
        .map(|e| e["entity"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows runs to their end; each must succeed.
async fn all_succeed(api: &Api, token: &str, runs: &[Value]) {
    for run in runs {
        let (_, done) = follow(api, token, run["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
}

/// Fires the connection's schedule as EventBridge Scheduler does: its input, sent to its target.
pub(crate) async fn fire_schedule(connection_id: &str) {
    let found = schedule(connection_id).await.expect("connecting made a schedule");
    let target = found.target().unwrap();
    let queue = env("SYNC_QUEUE_URL");
    assert_eq!(target.arn().rsplit(':').next(), queue.rsplit('/').next(), "the schedule targets the sync queue");
    let sqs = aws_sdk_sqs::Client::new(&crate::local_aws().await);
    let input = target.input().unwrap().to_owned();
    sqs.send_message().queue_url(queue).message_body(input).send().await.unwrap();
}

/// Connects a stand-in with the demo body and nothing else, then follows a user: records of
/// `entity` to read without a sync call, a manual sync of the defaults, a scheduled firing.
async fn connect_with_defaults_and_use(system: &str, entity: &str) {
    let (api, key) = (Api::new(), account(10));
    let user = format!("D{}", &ulid::Ulid::new().to_string()[16..]);
    let entities = listable(&api, system).await;
    assert!(entities.contains(&entity.to_owned()), "{entities:?}");

    let connected = api.post("/v1/connections", &key, demo_connection(system, &user)).await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let connection = &connected.body["connection"];
    let (id, token) = (connection["id"].as_str().unwrap(), connected.body["token"].as_str().unwrap());
    assert_eq!(connection["settings"]["syncEntities"], json!(entities), "the default is what the system lists");
    assert_eq!(connection["initialSyncPending"], json!(entities), "{connection}");
    let initial = &connected.body["initialSync"];
    assert_eq!(initial["mode"], "full");
    assert_eq!(initial["syncIds"].as_array().unwrap().len(), entities.len(), "{initial}");

    // No sync call: records come, and the connection says when the first sync has ended.
    let records = wait_for(&format!("{entity} from the first sync"), Duration::from_millis(500), || async {
        let read = api.get(&format!("/v1/{entity}"), token).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        let data = read.body["data"].as_array().unwrap().clone();
        if data.is_empty() { Err("none yet".to_owned()) } else { Ok(data) }
    })
    .await;
    assert!(records.iter().all(|r| r["key"].is_string() && r["updatedAt"].is_string()), "{records:?}");
    first_sync_succeeds(&api, token, &connected.body).await;
    let after = api.get(&format!("/v1/connections/{id}"), &key).await.body["connection"].clone();
    assert!(after.get("initialSyncPending").is_none(), "nothing pending once every first run ended: {after}");
    let runs = api.get(&format!("/v1/syncs?connectionId={id}&limit=100"), &key).await.body["data"].clone();
    let first: Vec<_> = runs.as_array().unwrap().iter().filter(|r| r["trigger"] == "connect").collect();
    assert!(first.len() == entities.len() && first.iter().all(|r| r["mode"] == "full"), "{runs}");

    // A manual sync of the defaults is accepted, and so is the schedule's firing.
    let manual = api.post("/v1/syncs", token, json!({})).await;
    assert_eq!(manual.status, StatusCode::ACCEPTED, "{}", manual.body);
    let manual = manual.body["syncs"].as_array().unwrap().clone();
    assert_eq!(manual.len(), entities.len());
    all_succeed(&api, token, &manual).await;
    fire_schedule(id).await;
    let path = format!("/v1/syncs?connectionId={id}&limit=100");
    let fired = wait_for("the scheduled runs of every default entity", Duration::from_secs(1), || async {
        let runs = api.get(&path, &key).await.body["data"].as_array().unwrap().clone();
        let fired: Vec<Value> = runs.into_iter().filter(|r| r["trigger"] == "schedule").collect();
        if fired.len() == entities.len() { Ok(fired) } else { Err(format!("{fired:?}")) }
    })
    .await;
    all_succeed(&api, token, &fired).await;
}

#[tokio::test]
async fn maximo_connected_with_no_settings_syncs_at_once_and_on_schedule() {
    connect_with_defaults_and_use("ibm_maximo", "purchase-orders").await;
}

#[tokio::test]
async fn sap_s4hana_connected_with_no_settings_syncs_at_once_and_on_schedule() {
    connect_with_defaults_and_use("sap_s4hana", "purchase-orders").await;
}

#[tokio::test]
async fn fm_systems_connected_with_no_settings_syncs_at_once_and_on_schedule() {
    connect_with_defaults_and_use("fm_systems", "locations").await;
}

#[tokio::test]
async fn settings_a_system_cannot_honour_are_refused_before_anything_is_charged() {
    let (api, key) = (Api::new(), account(10));
    let before = api.credits(&key).await;
    let mut body = demo_connection("ibm_maximo", "nobody");
    body["settings"] = json!({"syncEntities": ["purchase-orders", "materials"]});
    let refused = api.post("/v1/connections", &key, body).await;
    refused.error(422, "ENTITY_NOT_SYNCABLE");
    assert_eq!(refused.body["error"]["details"][0]["field"], "settings.syncEntities[1]", "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("materials"), "{}", refused.body);

    // A system the catalogue lists as unavailable is refused as such, not as a passing outage.
    let systems = api.call(Method::GET, "/v1/systems", None, None).await.body;
    let limble = systems["data"].as_array().unwrap().iter().find(|s| s["id"] == "limble").unwrap().clone();
    assert_eq!((&limble["available"], &limble["entities"]), (&json!(false), &json!([])), "{limble}");
    let credentials = json!({"clientId": "c", "clientSecret": "s"});
    let unavailable = api.post("/v1/connections", &key, json!({"system": "limble", "credentials": credentials})).await;
    assert_eq!(unavailable.error(422, "SYSTEM_NOT_AVAILABLE").body["error"]["details"][0]["field"], "system");
    assert_eq!(api.credits(&key).await, before, "nothing charged");
}
