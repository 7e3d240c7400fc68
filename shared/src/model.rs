//! The records Millwright keeps about its users: accounts, connections and the token records
//! that authenticate them. They serialise to the API's camelCase and, through serde_dynamo, to
//! DynamoDB items of the same shape.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::catalog::Deployment;

/// A platform team: the owner of a credit pool and of connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// `acct_…`
    pub id: String,
    /// Credits bought.
    pub credits_total: u32,
    /// Credits not held by a connection.
    pub credits_available: u32,
    /// When the account was opened.
    pub created_at: DateTime<Utc>,
    /// Its account keys by id (`key_…`): several at once let a key be rotated without downtime.
    #[serde(default)]
    pub keys: BTreeMap<String, AccountKey>,
    /// Requests each of its credentials may make per rate-limit window; none for the defaults
    /// (`limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// How the hosted connect page presents the account's product.
    #[serde(default, skip_serializing_if = "crate::branding::Branding::is_empty")]
    pub branding: crate::branding::Branding,
}

/// One account key, as the account keeps it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountKey {
    /// The key's SHA-256 digest (its token record's id); not shown by the API.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub digest: String,
    /// The key's last four characters, so people can tell keys apart.
    pub last4: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Working.
    Active,
    /// Ended by the user; its token is dead and its credits are back in the pool.
    Disconnected,
    /// The system rejected the stored credentials.
    AuthRequired,
    /// The system keeps failing.
    Error,
}

/// Per-connection sync settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The entities scheduled syncs copy.
    pub sync_entities: Vec<String>,
    /// Minutes between scheduled syncs (1–1440).
    pub sync_interval_minutes: u32,
    /// How far back a full sync reaches.
    pub historical_days: u32,
}

/// What the last sync of one entity did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSync {
    /// The sync run.
    pub sync_id: String,
    /// How it ended.
    pub status: String,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A customer system connected to an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// `conn_…`
    pub id: String,
    /// The owning account.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub account_id: String,
    /// Catalogue id of the system.
    pub system: String,
    /// Cloud or on-premises.
    pub deployment: Deployment,
    /// The system's tier.
    pub tier: u8,
    /// Credits this connection holds while it is not disconnected.
    pub credits: u32,
    /// Where it stands.
    pub status: ConnectionStatus,
    /// The user's label for it.
    pub name: Option<String>,
    /// The user's own data about it (their customer's id, plan…), kept as given.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was disconnected.
    pub disconnected_at: Option<DateTime<Utc>>,
    /// When `status` last changed (at connect: when it was made). Strictly increasing per
    /// connection, to the millisecond, so webhook receivers can order status events by it.
    pub status_changed_at: DateTime<Utc>,
    /// Sync settings.
    pub settings: Settings,
    /// The last sync per entity.
    #[serde(default)]
    pub last_sync: BTreeMap<String, LastSync>,
    /// The entities whose first sync, started at connect, has not ended: until it does, their
    /// reads answer only what it has copied so far. Omitted once there are none. (A string set
    /// in DynamoDB, so that the end of each run can take its entity out.)
    #[serde(with = "serde_dynamo::string_set", default, skip_serializing_if = "Vec::is_empty")]
    pub initial_sync_pending: Vec<String>,
    /// The deletion of its synced data, once asked for (after disconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_deletion: Option<DataDeletion>,
}

/// Where the deletion of a disconnected connection's synced data stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataDeletion {
    /// `deleting` until every record, run and mark is gone, then `deleted`.
    pub status: DeletionStatus,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When the last item went.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The two states of a data deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStatus {
    /// Under way, in the background.
    Deleting,
    /// Done.
    Deleted,
}

impl Connection {
    /// An active sandbox connection whose status last changed `changed`, for unit tests.
    #[cfg(test)]
    pub(crate) fn example(changed: DateTime<Utc>) -> Connection {
        Connection {
            id: "conn_1".into(),
            account_id: "acct_1".into(),
            system: "sandbox".into(),
            deployment: Deployment::Cloud,
            tier: 1,
            credits: 0,
            status: ConnectionStatus::Active,
            name: None,
            metadata: Map::new(),
            created_at: changed,
            disconnected_at: None,
            status_changed_at: changed,
            settings: Settings { sync_entities: vec![], sync_interval_minutes: 60, historical_days: 30 },
            last_sync: BTreeMap::new(),
            initial_sync_pending: Vec::new(),
            data_deletion: None,
        }
    }

    /// Moves the connection to `status` at `now` — or, if the clock of whoever changed it last
    /// was ahead, a millisecond after that change, so status times never repeat or go back.
    pub fn change_status(&mut self, status: ConnectionStatus, now: DateTime<Utc>) {
        let now = now.trunc_subsecs(3);
        self.status_changed_at = now.max(self.status_changed_at + TimeDelta::milliseconds(1));
        self.status = status;
    }
}

/// Who a bearer credential belongs to, as stored under the credential's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// SHA-256 of the token (hex): the key it is found by.
    pub digest: String,
    /// The account it acts for.
    pub account_id: String,
    /// The connection it is scoped to; none for an account key.
    pub connection_id: Option<String>,
    /// The connection's system, so data calls need no second lookup.
    pub system: Option<String>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account key: manages connections and credits.
    Account {
        /// The account.
        account_id: String,
    },
    /// A connection token: data calls for one connection.
    Connection {
        /// The owning account.
        account_id: String,
        /// The connection.
        connection_id: String,
        /// Its system.
        system: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_times_are_milliseconds_that_only_go_forward() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-02T10:00:00.123Z").unwrap().with_timezone(&Utc);
        let mut c = Connection::example(t0);
        c.change_status(ConnectionStatus::AuthRequired, t0 + TimeDelta::microseconds(5_678));
        assert_eq!(c.status_changed_at, t0 + TimeDelta::milliseconds(5), "truncated to the millisecond");
        // A clock behind the last change, or the same millisecond: one millisecond after it.
        let before = c.status_changed_at;
        c.change_status(ConnectionStatus::Disconnected, t0 - TimeDelta::seconds(2));
        assert_eq!(
            (c.status, c.status_changed_at),
            (ConnectionStatus::Disconnected, before + TimeDelta::milliseconds(1))
        );
        c.change_status(ConnectionStatus::Disconnected, c.status_changed_at);
        assert_eq!(c.status_changed_at, before + TimeDelta::milliseconds(2));
    }
}
