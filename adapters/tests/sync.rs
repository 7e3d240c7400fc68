//! Integration tests of syncs against DynamoDB, SQS, Secrets Manager and Scheduler on the local
//! moto server. A test connector at the connector port stands for a system whose records the
//! tests change between syncs; the queue is drained here the way the Lambda SQS mapping would.

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use millwright::{
    accounts,
    connections::{ConnectRequest, ConnectionService, CredentialsRequest},
    connectors::{Changes, Connector, ConnectorError, Credentials, ListQuery},
    entities::{Entity, Record},
    model::{Connection, ConnectionStatus},
    ports::StoreError,
    records::{RecordService, Target},
    sync::{Outcome, SyncMessage, SyncMode, SyncRequest, SyncRun, SyncService, SyncStatus, Trigger, Worker},
    webhooks::AddressPolicy,
};
use millwright_aws::{
    config::{Backends, Config},
    provision,
};
use millwright_sandbox::Sandbox;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
};
use tokio::sync::Semaphore;

const SYSTEM: &str = "sap_s4hana";
const ENTITY: Entity = Entity::Vendors;

/// The requests a source served: (since, cursor) each.
type Asked = Vec<(Option<DateTime<Utc>>, Option<String>)>;

/// A system's vendor table that tests edit, paged by key, with a log of what syncs asked for.
struct Source {
    records: Mutex<BTreeMap<String, Record>>,
    page_size: Mutex<usize>,
    /// Requests served so far: (since, cursor).
    asked: Mutex<Asked>,
    /// When set, the request with this index fails like a system outage.
    fail_at: Mutex<Option<usize>>,
    /// When set, the request with this index waits for a permit (a worker stopped mid-run).
    hold_at: Mutex<Option<usize>>,
    gate: Semaphore,
    /// The integration user's password in the system; other passwords are rejected.
    password: Mutex<String>,
}

impl Default for Source {
    fn default() -> Self {
        Self {
            records: Default::default(),
            page_size: Mutex::new(3),
            asked: Default::default(),
            fail_at: Default::default(),
            hold_at: Default::default(),
            gate: Semaphore::new(0),
            password: Mutex::new("p".into()),
        }
    }
}

/// A moment of the source's history: `minute` minutes after a whole minute ten days ago, so
/// every record lies inside the connection's 30-day window whenever the tests run.
fn at(minute: i64) -> DateTime<Utc> {
    static START: OnceLock<DateTime<Utc>> = OnceLock::new();
    let start = START.get_or_init(|| {
        let ten_days_ago = (Utc::now() - Duration::days(10)).timestamp();
        Utc.timestamp_opt(ten_days_ago - ten_days_ago % 60, 0).unwrap()
    });
    *start + Duration::minutes(minute)
}

impl Source {
    fn set(&self, key: &str, name: &str, minute: i64) {
        let record = json!({"key": key, "name": name, "statusKey": "active", "updatedAt": at(minute).to_rfc3339(),
                            "deletedAt": null, "customFields": {}, "remoteData": {"LIFNR": key}});
        self.records.lock().unwrap().insert(key.into(), record.as_object().unwrap().clone());
    }

    fn remove(&self, key: &str) {
        self.records.lock().unwrap().remove(key);
    }

    fn asked(&self) -> Asked {
        self.asked.lock().unwrap().clone()
    }

    /// Rejects these credentials unless they carry the current password, as the system would.
    fn sign_in(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        match credentials.text("password") == Some(self.password.lock().unwrap().as_str()) {
            true => Ok(()),
            false => Err(ConnectorError::Rejected("HTTP 401: Unauthorized".into())),
        }
    }
}

struct TestConnector(Arc<Source>);

#[async_trait]
impl Connector for TestConnector {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        self.0.sign_in(credentials)
    }

    fn capabilities(&self) -> millwright::capabilities::Capabilities {
        Sandbox.capabilities()
    }

    async fn changes(
        &self,
        credentials: &Credentials,
        _: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        assert_eq!(credentials.text("username"), Some("integration"), "the worker passes the stored credentials");
        let index = {
            let mut asked = self.0.asked.lock().unwrap();
            asked.push((since, cursor.map(str::to_owned)));
            asked.len() - 1
        };
        if *self.0.hold_at.lock().unwrap() == Some(index) {
            let _permit = self.0.gate.acquire().await.unwrap();
        }
        if *self.0.fail_at.lock().unwrap() == Some(index) {
            return Err(ConnectorError::Upstream("503 Service Unavailable".into()));
        }
        self.0.sign_in(credentials)?;
        let size = *self.0.page_size.lock().unwrap();
        let records = self.0.records.lock().unwrap();
        let mut matching = records
            .range::<str, _>((
                cursor.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .map(|(_, r)| r)
            .filter(|r| {
                since.is_none_or(|s| DateTime::parse_from_rfc3339(r["updatedAt"].as_str().unwrap()).unwrap() >= s)
            });
        let page: Vec<Record> = matching.by_ref().take(size).cloned().collect();
        let next = matching.next().and(page.last()).map(|r| r["key"].as_str().unwrap().to_owned());
        Ok(Changes { records: page, next })
    }
}

struct Stack {
    source: Arc<Source>,
    /// The synced records as the store keeps them (for writing as the API does).
    synced: Arc<dyn millwright::ports::RecordStore>,
    dynamo: aws_sdk_dynamodb::Client,
    events_table: String,
    runs_table: String,
    worker: Worker,
    syncs: SyncService,
    records: RecordService,
    connections: ConnectionService,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    scheduler: aws_sdk_scheduler::Client,
    schedule_group: String,
    connection: Connection,
}

async fn stack() -> Stack {
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "these tests run against moto: set AWS_ENDPOINT_URL");
    let name = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let env = provision::provision(&aws, &template, &name).await.unwrap().env;
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let queue_url = config.sync.queue_url.clone();
    let schedule_group = config.sync.schedule_group.clone();
    let events_table = config.tables.events.clone();
    let runs_table = config.tables.sync_runs.clone();
    let backends = Backends::new(config).await;
    let source = Arc::new(Source::default());
    let connectors =
        millwright_connectors::standard(AddressPolicy::default()).with(SYSTEM, Arc::new(TestConnector(source.clone())));
    let connections = backends.connections(connectors.clone());
    let (account, _) = accounts::open(backends.store().as_ref(), 20, None).await.unwrap();
    let request: ConnectRequest = serde_json::from_value(json!({
        "system": SYSTEM,
        "credentials": {"baseUrl": "https://erp.example.com", "username": "integration", "password": "p"},
        "settings": {"historicalDays": 30},
    }))
    .unwrap();
    let (connection, _) = connections.connect(&account.id, request).await.unwrap();
    Stack {
        source,
        synced: backends.records().clone(),
        dynamo: aws_sdk_dynamodb::Client::new(&aws),
        events_table,
        runs_table,
        worker: backends.worker(connectors.clone()),
        syncs: backends.syncs(connectors.clone()),
        records: backends.record_service(connectors),
        connections,
        sqs: aws_sdk_sqs::Client::new(&aws),
        queue_url,
        scheduler: aws_sdk_scheduler::Client::new(&aws),
        schedule_group,
        connection,
    }
}

impl Stack {
    async fn start(&self, mode: SyncMode) -> SyncRun {
        let request = SyncRequest { entities: Some(vec![ENTITY.path().into()]), mode: Some(mode) };
        self.syncs.start(&self.connection, request, Trigger::Manual).await.unwrap().remove(0)
    }

    /// Receives one message (made visible again after `visibility` seconds if not deleted).
    async fn receive(&self, visibility: i32) -> Option<(SyncMessage, String)> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(1)
            .visibility_timeout(visibility)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let message = out.messages.unwrap_or_default().into_iter().next()?;
        Some((serde_json::from_str(message.body().unwrap()).unwrap(), message.receipt_handle.unwrap()))
    }

    async fn delete(&self, receipt: String) {
        self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(receipt).send().await.unwrap();
    }

    /// Feeds the queue's messages to the worker until it is empty, as the SQS mapping does;
    /// every invocation gets `budget` before its deadline.
    async fn drain(&self, budget: Duration) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        while let Some((message, receipt)) = self.receive(30).await {
            outcomes.push(self.worker.handle(&message, Utc::now() + budget).await.unwrap());
            self.delete(receipt).await;
        }
        outcomes
    }

    async fn sync(&self, mode: SyncMode) -> SyncRun {
        let run = self.start(mode).await;
        self.drain(Duration::minutes(5)).await;
        self.syncs.get(millwright::ports::RunScope::Connection(&self.connection.id), &run.id).await.unwrap()
    }

    /// The expression of the connection's schedule, if it has one.
    async fn schedule(&self) -> Option<String> {
        let found =
            self.scheduler.get_schedule().group_name(&self.schedule_group).name(&self.connection.id).send().await;
        found.ok().and_then(|s| s.schedule_expression)
    }

    /// The connection as its token names it.
    fn target(&self) -> Target<'_> {
        Target { account_id: &self.connection.account_id, connection_id: &self.connection.id, system: SYSTEM }
    }

    /// The events that ended the run (`sync.completed` or `sync.failed`): one, whatever happened.
    async fn endings(&self, run: &SyncRun) -> usize {
        let out = self
            .dynamo
            .query()
            .table_name(&self.events_table)
            .key_condition_expression("accountId = :a")
            .expression_attribute_values(":a", aws_sdk_dynamodb::types::AttributeValue::S(run.account_id.clone()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let ended = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            let kind = item.get("type").and_then(|t| t.as_s().ok()).map_or("", String::as_str);
            (kind == "sync.completed" || kind == "sync.failed") && format!("{:?}", item.get("data")).contains(&run.id)
        };
        out.items.unwrap_or_default().iter().filter(|i| ended(i)).count()
    }

    /// Waits until the source has served `n` requests, while `task` (a worker) is still going.
    async fn asked_reaches<T>(&self, n: usize, task: &tokio::task::JoinHandle<T>) {
        let waited = std::time::Instant::now();
        while self.source.asked().len() < n {
            assert!(!task.is_finished(), "the worker ended before request {n}: {:?}", self.source.asked());
            assert!(waited.elapsed() < std::time::Duration::from_secs(300), "the worker never made request {n}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// A full run of seven vendors whose worker (running as a task) is held at its second page.
    async fn held_at_its_second_page(
        &self,
    ) -> (SyncRun, SyncMessage, tokio::task::JoinHandle<Result<Outcome, StoreError>>) {
        for i in 1..=7 {
            self.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
        }
        let run = self.start(SyncMode::Full).await;
        let (message, _) = self.receive(30).await.unwrap();
        *self.source.hold_at.lock().unwrap() = Some(1);
        let (worker, held) = (self.worker.clone(), message.clone());
        let task = tokio::spawn(async move { worker.handle(&held, Utc::now() + Duration::minutes(5)).await });
        self.asked_reaches(2, &task).await;
        (run, message, task)
    }

    async fn stored(&self, include_deleted: bool) -> BTreeMap<String, Record> {
        let query = ListQuery { limit: 500, include_deleted, ..Default::default() };
        let page = self.records.list(self.target(), ENTITY, &query).await.unwrap();
        page.records.into_iter().map(|r| (r["key"].as_str().unwrap().to_owned(), r)).collect()
    }
}

fn counts(run: &SyncRun) -> (u64, u64, u64, u64) {
    (run.counts.fetched, run.counts.created, run.counts.updated, run.counts.deleted)
}

#[tokio::test]
async fn incremental_takes_exactly_the_changes_even_when_they_share_a_timestamp_across_pages() {
    let s = stack().await;
    for i in 1..=8 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    let first = s.sync(SyncMode::Incremental).await;
    assert_eq!(first.status, SyncStatus::Succeeded, "{:?}", first.error);
    assert_eq!(counts(&first), (8, 8, 0, 0));
    assert_eq!(s.stored(false).await.len(), 8);

    // Four changes at one instant: with pages of 3, V003/V004 straddle the first page boundary.
    for key in ["V002", "V003", "V004", "V006"] {
        s.source.set(key, &format!("{key} renamed"), 30);
    }
    s.source.set("V009", "Vendor 9", 30);
    let asked_before = s.source.asked().len();
    let second = s.sync(SyncMode::Incremental).await;
    assert_eq!(second.status, SyncStatus::Succeeded);
    assert_eq!((second.counts.created, second.counts.updated, second.counts.deleted), (1, 4, 0));
    let (since, _) = s.source.asked()[asked_before].clone();
    assert_eq!(since, Some(at(8)), "the mark is the largest updatedAt of the last successful run");
    assert_eq!(s.stored(false).await["V004"]["name"], "V004 renamed");

    // A record that reaches the system with the mark's own timestamp after the run is not skipped;
    // those seen before at that instant are fetched again (inclusive) but are no change.
    s.source.set("V010", "Vendor 10", 30);
    let third = s.sync(SyncMode::Incremental).await;
    assert_eq!(counts(&third), (6, 1, 0, 0));
    let stored = s.stored(false).await;
    assert_eq!(stored.len(), 10);
    assert_eq!(stored["V010"]["remoteData"], json!({"LIFNR": "V010"}));

    // Nothing changed: nothing is written or counted.
    let fourth = s.sync(SyncMode::Incremental).await;
    assert_eq!((fourth.counts.created, fourth.counts.updated), (0, 0));
    let connection = s.connections.get(&s.connection.account_id, &s.connection.id).await.unwrap();
    assert_eq!(connection.last_sync["vendors"].sync_id, fourth.id, "the connection shows its last sync");
}

#[tokio::test]
async fn full_marks_vanished_records_deleted_and_a_failed_run_moves_nothing() {
    let s = stack().await;
    for i in 1..=7 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    assert_eq!(counts(&s.sync(SyncMode::Full).await), (7, 7, 0, 0));
    s.source.remove("V002");
    s.source.remove("V006");
    s.source.set("V005", "Vendor 5 moved", 40);

    // The system fails on the second page: the run fails, deletes nothing, moves no mark.
    *s.source.fail_at.lock().unwrap() = Some(s.source.asked().len() + 1);
    let failed = s.sync(SyncMode::Full).await;
    assert_eq!(failed.status, SyncStatus::Failed);
    assert_eq!(failed.error.as_ref().unwrap().code, "UPSTREAM_ERROR");
    assert_eq!(failed.counts.deleted, 0);
    assert_eq!(s.stored(false).await.len(), 7, "a failed run deletes nothing");
    *s.source.fail_at.lock().unwrap() = None;
    let asked = s.source.asked().len();
    let incremental = s.sync(SyncMode::Incremental).await;
    assert_eq!(s.source.asked()[asked].0, Some(at(7)), "the failed run did not move the mark");
    assert_eq!(incremental.counts.updated, 1);

    let full = s.sync(SyncMode::Full).await;
    assert_eq!(full.status, SyncStatus::Succeeded);
    assert_eq!((full.counts.fetched, full.counts.created, full.counts.updated, full.counts.deleted), (5, 0, 0, 2));
    let live = s.stored(false).await;
    assert_eq!(live.keys().cloned().collect::<Vec<_>>(), ["V001", "V003", "V004", "V005", "V007"]);
    let all = s.stored(true).await;
    assert!(all["V002"]["deletedAt"].is_string() && all["V006"]["deletedAt"].is_string());

    // The change feed a user polls shows the deletions.
    let query = ListQuery { limit: 100, modified_after: Some(at(41)), include_deleted: true, ..Default::default() };
    let feed = s.records.list(s.target(), ENTITY, &query).await.unwrap();
    let keys: Vec<&str> = feed.records.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["V002", "V006"]);

    // A record that comes back is live again.
    s.source.set("V002", "Vendor 2 restored", 50);
    let back = s.sync(SyncMode::Incremental).await;
    assert_eq!(back.counts.updated, 1);
    assert!(s.stored(false).await["V002"]["deletedAt"].is_null());
}

#[tokio::test]
async fn a_run_stopped_between_pages_resumes_from_its_checkpoint() {
    let s = stack().await;
    *s.source.page_size.lock().unwrap() = 4;
    for i in 1..=14 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    let run = s.start(SyncMode::Full).await;
    // The third page request never returns: the process is stopped there.
    *s.source.hold_at.lock().unwrap() = Some(2);
    let (message, _) = s.receive(3).await.unwrap();
    let worker = s.worker.clone();
    let stopped = message.clone();
    // Its lease lasts as long as the invocation may: until its deadline.
    let deadline = Utc::now() + Duration::seconds(20);
    let task = tokio::spawn(async move { worker.handle(&stopped, deadline).await });
    s.asked_reaches(3, &task).await;
    task.abort();
    let _ = task.await;
    let scope = millwright::ports::RunScope::Connection(&s.connection.id);
    let midway = s.syncs.get(scope, &run.id).await.unwrap();
    assert_eq!((midway.status, midway.checkpoint.pages, midway.counts.created), (SyncStatus::Running, 2, 8));

    // While it holds its lease, another run of the same entity waits instead of running alongside.
    let second = s.start(SyncMode::Incremental).await;
    let other = SyncMessage::Run { connection_id: s.connection.id.clone(), sync_id: second.id.clone() };
    assert_eq!(s.worker.handle(&other, Utc::now() + Duration::minutes(5)).await.unwrap(), Outcome::Waiting);

    // SQS hands the message out again after its visibility timeout (on AWS, long after the
    // stopped invocation's deadline); a new worker carries on once that deadline has passed.
    s.source.gate.add_permits(1);
    while Utc::now() <= deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut redelivered = None;
    for _ in 0..15 {
        match s.receive(30).await {
            Some((m, r)) if m == message => {
                redelivered = Some((m, r));
                break;
            }
            _ => {}
        }
    }
    let (again, receipt) = redelivered.expect("SQS hands the stopped run's message out again");
    assert_eq!(s.worker.handle(&again, Utc::now() + Duration::minutes(5)).await.unwrap(), Outcome::Done);
    s.delete(receipt).await;
    let done = s.syncs.get(scope, &run.id).await.unwrap();
    assert_eq!(done.status, SyncStatus::Succeeded);
    assert_eq!(counts(&done), (14, 14, 0, 0), "no record counted twice");
    let asked = s.source.asked();
    assert_eq!(asked[3].1.as_deref(), Some("V008"), "the new worker asked for the page after the checkpoint");
    assert_eq!(s.stored(false).await.len(), 14, "no record lost");
}

#[tokio::test]
async fn near_its_deadline_a_run_hands_itself_back_to_the_queue() {
    let s = stack().await;
    for i in 1..=9 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    let run = s.start(SyncMode::Incremental).await;
    // Each invocation has no time to spare: one page, then back on the queue.
    let outcomes = s.drain(Duration::milliseconds(1)).await;
    assert_eq!(outcomes, [Outcome::Handed, Outcome::Handed, Outcome::Done]);
    let done = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &run.id).await.unwrap();
    assert_eq!((done.status, done.checkpoint.pages, done.counts.created), (SyncStatus::Succeeded, 3, 9));
}

#[tokio::test]
async fn after_disconnect_queued_runs_stop_without_writing_and_the_schedule_is_gone() {
    let s = stack().await;
    s.source.set("V001", "Vendor 1", 1);
    let run = s.start(SyncMode::Full).await;
    assert_eq!(s.schedule().await.as_deref(), Some("rate(60 minutes)"), "connecting made a schedule");
    s.connections.disconnect(&s.connection.account_id, &s.connection.id).await.unwrap();
    let fired =
        SyncMessage::Scheduled { account_id: s.connection.account_id.clone(), connection_id: s.connection.id.clone() };
    assert_eq!(s.worker.handle(&fired, Utc::now() + Duration::minutes(5)).await.unwrap(), Outcome::Done);
    s.drain(Duration::minutes(5)).await;
    let stopped = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &run.id).await.unwrap();
    assert_eq!(stopped.status, SyncStatus::Failed);
    assert!(s.source.asked().is_empty(), "the system was not asked");
    assert!(s.stored(true).await.is_empty(), "nothing was written");
    assert!(s.schedule().await.is_none(), "the connection's schedule is deleted");
    let value: Value = stopped.view();
    assert_eq!(value["error"]["code"], "CONFLICT");
}

#[tokio::test]
async fn rejected_credentials_skip_scheduled_runs_until_new_ones_are_accepted() {
    let s = stack().await;
    let (account, id) = (s.connection.account_id.as_str(), s.connection.id.as_str());
    s.source.set("V001", "Vendor 1", 1);
    *s.source.password.lock().unwrap() = "changed".into(); // the customer changed it in the system
    let failed = s.sync(SyncMode::Incremental).await;
    assert_eq!((failed.status, failed.error.unwrap().code.as_str()), (SyncStatus::Failed, "INVALID_CREDENTIALS"));
    assert_eq!(s.connections.get(account, id).await.unwrap().status, ConnectionStatus::AuthRequired);

    // The schedule fires: the run is recorded as skipped and the system is not asked.
    let asked = s.source.asked().len();
    let fired = SyncMessage::Scheduled { account_id: account.into(), connection_id: id.into() };
    assert_eq!(s.worker.handle(&fired, Utc::now() + Duration::minutes(5)).await.unwrap(), Outcome::Queued);
    assert!(s.drain(Duration::minutes(5)).await.is_empty(), "nothing was queued");
    let (runs, _) = s.syncs.list(millwright::ports::RunScope::Connection(id), None, 10).await.unwrap();
    assert_eq!((runs[0].status, runs[0].trigger), (SyncStatus::Skipped, Trigger::Schedule));
    assert_eq!(s.source.asked().len(), asked, "the rejected credentials were not presented again");
    let (manual, current) = (SyncRequest { entities: None, mode: None }, s.connections.get(account, id).await.unwrap());
    assert_eq!(s.syncs.start(&current, manual, Trigger::Manual).await.unwrap_err().code.status(), 409);

    // New credentials: refused ones change nothing; accepted ones make it active again.
    let replace = |password: &str| -> CredentialsRequest {
        serde_json::from_value(json!({"credentials": {
            "baseUrl": "https://erp.example.com", "username": "integration", "password": password}}))
        .unwrap()
    };
    let wrong = s.connections.replace_credentials(account, id, replace("guess")).await.unwrap_err();
    assert_eq!(wrong.code.status(), 400);
    assert_eq!(s.connections.get(account, id).await.unwrap().status, ConnectionStatus::AuthRequired);
    let restored = s.connections.replace_credentials(account, id, replace("changed")).await.unwrap();
    assert_eq!(restored.status, ConnectionStatus::Active);
    assert!(restored.status_changed_at > s.connection.status_changed_at);
    let synced = s.sync(SyncMode::Incremental).await;
    assert_eq!(
        (synced.status, counts(&synced).1),
        (SyncStatus::Succeeded, 1),
        "the stored credentials are the new ones"
    );
}

#[tokio::test]
async fn a_message_delivered_twice_runs_its_sync_once() {
    let s = stack().await;
    // The first delivery is between its first and second page when SQS delivers it again.
    let (run, message, task) = s.held_at_its_second_page().await;
    let again = s.worker.handle(&message, Utc::now() + Duration::minutes(5)).await.unwrap();
    assert_eq!(again, Outcome::Waiting, "the second delivery waits for the first instead of running beside it");
    s.source.gate.add_permits(1);
    assert_eq!(task.await.unwrap().unwrap(), Outcome::Done);
    // The second delivery comes back later, and finds its run ended.
    assert_eq!(s.worker.handle(&message, Utc::now() + Duration::minutes(5)).await.unwrap(), Outcome::Done);
    let done = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &run.id).await.unwrap();
    assert_eq!((done.status, counts(&done)), (SyncStatus::Succeeded, (7, 7, 0, 0)), "no record counted twice");
    assert_eq!(s.source.asked().len(), 3, "no page fetched twice");
    assert_eq!(s.endings(&done).await, 1, "one sync.completed");
}

#[tokio::test]
async fn a_run_whose_work_failed_every_retry_ends_failed_once() {
    let s = stack().await;
    // While an invocation holds it, the run is not given up on.
    let (run, message, task) = s.held_at_its_second_page().await;
    assert_eq!(s.worker.abandon(&message).await.unwrap(), Outcome::Superseded);
    task.abort();
    let _ = task.await;

    // Its message dead-lettered after its retries (the invocation's lease lapsed): the run ends
    // failed with its event, once, and a second dead letter changes nothing.
    let second = s.start(SyncMode::Incremental).await;
    let dead = SyncMessage::Run { connection_id: s.connection.id.clone(), sync_id: second.id.clone() };
    assert_eq!(s.worker.abandon(&dead).await.unwrap(), Outcome::Done);
    assert_eq!(s.worker.abandon(&dead).await.unwrap(), Outcome::Done);
    let scope = millwright::ports::RunScope::Connection(&s.connection.id);
    let failed = s.syncs.get(scope, &second.id).await.unwrap();
    assert_eq!(failed.status, SyncStatus::Failed);
    assert_eq!(failed.error.as_ref().unwrap().code, "INTERNAL_ERROR");
    assert_eq!(s.endings(&failed).await, 1, "one sync.failed");
    assert_eq!(s.syncs.get(scope, &run.id).await.unwrap().status, SyncStatus::Running, "the held run went on");
}

#[tokio::test]
async fn a_full_sync_keeps_what_the_api_wrote_while_it_ran() {
    let s = stack().await;
    for i in 1..=7 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    assert_eq!(counts(&s.sync(SyncMode::Full).await), (7, 7, 0, 0));
    let run = s.start(SyncMode::Full).await;
    let (message, receipt) = s.receive(30).await.unwrap();
    let before = s.source.asked().len();
    *s.source.hold_at.lock().unwrap() = Some(before + 1);
    let worker = s.worker.clone();
    let task = tokio::spawn(async move { worker.handle(&message, Utc::now() + Duration::minutes(5)).await });
    s.asked_reaches(before + 2, &task).await;
    // Past its first page, the API creates V000 in the system and puts it in the copy reads
    // serve: the run's pages are beyond that key and never show it.
    s.source.set("V000", "Vendor 0", 50);
    let written = s.source.records.lock().unwrap()["V000"].clone();
    s.synced
        .put(
            &millwright::sync::partition(&s.connection.id, ENTITY),
            &[millwright::sync::StoredRecord::new(written).unwrap()],
        )
        .await
        .unwrap();
    s.source.gate.add_permits(1);
    assert_eq!(task.await.unwrap().unwrap(), Outcome::Done);
    s.delete(receipt).await;
    let done = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &run.id).await.unwrap();
    assert_eq!((done.status, done.counts.deleted), (SyncStatus::Succeeded, 0), "{done:?}");
    assert_eq!(s.stored(false).await.len(), 8, "V000 is not swept away as deleted");
}

#[tokio::test]
async fn finished_runs_and_their_events_expire_and_running_ones_stay() {
    let s = stack().await;
    s.source.set("V001", "Vendor 1", 1);
    let queued = s.start(SyncMode::Full).await;
    let expiry = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        item.get("expiresAt").map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
    };
    let run_item = |id: String| {
        let s = &s;
        async move {
            let out = s
                .dynamo
                .get_item()
                .table_name(&s.runs_table)
                .key("connectionId", aws_sdk_dynamodb::types::AttributeValue::S(s.connection.id.clone()))
                .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id))
                .send()
                .await
                .unwrap();
            out.item.unwrap()
        }
    };
    assert_eq!(expiry(&run_item(queued.id.clone()).await), None, "a queued run stays");
    s.drain(Duration::minutes(5)).await;
    let done = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &queued.id).await.unwrap();
    let ends = done.finished_at.unwrap().timestamp();
    assert_eq!(expiry(&run_item(queued.id.clone()).await), Some(ends + 90 * 86_400), "kept 90 days after it ended");
    let events = s
        .dynamo
        .query()
        .table_name(&s.events_table)
        .key_condition_expression("accountId = :a")
        .expression_attribute_values(":a", aws_sdk_dynamodb::types::AttributeValue::S(done.account_id.clone()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(!events.is_empty());
    for event in &events {
        let at = chrono::DateTime::parse_from_rfc3339(event["createdAt"].as_s().unwrap()).unwrap().timestamp();
        assert_eq!(expiry(event), Some(at + 30 * 86_400), "events are kept 30 days");
    }
}

#[tokio::test]
async fn a_record_too_large_to_store_ends_the_run_failed_at_once() {
    let s = stack().await;
    for i in 1..=4 {
        s.source.set(&format!("V{i:03}"), &format!("Vendor {i}"), i);
    }
    s.source.set("V003", &"x".repeat(400_000), 3);
    let run = s.start(SyncMode::Full).await;
    let outcomes = s.drain(Duration::minutes(5)).await;
    assert_eq!(outcomes, [Outcome::Done], "no retry: storing it would fail again");
    let failed = s.syncs.get(millwright::ports::RunScope::Connection(&s.connection.id), &run.id).await.unwrap();
    assert_eq!(failed.status, SyncStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert_eq!(error.code, "UPSTREAM_ERROR");
    assert!(error.message.starts_with("Record V003 is 400 KB"), "{}", error.message);
    assert_eq!(s.endings(&failed).await, 1);
}

#[tokio::test]
async fn a_sync_asked_for_again_while_one_is_queued_joins_it() {
    let s = stack().await;
    s.source.set("V001", "Vendor 1", 1);
    let first = s.start(SyncMode::Incremental).await;
    let again = s.start(SyncMode::Incremental).await;
    assert_eq!(again.id, first.id, "one queued run per connection, entity and mode");
    let full = s.start(SyncMode::Full).await;
    assert_ne!(full.id, first.id, "another mode is another run");
    assert_eq!(s.drain(Duration::minutes(5)).await, [Outcome::Done, Outcome::Done], "two messages, not three");
    // Once it has run, asking again queues a new run.
    let later = s.start(SyncMode::Incremental).await;
    assert_ne!(later.id, first.id);
    assert_eq!(later.status, SyncStatus::Queued);
}
