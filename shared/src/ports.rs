//! The narrow traits the domain needs from the outside world. Adapters implement them on AWS;
//! pure unit tests may implement them in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::{collections::HashMap, time::Duration};

use crate::{
    branding::Branding,
    connect_sessions::{ConnectSession, SessionError},
    connectors::{ListQuery, Page},
    events::Event,
    model::{Account, AccountKey, Connection, TokenRecord},
    sync::{StoredRecord, SyncMessage, SyncRun},
    webhooks::{Attempt, Delivery, DeliveryMessage, DeliveryStatus, Endpoint},
};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The pool cannot pay the connection's credits.
    #[error("insufficient credits")]
    InsufficientCredits,
    /// The record does not exist for this account.
    #[error("not found")]
    NotFound,
    /// The record's state forbids the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing service failed; the message is for logs.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Outcome of a disconnect: the first one returns the credits, later ones change nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnected {
    /// This call disconnected it and returned its credits.
    Now(Connection),
    /// It was already disconnected; nothing moved.
    Already(Connection),
}

impl Disconnected {
    /// The connection as it now stands.
    pub fn connection(&self) -> &Connection {
        match self {
            Disconnected::Now(c) | Disconnected::Already(c) => c,
        }
    }
}

/// Accounts and their credit pools.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Opens an account together with the digest of its key, atomically.
    async fn create_account(&self, account: &Account, key: &TokenRecord) -> Result<(), StoreError>;
    /// Reads an account (strongly consistent).
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;
    /// Adds an account key (its entry under `id` and its token record) atomically.
    async fn add_key(
        &self,
        account_id: &str,
        id: &str,
        key: &AccountKey,
        record: &TokenRecord,
    ) -> Result<(), StoreError>;
    /// Revokes an account key — its entry and its token record go together — unless it is the
    /// account's last (`Conflict`) or unknown (`NotFound`).
    async fn revoke_key(&self, account_id: &str, id: &str) -> Result<(), StoreError>;
    /// Sets or (with none) removes the account's own rate limit; `NotFound` for no account.
    async fn set_rate_limit(&self, account_id: &str, limit: Option<u32>) -> Result<(), StoreError>;
    /// Replaces the account's branding (`NotFound` when there is no such account).
    async fn set_branding(&self, account_id: &str, branding: &Branding) -> Result<(), StoreError>;
}

/// Looks bearer credentials up by digest.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The record stored under a digest (a revoked token has none at once), counting one more
    /// use of it in rate-limit window `window` (see `limits`): with the uses of that window so
    /// far, this one included. One atomic step, however many requests count at once.
    async fn count_use(&self, digest: &str, window: i64) -> Result<Option<(TokenRecord, u32)>, StoreError>;
}

/// Connections, each change to them one atomic step together with credits and tokens.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Takes the connection's credits (only if the pool has them), writes the connection and its
    /// token digest — all or nothing.
    async fn insert_charged(&self, connection: &Connection, token: &TokenRecord) -> Result<(), StoreError>;
    /// One connection of an account.
    async fn connection(&self, account_id: &str, id: &str) -> Result<Option<Connection>, StoreError>;
    /// An account's connections in creation order, after a position; with the next position.
    async fn connections(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Connection>, Option<String>), StoreError>;
    /// Marks the connection disconnected, returns its credits exactly once and deletes its token.
    async fn disconnect(&self, account_id: &str, id: &str, at: DateTime<Utc>) -> Result<Disconnected, StoreError>;
    /// Stores a connection's name, settings and metadata as given, unless it is disconnected
    /// (`Conflict`) or gone (`NotFound`).
    async fn save_settings(&self, connection: &Connection) -> Result<(), StoreError>;
    /// Replaces the connection's token digest: the new one works, the old one is gone.
    async fn rotate_token(&self, account_id: &str, id: &str, token: &TokenRecord) -> Result<Connection, StoreError>;
    /// Marks an active connection `auth_required` because its system rejected the stored
    /// credentials, with its `connection.status_changed` and `connection.auth_required` events,
    /// in one step. False when the connection was not active (nothing changes then).
    async fn require_auth(&self, account_id: &str, id: &str, reason: &str) -> Result<bool, StoreError>;
    /// Moves an `auth_required` connection back to `active` (its credentials were replaced),
    /// with its `connection.status_changed` event, in one step. False when it was not
    /// `auth_required` (nothing changes then).
    async fn restore_auth(&self, account_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Records that a disconnected connection's data is to be deleted (once; a repeat changes
    /// nothing) and answers the connection; `Conflict` unless it is disconnected.
    async fn request_data_deletion(
        &self,
        account_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Connection, StoreError>;
    /// Marks the deletion done with its `connection.data_deleted` event, in one step.
    async fn finish_data_deletion(&self, account_id: &str, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// The data a connection leaves in the stores: its synced records, runs, leases and marks.
#[async_trait]
pub trait ConnectionData: Send + Sync {
    /// Deletes up to about `limit` of the connection's items; answers how many went (0 once
    /// none is left).
    async fn delete_some(&self, connection_id: &str, limit: usize) -> Result<usize, StoreError>;
}

/// Where customer-system credentials live.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a new secret under a name.
    async fn put(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Reads a secret; none when it does not exist.
    async fn get(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Replaces the value of a secret that exists.
    async fn replace(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Deletes a secret; deleting one that is gone succeeds.
    async fn delete(&self, name: &str) -> Result<(), StoreError>;
}

/// A response kept for an idempotency key, replayed to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body as sent.
    pub body: String,
}

/// What a claim on an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free: this request owns it now.
    Claimed,
    /// A request with this key finished; its fingerprint and response.
    Done {
        /// Fingerprint of the first request.
        fingerprint: String,
        /// What it answered.
        response: StoredResponse,
    },
    /// A request with this key is still running.
    InProgress {
        /// Fingerprint of that request.
        fingerprint: String,
    },
    /// A request with this key was stopped before it finished: what it did is unknown.
    Abandoned {
        /// Fingerprint of that request.
        fingerprint: String,
    },
}

/// Idempotency keys of writes, per connection, kept for 24 hours.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` in `scope` for a request with `fingerprint`, unless a live claim exists.
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str, now: DateTime<Utc>) -> Result<Claim, StoreError>;
    /// Records the response of the request that holds the claim.
    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), StoreError>;
    /// Gives the claim up (the request failed without writing), so a retry runs again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

/// A place taken among a connection's calls in flight to its system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Which of the connection's places.
    pub id: String,
    /// The holder's token: only it gives the place back.
    pub token: String,
}

/// A few places per connection for calls to its system, held across every Lambda at once: a
/// slow or hostile system ties up only as many invocations as its connection has places.
#[async_trait]
pub trait InFlight: Send + Sync {
    /// Takes one of the connection's `places`, held until `until` at the latest; none when all
    /// are held.
    async fn take(
        &self,
        connection_id: &str,
        places: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Place>, StoreError>;
    /// Gives a place back.
    async fn release(&self, place: &Place) -> Result<(), StoreError>;
}

/// Whose sync runs a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunScope<'a> {
    /// One connection's runs.
    Connection(&'a str),
    /// Every run of an account.
    Account(&'a str),
}

/// What taking a run's lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// The run holds the lease of its connection and entity; the entity's mark (the largest
    /// `updatedAt` of the last successful run) comes with it.
    Acquired {
        /// The mark, if a run ever succeeded.
        mark: Option<DateTime<Utc>>,
    },
    /// Another run of the same connection and entity holds it.
    Busy,
}

/// Sync runs, the per-entity lease and mark, and the events finished runs leave.
#[async_trait]
pub trait SyncRunStore: Send + Sync {
    /// Stores new runs.
    async fn create(&self, runs: &[SyncRun]) -> Result<(), StoreError>;
    /// A run of a connection.
    async fn run(&self, connection_id: &str, id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// A run of any of an account's connections.
    async fn account_run(&self, account_id: &str, id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// Runs newest first, after a position; with the next position.
    async fn runs(
        &self,
        scope: RunScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SyncRun>, Option<String>), StoreError>;
    /// Makes `run` the queued run of its connection, entity and mode, unless one is queued
    /// already: then answers that one's id (a new request joins it). `stale`, when given, is the
    /// id of a queued run known to have ended: the run takes its place.
    async fn claim_queued(&self, run: &SyncRun, stale: Option<&str>) -> Result<Option<String>, StoreError>;
    /// The run is no longer the queued one of its connection, entity and mode (it started, or
    /// ended without starting).
    async fn clear_queued(&self, run: &SyncRun) -> Result<(), StoreError>;
    /// Takes the lease of the run's connection and entity for one invocation (`token`, its own)
    /// until `until`, unless a lease that has not expired at `now` is held — by another run, or
    /// by another invocation of this one (SQS may deliver a message twice).
    async fn lease(
        &self,
        run: &SyncRun,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError>;
    /// Saves a running run (status, counts, checkpoint) under the invocation's lease, and
    /// releases it when `release` (the run goes back to the queue); `Conflict` when the
    /// invocation no longer holds the lease.
    async fn save(&self, run: &SyncRun, token: &str, release: bool) -> Result<(), StoreError>;
    /// Ends a run in one step: its final state, the entity's new mark (given on success only),
    /// the connection's `lastSync`, the event, and the lease released. Only a run that has not
    /// ended ends, and only by the invocation holding its lease — or, for a run given up on
    /// (`Holder::Abandoned`), while no lease is held; `Conflict` otherwise, so a run ends once.
    async fn finish(
        &self,
        run: &SyncRun,
        holder: Holder<'_>,
        mark: Option<DateTime<Utc>>,
        event: &Event,
    ) -> Result<(), StoreError>;
}

/// Who ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// The invocation holding the lease, by its token.
    Lease(&'a str),
    /// Nobody: the run's message was dead-lettered; it ends if no lease is held at this time.
    Abandoned(DateTime<Utc>),
}

/// What the record store knows of a record before a page is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The content hash stored.
    pub hash: String,
    /// The run that wrote it last.
    pub sync_id: Option<String>,
    /// What that run counted it as.
    pub change: Option<String>,
}

/// Synced records, per connection and entity, in key order.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// What is stored under these keys (any number; absent keys are missing from the map).
    async fn known(&self, partition: &str, keys: &[String]) -> Result<HashMap<String, Known>, StoreError>;
    /// Writes records (any number, batched by the adapter).
    async fn put(&self, partition: &str, records: &[StoredRecord]) -> Result<(), StoreError>;
    /// A page of records in key order, filtered as the query asks.
    async fn page(&self, partition: &str, query: &ListQuery) -> Result<Page, StoreError>;
    /// One record.
    async fn get(&self, partition: &str, key: &str) -> Result<Option<StoredRecord>, StoreError>;
    /// Live records last changed at or after `since` that the run `sync_id` did not write and
    /// that were stored before `began` (what the API wrote while the run went on is no sign of a
    /// deletion), after a key; with the position to carry on from.
    async fn unseen(
        &self,
        partition: &str,
        sync_id: &str,
        since: Option<DateTime<Utc>>,
        began: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<(Vec<StoredRecord>, Option<String>), StoreError>;
}

/// The queue that carries sync work to the sync function.
#[async_trait]
pub trait SyncQueue: Send + Sync {
    /// Sends messages, each delivered after `delay` (at most 15 minutes).
    async fn send(&self, messages: &[SyncMessage], delay: Duration) -> Result<(), StoreError>;
}

/// Per-connection schedules that put sync work on the queue.
#[async_trait]
pub trait Schedules: Send + Sync {
    /// Creates the connection's schedule: `message` every `minutes`.
    async fn create(&self, connection_id: &str, minutes: u32, message: &SyncMessage) -> Result<(), StoreError>;
    /// Changes the connection's schedule to every `minutes`; `NotFound` when it has none.
    async fn update(&self, connection_id: &str, minutes: u32, message: &SyncMessage) -> Result<(), StoreError>;
    /// Deletes the connection's schedule; deleting one that is gone succeeds.
    async fn delete(&self, connection_id: &str) -> Result<(), StoreError>;
}

/// Webhook endpoints (per account) and their deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint, unless its account has `max` already (`Conflict`): counted in
    /// the same step, so concurrent creates cannot pass the limit together.
    async fn create_endpoint(&self, endpoint: &Endpoint, max: usize) -> Result<(), StoreError>;
    /// One endpoint of an account.
    async fn endpoint(&self, account_id: &str, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// An account's endpoints in creation order, after a position; with the next position.
    async fn endpoints(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, Option<String>), StoreError>;
    /// Replaces an endpoint that is as it was when read (its `updatedAt` was `read`): `Conflict`
    /// when it changed meanwhile (a rotation, a PATCH, a 410 that disabled it), `NotFound` when it
    /// is gone — so a change never writes back what another one replaced.
    async fn update_endpoint(&self, endpoint: &Endpoint, read: DateTime<Utc>) -> Result<(), StoreError>;
    /// Turns an endpoint off, saying why.
    async fn disable_endpoint(
        &self,
        account_id: &str,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deletes an endpoint (`NotFound` when there is none).
    async fn delete_endpoint(&self, account_id: &str, id: &str) -> Result<(), StoreError>;
    /// Stores the deliveries not stored yet. Answers those to queue: the new ones and any stored
    /// before that was never attempted (a fan-out that stopped before queueing them).
    async fn add_deliveries(&self, deliveries: &[Delivery]) -> Result<Vec<Delivery>, StoreError>;
    /// One delivery.
    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError>;
    /// An endpoint's deliveries, newest first, after a position; with the next position.
    async fn deliveries(
        &self,
        endpoint_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), StoreError>;
    /// Starts a new round of attempts of a delivery that is not pending (`Conflict` when it is:
    /// its round goes on, and a second would double its attempts), due at `at`.
    async fn restart_delivery(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Sets a delivery's status and next due time, appending the attempt made, if any (and
    /// counting it in the round).
    async fn update_delivery(
        &self,
        id: &str,
        status: DeliveryStatus,
        attempt: Option<&Attempt>,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
}

/// The queue that carries deliveries to the delivery function.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Queues deliveries for an attempt now.
    async fn send(&self, messages: &[DeliveryMessage]) -> Result<(), StoreError>;
    /// Hands a received message out again only after `delay` (at most 12 hours): the retry
    /// schedule, beyond the 15 minutes a send delay allows.
    async fn postpone(&self, receipt: &str, delay: Duration) -> Result<(), StoreError>;
}

/// Why a webhook POST got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The address rules refused the host's addresses.
    #[error("refused: {0}")]
    Refused(String),
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The connection failed.
    #[error("{0}")]
    Failed(String),
}

/// Sends webhook requests.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs `body` with `headers` to `url`; the answer's status code.
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<u16, PostError>;
}

/// Hosted connect sessions; each step is one conditional write, so that racing attempts make
/// one connection at most and a token is fetched once.
#[async_trait]
pub trait ConnectSessionStore: Send + Sync {
    /// Stores a new session.
    async fn create(&self, session: &ConnectSession) -> Result<(), StoreError>;
    /// Reads a session (strongly consistent).
    async fn session(&self, id: &str) -> Result<Option<ConnectSession>, StoreError>;
    /// `pending` → `verifying`, counting an attempt, while it is unexpired at `now` and has made
    /// fewer than `max`; `Conflict` otherwise.
    async fn begin_attempt(&self, id: &str, max: u32, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// `verifying` → `pending`, with the reason.
    async fn fail_attempt(&self, id: &str, reason: &SessionError) -> Result<(), StoreError>;
    /// `verifying` → `completed`, with the connection and its own webhook endpoint.
    async fn complete(&self, id: &str, connection_id: &str, endpoint_id: Option<&str>) -> Result<(), StoreError>;
    /// `completed` → `token_fetched`; `Conflict` when it is not `completed`.
    async fn take_token(&self, id: &str) -> Result<(), StoreError>;
}

/// Dashboard sessions, by the digest of their cookie's value.
#[async_trait]
pub trait SignInStore: Send + Sync {
    /// Opens a session of an account until `expires_at`.
    async fn open(&self, digest: &str, account_id: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// The account of a session that has not expired at `now`.
    async fn account(&self, digest: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError>;
    /// Ends a session.
    async fn close(&self, digest: &str) -> Result<(), StoreError>;
}
