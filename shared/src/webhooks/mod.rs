//! Webhooks: endpoints users configure (`WebhookService`), the fan-out of events into deliveries
//! (`Fanout`), the attempts that sign and send them (`Dispatcher`), and the verifier users run
//! on their side (`Verifier`). Storage, the queue and HTTP are reached through `ports` only.

mod address;
mod dispatch;
mod fanout;
mod model;
mod retry;
mod signature;

pub use address::{AddressPolicy, Refused};
pub use dispatch::{Dispatcher, Receipt, Undelivered};
pub use fanout::Fanout;
pub use model::{
    Attempt, DELIVERY_PREFIX, Delivery, DeliveryMessage, DeliveryStatus, ENDPOINT_PREFIX, Endpoint, EndpointStatus,
    SecretSet, secret_name,
};
pub use retry::MAX_ATTEMPTS;
pub use signature::{Secret, TOLERANCE_SECONDS, Verifier, VerifyError};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;

use crate::{
    error::{ApiError, ErrorCode},
    events::EventType,
    patch::present,
    ports::{DeliveryQueue, SecretStore, StoreError, WebhookStore},
};

/// How long the secret before a rotation keeps signing.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// The longest description kept.
const MAX_DESCRIPTION: usize = 500;
/// The longest URL accepted.
const MAX_URL: usize = 2048;
/// Endpoints per account: every event is fanned out to each, so their number is bounded.
pub const MAX_ENDPOINTS: usize = 16;

/// Body of `POST /v1/webhook-endpoints`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where deliveries go.
    pub url: String,
    /// Event types to receive; every type when omitted or null.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// A note.
    #[serde(default)]
    pub description: Option<String>,
    /// The one connection whose events the endpoint receives; every connection's when omitted.
    #[serde(default, rename = "connectionId")]
    pub connection_id: Option<String>,
}

/// Body of `PATCH /v1/webhook-endpoints/{id}`: what is present changes, `null` clears.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    /// A new URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New event types; `null` subscribes to every type.
    #[serde(default, deserialize_with = "present")]
    pub events: Option<Option<Vec<String>>>,
    /// A new note; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// `enabled` or `disabled` (enabling clears the reason it was disabled).
    #[serde(default)]
    pub status: Option<EndpointStatus>,
}

/// The endpoint operations of the API.
#[derive(Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    secrets: Arc<dyn SecretStore>,
    queue: Arc<dyn DeliveryQueue>,
    policy: AddressPolicy,
}

fn storage(e: StoreError) -> ApiError {
    ApiError::from_store(e, "webhook endpoint")
}

/// The 400 when the account has `MAX_ENDPOINTS` endpoints already; it names `field`.
fn no_room(field: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("An account has at most {MAX_ENDPOINTS} webhook endpoints; delete one first."),
    )
    .with_field(field, "no room for another endpoint")
}

/// How often a change to an endpoint is read and made again when another change came between.
const TRIES: usize = 3;

impl WebhookService {
    /// Wires the service to its ports, with the address rules in force.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        secrets: Arc<dyn SecretStore>,
        queue: Arc<dyn DeliveryQueue>,
        policy: AddressPolicy,
    ) -> Self {
        Self { store, secrets, queue, policy }
    }

    /// Checks a URL against the address rules (resolving its host).
    async fn url(&self, url: &str) -> Result<String, ApiError> {
        if url.len() > MAX_URL {
            return Err(ApiError::invalid_field("url", format!("at most {MAX_URL} characters")));
        }
        self.policy
            .check(url)
            .await
            .map(|u| u.to_string())
            .map_err(|refused| ApiError::invalid_field("url", format!("the URL {refused}")))
    }

    /// Checks a URL against the address rules; errors name `field`.
    pub async fn check_url(&self, url: &str, field: &str) -> Result<String, ApiError> {
        self.url(url).await.map_err(|mut e| {
            e.details.iter_mut().for_each(|d| d.field = Some(field.to_owned()));
            e
        })
    }

    /// Whether the account may add an endpoint at this URL: the address rules, and room under
    /// the account's limit. Errors name `field`.
    async fn check_new(&self, account_id: &str, url: &str, field: &str) -> Result<String, ApiError> {
        let url = self.check_url(url, field).await?;
        let (existing, _) = self.store.endpoints(account_id, None, MAX_ENDPOINTS).await.map_err(storage)?;
        if existing.len() >= MAX_ENDPOINTS {
            return Err(no_room(field));
        }
        Ok(url)
    }

    /// Creates an endpoint; answers it with its secret, shown this once. An endpoint for one
    /// connection must name one of the account's (the caller checks).
    pub async fn create(&self, account_id: &str, request: CreateEndpoint) -> Result<(Endpoint, Secret), ApiError> {
        self.make(account_id, request, "url").await
    }

    /// `create`, with errors about the URL naming `field`.
    async fn make(
        &self,
        account_id: &str,
        request: CreateEndpoint,
        field: &str,
    ) -> Result<(Endpoint, Secret), ApiError> {
        let url = self.check_new(account_id, &request.url, field).await?;
        let events = request.events.map(|e| event_types(&e)).transpose()?;
        let now = Utc::now();
        let endpoint = Endpoint {
            id: format!("{ENDPOINT_PREFIX}{}", ulid::Ulid::new().to_string().to_lowercase()),
            account_id: account_id.to_owned(),
            url,
            description: description(request.description)?,
            events,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            secret_version: 1,
            previous_secret_expires_at: None,
            connection_id: request.connection_id,
        };
        let secret = Secret::generate();
        let set = SecretSet { current: secret.expose(), previous: None, previous_expires_at: None };
        let name = secret_name(account_id, &endpoint.id);
        self.secrets.put(&name, &serialize(&set)?).await.map_err(storage)?;
        if let Err(e) = self.store.create_endpoint(&endpoint, MAX_ENDPOINTS).await {
            if let Err(cleanup) = self.secrets.delete(&name).await {
                tracing::error!(error = %cleanup, endpoint = %endpoint.id, "could not delete an orphaned signing secret");
            }
            return Err(match e {
                // Another create took the last place meanwhile.
                StoreError::Conflict(_) => no_room(field),
                other => storage(other),
            });
        }
        tracing::info!(endpoint = %endpoint.id, "webhook endpoint created");
        Ok((endpoint, secret))
    }

    /// Points a connection's own endpoint at `url` — making it (with a new secret, answered this
    /// once) when the connection has none — or, with no URL, deletes it. Answers the endpoint,
    /// if one remains. Errors name `webhookUrl`.
    pub async fn for_connection(
        &self,
        account_id: &str,
        connection_id: &str,
        url: Option<String>,
    ) -> Result<Option<(Endpoint, Option<Secret>)>, ApiError> {
        let (endpoints, _) = self.store.endpoints(account_id, None, MAX_ENDPOINTS).await.map_err(storage)?;
        let existing = endpoints.into_iter().find(|e| e.connection_id.as_deref() == Some(connection_id));
        match (existing, url) {
            (None, None) => Ok(None),
            (Some(endpoint), None) => self.delete(account_id, &endpoint.id).await.map(|_| None),
            (Some(endpoint), Some(url)) => {
                self.check_url(&url, "webhookUrl").await?;
                let change = UpdateEndpoint { url: Some(url), ..Default::default() };
                Ok(Some((self.update(account_id, &endpoint.id, change).await?, None)))
            }
            (None, Some(url)) => {
                let request = CreateEndpoint {
                    url,
                    events: None,
                    description: Some(format!("Events of {connection_id}")),
                    connection_id: Some(connection_id.to_owned()),
                };
                let (endpoint, secret) = self.make(account_id, request, "webhookUrl").await?;
                Ok(Some((endpoint, Some(secret))))
            }
        }
    }

    /// One endpoint of the account; another account's is a 404.
    pub async fn get(&self, account_id: &str, id: &str) -> Result<Endpoint, ApiError> {
        if !id.starts_with(ENDPOINT_PREFIX) {
            return Err(ApiError::not_found("webhook endpoint"));
        }
        self.store
            .endpoint(account_id, id)
            .await
            .map_err(storage)?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))
    }

    /// A page of the account's endpoints and the position after it.
    pub async fn list(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, Option<String>), ApiError> {
        self.store.endpoints(account_id, after, limit).await.map_err(storage)
    }

    /// Changes what the request names, on the endpoint as it is: a change that came between
    /// (a rotation, a 410 that disabled it) is read again, never written over.
    pub async fn update(&self, account_id: &str, id: &str, request: UpdateEndpoint) -> Result<Endpoint, ApiError> {
        let url = match &request.url {
            Some(url) => Some(self.url(url).await?),
            None => None,
        };
        let events = request.events.map(|e| e.map(|e| event_types(&e)).transpose()).transpose()?;
        let text = request.description.map(description).transpose()?;
        self.change(account_id, id, |endpoint| {
            if let Some(url) = &url {
                endpoint.url = url.clone();
            }
            if let Some(events) = &events {
                endpoint.events = events.clone();
            }
            if let Some(text) = &text {
                endpoint.description = text.clone();
            }
            if let Some(status) = request.status {
                endpoint.status = status;
                if status == EndpointStatus::Enabled {
                    endpoint.disabled_reason = None;
                } else if endpoint.disabled_reason.is_none() {
                    endpoint.disabled_reason = Some("Disabled through the API.".into());
                }
            }
        })
        .await
    }

    /// Reads the endpoint, applies `edit` and stores it if nothing changed it meanwhile; reads
    /// it again and repeats otherwise.
    async fn change(&self, account_id: &str, id: &str, edit: impl Fn(&mut Endpoint)) -> Result<Endpoint, ApiError> {
        for _ in 0..TRIES {
            let mut endpoint = self.get(account_id, id).await?;
            let read = endpoint.updated_at;
            edit(&mut endpoint);
            endpoint.updated_at = Utc::now().max(read + chrono::Duration::microseconds(1));
            match self.store.update_endpoint(&endpoint, read).await {
                Ok(()) => return Ok(endpoint),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(storage(e)),
            }
        }
        Err(ApiError::new(ErrorCode::Conflict, "The endpoint kept changing while this change was made; retry."))
    }

    /// Deletes an endpoint and its secret; its pending deliveries fail at their next attempt.
    pub async fn delete(&self, account_id: &str, id: &str) -> Result<Endpoint, ApiError> {
        let endpoint = self.get(account_id, id).await?;
        self.store.delete_endpoint(account_id, id).await.map_err(storage)?;
        if let Err(e) = self.secrets.delete(&secret_name(account_id, id)).await {
            tracing::error!(error = %e, endpoint = %id, "could not delete the endpoint's signing secret");
        }
        Ok(endpoint)
    }

    /// A new secret; the current one keeps signing beside it for 24 hours. Answers the
    /// endpoint and the new secret, shown this once.
    pub async fn rotate(&self, account_id: &str, id: &str) -> Result<(Endpoint, Secret), ApiError> {
        self.get(account_id, id).await?;
        let name = secret_name(account_id, id);
        let current = self.secrets.get(&name).await.map_err(storage)?.ok_or_else(ApiError::internal)?;
        let current: SecretSet = serde_json::from_str(&current).map_err(|e| {
            tracing::error!(error = %e, endpoint = %id, "unreadable signing secret");
            ApiError::internal()
        })?;
        let now = Utc::now();
        let until: DateTime<Utc> = now + ROTATION_OVERLAP;
        let secret = Secret::generate();
        let set =
            SecretSet { current: secret.expose(), previous: Some(current.current), previous_expires_at: Some(until) };
        self.secrets.replace(&name, &serialize(&set)?).await.map_err(storage)?;
        // A new version, so deliveries drop the secret they hold, on the endpoint as it is now.
        let endpoint = self
            .change(account_id, id, |endpoint| {
                endpoint.secret_version += 1;
                endpoint.previous_secret_expires_at = Some(until);
            })
            .await?;
        tracing::info!(endpoint = %id, "webhook secret rotated");
        Ok((endpoint, secret))
    }

    /// A page of an endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        account_id: &str,
        endpoint_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), ApiError> {
        self.get(account_id, endpoint_id).await?;
        self.store.deliveries(endpoint_id, after, limit).await.map_err(storage)
    }

    /// Queues a delivery of the account for a new round of attempts, unless one is going on
    /// (409: it is still pending).
    pub async fn redeliver(&self, account_id: &str, id: &str) -> Result<Delivery, ApiError> {
        let not_found = || ApiError::not_found("webhook delivery");
        if !id.starts_with(DELIVERY_PREFIX) {
            return Err(not_found());
        }
        let mut delivery = self
            .store
            .delivery(id)
            .await
            .map_err(storage)?
            .filter(|d| d.account_id == account_id)
            .ok_or_else(not_found)?;
        let now = Utc::now();
        match self.store.restart_delivery(id, now).await {
            Ok(()) => {}
            // Only one round at a time: a second would send the delivery twice as often.
            Err(StoreError::Conflict(_)) => {
                let next = delivery.next_attempt_at.map_or_else(|| "soon".to_owned(), |t| t.to_rfc3339());
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("The delivery is still being attempted; its next attempt is due {next}."),
                ));
            }
            Err(e) => return Err(storage(e)),
        }
        self.queue.send(&[DeliveryMessage { delivery_id: id.to_owned() }]).await.map_err(storage)?;
        delivery.status = DeliveryStatus::Pending;
        delivery.next_attempt_at = Some(now);
        delivery.round_attempts = 0;
        Ok(delivery)
    }
}

/// Event type names as types; the error names the entry that is wrong.
fn event_types(names: &[String]) -> Result<Vec<EventType>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::invalid_field("events", "name at least one event type, or leave it out for all"));
    }
    let mut types = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let t = EventType::parse(name).ok_or_else(|| {
            let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            ApiError::invalid_field(
                format!("events[{i}]"),
                format!("unknown event type \"{name}\"; one of {}", known.join(", ")),
            )
        })?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    Ok(types)
}

fn description(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(t) if t.chars().count() > MAX_DESCRIPTION => {
            Err(ApiError::invalid_field("description", format!("at most {MAX_DESCRIPTION} characters")))
        }
        other => Ok(other),
    }
}

fn serialize(set: &SecretSet) -> Result<String, ApiError> {
    serde_json::to_string(set).map_err(|_| ApiError::internal())
}
