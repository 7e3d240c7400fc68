//! What a sync is made of: runs as the API shows them, the checkpoint a run resumes from, the
//! messages on the sync queue and the events a finished run leaves for webhooks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{Event, EventType};

/// Incremental takes what changed since the last successful run; full takes the whole
/// historical window and marks what vanished as deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Only changes since the mark.
    Incremental,
    /// Everything within `historicalDays`.
    Full,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Waiting on the queue.
    Queued,
    /// A worker holds it.
    Running,
    /// Finished; the mark moved.
    Succeeded,
    /// Finished without moving the mark or deleting anything.
    Failed,
    /// Never ran: when the schedule fired, the system had rejected the stored credentials, so
    /// it was not asked again.
    Skipped,
}

impl SyncStatus {
    /// Whether the run has ended.
    pub fn finished(self) -> bool {
        matches!(self, SyncStatus::Succeeded | SyncStatus::Failed | SyncStatus::Skipped)
    }

    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Queued => "queued",
            SyncStatus::Running => "running",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
            SyncStatus::Skipped => "skipped",
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `POST /v1/syncs` or `POST /v1/connections/{id}/syncs`.
    Manual,
    /// The connection's schedule.
    Schedule,
    /// The first sync of a new connection.
    Connect,
}

/// Records a run has handled so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records the system returned.
    pub fetched: u64,
    /// Records new to Millwright.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records marked deleted.
    pub deleted: u64,
}

/// Why a run failed, in the API's error vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// An API.md error code.
    pub code: String,
    /// What happened.
    pub message: String,
}

impl RunError {
    /// A run error in the API's vocabulary.
    pub fn new(code: crate::ErrorCode, message: impl Into<String>) -> Self {
        let code = serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Self { code, message: message.into() }
    }
}

impl From<crate::ApiError> for RunError {
    fn from(e: crate::ApiError) -> Self {
        let details: Vec<&str> = e.details.iter().map(|d| d.message.as_str()).collect();
        let message = if details.is_empty() { e.message } else { format!("{} ({})", e.message, details.join("; ")) };
        Self::new(e.code, message)
    }
}

/// Where a run is, so a new worker carries on after the last completed page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The connector's opaque position of the next page; none before the first page.
    pub cursor: Option<String>,
    /// Pages completed.
    pub pages: u64,
    /// The lower bound of `updatedAt` the run asks for (inclusive); none for everything.
    pub since: Option<DateTime<Utc>>,
    /// The largest `updatedAt` seen so far: the next mark if the run succeeds.
    pub high_water: Option<DateTime<Utc>>,
    /// All pages are stored; a full run is sweeping records it did not see.
    #[serde(default)]
    pub sweeping: bool,
    /// The sweep's position (a record key).
    pub sweep_after: Option<String>,
    /// How often the run has waited for its system to be available again.
    #[serde(default)]
    pub waits: u32,
}

/// One sync of one entity of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    /// `sync_…` (a ULID, so runs sort by creation).
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// Its account.
    pub account_id: String,
    /// The unified entity path (`purchase-orders`, …).
    pub entity: String,
    /// Incremental or full.
    pub mode: SyncMode,
    /// Where it stands.
    pub status: SyncStatus,
    /// Who asked for it.
    pub trigger: Trigger,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When a worker first took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it did.
    pub counts: Counts,
    /// Why it failed.
    pub error: Option<RunError>,
    /// Where it resumes; internal, not part of the API's view.
    #[serde(default)]
    pub checkpoint: Checkpoint,
}

impl SyncRun {
    /// The run as `GET /v1/syncs/{id}` shows it, with progress while it runs.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "connectionId": self.connection_id,
            "entity": self.entity,
            "mode": self.mode,
            "status": self.status,
            "trigger": self.trigger,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "counts": self.counts,
            "error": self.error,
            "progress": (self.status == SyncStatus::Running)
                .then(|| serde_json::json!({"pages": self.checkpoint.pages, "sweeping": self.checkpoint.sweeping})),
        })
    }
}

/// A message on the sync queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncMessage {
    /// Run (or carry on with) one queued run.
    Run {
        /// The connection.
        #[serde(rename = "connectionId")]
        connection_id: String,
        /// The run.
        #[serde(rename = "syncId")]
        sync_id: String,
    },
    /// A schedule fired: queue incremental runs of the connection's sync entities.
    Scheduled {
        /// The account.
        #[serde(rename = "accountId")]
        account_id: String,
        /// The connection.
        #[serde(rename = "connectionId")]
        connection_id: String,
    },
    /// Delete a disconnected connection's synced data (records, runs, marks), a batch at a time.
    DeleteData {
        /// The account.
        #[serde(rename = "accountId")]
        account_id: String,
        /// The connection.
        #[serde(rename = "connectionId")]
        connection_id: String,
    },
}

impl Event {
    /// The event that reports a finished run.
    pub fn finished(run: &SyncRun) -> Self {
        let kind = if run.status == SyncStatus::Succeeded { EventType::SyncCompleted } else { EventType::SyncFailed };
        let mut event = Event::new(&run.account_id, &run.connection_id, kind, run.view());
        event.created_at = run.finished_at.unwrap_or(event.created_at);
        event
    }
}
