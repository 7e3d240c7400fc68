//! Data calls of one connection: reads (from the synced copy, or live where the system is the
//! sandbox), and writes that are checked against the system's capabilities before the system is
//! called and made idempotent with `Idempotency-Key`.

use chrono::Utc;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::{
    capabilities::{Capabilities, EntityCapabilities, Operation},
    catalog,
    connections::credentials,
    connectors::{Connector, ConnectorError, Connectors, Credentials, ListQuery, Page, watching_writes},
    deadline,
    entities::{Entity, Record},
    error::{ApiError, ErrorCode},
    idempotency::{self, Begun},
    ports::{ConnectionStore, IdempotencyStore, InFlight, Place, RecordStore, SecretStore, StoreError},
    sync::{StoredRecord, partition},
    turns,
};

/// The connection a data call acts for, as its token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The owning account.
    pub account_id: &'a str,
    /// The connection.
    pub connection_id: &'a str,
    /// Its system.
    pub system: &'a str,
}

/// A write to a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// `POST /v1/{entity}`
    Create(Record),
    /// `PATCH /v1/{entity}/{key}`
    Update(String, Record),
    /// `PUT /v1/{entity}/{key}/status`
    ChangeStatus(String, String),
    /// `DELETE /v1/{entity}/{key}`
    Delete(String),
}

impl Write {
    /// What a retry must repeat exactly for the same idempotency key.
    fn fingerprint(&self, entity: Entity) -> String {
        let canonical = match self {
            Write::Create(body) => json!(["create", entity.path(), body]),
            Write::Update(key, patch) => json!(["update", entity.path(), key, patch]),
            Write::ChangeStatus(key, status) => json!(["status", entity.path(), key, status]),
            Write::Delete(key) => json!(["delete", entity.path(), key]),
        };
        idempotency::fingerprint(&canonical)
    }
}

/// Turns what a connector reports into the API's error.
pub fn connector_error(system: &str, e: ConnectorError) -> ApiError {
    let name = catalog::find(system).map_or(system.to_owned(), |s| s.name.to_owned());
    match e {
        ConnectorError::Rejected(reason) => {
            ApiError::new(ErrorCode::InvalidCredentials, format!("{name} refused the credentials.")).with_detail(reason)
        }
        ConnectorError::Forbidden(reason) => ApiError::new(
            ErrorCode::PermissionDenied,
            format!("{name} does not let the connection's user do this; its administrator must grant it."),
        )
        .with_detail(reason),
        // Credentials the connector can tell are unusable before asking the system.
        ConnectorError::Rule { code: ErrorCode::InvalidCredentials, message, field } => {
            let err = ApiError::new(
                ErrorCode::InvalidCredentials,
                format!("{name} cannot be connected with these credentials."),
            );
            match field {
                Some(f) => err.with_field(f, message),
                None => err.with_detail(message),
            }
        }
        ConnectorError::Rule { code, message, field } => {
            let err = ApiError::new(code, format!("{name} refused the change: {message}."));
            match field {
                Some(f) => err.with_field(f, message),
                None => err.with_detail(message),
            }
        }
        ConnectorError::NotFound => ApiError::new(ErrorCode::NotFound, format!("{name} has no such record.")),
        ConnectorError::Unsupported => {
            ApiError::new(ErrorCode::OperationNotSupported, format!("{name} does not support this operation."))
        }
        ConnectorError::Upstream(reason) => {
            ApiError::new(ErrorCode::UpstreamError, format!("{name} failed.")).with_detail(reason)
        }
        ConnectorError::Timeout => ApiError::new(ErrorCode::UpstreamTimeout, format!("{name} did not answer in time.")),
        ConnectorError::Unknown { reason, timed_out } => {
            let code = if timed_out { ErrorCode::UpstreamTimeout } else { ErrorCode::UpstreamError };
            let mut err = ApiError::new(
                code,
                format!(
                    "{name} got the write but gave no clear answer; it may have been carried out. Read the \
                     record before you write it again."
                ),
            )
            .with_detail(reason);
            err.outcome_unknown = true;
            err
        }
        ConnectorError::Unavailable { reason, retry_after } => {
            let err =
                ApiError::new(ErrorCode::SystemUnavailable, format!("{name} is unavailable for now; retry later."))
                    .with_detail(reason);
            match retry_after {
                Some(wait) => err.with_retry_after(wait.as_secs().max(1)),
                None => err,
            }
        }
    }
}

/// The record a write of unknown outcome was to change, when reading it back shows the change
/// made: an update's fields as sent, a status change's new status, a create's record found by the
/// reference it carried (where the system keeps one). None otherwise (and for a delete), leaving
/// the outcome unknown.
async fn read_back(
    connector: &dyn Connector,
    credentials: &Credentials,
    entity: Entity,
    write: &Write,
    reference: Option<&str>,
) -> Option<Record> {
    let key = match (write, reference) {
        (Write::Update(key, _) | Write::ChangeStatus(key, _), _) => key,
        // A create is found by the reference it carried, where the system keeps one.
        (Write::Create(_), Some(reference)) => return connector.created(credentials, entity, reference).await.ok()?,
        (Write::Create(_), None) | (Write::Delete(_), _) => return None,
    };
    let record = connector.get(credentials, entity, key).await.ok()??;
    let done = match write {
        Write::Update(_, patch) => patch.iter().all(|(field, value)| record.get(field) == Some(value)),
        Write::ChangeStatus(_, to) => record.get("statusKey").and_then(Value::as_str) == Some(to.as_str()),
        Write::Create(_) | Write::Delete(_) => false,
    };
    done.then_some(record)
}

/// The reference a create with an Idempotency-Key carries into the system: 12 characters (what
/// SAP's "Your Reference" holds), the same for the same connection and key.
fn reference(connection_id: &str, key: &str) -> String {
    let digest = idempotency::fingerprint(&json!([connection_id, key]));
    format!("MW{}", digest[..10].to_uppercase())
}

fn storage(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "record or idempotency store failed");
    ApiError::internal()
}

/// How long a write to a system that limits calls at once waits for its turn.
const TURN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// A place among the connection's calls in flight for a write, waited for up to `patience`
/// within the request's time; 503 with `Retry-After` when every place stays held.
async fn place(
    in_flight: &dyn InFlight,
    target: Target<'_>,
    places: u32,
    patience: std::time::Duration,
) -> Result<Place, ApiError> {
    let left = deadline::remaining();
    let until =
        Utc::now() + left.and_then(|d| chrono::Duration::from_std(d).ok()).unwrap_or(chrono::Duration::seconds(30));
    let patience = left.map_or(patience, |l| (l / 4).min(patience));
    let taken = turns::take(in_flight, target.connection_id, places, until, patience).await.map_err(storage)?;
    taken.ok_or_else(|| {
        let name = catalog::find(target.system).map_or(target.system, |s| s.name);
        let calls = if places == 1 { "a call".to_owned() } else { format!("{places} calls") };
        ApiError::new(
            ErrorCode::SystemUnavailable,
            format!("This connection has {calls} to {name} in progress already; retry when one has finished."),
        )
        .with_retry_after(1)
    })
}

/// Reads and writes records through the connection's connector.
#[derive(Clone)]
pub struct RecordService {
    connectors: Connectors,
    idempotency: Arc<dyn IdempotencyStore>,
    synced: Arc<dyn RecordStore>,
    secrets: Arc<dyn SecretStore>,
    connections: Arc<dyn ConnectionStore>,
    in_flight: Option<Arc<dyn InFlight>>,
}

/// Calls a connection may have in flight to its system at once: a slow or hostile system ties
/// up at most this many invocations, and no customer system is hammered by one connection.
pub const CALLS_IN_FLIGHT: u32 = 2;

impl RecordService {
    /// Wires the service to its connectors, idempotency store, synced records, the secrets
    /// that hold connections' credentials, and the connections (marked `auth_required` when
    /// their system rejects those credentials).
    pub fn new(
        connectors: Connectors,
        idempotency: Arc<dyn IdempotencyStore>,
        synced: Arc<dyn RecordStore>,
        secrets: Arc<dyn SecretStore>,
        connections: Arc<dyn ConnectionStore>,
    ) -> Self {
        Self { connectors, idempotency, synced, secrets, connections, in_flight: None }
    }

    /// Holds writes to `CALLS_IN_FLIGHT` per connection at once, across every invocation.
    pub fn with_in_flight(mut self, in_flight: Arc<dyn InFlight>) -> Self {
        self.in_flight = Some(in_flight);
        self
    }

    fn connector(&self, system: &str) -> Result<Arc<dyn Connector>, ApiError> {
        self.connectors.get(system).ok_or_else(|| {
            ApiError::new(ErrorCode::SystemUnavailable, "Data calls for this system are not available yet.")
        })
    }

    /// The connector of the target's system and, where it needs them, the connection's credentials.
    async fn open(&self, target: Target<'_>) -> Result<(Arc<dyn Connector>, Credentials), ApiError> {
        let connector = self.connector(target.system)?;
        if !connector.uses_credentials() {
            return Ok((connector, Credentials(Default::default())));
        }
        let found =
            credentials(self.secrets.as_ref(), target.account_id, target.connection_id).await.map_err(storage)?;
        let found = found.ok_or_else(|| ApiError::new(ErrorCode::Conflict, "The connection has no credentials."))?;
        Ok((connector, found))
    }

    /// The system's capabilities.
    pub fn capabilities(&self, system: &str) -> Result<Capabilities, ApiError> {
        Ok(self.connector(system)?.capabilities())
    }

    /// A page of records of a connection.
    pub async fn list(&self, target: Target<'_>, entity: Entity, query: &ListQuery) -> Result<Page, ApiError> {
        let connector = self.connector(target.system)?;
        connector.capabilities().of(entity).require(Operation::List)?;
        if connector.live_reads() {
            let (connector, credentials) = self.open(target).await?;
            return connector.list(&credentials, entity, query).await.map_err(|e| connector_error(target.system, e));
        }
        self.synced_page(target.connection_id, entity, query).await
    }

    /// A page of what syncs copied, whatever the system and whether or not it is still connected.
    pub async fn synced_page(&self, connection_id: &str, entity: Entity, query: &ListQuery) -> Result<Page, ApiError> {
        self.synced.page(&partition(connection_id, entity), query).await.map_err(storage)
    }

    /// One record of a connection; 404 when there is none under the key.
    pub async fn get(&self, target: Target<'_>, entity: Entity, key: &str) -> Result<Record, ApiError> {
        let connector = self.connector(target.system)?;
        connector.capabilities().of(entity).require(Operation::Get)?;
        let found = if connector.live_reads() {
            let (connector, credentials) = self.open(target).await?;
            connector.get(&credentials, entity, key).await.map_err(|e| connector_error(target.system, e))?
        } else {
            self.synced_record(target.connection_id, entity, key).await?
        };
        found.ok_or_else(|| ApiError::not_found(entity.singular()))
    }

    /// One synced record.
    pub async fn synced_record(
        &self,
        connection_id: &str,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Record>, ApiError> {
        let found = self.synced.get(&partition(connection_id, entity), key).await.map_err(storage)?;
        Ok(found.map(|r| r.record))
    }

    /// Runs a write once per idempotency key: a retry with the same key and write gets the first
    /// response, the same key with another write is a 409. Answers the status and JSON body.
    pub async fn write(
        &self,
        target: Target<'_>,
        entity: Entity,
        write: Write,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Value), ApiError> {
        let connection_id = target.connection_id;
        let Some(key) = idempotency_key else {
            return self.execute(target, entity, &write, None).await;
        };
        let fingerprint = write.fingerprint(entity);
        match idempotency::begin(self.idempotency.as_ref(), connection_id, key, &fingerprint).await? {
            Begun::Replay(status, body) => Ok((status, body)),
            Begun::Run(claimed) => {
                let reference = reference(connection_id, key);
                let (result, wrote) = watching_writes(self.execute(target, entity, &write, Some(&reference))).await;
                claimed.finish(result, Value::clone, wrote).await
            }
        }
    }

    /// Carries a write out; when the system rejects the stored credentials, the connection
    /// becomes `auth_required` (with its events) as it does when a sync meets them.
    async fn execute(
        &self,
        target: Target<'_>,
        entity: Entity,
        write: &Write,
        reference: Option<&str>,
    ) -> Result<(u16, Value), ApiError> {
        let result = self.send(target, entity, write, reference).await;
        if let Err(e) = &result
            && e.code == ErrorCode::InvalidCredentials
        {
            let reason = e.details.first().map_or(e.message.as_str(), |d| d.message.as_str());
            self.connections.require_auth(target.account_id, target.connection_id, reason).await.map_err(storage)?;
        }
        result
    }

    /// The write itself: checked against the capabilities, then the system asked.
    async fn send(
        &self,
        target: Target<'_>,
        entity: Entity,
        write: &Write,
        reference: Option<&str>,
    ) -> Result<(u16, Value), ApiError> {
        let connector = self.connector(target.system)?;
        let caps = connector.capabilities().of(entity);
        // Refused writes need no credentials; the rest do.
        if let Write::Create(body) = write {
            caps.check_create(body)?;
        }
        let (connector, credentials) = self.open(target).await?;
        // The sandbox answers in-process: only a real system's calls take a place.
        let place = match &self.in_flight {
            Some(in_flight) if connector.uses_credentials() => {
                // A system that limits calls takes turns (a short wait); elsewhere every place
                // taken means a slow system, and waiting would tie up this invocation too.
                let (places, patience) = match connector.calls_at_once(&credentials) {
                    Some(n) => (n.min(CALLS_IN_FLIGHT), TURN_PATIENCE),
                    None => (CALLS_IN_FLIGHT, std::time::Duration::ZERO),
                };
                Some((in_flight, place(in_flight.as_ref(), target, places, patience).await?))
            }
            _ => None,
        };
        let result = self.call(target, entity, write, reference, connector, &credentials, &caps).await;
        if let Some((in_flight, place)) = &place {
            turns::release(in_flight.as_ref(), place).await;
        }
        result
    }

    /// The write with a place taken: the record checked against its state, the system asked,
    /// and a write of unknown outcome read back.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        target: Target<'_>,
        entity: Entity,
        write: &Write,
        reference: Option<&str>,
        connector: Arc<dyn Connector>,
        credentials: &Credentials,
        caps: &EntityCapabilities,
    ) -> Result<(u16, Value), ApiError> {
        let fail = |e| connector_error(target.system, e);
        let current = |key: &str| {
            let connector = connector.clone();
            let key = key.to_owned();
            async move {
                connector
                    .get(credentials, entity, &key)
                    .await
                    .map_err(fail)?
                    .filter(|r| r.get("deletedAt").is_none_or(Value::is_null))
                    .ok_or_else(|| ApiError::not_found(entity.singular()))
            }
        };
        let (status, written) = match write {
            Write::Create(body) => (201, connector.create(credentials, entity, body, reference).await),
            Write::Update(key, patch) => {
                caps.require(Operation::Update)?;
                let current = current(key).await?;
                caps.check_update(patch, &current)?;
                (200, connector.update(credentials, entity, &current, patch).await)
            }
            Write::ChangeStatus(key, to) => {
                caps.require(Operation::ChangeStatus)?;
                let current = current(key).await?;
                caps.check_status(&current, to)?;
                (200, connector.change_status(credentials, entity, &current, to).await)
            }
            Write::Delete(key) => {
                caps.require(Operation::Delete)?;
                let current = current(key).await?;
                caps.check_delete(&current)?;
                (200, connector.delete(credentials, entity, &current).await)
            }
        };
        let record = match written {
            Ok(record) => record,
            // The system got the write and gave no clear answer: where reading the record back
            // shows the change, it happened.
            Err(e @ ConnectorError::Unknown { .. }) => {
                match read_back(connector.as_ref(), credentials, entity, write, reference).await {
                    Some(record) => {
                        tracing::info!(entity = entity.path(), "a write of unknown outcome was read back: it happened");
                        record
                    }
                    None => return Err(fail(e)),
                }
            }
            Err(e) => return Err(fail(e)),
        };
        if !connector.live_reads() {
            self.remember(target.connection_id, entity, &record).await;
        }
        Ok((status, json!({"data": record})))
    }

    /// Puts a record the system just wrote into the synced copy reads serve, so a read right
    /// after the write sees it. The write has happened whatever this does: a failure here is
    /// logged, and the next sync brings the record.
    async fn remember(&self, connection_id: &str, entity: Entity, record: &Record) {
        let Some(stored) = StoredRecord::new(record.clone()) else { return };
        if let Err(e) = self.synced.put(&partition(connection_id, entity), &[stored]).await {
            tracing::warn!(error = %e, entity = entity.path(), "a written record was not copied; the next sync brings it");
        }
    }
}
