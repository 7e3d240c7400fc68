//! Black-box tests of syncs on the running local stack: runs go through SQS to the real sync
//! binary (fed by the stack's pump), schedules made at connect fire there, and disconnect ends
//! them. The sandbox is the system; record-level sync rules are proven in adapters/tests/sync.rs.

use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use millwright_blackbox::{Api, account, counts, env, follow, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Connects a sandbox whose full syncs reach back over all its sample data.
async fn connect(api: &Api, key: &str, settings: Value) -> (String, String) {
    let a = api
        .post(
            "/v1/connections",
            key,
            json!({"system": "sandbox", "credentials": {"apiKey": "k"}, "settings": settings}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (a.body["connection"]["id"].as_str().unwrap().to_owned(), a.body["token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn manual_full_and_incremental_syncs_run_end_to_end_and_the_data_outlives_the_connection() {
    let api = Api::new();
    let key = account(5);
    let (id, token) = connect(&api, &key, json!({"historicalDays": 3650})).await;

    let queued =
        api.post("/v1/syncs", &token, json!({"entities": ["vendors", "purchase-orders"], "mode": "full"})).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let runs = queued.body["syncs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "queued" && r["mode"] == "full"));
    for (run, expected) in runs.iter().zip([[7, 7, 0, 0], [60, 60, 0, 0]]) {
        let (seen, done) = follow(&api, &token, run["id"].as_str().unwrap()).await;
        assert_eq!(seen.last().map(String::as_str), Some("succeeded"), "{done}");
        let order = ["queued", "running", "succeeded"];
        assert!(seen.windows(2).all(|w| order.iter().position(|s| *s == w[0]) < order.iter().position(|s| *s == w[1])));
        assert_eq!(counts(&done), expected, "{done}");
        assert!(done["startedAt"].is_string() && done["finishedAt"].is_string() && done["error"].is_null());
    }

    // Incremental after full: the sample did not change, so nothing is created or updated.
    let again = api.post(&format!("/v1/connections/{id}/syncs"), &key, json!({"entities": ["vendors"]})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(again.body["syncs"][0]["mode"], "incremental");
    let (_, done) = follow(&api, &key, again.body["syncs"][0]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(counts(&done)[1..], [0, 0, 0]);

    let listed = api.get("/v1/syncs?limit=2", &token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["data"][0]["id"], done["id"], "newest first");
    let rest =
        api.get(&format!("/v1/syncs?limit=2&cursor={}", listed.body["nextCursor"].as_str().unwrap()), &token).await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert!(rest.body["nextCursor"].is_null());
    let connection = api.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(connection.body["connection"]["lastSync"]["vendors"]["syncId"], done["id"]);

    // The account reads the synced copy, also after disconnect; the token is dead by then.
    let synced = api.get(&format!("/v1/vendors?connectionId={id}"), &key).await;
    assert_eq!(synced.body["data"].as_array().unwrap().len(), 7, "{}", synced.body);
    assert_eq!(api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await.status, StatusCode::OK);
    api.get("/v1/vendors", &token).await.error(401, "AUTHENTICATION_FAILED");
    let after = api.get(&format!("/v1/purchase-orders?connectionId={id}&limit=500&includeDeleted=true"), &key).await;
    assert_eq!(after.body["data"].as_array().unwrap().len(), 60);
    let one = api.get(&format!("/v1/vendors/V-1001?connectionId={id}"), &key).await;
    assert_eq!(one.body["data"]["key"], "V-1001", "{}", one.body);
    api.post(&format!("/v1/connections/{id}/syncs"), &key, json!({})).await.error(409, "CONFLICT");

    // Another account sees none of it.
    let stranger = account(1);
    api.get(&format!("/v1/vendors?connectionId={id}"), &stranger).await.error(404, "NOT_FOUND");
    api.get(&format!("/v1/syncs/{}", done["id"].as_str().unwrap()), &stranger).await.error(404, "NOT_FOUND");
    api.get(&format!("/v1/syncs?connectionId={id}"), &stranger).await.error(404, "NOT_FOUND");
}

#[tokio::test]
async fn bad_sync_requests_get_structured_errors() {
    let api = Api::new();
    let key = account(1);
    let (_, token) = connect(&api, &key, json!({})).await;
    let bad = api.post("/v1/syncs", &token, json!({"entities": ["vendors", "spaceships"]})).await;
    bad.error(400, "INVALID_REQUEST");
    assert_eq!(bad.body["error"]["details"][0]["field"], "entities[1]");
    api.post("/v1/syncs", &token, json!({"mode": "sometimes"})).await.error(400, "INVALID_REQUEST");
    api.post("/v1/syncs", &token, json!({"entities": []})).await.error(400, "INVALID_REQUEST");
    api.post("/v1/syncs", &key, json!({})).await.error(403, "PERMISSION_DENIED");
    api.post("/v1/connections/conn_nope/syncs", &key, json!({})).await.error(404, "NOT_FOUND");
    api.get("/v1/syncs/sync_nope", &token).await.error(404, "NOT_FOUND");
    api.get("/v1/syncs?connectionId=", &key).await.error(404, "NOT_FOUND");
    api.get("/v1/syncs/x", &key).await.error(404, "NOT_FOUND");
    api.get("/v1/vendors?connectionId=", &key).await.error(404, "NOT_FOUND");
    api.get("/v1/vendors", &key).await.error(400, "INVALID_REQUEST");
    assert!(api.get("/v1/syncs", &token).await.body["data"].as_array().unwrap().is_empty());
}

/// The connection's schedule, if EventBridge Scheduler holds one.
pub(crate) async fn schedule(connection_id: &str) -> Option<GetScheduleOutput> {
    let scheduler = aws_sdk_scheduler::Client::new(&crate::local_aws().await);
    match scheduler.get_schedule().name(connection_id).group_name(env("SCHEDULE_GROUP")).send().await {
        Ok(found) => Some(found),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => None,
        Err(e) => panic!("get schedule: {}", aws_sdk_scheduler::error::DisplayErrorContext(e)),
    }
}

/// Whether EventBridge Scheduler holds the connection's schedule.
async fn scheduled(connection_id: &str) -> bool {
    schedule(connection_id).await.is_some()
}

#[tokio::test]
async fn the_schedule_made_at_connect_fires_and_disconnect_ends_it() {
    let api = Api::new();
    let key = account(1);
    let (id, _) =
        connect(&api, &key, json!({"syncIntervalMinutes": 1, "syncEntities": ["sites"], "historicalDays": 3650})).await;
    assert!(scheduled(&id).await, "connecting made a schedule");
    let path = format!("/v1/syncs?connectionId={id}");
    let fired = wait_for("a scheduled sync that succeeded", Duration::from_secs(2), || async {
        let found = api.get(&path, &key).await.body["data"].as_array().unwrap().clone();
        let run = found.iter().find(|r| r["trigger"] == "schedule" && r["status"] == "succeeded").cloned();
        run.ok_or_else(|| format!("{found:?}"))
    })
    .await;
    assert_eq!((fired["entity"].as_str(), fired["mode"].as_str()), (Some("sites"), Some("incremental")));
    assert_eq!(counts(&fired)[1], 3, "the first scheduled run copies the three sites");

    // Disconnecting deletes the schedule, so nothing fires it again; a firing already on the queue
    // queues nothing for a disconnected connection (adapters/tests/sync.rs).
    assert_eq!(api.post(&format!("/v1/connections/{id}/disconnect"), &key, json!({})).await.status, StatusCode::OK);
    assert!(!scheduled(&id).await, "the schedule is gone");
}
