//! Turns an event into one delivery per subscribed endpoint and queues them. Runs on the events
//! table's stream, so every committed event is fanned out, and fanning one out again (a retried
//! stream batch) makes no second delivery.

use chrono::Utc;
use std::sync::Arc;

use super::model::{Delivery, DeliveryMessage};
use crate::{
    events::Event,
    page::MAX_LIMIT,
    ports::{DeliveryQueue, StoreError, WebhookStore},
};

/// The fan-out step.
#[derive(Clone)]
pub struct Fanout {
    store: Arc<dyn WebhookStore>,
    queue: Arc<dyn DeliveryQueue>,
}

impl Fanout {
    /// Wires the step to its ports.
    pub fn new(store: Arc<dyn WebhookStore>, queue: Arc<dyn DeliveryQueue>) -> Self {
        Self { store, queue }
    }

    /// Makes and queues the event's deliveries; answers how many were queued.
    pub async fn handle(&self, event: &Event) -> Result<usize, StoreError> {
        let now = Utc::now();
        let mut deliveries = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.store.endpoints(&event.account_id, after.as_deref(), MAX_LIMIT).await?;
            deliveries.extend(page.iter().filter(|e| e.wants(event)).map(|e| Delivery::new(event, e, now)));
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        if deliveries.is_empty() {
            return Ok(0);
        }
        let queued = self.store.add_deliveries(&deliveries).await?;
        let messages: Vec<DeliveryMessage> =
            queued.iter().map(|d| DeliveryMessage { delivery_id: d.id.clone() }).collect();
        self.queue.send(&messages).await?;
        tracing::info!(event = %event.id, kind = event.kind.as_str(), deliveries = messages.len(), "event fanned out");
        Ok(messages.len())
    }
}
