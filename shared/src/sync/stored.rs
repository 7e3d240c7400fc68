//! A synced record as the record store keeps it: the unified record plus what reads filter on
//! and what syncs compare — its content hash and the run that last wrote it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::entities::{Entity, Record};

/// The record store's partition of one connection's entity.
pub fn partition(connection_id: &str, entity: Entity) -> String {
    format!("{connection_id}#{}", entity.path())
}

/// A timestamp in the one fixed-width form the store compares as text.
pub fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads a record's timestamp field.
pub fn timestamp(record: &Record, field: &str) -> Option<DateTime<Utc>> {
    record.get(field).and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc())
}

/// How a sync counted a record it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New to Millwright.
    Created,
    /// Its content changed.
    Updated,
    /// Seen again unchanged (full runs write it to mark it seen).
    Unchanged,
    /// Missing from a successful full run.
    Deleted,
}

impl Change {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Deleted => "deleted",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(s: &str) -> Option<Self> {
        [Change::Created, Change::Updated, Change::Unchanged, Change::Deleted].into_iter().find(|c| c.as_str() == s)
    }
}

/// One synced record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The record's key in its system.
    pub key: String,
    /// The record in the unified model.
    pub record: Record,
    /// SHA-256 of the record's canonical JSON: equal hashes mean nothing changed.
    pub hash: String,
    /// The run that wrote it last.
    pub sync_id: Option<String>,
    /// How that run counted it.
    pub change: Option<Change>,
}

impl StoredRecord {
    /// Wraps a record a connector returned; `None` when it has no key.
    pub fn new(record: Record) -> Option<Self> {
        let key = record.get("key").and_then(Value::as_str).filter(|k| !k.is_empty())?.to_owned();
        let hash = hex::encode(Sha256::digest(Value::Object(record.clone()).to_string().as_bytes()));
        Some(Self { key, record, hash, sync_id: None, change: None })
    }

    /// The largest record stored (its JSON): a DynamoDB item holds 400 KB in all.
    pub const MAX_BYTES: usize = 380_000;

    /// Its size, when it is larger than the store takes.
    pub fn too_large(&self) -> Option<usize> {
        let size = Value::Object(self.record.clone()).to_string().len();
        (size > Self::MAX_BYTES).then_some(size)
    }

    /// The same record as written by a run.
    pub fn written_by(mut self, sync_id: &str, change: Change) -> Self {
        self.sync_id = Some(sync_id.to_owned());
        self.change = Some(change);
        self
    }

    /// The record marked deleted at `at` (its hash changes, so a record that comes back is an update).
    pub fn deleted(self, at: DateTime<Utc>, sync_id: &str) -> Self {
        let mut record = self.record;
        record.insert("deletedAt".into(), Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        Self::new(record).expect("the key is unchanged").written_by(sync_id, Change::Deleted)
    }

    /// When the record last changed in its system.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.record, "updatedAt")
    }

    /// When it was deleted, if it was.
    pub fn deleted_at(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.record, "deletedAt")
    }

    /// Its status key, if the entity has statuses.
    pub fn status(&self) -> Option<&str> {
        self.record.get("statusKey").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn equal_content_hashes_equal_and_deletion_changes_the_hash() {
        let a = StoredRecord::new(rec(json!({"key": "1", "b": 2, "updatedAt": "2026-01-01T00:00:00Z"}))).unwrap();
        let b = StoredRecord::new(rec(json!({"updatedAt": "2026-01-01T00:00:00Z", "b": 2, "key": "1"}))).unwrap();
        assert_eq!(a.hash, b.hash);
        let gone = a.clone().deleted(Utc::now(), "sync_1");
        assert_ne!(gone.hash, a.hash);
        assert!(gone.deleted_at().is_some() && gone.change == Some(Change::Deleted));
        assert!(StoredRecord::new(rec(json!({"b": 1}))).is_none());
    }

    #[test]
    fn sortable_timestamps_compare_as_text() {
        let early = DateTime::parse_from_rfc3339("2026-01-01T00:00:09Z").unwrap().to_utc();
        let late = DateTime::parse_from_rfc3339("2026-01-01T00:00:10.5+00:00").unwrap().to_utc();
        assert!(sortable(early) < sortable(late));
        assert_eq!(sortable(late), "2026-01-01T00:00:10.500Z");
    }
}
