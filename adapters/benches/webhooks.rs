//! Webhook delivery benchmark against moto (`AWS_ENDPOINT_URL`) and the test receiver
//! (`MILLWRIGHT_RECEIVER_URL`, tests/receiver.py); scripts/bench starts both. Events are fanned
//! out into deliveries on the real delivery queue, and invocations of the delivery handler take
//! them off it in batches of ten, as many at once as Lambda would run (up to `CONCURRENCY`).
//! Prints deliveries per second for 1,000 events to one receiver, then the same with a second
//! receiver that sleeps 10 s on every request mixed in, to show the sleeper slows no one else:
//! the other's throughput and its attempts' latencies (p50 / p99) stay as they were. AWS calls
//! per delivery count the functions' own calls (fan-out and delivery), not the queue polling
//! that Lambda's event-source mapping does.

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::Utc;
use millwright::{
    events::{Event, EventType},
    ports::WebhookStore,
    webhooks::{CreateEndpoint, DeliveryMessage, Receipt},
};
use millwright_aws::{
    config::{Backends, Config},
    metering, provision, sqs,
};
use millwright_outbound::transport::HttpTransport;
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;

/// Events per run.
const EVENTS: usize = 1_000;
/// Invocations in flight at most (Lambda scales an SQS mapping far beyond this).
const CONCURRENCY: usize = 32;
/// Events for the sleeping receiver in the second run.
const SLEEPY_EVENTS: usize = 5;

struct Bench {
    backends: Backends,
    aws: aws_sdk_sqs::Client,
    queue: String,
    account: String,
    receiver: String,
}

impl Bench {
    /// An endpoint on the receiver for one event type; its id.
    async fn endpoint(&self, behaviour: &str, kind: EventType) -> String {
        let url = format!("{}/hooks/{behaviour}-{}", self.receiver, ulid::Ulid::new().to_string().to_lowercase());
        let request =
            CreateEndpoint { url, events: Some(vec![kind.as_str().into()]), description: None, connection_id: None };
        self.backends.webhooks().create(&self.account, request).await.unwrap().0.id
    }

    /// The latencies (ms) of the endpoint's successful attempts, sorted.
    async fn latencies(&self, endpoint: &str) -> Vec<u64> {
        let (mut all, mut after) = (Vec::new(), None);
        loop {
            let (page, next) = self.backends.webhook_store().deliveries(endpoint, after.as_deref(), 500).await.unwrap();
            all.extend(page.iter().flat_map(|d| d.attempts.iter().filter(|a| a.succeeded()).map(|a| a.latency_ms)));
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        all.sort_unstable();
        all
    }

    /// One run's line: throughput, AWS calls per delivery, attempt latencies of `endpoint`.
    async fn report(&self, label: &str, took: Duration, endpoint: &str) {
        let calls = metering::take();
        let latencies = self.latencies(endpoint).await;
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "{label}: {EVENTS} deliveries in {:.1} s = {:.0} deliveries/s; {:.1} AWS calls per delivery (fan-out included); attempt latency p50 {} ms, p99 {} ms",
            took.as_secs_f64(),
            rate(EVENTS, took),
            calls as f64 / EVENTS as f64,
            at(0.5),
            at(0.99),
        );
    }

    /// Fans `count` events of `kind` out, 32 at a time; answers the time it took.
    async fn fan_out(&self, kind: EventType, count: usize) -> Duration {
        let started = Instant::now();
        let fanout = self.backends.fanout();
        let events: Vec<Event> =
            (0..count).map(|i| Event::new(&self.account, "conn_bench", kind, json!({"n": i}))).collect();
        for chunk in events.chunks(32) {
            let work = chunk.iter().map(|e| fanout.handle(e));
            for r in futures_util::future::join_all(work).await {
                r.unwrap();
            }
        }
        started.elapsed()
    }

    /// Feeds the queue to delivery invocations until `delivered` deliveries of the fast
    /// receiver succeeded; answers the time that took.
    async fn deliver(&self, expected: usize) -> Duration {
        let started = Instant::now();
        let transport = Arc::new(HttpTransport::new(self.backends.policy()));
        let dispatcher = Arc::new(self.backends.dispatcher(transport));
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let done = Arc::new(AtomicUsize::new(0));
        while done.load(Ordering::Relaxed) < expected {
            let permit = slots.clone().acquire_owned().await.unwrap();
            let received = self
                .aws
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            let records: Vec<_> = messages
                .iter()
                .map(|m| {
                    let count = m
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                        .cloned()
                        .unwrap_or_else(|| "1".into());
                    json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                           "attributes": {"ApproximateReceiveCount": count}})
                })
                .collect();
            let event: SqsEvent = serde_json::from_value(json!({"Records": records})).unwrap();
            let (dispatcher, done, aws, queue) =
                (dispatcher.clone(), done.clone(), self.aws.clone(), self.queue.clone());
            tokio::spawn(async move {
                let deadline = Utc::now() + chrono::Duration::seconds(60);
                let response = sqs::handle_batch(event, deadline, |m: DeliveryMessage, r: sqs::Received| {
                    let dispatcher = &dispatcher;
                    let receipt = Receipt { handle: r.receipt_handle };
                    async move { dispatcher.handle(&m, &receipt).await }
                })
                .await;
                let failed: Vec<String> =
                    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
                for m in messages.iter().filter(|m| !failed.contains(m.message_id.as_ref().unwrap())) {
                    aws.delete_message()
                        .queue_url(&queue)
                        .receipt_handle(m.receipt_handle.clone().unwrap())
                        .send()
                        .await
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
                drop(permit);
            });
        }
        started.elapsed()
    }
}

fn rate(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "the bench runs against moto: set AWS_ENDPOINT_URL");
    let receiver = std::env::var("MILLWRIGHT_RECEIVER_URL").expect("MILLWRIGHT_RECEIVER_URL (tests/receiver.py)");
    let stack = format!("bench-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let mut env = provision::provision(&aws, &template, &stack).await.unwrap().env;
    env.insert("ALLOW_LOCAL_ADDRESSES".into(), "true".into());
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let queue = config.webhooks.delivery_queue_url.clone();
    let backends = Backends::new(config).await;
    let (account, _) = millwright::accounts::open(backends.store().as_ref(), 1, None).await.unwrap();
    let bench = Bench { backends, aws: aws_sdk_sqs::Client::new(&aws), queue, account: account.id, receiver };

    metering::take();
    let first = bench.endpoint("ok", EventType::SyncCompleted).await;
    let fanned = bench.fan_out(EventType::SyncCompleted, EVENTS).await;
    println!(
        "fan-out: {EVENTS} events into deliveries in {:.1} s ({:.0} events/s)",
        fanned.as_secs_f64(),
        rate(EVENTS, fanned)
    );
    let alone = bench.deliver(EVENTS).await;
    bench.report("one receiver", alone, &first).await;

    // The second receiver takes another event type, so each run's deliveries are its own.
    let second = bench.endpoint("ok", EventType::ConnectionStatusChanged).await;
    bench.endpoint("sleepy", EventType::SyncFailed).await;
    bench.fan_out(EventType::SyncFailed, SLEEPY_EVENTS).await;
    bench.fan_out(EventType::ConnectionStatusChanged, EVENTS).await;
    let mixed = bench.deliver(EVENTS).await;
    let label = format!("beside a receiver that sleeps 10 s ({SLEEPY_EVENTS} deliveries queued first)");
    bench.report(&label, mixed, &second).await;
    println!("throughput beside the sleeper: {:+.0}%", (alone.as_secs_f64() / mixed.as_secs_f64() - 1.0) * 100.0);
}
