//! Connectors speak each customer system's own protocol. The domain reaches them through the
//! `Connector` trait; `Connectors` says which system has one. A connector declares what it can do
//! in its `Capabilities`; what it does not declare, the API refuses before calling it. The
//! connectors themselves live in crates of their own (`connectors/`), so a function that never
//! calls a customer system links none of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc};

use crate::{
    capabilities::Capabilities,
    entities::{Entity, Record},
    error::ErrorCode,
};

/// Credentials for a customer system as the user sent them. Never printed: `Debug` shows the
/// field names only, wherever they travel (request bodies included).
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct Credentials(pub Map<String, Value>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Credentials {
    /// A credential value as text, if present and non-empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }
}

/// Why a connector could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The system refused the credentials; the text is the system's reason.
    #[error("credentials rejected: {0}")]
    Rejected(String),
    /// The system knows the user but does not let it do this (HTTP 403: a missing role or
    /// authorisation). The credentials still work; the system's administrator must grant it.
    #[error("not authorised: {0}")]
    Forbidden(String),
    /// The system refused a write by one of its business rules.
    #[error("{code:?}: {message}")]
    Rule {
        /// `INVALID_VENDOR`, `OUT_OF_STOCK`, `INVALID_STATE`, …
        code: ErrorCode,
        /// The system's reason.
        message: String,
        /// The field the rule concerns.
        field: Option<String>,
    },
    /// The record does not exist in the system.
    #[error("not found")]
    NotFound,
    /// The connector does not implement this operation.
    #[error("not supported")]
    Unsupported,
    /// The system answered with an error.
    #[error("system error: {0}")]
    Upstream(String),
    /// The system did not answer in time.
    #[error("system timed out")]
    Timeout,
    /// A write reached the system and got no clear answer (it timed out, or the system failed
    /// while handling it): it may have been carried out. It is not sent again.
    #[error("outcome unknown: {reason}")]
    Unknown {
        /// What happened instead of an answer.
        reason: String,
        /// Whether it was a timeout (else a failure answer).
        timed_out: bool,
    },
    /// The system is overloaded or down for now (429, 503), after the retries a call can wait
    /// for.
    #[error("system unavailable: {reason}")]
    Unavailable {
        /// What the system answered.
        reason: String,
        /// How long the system asked to be left alone, when it said.
        retry_after: Option<std::time::Duration>,
    },
}

/// What a list asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only records whose key sorts after this one.
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
    /// Only records changed after this instant.
    pub modified_after: Option<DateTime<Utc>>,
    /// Only records in this status.
    pub status: Option<String>,
    /// Soft-deleted records too.
    pub include_deleted: bool,
}

/// One page of records, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
    /// The key to carry on after when more may follow; none at the end.
    pub next: Option<String>,
}

/// One page of a system's changes, for syncs.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// Records in the unified model, each with `key` and `updatedAt`.
    pub records: Vec<Record>,
    /// The connector's opaque position of the next page; none after the last.
    pub next: Option<String>,
}

/// One customer system's protocol. Data operations default to `Unsupported`; a connector
/// implements those its capabilities declare.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Asks the system whether these credentials work, without changing anything there.
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError>;

    /// What the system supports, entity by entity.
    fn capabilities(&self) -> Capabilities {
        Capabilities(Vec::new())
    }

    /// Whether reads ask the system itself (the sandbox) rather than the synced copy.
    fn live_reads(&self) -> bool {
        false
    }

    /// The most calls one connection may have in flight at once, where the system limits them
    /// (NetSuite's concurrency limit is per account): its syncs and writes then take turns.
    fn calls_at_once(&self, _credentials: &Credentials) -> Option<u32> {
        None
    }

    /// Whether data calls need the connection's credentials; the sandbox answers everyone alike,
    /// so its calls skip reading them.
    fn uses_credentials(&self) -> bool {
        true
    }

    /// A page of records changed at or after `since` (everything when none), from the position
    /// `cursor` a previous page gave. Inclusive, so records sharing a boundary timestamp are
    /// never skipped; syncs de-duplicate what they saw before.
    async fn changes(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _since: Option<DateTime<Utc>>,
        _cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// A page of records.
    async fn list(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _query: &ListQuery,
    ) -> Result<Page, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// One record by key.
    async fn get(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _key: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// Creates a record; answers it as the system stored it. `reference`, when given, goes onto
    /// the record where the system keeps one, so that `created` finds the record again when the
    /// answer to the create was lost.
    async fn create(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _body: &Record,
        _reference: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// The record a create carrying `reference` made, where the system can look it up by that;
    /// none where it cannot (so the create's outcome stays unknown).
    async fn created(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _reference: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        Ok(None)
    }

    /// Changes fields of a record; answers the record after the change. `current` is the record
    /// as `get` just answered it, the one the state rules were checked against: a connector may
    /// protect the change with its version.
    async fn update(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _current: &Record,
        _patch: &Record,
    ) -> Result<Record, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// Moves a record (`current`, as for `update`) to a status; answers the record after the change.
    async fn change_status(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _current: &Record,
        _status: &str,
    ) -> Result<Record, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }

    /// Deletes a record (`current`, as for `update`), softly where the system keeps it; answers
    /// the record as it ends.
    async fn delete(
        &self,
        _credentials: &Credentials,
        _entity: Entity,
        _current: &Record,
    ) -> Result<Record, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }
}

/// The key of a record a connector answered.
pub fn key_of(record: &Record) -> &str {
    record.get("key").and_then(Value::as_str).unwrap_or_default()
}

tokio::task_local! {
    /// Set once a non-replayable request (a write) of the watched work reached a system.
    static WROTE: std::cell::Cell<bool>;
}

/// Runs `work` and says whether it sent a system a write (whatever came of it): once it has, a
/// failure after it leaves the write's outcome to the system, and it must not be sent again.
pub async fn watching_writes<F: std::future::Future>(work: F) -> (F::Output, bool) {
    WROTE
        .scope(std::cell::Cell::new(false), async {
            let out = work.await;
            (out, WROTE.with(std::cell::Cell::get))
        })
        .await
}

/// Notes, for `watching_writes`, that a write reached a system. Connectors' HTTP clients call it
/// as a write leaves; outside a watch it does nothing.
pub fn note_write() {
    let _ = WROTE.try_with(|wrote| wrote.set(true));
}

/// The systems Millwright knows how to serve: what each supports, and — in the functions that
/// call customer systems — the connector that does it. Functions that only need to know what a
/// system supports (starting syncs) hold how to describe it alone, and link no connector. Nothing
/// is worked out when the registry is built: capabilities are asked for when a request needs them.
#[derive(Clone, Default)]
pub struct Connectors {
    connectors: HashMap<String, Arc<dyn Connector>>,
    described: HashMap<String, fn() -> Capabilities>,
}

impl Connectors {
    /// Adds or replaces the connector of a system.
    pub fn with(mut self, system: &str, connector: Arc<dyn Connector>) -> Self {
        self.connectors.insert(system.to_owned(), connector);
        self
    }

    /// Adds or replaces what a system supports (`describe` says it), without a connector to
    /// call it.
    pub fn describing(mut self, system: &str, describe: fn() -> Capabilities) -> Self {
        self.described.insert(system.to_owned(), describe);
        self
    }

    /// The connector of a system, if it has one.
    pub fn get(&self, system: &str) -> Option<Arc<dyn Connector>> {
        self.connectors.get(system).cloned()
    }

    /// What a system supports, if Millwright serves it: its connector's word, or its description.
    pub fn capabilities(&self, system: &str) -> Option<Capabilities> {
        match self.connectors.get(system) {
            Some(connector) => Some(connector.capabilities()),
            None => self.described.get(system).map(|describe| describe()),
        }
    }
}
