//! Events: the facts webhook subscribers hear about. Each is written in the same transaction as
//! the change it reports (a finished sync run, a connection status change), so none is lost or
//! invented; the events table's stream then fans them out to the subscribed endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Connection, ConnectionStatus};

/// The kinds of event an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A sync run succeeded.
    #[serde(rename = "sync.completed")]
    SyncCompleted,
    /// A sync run failed.
    #[serde(rename = "sync.failed")]
    SyncFailed,
    /// A connection's status changed (connected, disconnected, auth_required, error).
    #[serde(rename = "connection.status_changed")]
    ConnectionStatusChanged,
    /// A system rejected the connection's stored credentials.
    #[serde(rename = "connection.auth_required")]
    ConnectionAuthRequired,
}

impl EventType {
    /// Every event type, in the order the API documents them.
    pub const ALL: [EventType; 4] = [
        EventType::SyncCompleted,
        EventType::SyncFailed,
        EventType::ConnectionStatusChanged,
        EventType::ConnectionAuthRequired,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SyncCompleted => "sync.completed",
            EventType::SyncFailed => "sync.failed",
            EventType::ConnectionStatusChanged => "connection.status_changed",
            EventType::ConnectionAuthRequired => "connection.auth_required",
        }
    }

    /// The type named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A fact for webhook subscribers, stored per account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_…`: the `webhook-id` of every delivery of it, stable across attempts.
    pub id: String,
    /// The account it belongs to (not part of the delivered body).
    pub account_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The connection concerned.
    pub connection_id: String,
    /// The event's payload.
    pub data: Value,
}

impl Event {
    /// A new event with a fresh id, happening now.
    pub fn new(account_id: &str, connection_id: &str, kind: EventType, data: Value) -> Self {
        Event {
            id: format!("evt_{}", ulid::Ulid::new().to_string().to_lowercase()),
            account_id: account_id.to_owned(),
            kind,
            created_at: Utc::now(),
            connection_id: connection_id.to_owned(),
            data,
        }
    }

    /// `connection.status_changed`: the connection as it now stands and the status it left
    /// (none for a new connection).
    pub fn status_changed(connection: &Connection, previous: Option<ConnectionStatus>) -> Self {
        let mut view = connection.clone();
        view.account_id.clear();
        Self::new(
            &connection.account_id,
            &connection.id,
            EventType::ConnectionStatusChanged,
            json!({"status": connection.status, "previousStatus": previous, "connection": view}),
        )
    }

    /// `connection.auth_required`: the system rejected the stored credentials, for this reason.
    pub fn auth_required(connection: &Connection, reason: &str) -> Self {
        Self::new(
            &connection.account_id,
            &connection.id,
            EventType::ConnectionAuthRequired,
            json!({"reason": reason, "connectionId": connection.id, "system": connection.system}),
        )
    }

    /// The body every delivery of the event carries, byte for byte:
    /// `{"id", "type", "createdAt", "connectionId", "data"}`.
    pub fn body(&self) -> String {
        json!({
            "id": self.id,
            "type": self.kind,
            "createdAt": self.created_at,
            "connectionId": self.connection_id,
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_by_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(EventType::parse("sync.started"), None);
    }

    #[test]
    fn the_body_has_the_documented_fields_and_no_account() {
        let e = Event::new("acct_1", "conn_1", EventType::SyncCompleted, json!({"n": 1}));
        let body: Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(body["id"], e.id.as_str());
        assert_eq!(body["type"], "sync.completed");
        assert_eq!(body["connectionId"], "conn_1");
        assert_eq!(body["data"]["n"], 1);
        assert!(body["createdAt"].is_string());
        assert_eq!(body.as_object().unwrap().len(), 5);
    }
}
