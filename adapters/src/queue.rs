//! The queue ports on SQS: JSON messages, ten per SendMessageBatch call. One type serves the
//! sync queue and the delivery queue.

use async_trait::async_trait;
use aws_sdk_sqs::{Client, error::DisplayErrorContext, types::SendMessageBatchRequestEntry};
use serde::Serialize;
use std::time::Duration;

use crate::lazy::Lazy;
use millwright::{
    ports::{DeliveryQueue, StoreError, SyncQueue},
    sync::SyncMessage,
    webhooks::DeliveryMessage,
};

/// The most entries one SendMessageBatch takes.
const MAX_BATCH: usize = 10;
/// The longest delay SQS allows.
const MAX_DELAY: Duration = Duration::from_secs(900);
/// The longest a received message can stay hidden.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// One SQS queue.
pub struct SqsQueue {
    client: Lazy<Client>,
    url: String,
}

fn failure(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: impl Into<Lazy<Client>>, url: String) -> Self {
        Self { client: client.into(), url }
    }

    /// Sends messages as JSON, each delivered after `delay`.
    async fn send_all<T: Serialize>(&self, messages: &[T], delay: Duration) -> Result<(), StoreError> {
        let delay = i32::try_from(delay.min(MAX_DELAY).as_secs()).unwrap_or(0);
        for chunk in messages.chunks(MAX_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, message) in chunk.iter().enumerate() {
                let body = serde_json::to_string(message).map_err(|e| failure("encode", e))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .delay_seconds(delay)
                        .build()
                        .map_err(|e| failure("build message", e))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| failure("send messages", DisplayErrorContext(e)))?;
            if let Some(failed) = out.failed.first() {
                return Err(failure("send messages", failed.message.as_deref().unwrap_or(&failed.code)));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SyncQueue for SqsQueue {
    async fn send(&self, messages: &[SyncMessage], delay: Duration) -> Result<(), StoreError> {
        self.send_all(messages, delay).await
    }
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), StoreError> {
        self.send_all(messages, Duration::ZERO).await
    }

    async fn postpone(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        let seconds = i32::try_from(delay.min(MAX_VISIBILITY).as_secs()).unwrap_or(0);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failure("change visibility", DisplayErrorContext(e)))
    }
}
