//! One delivery attempt: sign the stored body with the endpoint's live secrets, POST it, log the
//! attempt, and decide what comes next — done on 2xx, endpoint disabled on 410, otherwise the
//! message is hidden on the queue until the next attempt of the retry schedule is due; after
//! the last one the delivery is failed and its message done with. Attempts are counted on the
//! delivery, so a message the queue hands out again without an attempt costs none; only
//! messages that cannot be handled at all reach the dead-letter queue.

use chrono::Utc;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    model::{Attempt, Delivery, DeliveryMessage, DeliveryStatus, Endpoint, EndpointStatus, SecretSet, secret_name},
    retry,
    signature::signature_header,
};
use crate::ports::{DeliveryQueue, SecretStore, StoreError, WebhookStore, WebhookTransport};

/// The queue's record of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The handle that changes the message's visibility.
    pub handle: String,
}

/// Why a message stays on the queue.
#[derive(Debug, thiserror::Error)]
pub enum Undelivered {
    /// The endpoint did not accept it; the next attempt is due after the wait.
    #[error("attempt {attempt} failed; next in {wait:?}")]
    Retrying {
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        wait: Duration,
    },
    /// Storage failed; the message comes back after the visibility timeout.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends deliveries.
pub struct Dispatcher {
    store: Arc<dyn WebhookStore>,
    secrets: Arc<dyn SecretStore>,
    transport: Arc<dyn WebhookTransport>,
    queue: Arc<dyn DeliveryQueue>,
    /// Signing secrets by endpoint, with the secret version they belong to.
    cache: Mutex<HashMap<String, (u32, SecretSet)>>,
}

impl Dispatcher {
    /// Wires the dispatcher to its ports.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        secrets: Arc<dyn SecretStore>,
        transport: Arc<dyn WebhookTransport>,
        queue: Arc<dyn DeliveryQueue>,
    ) -> Self {
        Self { store, secrets, transport, queue, cache: Mutex::new(HashMap::new()) }
    }

    /// Makes the attempt a received message asks for. `Ok` means the message is done with.
    pub async fn handle(&self, message: &DeliveryMessage, receipt: &Receipt) -> Result<(), Undelivered> {
        let Some(delivery) = self.store.delivery(&message.delivery_id).await? else {
            tracing::warn!(delivery = %message.delivery_id, "no such delivery; message dropped");
            return Ok(());
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(()); // delivered (or given up) by an earlier copy of the message
        }
        let endpoint = match self.store.endpoint(&delivery.account_id, &delivery.endpoint_id).await? {
            Some(e) if e.status == EndpointStatus::Enabled => e,
            _ => {
                self.store.update_delivery(&delivery.id, DeliveryStatus::Failed, None, None).await?;
                tracing::info!(delivery = %delivery.id, "endpoint deleted or disabled; delivery failed");
                return Ok(());
            }
        };
        let attempt = self.attempt(&delivery, &endpoint).await?;
        // Counted on the delivery: a message handed out again without an attempt (its handler
        // was stopped) moves the schedule on by nothing.
        let number = delivery.round_attempts + 1;
        match attempt.status_code {
            _ if attempt.succeeded() => {
                self.store.update_delivery(&delivery.id, DeliveryStatus::Succeeded, Some(&attempt), None).await?;
                Ok(())
            }
            Some(410) => {
                self.store.update_delivery(&delivery.id, DeliveryStatus::Failed, Some(&attempt), None).await?;
                let reason = "The endpoint answered 410 Gone.";
                self.store.disable_endpoint(&endpoint.account_id, &endpoint.id, reason, attempt.at).await?;
                tracing::info!(endpoint = %endpoint.id, "endpoint answered 410; disabled");
                Ok(())
            }
            _ => match retry::wait_after(number, retry::jitter()) {
                Some(wait) => {
                    let next = attempt.at + chrono::Duration::from_std(wait).unwrap_or_default();
                    self.store
                        .update_delivery(&delivery.id, DeliveryStatus::Pending, Some(&attempt), Some(next))
                        .await?;
                    self.queue.postpone(&receipt.handle, wait).await?;
                    Err(Undelivered::Retrying { attempt: number, wait })
                }
                None => {
                    self.store.update_delivery(&delivery.id, DeliveryStatus::Failed, Some(&attempt), None).await?;
                    tracing::warn!(delivery = %delivery.id, attempts = number, "every attempt of the schedule failed; delivery failed");
                    Ok(())
                }
            },
        }
    }

    /// Signs and sends the delivery once; the attempt as logged.
    async fn attempt(&self, delivery: &Delivery, endpoint: &Endpoint) -> Result<Attempt, StoreError> {
        let at = Utc::now();
        let secrets = self.secrets(endpoint).await?.live(at);
        let timestamp = at.timestamp();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("user-agent", "Millwright-Webhooks/1".to_owned()),
            ("webhook-id", delivery.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                signature_header(&secrets, &delivery.event_id, timestamp, delivery.payload.as_bytes()),
            ),
        ];
        let started = Instant::now();
        let result = self.transport.post(&endpoint.url, &headers, &delivery.payload).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status_code, error) = match result {
            Ok(code) if (200..300).contains(&code) => (Some(code), None),
            Ok(code) => (Some(code), Some(format!("the endpoint answered {code}"))),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(Attempt { at, status_code, latency_ms, error })
    }

    /// The endpoint's signing secrets, read once per secret version.
    async fn secrets(&self, endpoint: &Endpoint) -> Result<SecretSet, StoreError> {
        if let Some((version, set)) = self.cache.lock().expect("secret cache").get(&endpoint.id)
            && *version == endpoint.secret_version
        {
            return Ok(set.clone());
        }
        let text = self
            .secrets
            .get(&secret_name(&endpoint.account_id, &endpoint.id))
            .await?
            .ok_or_else(|| StoreError::Backend(format!("endpoint {} has no signing secret", endpoint.id)))?;
        let set: SecretSet =
            serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("signing secret: {e}")))?;
        self.cache.lock().expect("secret cache").insert(endpoint.id.clone(), (endpoint.secret_version, set.clone()));
        Ok(set)
    }
}
