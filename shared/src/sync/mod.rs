//! Syncs copy a connection's records from its system into the record store. `SyncService`
//! starts runs and reports them (the HTTP side); `Worker` carries a run out page by page (the
//! queue side). Both speak to storage, the queue and the scheduler only through `ports`.

mod model;
mod stored;
mod worker;

pub use model::{Checkpoint, Counts, RunError, SyncMessage, SyncMode, SyncRun, SyncStatus, Trigger};
pub use stored::{Change, StoredRecord, partition, sortable, timestamp};
pub use worker::{Outcome, Worker};

use chrono::Utc;
use serde::Deserialize;
use std::{sync::Arc, time::Duration};

use crate::{
    capabilities::Operation,
    connectors::Connectors,
    entities::Entity,
    error::{ApiError, ErrorCode},
    model::{Connection, ConnectionStatus, DeletionStatus},
    ports::{RunScope, StoreError, SyncQueue, SyncRunStore},
};

/// Body of `POST /v1/syncs` and `POST /v1/connections/{id}/syncs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Entity paths; the connection's `syncEntities` when omitted.
    #[serde(default)]
    pub entities: Option<Vec<String>>,
    /// Incremental when omitted.
    #[serde(default)]
    pub mode: Option<SyncMode>,
}

/// Turns a storage failure into the API's error, logging the cause.
pub(crate) fn storage(e: StoreError) -> ApiError {
    ApiError::from_store(e, "sync")
}

/// Queues runs and reports on them.
#[derive(Clone)]
pub struct SyncService {
    runs: Arc<dyn SyncRunStore>,
    queue: Arc<dyn SyncQueue>,
    connectors: Connectors,
}

impl SyncService {
    /// Wires the service to its ports.
    pub fn new(runs: Arc<dyn SyncRunStore>, queue: Arc<dyn SyncQueue>, connectors: Connectors) -> Self {
        Self { runs, queue, connectors }
    }

    /// Creates one queued run per entity and puts one message each on the sync queue.
    pub async fn start(
        &self,
        connection: &Connection,
        request: SyncRequest,
        trigger: Trigger,
    ) -> Result<Vec<SyncRun>, ApiError> {
        if connection.status == ConnectionStatus::Disconnected {
            return Err(ApiError::new(ErrorCode::Conflict, "The connection is disconnected; it syncs no more."));
        }
        let capabilities = self
            .connectors
            .capabilities(&connection.system)
            .ok_or_else(|| ApiError::new(ErrorCode::SystemUnavailable, "Syncing this system is not available yet."))?;
        let mut entities: Vec<Entity> = Vec::new();
        match request.entities {
            Some(list) if list.is_empty() => {
                return Err(ApiError::invalid_field("entities", "name at least one entity"));
            }
            Some(list) => {
                for (i, name) in list.iter().enumerate() {
                    let entity = Entity::from_path(name).ok_or_else(|| {
                        let known: Vec<_> = Entity::ALL.iter().map(|e| e.path()).collect();
                        ApiError::invalid_field(format!("entities[{i}]"), format!("one of {}", known.join(", ")))
                    })?;
                    capabilities.of(entity).require(Operation::List)?;
                    if !entities.contains(&entity) {
                        entities.push(entity);
                    }
                }
            }
            // The settings' entities, as far as the system lists them (settings made before
            // connect checked them may name more).
            None => {
                let listable = capabilities.listable();
                let chosen = connection.settings.sync_entities.iter().filter_map(|name| Entity::from_path(name));
                entities.extend(chosen.filter(|e| listable.contains(e)));
                if entities.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "The connection's settings name no entity to sync.",
                    ));
                }
            }
        }
        let mode = request.mode.unwrap_or(SyncMode::Incremental);
        // Rejected credentials are not presented again (systems lock users out after a few
        // failed logons): a schedule's firing is recorded as skipped, anything else refused.
        let needs_auth = connection.status == ConnectionStatus::AuthRequired;
        if needs_auth && trigger != Trigger::Schedule {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "The system rejected the stored credentials; replace them (PUT /v1/connections/{id}/credentials) first.",
            ));
        }
        let now = Utc::now();
        let runs: Vec<SyncRun> = entities
            .iter()
            .map(|e| SyncRun {
                id: format!("sync_{}", ulid::Ulid::new().to_string().to_lowercase()),
                connection_id: connection.id.clone(),
                account_id: connection.account_id.clone(),
                entity: e.path().to_owned(),
                mode,
                status: if needs_auth { SyncStatus::Skipped } else { SyncStatus::Queued },
                trigger,
                created_at: now,
                started_at: None,
                finished_at: needs_auth.then_some(now),
                counts: Counts::default(),
                error: needs_auth.then(|| {
                    RunError::new(ErrorCode::InvalidCredentials, "Skipped: the connection needs new credentials.")
                }),
                checkpoint: Checkpoint::default(),
            })
            .collect();
        if needs_auth {
            self.runs.create(&runs).await.map_err(storage)?;
            tracing::warn!(connection = %connection.id, runs = runs.len(), "scheduled syncs skipped: credentials rejected");
            return Ok(runs);
        }
        // At most one queued run per connection, entity and mode: a request for one that is
        // queued already joins it.
        let mut answer = Vec::with_capacity(runs.len());
        let mut fresh = Vec::new();
        for run in runs {
            match self.queued_already(&run).await? {
                Some(queued) => answer.push(queued),
                None => {
                    answer.push(run.clone());
                    fresh.push(run);
                }
            }
        }
        let messages: Vec<SyncMessage> = fresh
            .iter()
            .map(|r| SyncMessage::Run { connection_id: r.connection_id.clone(), sync_id: r.id.clone() })
            .collect();
        let queued = match self.runs.create(&fresh).await {
            Ok(()) => self.queue.send(&messages, Duration::ZERO).await,
            Err(e) => Err(e),
        };
        if let Err(e) = queued {
            // Runs that will never run must not stay the ones later requests join.
            for run in &fresh {
                if let Err(e) = self.runs.clear_queued(run).await {
                    tracing::error!(sync = %run.id, error = %e, "a run that was not queued still marks its entity");
                }
            }
            return Err(storage(e));
        }
        tracing::info!(connection = %connection.id, queued = fresh.len(), joined = answer.len() - fresh.len(), ?mode, ?trigger, "syncs queued");
        Ok(answer)
    }

    /// The queued run of the same connection, entity and mode that `run` joins, if there is
    /// one; otherwise `run` becomes that queued run (taking the place of one that has ended).
    async fn queued_already(&self, run: &SyncRun) -> Result<Option<SyncRun>, ApiError> {
        let mut stale = None;
        for _ in 0..3 {
            let Some(id) = self.runs.claim_queued(run, stale.as_deref()).await.map_err(storage)? else {
                return Ok(None);
            };
            match self.runs.run(&run.connection_id, &id).await.map_err(storage)? {
                Some(queued) if queued.status == SyncStatus::Queued => return Ok(Some(queued)),
                _ => stale = Some(id),
            }
        }
        Err(ApiError::new(ErrorCode::Conflict, "Syncs of this entity are being started meanwhile; retry."))
    }

    /// Starts the first sync of a new connection: a full run of each entity it is waiting for.
    /// The connection exists by now, so a failure here is logged and left to the schedule,
    /// whose first run copies everything too.
    pub async fn initial(&self, connection: &Connection) -> Option<Vec<SyncRun>> {
        if connection.initial_sync_pending.is_empty() {
            return None;
        }
        let request =
            SyncRequest { entities: Some(connection.initial_sync_pending.clone()), mode: Some(SyncMode::Full) };
        match self.start(connection, request, Trigger::Connect).await {
            Ok(runs) => Some(runs),
            Err(e) => {
                tracing::error!(connection = %connection.id, error = %e, "could not start the first sync");
                None
            }
        }
    }

    /// Queues the deletion of a connection's data (until it is done; a repeat is harmless).
    pub async fn erase(&self, connection: &Connection) -> Result<(), ApiError> {
        if connection.data_deletion.as_ref().is_some_and(|d| d.status == DeletionStatus::Deleting) {
            let message = SyncMessage::DeleteData {
                account_id: connection.account_id.clone(),
                connection_id: connection.id.clone(),
            };
            self.queue.send(&[message], Duration::ZERO).await.map_err(storage)?;
        }
        Ok(())
    }

    /// Puts a message back on the queue, delivered after `delay`.
    pub async fn requeue(&self, message: &SyncMessage, delay: Duration) -> Result<(), StoreError> {
        self.queue.send(std::slice::from_ref(message), delay).await
    }

    /// One run in the caller's scope; 404 outside it.
    pub async fn get(&self, scope: RunScope<'_>, id: &str) -> Result<SyncRun, ApiError> {
        let run = match scope {
            RunScope::Connection(c) => self.runs.run(c, id).await,
            RunScope::Account(a) => self.runs.account_run(a, id).await,
        };
        run.map_err(storage)?.ok_or_else(|| ApiError::not_found("sync"))
    }

    /// Runs in the caller's scope, newest first.
    pub async fn list(
        &self,
        scope: RunScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SyncRun>, Option<String>), ApiError> {
        self.runs.runs(scope, after, limit).await.map_err(storage)
    }
}
