//! The narrow traits the domain needs from the outside world. Adapters implement them on AWS;
//! pure unit tests may implement them in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{Account, Connection, TokenRecord};

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
}

/// Looks bearer credentials up by digest.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The record stored under a digest (strongly consistent, so a revoked token fails at once).
    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError>;
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
    /// Replaces the connection's token digest: the new one works, the old one is gone.
    async fn rotate_token(&self, account_id: &str, id: &str, token: &TokenRecord) -> Result<Connection, StoreError>;
}

/// Where customer-system credentials live.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a new secret under a name.
    async fn put(&self, name: &str, value: &str) -> Result<(), StoreError>;
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
