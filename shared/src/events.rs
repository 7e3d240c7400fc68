//! Events: the facts webhook subscribers hear about. Each is written in the same transaction as
//! the change it reports (a finished sync run, a connection status change), so none is lost or
//! invented; the events table's stream then fans them out to the subscribed endpoints.
//!
//! Deliveries are at least once and in no particular order, so every event says when it happened
//! (`createdAt`, to the millisecond, fixed width so it sorts as text too) and carries the state it
//! reports: a receiver applies the latest by `createdAt` and ignores what is older. A connection's
//! status events take their time from the change itself, which never repeats or goes back.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize, Serializer};
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
    /// A connection was made (through the API or a hosted connect page).
    #[serde(rename = "connection.created")]
    ConnectionCreated,
    /// A connection's status changed (connected, disconnected, auth_required, error).
    #[serde(rename = "connection.status_changed")]
    ConnectionStatusChanged,
    /// A system rejected the connection's stored credentials.
    #[serde(rename = "connection.auth_required")]
    ConnectionAuthRequired,
    /// A disconnected connection's synced data is deleted.
    #[serde(rename = "connection.data_deleted")]
    ConnectionDataDeleted,
}

impl EventType {
    /// Every event type, in the order the API documents them.
    pub const ALL: [EventType; 6] = [
        EventType::SyncCompleted,
        EventType::SyncFailed,
        EventType::ConnectionCreated,
        EventType::ConnectionStatusChanged,
        EventType::ConnectionAuthRequired,
        EventType::ConnectionDataDeleted,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SyncCompleted => "sync.completed",
            EventType::SyncFailed => "sync.failed",
            EventType::ConnectionCreated => "connection.created",
            EventType::ConnectionStatusChanged => "connection.status_changed",
            EventType::ConnectionAuthRequired => "connection.auth_required",
            EventType::ConnectionDataDeleted => "connection.data_deleted",
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
    /// When it happened, to the millisecond.
    #[serde(serialize_with = "wire_time")]
    pub created_at: DateTime<Utc>,
    /// The connection concerned.
    pub connection_id: String,
    /// The event's payload.
    pub data: Value,
}

/// An event time as it travels: RFC 3339 in UTC with exactly three fraction digits.
fn wire_time<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl Event {
    /// A new event with a fresh id, happening now.
    pub fn new(account_id: &str, connection_id: &str, kind: EventType, data: Value) -> Self {
        Self::at(account_id, connection_id, kind, data, Utc::now())
    }

    /// A new event with a fresh id (a ULID of its time, so ids sort like times), happening `at`.
    pub(crate) fn at(account_id: &str, connection_id: &str, kind: EventType, data: Value, at: DateTime<Utc>) -> Self {
        let at = at.trunc_subsecs(3);
        Event {
            id: format!("evt_{}", ulid::Ulid::from_datetime(at.into()).to_string().to_lowercase()),
            account_id: account_id.to_owned(),
            kind,
            created_at: at,
            connection_id: connection_id.to_owned(),
            data,
        }
    }

    /// `connection.created`: the connection as it was made, happening when it was.
    pub fn created(connection: &Connection) -> Self {
        let mut view = connection.clone();
        view.account_id.clear();
        let data = json!({"connection": view});
        Self::at(&connection.account_id, &connection.id, EventType::ConnectionCreated, data, connection.created_at)
    }

    /// `connection.status_changed`, happening when the status changed: the status, the one it
    /// left (none for a new connection) and the connection as it now stands.
    pub fn status_changed(connection: &Connection, previous: Option<ConnectionStatus>) -> Self {
        let mut view = connection.clone();
        view.account_id.clear();
        Self::at(
            &connection.account_id,
            &connection.id,
            EventType::ConnectionStatusChanged,
            json!({
                "status": connection.status,
                "previousStatus": previous,
                "connection": view,
            }),
            connection.status_changed_at,
        )
    }

    /// `connection.auth_required`: the system rejected the stored credentials, for this reason;
    /// it happens with the status change it comes with.
    pub fn auth_required(connection: &Connection, reason: &str) -> Self {
        Self::at(
            &connection.account_id,
            &connection.id,
            EventType::ConnectionAuthRequired,
            json!({"reason": reason, "connectionId": connection.id, "system": connection.system}),
            connection.status_changed_at,
        )
    }

    /// `connection.data_deleted`: the disconnected connection's synced data is gone.
    pub fn data_deleted(account_id: &str, connection_id: &str, at: DateTime<Utc>) -> Self {
        let data = json!({"connectionId": connection_id, "deletedAt": at.to_rfc3339_opts(SecondsFormat::Millis, true)});
        Self::at(account_id, connection_id, EventType::ConnectionDataDeleted, data, at)
    }

    /// The body every delivery of the event carries, byte for byte:
    /// `{"id", "type", "createdAt", "connectionId", "data"}`.
    pub fn body(&self) -> String {
        let mut body = serde_json::to_value(self).expect("an event serialises");
        body.as_object_mut().expect("an object").remove("accountId");
        body.to_string()
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

    #[test]
    fn times_are_fixed_width_milliseconds_and_ids_sort_with_them() {
        let whole = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap().with_timezone(&Utc);
        let earlier = Event::at("a", "c", EventType::SyncFailed, json!({}), whole);
        let later = Event::at("a", "c", EventType::SyncFailed, json!({}), whole + chrono::Duration::microseconds(1500));
        let time = |e: &Event| serde_json::from_str::<Value>(&e.body()).unwrap()["createdAt"].clone();
        assert_eq!(time(&earlier), "2026-12-02T10:00:00.000Z");
        assert_eq!(time(&later), "2026-12-02T10:00:00.001Z");
        assert!(earlier.id < later.id);
    }

    #[test]
    fn status_events_happen_when_the_status_changed() {
        let changed = DateTime::parse_from_rfc3339("2026-12-02T10:00:00.042Z").unwrap().with_timezone(&Utc);
        let mut connection = Connection::example(changed);
        connection.change_status(ConnectionStatus::AuthRequired, changed + chrono::Duration::seconds(5));
        for event in [
            Event::status_changed(&connection, Some(ConnectionStatus::Active)),
            Event::auth_required(&connection, "password expired"),
        ] {
            assert_eq!(event.created_at, connection.status_changed_at, "{:?}", event.kind);
        }
        let body: Value = serde_json::from_str(&Event::status_changed(&connection, None).body()).unwrap();
        assert_eq!(body["createdAt"], "2026-12-02T10:00:05.042Z");
        assert_eq!(body["data"]["status"], "auth_required");
        assert!(body["data"]["connection"].get("accountId").is_none());
    }
}
