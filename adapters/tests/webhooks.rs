//! Webhook retries against moto (`AWS_ENDPOINT_URL`; scripts/test starts it): a delivery whose
//! endpoint never accepts is tried on every attempt of the schedule through the real delivery
//! queue, each failure hiding the message until the next attempt is due, and attempts counted
//! on the delivery however often the queue hands the message out; after the last one the
//! delivery is failed and its message done with (the dead-letter queue stays empty). The
//! receiver is a stand-in at the transport port that always answers 503. And the endpoint limit
//! under concurrent creates, and changes to an endpoint that never write over each other.

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use millwright::{
    accounts,
    events::{Event, EventType},
    ports::{PostError, StoreError, WebhookStore, WebhookTransport},
    webhooks::{
        CreateEndpoint, DeliveryMessage, DeliveryStatus, Dispatcher, MAX_ATTEMPTS, MAX_ENDPOINTS, Receipt, Undelivered,
    },
};
use millwright_aws::{
    config::{Backends, Config},
    provision,
};
use serde_json::json;
use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

/// A receiver that is always down.
#[derive(Default)]
struct Down(AtomicU32);

#[async_trait]
impl WebhookTransport for Down {
    async fn post(&self, _: &str, headers: &[(&str, String)], _: &str) -> Result<u16, PostError> {
        assert!(headers.iter().any(|(n, v)| *n == "webhook-signature" && v.starts_with("v1,")));
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(503)
    }
}

/// A stack of its own on moto (its name, AWS settings and functions' settings), where webhook
/// endpoints may be on 127.0.0.1.
async fn provisioned() -> (String, aws_config::SdkConfig, Config) {
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "these tests run against moto: set AWS_ENDPOINT_URL");
    let name = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let mut env = provision::provision(&aws, &template, &name).await.unwrap().env;
    env.insert("ALLOW_LOCAL_ADDRESSES".into(), "true".into());
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    (name, aws, config)
}

#[tokio::test]
async fn a_delivery_is_tried_on_every_attempt_of_the_schedule_counted_on_itself_then_failed() {
    let (name, aws, config) = provisioned().await;
    let queue = config.webhooks.delivery_queue_url.clone();
    let backends = Backends::new(config).await;
    let (account, _) = accounts::open(backends.store().as_ref(), 1, None).await.unwrap();
    let request =
        CreateEndpoint { url: "http://127.0.0.1:9/hook".into(), events: None, description: None, connection_id: None };
    let (endpoint, _) = backends.webhooks().create(&account.id, request).await.unwrap();
    let event = Event::new(&account.id, "conn_1", EventType::SyncFailed, json!({}));
    assert_eq!(backends.fanout().handle(&event).await.unwrap(), 1);

    let down = Arc::new(Down::default());
    let dispatcher = Dispatcher::new(
        backends.webhook_store().clone(),
        backends.secrets().clone(),
        down.clone(),
        backends.deliveries().clone(),
    );
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let receive = || async {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        out.messages.unwrap_or_default()
    };
    let mut delivery_id = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        if attempt == 3 {
            // Received, and its handler stopped before it attempted anything: the queue hands it
            // out again, and the attempt it makes is still the third.
            let stopped = receive().await;
            assert_eq!(stopped.len(), 1);
            let handle = stopped[0].receipt_handle.clone().unwrap();
            sqs.change_message_visibility()
                .queue_url(&queue)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        let messages = receive().await;
        assert_eq!(messages.len(), 1, "attempt {attempt}");
        let m = &messages[0];
        let count: u32 =
            m.attributes.as_ref().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount].parse().unwrap();
        // Handed out once more than attempted: a handler stopped before its attempt at 3.
        assert_eq!(count, if attempt < 3 { attempt } else { attempt + 1 });
        let receipt = Receipt { handle: m.receipt_handle.clone().unwrap() };
        let message: DeliveryMessage = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        delivery_id.clone_from(&message.delivery_id);
        let outcome = dispatcher.handle(&message, &receipt).await;
        let delivery = backends.webhook_store().delivery(&message.delivery_id).await.unwrap().unwrap();
        assert_eq!(delivery.attempts.len(), attempt as usize);
        assert_eq!(delivery.attempts.last().unwrap().status_code, Some(503));
        if attempt == 1 {
            assert_eq!(
                backends.fanout().handle(&event).await.unwrap(),
                0,
                "a retried fan-out makes no second delivery"
            );
        }
        if attempt < MAX_ATTEMPTS {
            assert!(matches!(outcome, Err(Undelivered::Retrying { .. })), "{outcome:?}");
            assert_eq!(delivery.status, DeliveryStatus::Pending);
            assert!(delivery.next_attempt_at.is_some());
            if attempt > 1 {
                // The first wait is 5 s, too short to observe reliably; the later ones are minutes.
                assert!(receive().await.is_empty(), "the message waits for the next attempt");
            }
            // The wait elapses.
            sqs.change_message_visibility()
                .queue_url(&queue)
                .receipt_handle(receipt.handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        } else {
            assert!(outcome.is_ok(), "the last attempt ends the delivery, and its message: {outcome:?}");
            assert_eq!(delivery.status, DeliveryStatus::Failed);
            assert_eq!(delivery.next_attempt_at, None);
            // As the SQS mapping does with a message its handler is done with.
            sqs.delete_message().queue_url(&queue).receipt_handle(receipt.handle).send().await.unwrap();
        }
    }
    assert_eq!(down.0.load(Ordering::SeqCst), MAX_ATTEMPTS, "every attempt of the schedule, once");
    assert!(receive().await.is_empty(), "the message left the delivery queue");
    let dlq = sqs.get_queue_url().queue_name(format!("{name}-DeliveryDeadLetterQueue")).send().await.unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(dlq.queue_url.unwrap())
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attributes.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "0",
        "the dead-letter queue is for messages that could not be handled, not for failing endpoints"
    );
    // A failed delivery starts a new round once; while that round goes on, asking again is refused.
    let service = backends.webhooks();
    let again = service.redeliver(&account.id, &delivery_id).await.unwrap();
    assert_eq!((again.status, again.round_attempts), (DeliveryStatus::Pending, 0));
    let refused = service.redeliver(&account.id, &delivery_id).await.unwrap_err();
    assert_eq!(refused.code, millwright::error::ErrorCode::Conflict);
    assert_eq!(receive().await.len(), 1, "one message for the new round, not two");
    let log = backends.webhook_store().deliveries(&endpoint.id, None, 10).await.unwrap().0;
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn endpoints_keep_their_limit_under_concurrent_creates_and_a_change_never_writes_over_another() {
    let (_, _, config) = provisioned().await;
    let backends = Backends::new(config).await;
    let (account, _) = accounts::open(backends.store().as_ref(), 1, None).await.unwrap();
    let service = backends.webhooks();
    let creates = (0..MAX_ENDPOINTS + 4).map(|i| {
        let request = CreateEndpoint {
            url: format!("http://127.0.0.1:9/hook/{i}"),
            events: None,
            description: None,
            connection_id: None,
        };
        service.create(&account.id, request)
    });
    let made = futures_util::future::join_all(creates).await;
    let refused = made
        .iter()
        .filter(|m| m.as_ref().is_err_and(|e| e.details[0].message == "no room for another endpoint"))
        .count();
    assert_eq!((made.len() - refused, refused), (MAX_ENDPOINTS, 4), "the limit holds however the creates interleave");
    let (listed, _) = backends.webhook_store().endpoints(&account.id, None, 100).await.unwrap();
    assert_eq!(listed.len(), MAX_ENDPOINTS, "the count is not listed as an endpoint");

    // A change made on what was read before another change is refused, not written over it.
    let endpoint = listed[0].clone();
    let read = endpoint.updated_at;
    let mut rotated = endpoint.clone();
    rotated.secret_version += 1;
    rotated.updated_at = read + chrono::Duration::seconds(1);
    backends.webhook_store().update_endpoint(&rotated, read).await.unwrap();
    let mut stale = endpoint.clone();
    stale.description = Some("written on an old read".into());
    assert!(matches!(backends.webhook_store().update_endpoint(&stale, read).await, Err(StoreError::Conflict(_))));
    let stored = backends.webhook_store().endpoint(&account.id, &endpoint.id).await.unwrap().unwrap();
    assert_eq!((stored.secret_version, stored.description), (rotated.secret_version, rotated.description));
    // Deleting one makes room for one.
    service.delete(&account.id, &endpoint.id).await.unwrap();
    let request =
        CreateEndpoint { url: "http://127.0.0.1:9/again".into(), events: None, description: None, connection_id: None };
    assert!(service.create(&account.id, request).await.is_ok());
    assert!(matches!(backends.webhook_store().update_endpoint(&stale, read).await, Err(StoreError::NotFound)));
}
