//! What webhooks are made of: endpoints, the secrets that sign for them, deliveries with every
//! attempt, and the messages on the delivery queue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::signature::Secret;
use crate::events::{Event, EventType};

/// Every endpoint id starts with this.
pub const ENDPOINT_PREFIX: &str = "we_";
/// Every delivery id starts with this.
pub const DELIVERY_PREFIX: &str = "whd_";

/// Whether an endpoint gets deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// It does.
    Enabled,
    /// It does not: the user turned it off, or it answered 410 Gone.
    Disabled,
}

/// A URL of the user's that hears about events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `we_…`
    pub id: String,
    /// The owning account.
    pub account_id: String,
    /// Where deliveries go.
    pub url: String,
    /// The user's note.
    pub description: Option<String>,
    /// The event types it receives; none means every type.
    pub events: Option<Vec<EventType>>,
    /// Enabled or disabled.
    pub status: EndpointStatus,
    /// Why it was disabled, when it was.
    pub disabled_reason: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Bumped by every rotation: deliveries know when a cached secret is stale.
    pub secret_version: u32,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The one connection whose events it receives; none for every connection of the account.
    #[serde(default)]
    pub connection_id: Option<String>,
}

impl Endpoint {
    /// Whether it takes a delivery of this event now: enabled, subscribed to its type, and for
    /// its connection when the endpoint is one connection's.
    pub fn wants(&self, event: &Event) -> bool {
        self.status == EndpointStatus::Enabled
            && self.events.as_ref().is_none_or(|e| e.contains(&event.kind))
            && self.connection_id.as_ref().is_none_or(|c| *c == event.connection_id)
    }

    /// The endpoint and its new signing secret, as the API shows them this once.
    pub fn with_secret(&self, secret: &Secret) -> Value {
        json!({"webhookEndpoint": self.view(), "secret": secret.expose()})
    }

    /// The endpoint as the API shows it.
    pub fn view(&self) -> Value {
        let events: Vec<&str> = match &self.events {
            Some(e) => e.iter().map(|t| t.as_str()).collect(),
            None => EventType::ALL.iter().map(|t| t.as_str()).collect(),
        };
        json!({
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "events": events,
            "allEvents": self.events.is_none(),
            "status": self.status,
            "disabledReason": self.disabled_reason,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "previousSecretExpiresAt": self.previous_secret_expires_at,
            "connectionId": self.connection_id,
        })
    }
}

/// The name of the secret that holds an endpoint's signing secrets.
pub fn secret_name(account_id: &str, endpoint_id: &str) -> String {
    format!("webhooks/{account_id}/{endpoint_id}/signing")
}

/// An endpoint's signing secrets as stored: the current one, and the one it replaced while that
/// one still signs.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSet {
    /// `whsec_…` that signs every delivery.
    pub current: String,
    /// The secret before the last rotation.
    pub previous: Option<String>,
    /// When the previous one stops signing.
    pub previous_expires_at: Option<DateTime<Utc>>,
}

/// Never printed: only whether a previous secret still signs, and until when.
impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSet")
            .field("current", &"<redacted>")
            .field("previous", &self.previous.as_ref().map(|_| "<redacted>"))
            .field("previous_expires_at", &self.previous_expires_at)
            .finish()
    }
}

impl SecretSet {
    /// The secrets that sign at `now`, current first.
    pub fn live(&self, now: DateTime<Utc>) -> Vec<Secret> {
        let previous = match (&self.previous, self.previous_expires_at) {
            (Some(p), Some(until)) if now < until => Some(p.as_str()),
            _ => None,
        };
        std::iter::once(self.current.as_str()).chain(previous).filter_map(|s| Secret::parse(s).ok()).collect()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet accepted; more attempts will come.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Out of attempts, answered 410, or its endpoint is gone or disabled.
    Failed,
}

/// One try to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The HTTP status answered; none when no answer came.
    pub status_code: Option<u16>,
    /// Time until the answer (or the failure).
    pub latency_ms: u64,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the endpoint accepted it.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// `whd_…`, derived from the event and the endpoint, so fanning an event out twice makes
    /// no second delivery.
    pub id: String,
    /// The owning account.
    pub account_id: String,
    /// Where it goes.
    pub endpoint_id: String,
    /// What it carries.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The event's connection.
    pub connection_id: String,
    /// The body, exactly as every attempt sends it.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Every attempt, oldest first.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the next attempt is due, while one is.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Attempts of the current round (since it was made or last redelivered): which attempt of
    /// the retry schedule comes next, however often the queue handed its message out.
    #[serde(default)]
    pub round_attempts: u32,
}

impl Delivery {
    /// The delivery of an event to an endpoint, not yet attempted.
    pub fn new(event: &Event, endpoint: &Endpoint, now: DateTime<Utc>) -> Self {
        Self {
            id: delivery_id(event, &endpoint.id),
            account_id: event.account_id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_id: event.id.clone(),
            event_type: event.kind,
            connection_id: event.connection_id.clone(),
            payload: event.body(),
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            created_at: now,
            updated_at: now,
            next_attempt_at: Some(now),
            round_attempts: 0,
        }
    }

    /// The delivery as the API shows it (the payload as JSON).
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "endpointId": self.endpoint_id,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "connectionId": self.connection_id,
            "status": self.status,
            "attempts": self.attempts,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "nextAttemptAt": self.next_attempt_at,
            "payload": serde_json::from_str::<Value>(&self.payload).unwrap_or(Value::Null),
        })
    }
}

/// A ULID with the event's time (so deliveries list in event order) and randomness taken from a
/// hash of the event and endpoint ids (so it is the same every time it is derived).
fn delivery_id(event: &Event, endpoint_id: &str) -> String {
    let millis = event
        .id
        .strip_prefix("evt_")
        .and_then(|u| ulid::Ulid::from_string(&u.to_uppercase()).ok())
        .map_or_else(|| u64::try_from(event.created_at.timestamp_millis()).unwrap_or(0), |u| u.timestamp_ms());
    let digest = Sha256::new().chain_update(&event.id).chain_update(b"/").chain_update(endpoint_id).finalize();
    let mut random = [0u8; 16];
    random.copy_from_slice(&digest[..16]);
    let id = ulid::Ulid::from_parts(millis, u128::from_be_bytes(random));
    format!("{DELIVERY_PREFIX}{}", id.to_string().to_lowercase())
}

/// Work on the delivery queue: attempt this delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    /// The delivery to attempt.
    pub delivery_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, events: Option<Vec<EventType>>) -> Endpoint {
        let now = Utc::now();
        Endpoint {
            id: id.into(),
            account_id: "acct_1".into(),
            url: "https://example.com/hook".into(),
            description: None,
            events,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            secret_version: 1,
            previous_secret_expires_at: None,
            connection_id: None,
        }
    }

    #[test]
    fn delivery_ids_are_stable_per_event_and_endpoint_and_ordered_by_event() {
        let at = Utc::now();
        let first = Event::at("acct_1", "conn_1", EventType::SyncCompleted, json!({}), at);
        let later = at + chrono::Duration::milliseconds(1);
        let second = Event::at("acct_1", "conn_1", EventType::SyncCompleted, json!({}), later);
        let (a, b) = (endpoint("we_a", None), endpoint("we_b", None));
        let now = Utc::now();
        assert_eq!(Delivery::new(&first, &a, now).id, Delivery::new(&first, &a, now).id);
        assert_ne!(Delivery::new(&first, &a, now).id, Delivery::new(&first, &b, now).id);
        assert!(Delivery::new(&first, &b, now).id < Delivery::new(&second, &a, now).id);
    }

    #[test]
    fn filters_status_and_connection_decide_what_an_endpoint_wants() {
        let event = |kind, connection: &str| Event::at("acct_1", connection, kind, json!({}), Utc::now());
        let (completed, failed) = (event(EventType::SyncCompleted, "conn_1"), event(EventType::SyncFailed, "conn_1"));
        let all = endpoint("we_a", None);
        assert!(EventType::ALL.iter().all(|t| all.wants(&event(*t, "conn_1"))));
        let syncs = endpoint("we_b", Some(vec![EventType::SyncCompleted]));
        assert!(syncs.wants(&completed) && !syncs.wants(&failed));
        let mut off = all.clone();
        off.status = EndpointStatus::Disabled;
        assert!(!off.wants(&completed));
        let mut one = all.clone();
        one.connection_id = Some("conn_1".into());
        assert!(one.wants(&completed) && !one.wants(&event(EventType::SyncCompleted, "conn_2")));
    }

    #[test]
    fn the_previous_secret_signs_until_it_expires() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let now = Utc::now();
        let set = SecretSet {
            current: new.expose(),
            previous: Some(old.expose()),
            previous_expires_at: Some(now + chrono::Duration::hours(24)),
        };
        assert_eq!(set.live(now), vec![new.clone(), old]);
        assert_eq!(set.live(now + chrono::Duration::hours(25)), vec![new]);
    }
}
