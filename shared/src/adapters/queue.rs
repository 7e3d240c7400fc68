//! `SyncQueue` on SQS: JSON messages, ten per SendMessageBatch call.

use async_trait::async_trait;
use aws_sdk_sqs::{Client, error::DisplayErrorContext, types::SendMessageBatchRequestEntry};
use std::time::Duration;

use crate::{
    ports::{StoreError, SyncQueue},
    sync::SyncMessage,
};

/// The most entries one SendMessageBatch takes.
const MAX_BATCH: usize = 10;
/// The longest delay SQS allows.
const MAX_DELAY: Duration = Duration::from_secs(900);

/// The sync queue.
pub struct SqsSyncQueue {
    client: Client,
    url: String,
}

impl SqsSyncQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: String) -> Self {
        Self { client, url }
    }
}

#[async_trait]
impl SyncQueue for SqsSyncQueue {
    async fn send(&self, messages: &[SyncMessage], delay: Duration) -> Result<(), StoreError> {
        let delay = i32::try_from(delay.min(MAX_DELAY).as_secs()).unwrap_or(0);
        for chunk in messages.chunks(MAX_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, message) in chunk.iter().enumerate() {
                let body = serde_json::to_string(message).map_err(|e| StoreError::Backend(format!("encode: {e}")))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .delay_seconds(delay)
                        .build()
                        .map_err(|e| StoreError::Backend(format!("build message: {e}")))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| StoreError::Backend(format!("send messages: {}", DisplayErrorContext(e))))?;
            if let Some(failed) = out.failed.first() {
                return Err(StoreError::Backend(format!(
                    "send messages: {}",
                    failed.message.as_deref().unwrap_or(&failed.code)
                )));
            }
        }
        Ok(())
    }
}
