//! Sync benchmark against moto (`AWS_ENDPOINT_URL`; scripts/bench starts one): a full sync of N
//! generated records (`--records`, default 100,000) through SQS and the sync worker, then an
//! incremental sync after 10 changes. Prints throughput, upstream calls, AWS calls per operation
//! and the process's peak memory. Records are generated page by page, never held all at once,
//! so the peak is the sync's own.

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use millwright::{
    accounts,
    capabilities::Capabilities,
    connectors::{Changes, Connector, ConnectorError, Credentials},
    entities::{Entity, Record},
    ports::RunScope,
    sync::{SyncMode, SyncRequest, SyncRun, SyncService, Trigger, Worker},
    webhooks::AddressPolicy,
};
use millwright_aws::{
    config::{Backends, Config},
    metering, provision,
};
use millwright_sandbox::Sandbox;
use serde_json::json;
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Instant,
};

/// Records per upstream page, as SAP and Maximo serve them.
const PAGE: u64 = 1_000;
/// How many records change before the incremental run.
const CHANGED: u64 = 10;

/// A system of `total` vendors; once `changed` is set, ten of them, spread evenly, have a new
/// name and a later `updatedAt`.
struct Generated {
    total: u64,
    changed: AtomicBool,
    calls: AtomicU64,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

impl Generated {
    fn is_changed(&self, i: u64) -> bool {
        self.changed.load(Ordering::Relaxed) && i.is_multiple_of(self.total / CHANGED)
    }

    fn updated(&self, i: u64) -> DateTime<Utc> {
        if self.is_changed(i) {
            base() + Duration::seconds(self.total as i64 + 60)
        } else {
            base() + Duration::seconds(i as i64)
        }
    }

    fn record(&self, i: u64) -> Record {
        let name = if self.is_changed(i) { format!("Vendor {i} (renamed)") } else { format!("Vendor {i}") };
        let value = json!({
            "key": format!("V{i:07}"), "name": name, "statusKey": "active",
            "email": format!("orders{i}@vendor.example"), "phone": "+49 30 1234567",
            "address": {"street": format!("Industriestrasse {}", i % 200), "city": "Berlin", "postalCode": "10115", "country": "DE"},
            "createdAt": base().to_rfc3339(), "updatedAt": self.updated(i).to_rfc3339(), "deletedAt": null,
            "customFields": {"region": "EMEA"},
            "remoteData": {"LIFNR": format!("{i:010}"), "NAME1": name, "LAND1": "DE", "ORT01": "Berlin", "KTOKK": "0001"},
        });
        value.as_object().unwrap().clone()
    }
}

#[async_trait]
impl Connector for Generated {
    async fn verify(&self, _: &Credentials) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Sandbox.capabilities()
    }

    async fn changes(
        &self,
        _: &Credentials,
        _: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut i = cursor.map_or(0, |c| c.parse::<u64>().unwrap() + 1);
        let mut records = Vec::new();
        while i < self.total && (records.len() as u64) < PAGE {
            if since.is_none_or(|s| self.updated(i) >= s) {
                records.push(self.record(i));
            }
            i += 1;
        }
        let next = (i < self.total).then(|| (i - 1).to_string());
        Ok(Changes { records, next })
    }
}

/// The process's peak resident memory (VmHWM), in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

async fn run(
    syncs: &SyncService,
    worker: &Worker,
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    connection: &millwright::model::Connection,
    mode: SyncMode,
) -> SyncRun {
    let request = SyncRequest { entities: Some(vec!["vendors".into()]), mode: Some(mode) };
    let run = syncs.start(connection, request, Trigger::Manual).await.unwrap().remove(0);
    loop {
        let out =
            sqs.receive_message().queue_url(queue).wait_time_seconds(1).visibility_timeout(900).send().await.unwrap();
        let Some(message) = out.messages.unwrap_or_default().into_iter().next() else { break };
        let body = serde_json::from_str(message.body().unwrap()).unwrap();
        // A Lambda invocation of 300 s, as in infra/template.yaml.
        worker.handle(&body, Utc::now() + Duration::seconds(300)).await.unwrap();
        sqs.delete_message().queue_url(queue).receipt_handle(message.receipt_handle.unwrap()).send().await.unwrap();
    }
    syncs.get(RunScope::Connection(&connection.id), &run.id).await.unwrap()
}

fn report(label: &str, records: u64, run: &SyncRun, seconds: f64, upstream: u64) {
    let c = run.counts;
    println!("{label}: {:?} in {seconds:.1} s — {:.0} records/s", run.status, c.fetched as f64 / seconds);
    println!("  counts: fetched {}, created {}, updated {}, deleted {}", c.fetched, c.created, c.updated, c.deleted);
    println!("  upstream calls: {upstream}");
    let operations = metering::take_operations();
    let total: u64 = operations.values().sum();
    let writes: u64 = operations
        .iter()
        .filter(|(op, _)| {
            ["BatchWriteItem", "PutItem", "UpdateItem", "TransactWriteItems"].iter().any(|w| op.ends_with(w))
        })
        .map(|(_, n)| n)
        .sum();
    let batch_writes = operations.get("DynamoDB_20120810.BatchWriteItem").copied().unwrap_or(0);
    for (op, n) in &operations {
        println!("  {op}: {n}");
    }
    println!("  AWS calls: {total}; DynamoDB write calls: {writes}");
    if records > 0 {
        println!(
            "  DynamoDB write calls per 1,000 records: {:.1} (record batches alone: {:.1})",
            writes as f64 * 1000.0 / records as f64,
            batch_writes as f64 * 1000.0 / records as f64
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .map_or(100_000, |n| n.parse().unwrap());
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "the bench runs against moto: set AWS_ENDPOINT_URL");
    let stack = format!("bench-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let env = provision::provision(&aws, &template, &stack).await.unwrap().env;
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let queue = config.sync.queue_url.clone();
    let backends = Backends::new(config).await;
    let source = std::sync::Arc::new(Generated { total, changed: AtomicBool::new(false), calls: AtomicU64::new(0) });
    let connectors = millwright_connectors::standard(AddressPolicy::default()).with("sap_s4hana", source.clone());
    let (account, _) = accounts::open(backends.store().as_ref(), 10, None).await.unwrap();
    let request = serde_json::from_value(json!({"system": "sap_s4hana", "settings": {"historicalDays": 3650},
        "credentials": {"baseUrl": "https://s4.example.com", "username": "bench", "password": "bench"}}))
    .unwrap();
    let (connection, _) = backends.connections(connectors.clone()).connect(&account.id, request).await.unwrap();
    let (syncs, worker) = (backends.syncs(connectors.clone()), backends.worker(connectors));
    let sqs = aws_sdk_sqs::Client::new(&aws);
    println!(
        "sync bench: {total} generated vendors, pages of {PAGE}, moto at {}",
        std::env::var("AWS_ENDPOINT_URL").unwrap()
    );

    metering::count_operations();
    let started = Instant::now();
    let full = run(&syncs, &worker, &sqs, &queue, &connection, SyncMode::Full).await;
    report("full sync", total, &full, started.elapsed().as_secs_f64(), source.calls.swap(0, Ordering::Relaxed));

    source.changed.store(true, Ordering::Relaxed);
    metering::take_operations();
    let started = Instant::now();
    let incremental = run(&syncs, &worker, &sqs, &queue, &connection, SyncMode::Incremental).await;
    report(
        &format!("incremental sync after {CHANGED} changes"),
        0,
        &incremental,
        started.elapsed().as_secs_f64(),
        source.calls.swap(0, Ordering::Relaxed),
    );
    println!("peak memory of the sync process (VmHWM): {:.1} MB", peak_mb());
}
