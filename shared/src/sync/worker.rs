//! The sync function's work: one run, page by page, checkpointed after every page so that a
//! new worker carries on where a stopped one left off; near the deadline it hands the run back
//! to the queue. One invocation at a time per connection and entity, under a lease that is the
//! invocation's own (SQS may deliver a message twice; the second delivery waits), held until the
//! invocation's deadline at the latest. A run's message that failed every retry ends the run.

use chrono::{DateTime, Duration as Span, Utc};
use std::{collections::HashMap, sync::Arc, time::Duration};

use super::{Change, RunError, StoredRecord, SyncMessage, SyncMode, SyncRequest, SyncRun, SyncStatus, Trigger};
use crate::events::Event;
use crate::{
    connections::credentials,
    connectors::{Connector, ConnectorError, Connectors, Credentials},
    entities::Entity,
    error::ErrorCode,
    model::ConnectionStatus,
    ports::{
        ConnectionData, ConnectionStore, Holder, InFlight, Known, Lease, RecordStore, SecretStore, StoreError,
        SyncRunStore,
    },
    records::connector_error,
    sync::{SyncService, partition},
    turns,
};

/// How long a run that found its entity busy waits before it asks again.
const BUSY_WAIT: Duration = Duration::from_secs(30);
/// The most time kept back before the deadline, to checkpoint and hand over.
const MAX_MARGIN: Span = Span::seconds(60);

/// What handling a message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The run ended (or there was nothing to do).
    Done,
    /// The deadline neared; the run is back on the queue from its checkpoint.
    Handed,
    /// The run is back on the queue, later: another run of the same entity holds the lease,
    /// or its system is unavailable for now.
    Waiting,
    /// The runs of a schedule's firing are queued.
    Queued,
    /// Another worker took the run over; this one stopped.
    Superseded,
}

/// Carries sync runs out.
#[derive(Clone)]
pub struct Worker {
    /// Runs, leases and marks.
    pub runs: Arc<dyn SyncRunStore>,
    /// Synced records.
    pub records: Arc<dyn RecordStore>,
    /// A connection's records, runs and marks, for deleting them.
    pub data: Arc<dyn ConnectionData>,
    /// Connections (status and settings).
    pub connections: Arc<dyn ConnectionStore>,
    /// Connection credentials.
    pub secrets: Arc<dyn SecretStore>,
    /// The systems' connectors.
    pub connectors: Connectors,
    /// Places among a connection's calls in flight, for systems that limit them.
    pub in_flight: Option<Arc<dyn InFlight>>,
    /// Starts the runs of a schedule's firing and hands runs back to the queue.
    pub service: SyncService,
}

/// Items deleted per step of a data deletion: a few seconds of batch writes.
const DELETE_BATCH: usize = 500;

/// What one step of a run came to.
enum Step {
    /// More to do; `wrote` when the step stored something, so its position must be saved.
    More {
        /// Whether the step wrote records.
        wrote: bool,
    },
    /// The run succeeded.
    Succeeded,
    /// The run failed.
    Failed(RunError),
    /// The system is unavailable for now: carry on from the checkpoint after this long.
    Wait(Duration),
    /// Every call the system allows the connection is in flight (other runs, writes): carry on
    /// from the checkpoint shortly, without counting it as a wait.
    Busy,
}

/// How often a run waits for its system before it fails with the system's error.
const MAX_WAITS: u32 = 3;

/// How long a run waits for a system that is down or slow and did not say for how long.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// How long a page waits for a place among its connection's calls in flight before its run
/// goes back to the queue, and how long it stays there.
const TURN_PATIENCE: Duration = Duration::from_secs(5);
const TURN_DELAY: Duration = Duration::from_secs(2);

/// The longest a queued message can be delayed by SQS.
const LONGEST_WAIT: Duration = Duration::from_secs(900);

/// How long a run waits after its system failed it this way, if this is worth waiting out.
fn wait_for(error: &ConnectorError) -> Option<Duration> {
    match error {
        ConnectorError::Unavailable { retry_after, .. } => Some(retry_after.unwrap_or(DEFAULT_WAIT).min(LONGEST_WAIT)),
        ConnectorError::Timeout => Some(DEFAULT_WAIT),
        _ => None,
    }
}

impl Worker {
    /// Handles one queue message before `deadline`. An `Err` leaves the message for a retry.
    pub async fn handle(&self, message: &SyncMessage, deadline: DateTime<Utc>) -> Result<Outcome, StoreError> {
        match message {
            SyncMessage::Scheduled { account_id, connection_id } => {
                let Some(connection) = self.connections.connection(account_id, connection_id).await? else {
                    return Ok(Outcome::Done);
                };
                if connection.status == ConnectionStatus::Disconnected {
                    tracing::info!(connection = %connection_id, "schedule fired after disconnect; nothing queued");
                    return Ok(Outcome::Done);
                }
                match self.service.start(&connection, SyncRequest::default(), Trigger::Schedule).await {
                    Ok(_) => Ok(Outcome::Queued),
                    // A firing the connection refuses would be refused again: drop it, say why.
                    Err(e) if e.code.status() < 500 => {
                        tracing::warn!(connection = %connection_id, error = %e, "scheduled sync refused; nothing queued");
                        Ok(Outcome::Done)
                    }
                    Err(e) => Err(StoreError::Backend(format!("queueing scheduled runs: {}", e.message))),
                }
            }
            SyncMessage::DeleteData { account_id, connection_id } => {
                self.delete_data(account_id, connection_id, message, deadline).await
            }
            SyncMessage::Run { connection_id, sync_id } => {
                let Some(run) = self.runs.run(connection_id, sync_id).await? else {
                    tracing::warn!(sync = %sync_id, "no such run");
                    return Ok(Outcome::Done);
                };
                if run.status.finished() {
                    return Ok(Outcome::Done);
                }
                self.carry_on(run, message, deadline).await
            }
        }
    }

    /// Handles a message that failed every retry (from the dead-letter queue): its run, if it has
    /// not ended and no invocation holds it, ends failed with its event, so no run stays
    /// `running` for ever. Other messages are only logged.
    pub async fn abandon(&self, message: &SyncMessage) -> Result<Outcome, StoreError> {
        let SyncMessage::Run { connection_id, sync_id } = message else {
            tracing::error!(?message, "sync work failed every retry; dropped");
            return Ok(Outcome::Done);
        };
        let Some(run) = self.runs.run(connection_id, sync_id).await? else { return Ok(Outcome::Done) };
        if run.status.finished() {
            return Ok(Outcome::Done);
        }
        tracing::error!(sync = %run.id, "the run's work failed every retry; it ends failed");
        self.runs.clear_queued(&run).await?;
        let error = RunError::new(ErrorCode::InternalError, "The run failed every retry; start a new one.");
        self.end(run, Holder::Abandoned(Utc::now()), Step::Failed(error)).await
    }

    /// Deletes a disconnected connection's data a batch at a time, then records it done with its
    /// event; near the deadline it hands itself back to the queue and carries on from what is left.
    async fn delete_data(
        &self,
        account_id: &str,
        connection_id: &str,
        message: &SyncMessage,
        deadline: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        loop {
            if deadline - Utc::now() < MAX_MARGIN {
                self.service.requeue(message, Duration::ZERO).await?;
                return Ok(Outcome::Handed);
            }
            if self.data.delete_some(connection_id, DELETE_BATCH).await? == 0 {
                self.connections.finish_data_deletion(account_id, connection_id, Utc::now()).await?;
                tracing::info!(connection = %connection_id, "the connection's data is deleted");
                return Ok(Outcome::Done);
            }
        }
    }

    async fn carry_on(
        &self,
        mut run: SyncRun,
        message: &SyncMessage,
        deadline: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let started = Utc::now();
        let token = ulid::Ulid::new().to_string();
        let token = token.as_str();
        // Held until this invocation's deadline at the latest: Lambda ends it there.
        let mark = match self.runs.lease(&run, token, started, deadline).await? {
            Lease::Busy => {
                self.service.requeue(message, BUSY_WAIT).await?;
                return Ok(Outcome::Waiting);
            }
            Lease::Acquired { mark } => mark,
        };
        let Some(connection) = self.connections.connection(&run.account_id, &run.connection_id).await? else {
            let error = RunError::new(ErrorCode::NotFound, "The connection does not exist.");
            return self.end(run, Holder::Lease(token), Step::Failed(error)).await;
        };
        let stopped =
            || RunError::new(ErrorCode::Conflict, "The connection was disconnected; the run stopped without writing.");
        if connection.status == ConnectionStatus::Disconnected {
            return self.end(run, Holder::Lease(token), Step::Failed(stopped())).await;
        }
        if run.status == SyncStatus::Queued {
            // Started: a new request queues a run of its own rather than join this one.
            self.runs.clear_queued(&run).await?;
            let window = started - Span::days(i64::from(connection.settings.historical_days));
            run.status = SyncStatus::Running;
            run.started_at = Some(started);
            run.checkpoint.since = Some(match run.mode {
                SyncMode::Full => window,
                SyncMode::Incremental => mark.unwrap_or(window),
            });
        }
        let Some(entity) = Entity::from_path(&run.entity) else {
            return self
                .end(
                    run,
                    Holder::Lease(token),
                    Step::Failed(RunError::new(ErrorCode::InvalidRequest, "Unknown entity.")),
                )
                .await;
        };
        let Some(connector) = self.connectors.get(&connection.system) else {
            let error = RunError::new(ErrorCode::SystemUnavailable, "Syncing this system is not available yet.");
            return self.end(run, Holder::Lease(token), Step::Failed(error)).await;
        };
        let Some(credentials) = credentials(self.secrets.as_ref(), &run.account_id, &run.connection_id).await? else {
            let error = RunError::new(ErrorCode::Conflict, "The connection has no credentials; it was disconnected.");
            return self.end(run, Holder::Lease(token), Step::Failed(error)).await;
        };
        // Keep a fifth of the time this invocation has (at most a minute) to checkpoint and hand over.
        let margin = ((deadline - started) / 5).min(MAX_MARGIN);
        let mut steps = 0u32;
        loop {
            if steps > 0 && Utc::now() + margin >= deadline {
                if !self.save(&run, token, true).await? {
                    return Ok(Outcome::Superseded);
                }
                self.service.requeue(message, Duration::ZERO).await?;
                tracing::info!(sync = %run.id, pages = run.checkpoint.pages, %deadline, "deadline near; handed back to the queue");
                return Ok(Outcome::Handed);
            }
            steps += 1;
            // Disconnect stops a run before its next write (the first step has just looked).
            if steps > 1 {
                let live = self.connections.connection(&run.account_id, &run.connection_id).await?;
                if live.is_none_or(|c| c.status == ConnectionStatus::Disconnected) {
                    return self.end(run, Holder::Lease(token), Step::Failed(stopped())).await;
                }
            }
            let step = if run.checkpoint.sweeping {
                self.sweep(&mut run, entity).await?
            } else {
                self.page(&mut run, entity, &connection.system, connector.as_ref(), &credentials, deadline).await?
            };
            match step {
                // A step that wrote nothing (a sweep over records that are all there) need not be
                // saved: repeating it costs reads only.
                Step::More { wrote } => {
                    if wrote && !self.save(&run, token, false).await? {
                        return Ok(Outcome::Superseded);
                    }
                }
                Step::Wait(delay) => {
                    if !self.save(&run, token, true).await? {
                        return Ok(Outcome::Superseded);
                    }
                    self.service.requeue(message, delay).await?;
                    tracing::info!(sync = %run.id, seconds = delay.as_secs(), "system unavailable; carrying on later");
                    return Ok(Outcome::Waiting);
                }
                Step::Busy => {
                    if !self.save(&run, token, true).await? {
                        return Ok(Outcome::Superseded);
                    }
                    self.service.requeue(message, TURN_DELAY).await?;
                    tracing::info!(sync = %run.id, "the connection's calls in flight are all taken; carrying on shortly");
                    return Ok(Outcome::Waiting);
                }
                done => {
                    let mark = match done {
                        Step::Succeeded => run.checkpoint.high_water.max(mark),
                        _ => None,
                    };
                    return self.end_with_mark(run, Holder::Lease(token), done, mark).await;
                }
            }
        }
    }

    /// Saves progress under the invocation's lease (releasing it when the run goes back to the
    /// queue); false when the run ended or another invocation holds it now.
    async fn save(&self, run: &SyncRun, token: &str, release: bool) -> Result<bool, StoreError> {
        match self.runs.save(run, token, release).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(m)) => {
                tracing::warn!(sync = %run.id, reason = %m, "lease lost; stopping");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches, compares and stores the next page of changes.
    async fn page(
        &self,
        run: &mut SyncRun,
        entity: Entity,
        system: &str,
        connector: &dyn Connector,
        credentials: &Credentials,
        deadline: DateTime<Utc>,
    ) -> Result<Step, StoreError> {
        // A system that limits a connection's calls at once: this page takes its turn.
        let place = match (connector.calls_at_once(credentials), &self.in_flight) {
            (Some(places), Some(in_flight)) => {
                match turns::take(in_flight.as_ref(), &run.connection_id, places, deadline, TURN_PATIENCE).await? {
                    Some(place) => Some((in_flight, place)),
                    None => return Ok(Step::Busy),
                }
            }
            _ => None,
        };
        let cp = &run.checkpoint;
        let changes = connector.changes(credentials, entity, cp.since, cp.cursor.as_deref()).await;
        if let Some((in_flight, place)) = &place {
            turns::release(in_flight.as_ref(), place).await;
        }
        let page = match changes {
            Ok(page) => page,
            Err(e) if run.checkpoint.waits < MAX_WAITS && wait_for(&e).is_some() => {
                run.checkpoint.waits += 1;
                return Ok(Step::Wait(wait_for(&e).unwrap_or(DEFAULT_WAIT)));
            }
            Err(e) => {
                // Rejected credentials will not heal by retrying: the user must reconnect.
                if let ConnectorError::Rejected(reason) = &e
                    && self.connections.require_auth(&run.account_id, &run.connection_id, reason).await?
                {
                    tracing::warn!(sync = %run.id, "the system rejected the stored credentials; connection needs auth");
                }
                return Ok(Step::Failed(connector_error(system, e).into()));
            }
        };
        let mut fresh: HashMap<String, StoredRecord> = HashMap::with_capacity(page.records.len());
        for record in page.records {
            let Some(stored) = StoredRecord::new(record) else {
                return Ok(Step::Failed(RunError::new(
                    ErrorCode::UpstreamError,
                    "The system returned a record without a key.",
                )));
            };
            // Storing it would fail on every retry: the run ends here, saying which record.
            if let Some(size) = stored.too_large() {
                let message = format!(
                    "Record {} is {} KB in the unified model; Millwright stores records of up to {} KB.",
                    stored.key,
                    size / 1000,
                    StoredRecord::MAX_BYTES / 1000
                );
                return Ok(Step::Failed(RunError::new(ErrorCode::UpstreamError, message)));
            }
            run.counts.fetched += 1;
            run.checkpoint.high_water = run.checkpoint.high_water.max(stored.updated_at());
            fresh.insert(stored.key.clone(), stored);
        }
        let partition = partition(&run.connection_id, entity);
        let keys: Vec<String> = fresh.keys().cloned().collect();
        let known = self.records.known(&partition, &keys).await?;
        let mut writes = Vec::new();
        for (key, stored) in fresh {
            let (change, write) = classify(known.get(&key), &stored, run);
            match change {
                Change::Created => run.counts.created += 1,
                Change::Updated => run.counts.updated += 1,
                Change::Deleted => run.counts.deleted += 1,
                Change::Unchanged => {}
            }
            if write {
                writes.push(stored.written_by(&run.id, change));
            }
        }
        self.records.put(&partition, &writes).await?;
        run.checkpoint.pages += 1;
        run.checkpoint.cursor = page.next;
        if run.checkpoint.cursor.is_some() {
            Ok(Step::More { wrote: true })
        } else if run.mode == SyncMode::Full {
            run.checkpoint.sweeping = true;
            Ok(Step::More { wrote: true })
        } else {
            Ok(Step::Succeeded)
        }
    }

    /// After every page of a full run: marks deleted the live records of the window it did not see.
    async fn sweep(&self, run: &mut SyncRun, entity: Entity) -> Result<Step, StoreError> {
        let partition = partition(&run.connection_id, entity);
        let began = run.started_at.unwrap_or_else(Utc::now);
        let (unseen, next) = self
            .records
            .unseen(&partition, &run.id, run.checkpoint.since, began, run.checkpoint.sweep_after.as_deref())
            .await?;
        let now = Utc::now();
        let gone: Vec<StoredRecord> = unseen.into_iter().map(|r| r.deleted(now, &run.id)).collect();
        self.records.put(&partition, &gone).await?;
        run.counts.deleted += gone.len() as u64;
        let gone = gone.len();
        run.checkpoint.sweep_after = next;
        Ok(if run.checkpoint.sweep_after.is_some() { Step::More { wrote: gone > 0 } } else { Step::Succeeded })
    }

    async fn end(&self, run: SyncRun, holder: Holder<'_>, step: Step) -> Result<Outcome, StoreError> {
        self.end_with_mark(run, holder, step, None).await
    }

    /// Records how the run ended, with the event for webhooks, in one step; once.
    async fn end_with_mark(
        &self,
        mut run: SyncRun,
        holder: Holder<'_>,
        step: Step,
        mark: Option<DateTime<Utc>>,
    ) -> Result<Outcome, StoreError> {
        run.finished_at = Some(Utc::now());
        match step {
            Step::Failed(error) => {
                run.status = SyncStatus::Failed;
                tracing::warn!(sync = %run.id, code = %error.code, "sync failed");
                run.error = Some(error);
            }
            _ => run.status = SyncStatus::Succeeded,
        }
        let event = Event::finished(&run);
        match self.runs.finish(&run, holder, mark, &event).await {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) => {
                tracing::warn!(sync = %run.id, reason = %m, "the run ended elsewhere or is held by another invocation");
                return Ok(Outcome::Superseded);
            }
            Err(e) => return Err(e),
        }
        tracing::info!(sync = %run.id, status = run.status.as_str(), counts = ?run.counts, "sync finished");
        Ok(Outcome::Done)
    }
}

/// How a fetched record counts, and whether it must be written. A record this very run wrote
/// before (it was stopped and carries on, or the record changed while the run went on and came
/// again) counts as it did then and is not written again — unless it came back changed.
fn classify(known: Option<&Known>, stored: &StoredRecord, run: &SyncRun) -> (Change, bool) {
    match known {
        None => (Change::Created, true),
        Some(k) if k.sync_id.as_deref() == Some(run.id.as_str()) && k.hash == stored.hash => {
            (k.change.as_deref().and_then(Change::parse).unwrap_or(Change::Unchanged), false)
        }
        Some(k) if k.sync_id.as_deref() == Some(run.id.as_str()) => (Change::Updated, true),
        // A full run marks what it saw, so its sweep can tell what vanished.
        Some(k) if k.hash == stored.hash => (Change::Unchanged, run.mode == SyncMode::Full),
        Some(_) => (Change::Updated, true),
    }
}
