//! `SyncRunStore` on DynamoDB. Runs live under their connection, sorted by id (ULIDs, so by
//! creation); an index by account serves the account key. Beside the runs, one state item per
//! connection and entity holds the lease and the mark; ending a run is one transaction over the
//! run, that state, the connection's `lastSync` and the event.

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    operation::update_item::UpdateItemError,
    types::{
        AttributeValue, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
        Update,
    },
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use crate::lazy::Lazy;
use crate::{
    batch,
    dynamo::{Item, TxFailure, backend, built, from_item, s, sdk, to_item, transact},
    retention,
};
use millwright::{
    events::Event,
    model::LastSync,
    ports::{Holder, Lease, RunScope, StoreError, SyncRunStore},
    sync::{SyncMode, SyncRun, SyncStatus, sortable},
};

/// The index of runs by account.
const BY_ACCOUNT: &str = "byAccount";
/// Every run id starts with this; state items sort after all of them.
const RUN_PREFIX: &str = "sync_";
/// Above every run id.
const RUN_CEILING: &str = "sync_~";

/// Runs, leases, marks and events.
pub struct DynamoSyncRuns {
    client: Lazy<Client>,
    runs: String,
    connections: String,
    events: String,
}

/// The state item's attribute naming the queued run of a mode (`queuedFull`, `queuedIncremental`).
fn queued_attribute(run: &SyncRun) -> &'static str {
    match run.mode {
        SyncMode::Full => "queuedFull",
        SyncMode::Incremental => "queuedIncremental",
    }
}

fn state_key(run: &SyncRun) -> Item {
    HashMap::from([("connectionId".into(), s(&run.connection_id)), ("id".into(), s(format!("~state#{}", run.entity)))])
}

fn conflict(f: TxFailure) -> StoreError {
    match f {
        TxFailure::Conditions(_) => {
            StoreError::Conflict("the run has ended, or this invocation does not hold its lease".into())
        }
        other => backend(other),
    }
}

impl DynamoSyncRuns {
    /// The store over the runs table, the connections table (for `lastSync`) and the events table.
    pub fn new(client: impl Into<Lazy<Client>>, runs: String, connections: String, events: String) -> Self {
        Self { client: client.into(), runs, connections, events }
    }

    fn decode(items: Vec<Item>) -> Result<Vec<SyncRun>, StoreError> {
        items
            .into_iter()
            .filter(|i| matches!(i.get("id"), Some(AttributeValue::S(id)) if id.starts_with(RUN_PREFIX)))
            .map(from_item)
            .collect()
    }

    /// The lease's part in ending a run. The holder releases it (setting the mark if given); a
    /// run given up on ends only while it holds no live lease, and leaves the lease alone (another
    /// run's, or its own expired one).
    fn held(
        &self,
        run: &SyncRun,
        holder: Holder<'_>,
        mark: Option<DateTime<Utc>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let token = match holder {
            Holder::Lease(token) => token,
            Holder::Abandoned(now) => {
                let check = ConditionCheck::builder()
                    .table_name(&self.runs)
                    .set_key(Some(state_key(run)))
                    .condition_expression("attribute_not_exists(leaseRun) OR leaseRun <> :r OR leaseUntil < :now")
                    .expression_attribute_values(":r", s(&run.id))
                    .expression_attribute_values(":now", s(sortable(now)));
                return Ok(TransactWriteItem::builder().condition_check(built(check.build())?).build());
            }
        };
        let update = Update::builder()
            .table_name(&self.runs)
            .set_key(Some(state_key(run)))
            .condition_expression("leaseToken = :t")
            .expression_attribute_values(":t", s(token));
        let update = built(match mark {
            Some(m) => update
                .update_expression("SET mark = :m REMOVE leaseRun, leaseToken, leaseUntil")
                .expression_attribute_values(":m", s(sortable(m)))
                .build(),
            None => update.update_expression("REMOVE leaseRun, leaseToken, leaseUntil").build(),
        })?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// The run, put only while it has not ended: a run ends once, whoever else tries. A run that
/// ends is kept for `retention::FINISHED_RUNS`.
fn put_unfinished(table: &str, run: &SyncRun) -> Result<TransactWriteItem, StoreError> {
    let item = match run.finished_at {
        Some(at) => retention::expiring(to_item(run)?, at, retention::FINISHED_RUNS),
        None => to_item(run)?,
    };
    Ok(TransactWriteItem::builder()
        .put(built(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("#s IN (:queued, :running)")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":queued", s(SyncStatus::Queued.as_str()))
                .expression_attribute_values(":running", s(SyncStatus::Running.as_str()))
                .build(),
        )?)
        .build())
}

#[async_trait]
impl SyncRunStore for DynamoSyncRuns {
    async fn create(&self, runs: &[SyncRun]) -> Result<(), StoreError> {
        batch::put_all(&self.client, &self.runs, runs.iter().map(to_item).collect::<Result<_, _>>()?).await
    }

    async fn run(&self, connection_id: &str, id: &str) -> Result<Option<SyncRun>, StoreError> {
        if !id.starts_with(RUN_PREFIX) {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.runs)
            .key("connectionId", s(connection_id))
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get run", e))?;
        out.item.map(from_item).transpose()
    }

    async fn account_run(&self, account_id: &str, id: &str) -> Result<Option<SyncRun>, StoreError> {
        if !id.starts_with(RUN_PREFIX) {
            return Ok(None);
        }
        let out = self
            .client
            .query()
            .table_name(&self.runs)
            .index_name(BY_ACCOUNT)
            .key_condition_expression("accountId = :a AND id = :id")
            .expression_attribute_values(":a", s(account_id))
            .expression_attribute_values(":id", s(id))
            .send()
            .await
            .map_err(|e| sdk("query run", e))?;
        Ok(Self::decode(out.items.unwrap_or_default())?.into_iter().next())
    }

    async fn runs(
        &self,
        scope: RunScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SyncRun>, Option<String>), StoreError> {
        // Newest first; a position is the last id shown, and ids are unique, so "below it" is exact.
        let (partition, value, index) = match scope {
            RunScope::Connection(c) => ("connectionId", c, None),
            RunScope::Account(a) => ("accountId", a, Some(BY_ACCOUNT)),
        };
        let out = self
            .client
            .query()
            .table_name(&self.runs)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(format!("{partition} = :p AND id BETWEEN :lo AND :hi"))
            .expression_attribute_values(":p", s(value))
            .expression_attribute_values(":lo", s(RUN_PREFIX))
            .expression_attribute_values(":hi", s(after.unwrap_or(RUN_CEILING)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 2).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk("query runs", e))?;
        let mut runs: Vec<SyncRun> = Self::decode(out.items.unwrap_or_default())?;
        runs.retain(|r| Some(r.id.as_str()) != after);
        let next = (runs.len() > limit).then(|| {
            runs.truncate(limit);
            runs[limit - 1].id.clone()
        });
        Ok((runs, next))
    }

    async fn claim_queued(&self, run: &SyncRun, stale: Option<&str>) -> Result<Option<String>, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.runs)
            .set_key(Some(state_key(run)))
            .update_expression("SET #q = :id")
            .expression_attribute_names("#q", queued_attribute(run))
            .expression_attribute_values(":id", s(&run.id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match stale {
            Some(old) => update.condition_expression("#q = :old").expression_attribute_values(":old", s(old)),
            None => update.condition_expression("attribute_not_exists(#q)"),
        };
        match update.send().await {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let held = c.item().and_then(|i| i.get(queued_attribute(run))).and_then(|v| v.as_s().ok());
                    // Taken over meanwhile by another request: that one is the queued run now.
                    Ok(Some(held.cloned().unwrap_or_default()))
                }
                _ => Err(sdk("claim the queued run", e)),
            },
        }
    }

    async fn clear_queued(&self, run: &SyncRun) -> Result<(), StoreError> {
        let cleared = self
            .client
            .update_item()
            .table_name(&self.runs)
            .set_key(Some(state_key(run)))
            .update_expression("REMOVE #q")
            .condition_expression("#q = :id")
            .expression_attribute_names("#q", queued_attribute(run))
            .expression_attribute_values(":id", s(&run.id))
            .send()
            .await;
        match cleared {
            Ok(_) => Ok(()),
            // Another run is the queued one already (or none is): nothing of this run's to clear.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk("clear the queued run", e)),
        }
    }

    async fn lease(
        &self,
        run: &SyncRun,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.runs)
            .set_key(Some(state_key(run)))
            .update_expression("SET leaseRun = :r, leaseToken = :t, leaseUntil = :u")
            .condition_expression("attribute_not_exists(leaseToken) OR leaseUntil < :now")
            .expression_attribute_values(":r", s(&run.id))
            .expression_attribute_values(":t", s(token))
            .expression_attribute_values(":u", s(sortable(until)))
            .expression_attribute_values(":now", s(sortable(now)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let mark = match out.attributes.as_ref().and_then(|a| a.get("mark")) {
                    Some(AttributeValue::S(m)) => DateTime::parse_from_rfc3339(m).ok().map(|m| m.to_utc()),
                    _ => None,
                };
                Ok(Lease::Acquired { mark })
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(Lease::Busy)
            }
            Err(e) => Err(sdk("take lease", e)),
        }
    }

    async fn save(&self, run: &SyncRun, token: &str, release: bool) -> Result<(), StoreError> {
        let lease = Update::builder()
            .table_name(&self.runs)
            .set_key(Some(state_key(run)))
            .condition_expression("leaseToken = :t")
            .expression_attribute_values(":t", s(token));
        let lease = built(match release {
            true => lease.update_expression("REMOVE leaseRun, leaseToken, leaseUntil").build(),
            // Nothing to change: the condition is the point.
            false => lease.update_expression("SET leaseToken = :t").build(),
        })?;
        let items = vec![put_unfinished(&self.runs, run)?, TransactWriteItem::builder().update(lease).build()];
        transact(&self.client, items).await.map_err(conflict)
    }

    async fn finish(
        &self,
        run: &SyncRun,
        holder: Holder<'_>,
        mark: Option<DateTime<Utc>>,
        event: &Event,
    ) -> Result<(), StoreError> {
        let state = self.held(run, holder, mark)?;
        let last =
            LastSync { sync_id: run.id.clone(), status: run.status.as_str().into(), finished_at: run.finished_at };
        let connection = built(
            Update::builder()
                .table_name(&self.connections)
                .key("accountId", s(&run.account_id))
                .key("id", s(&run.connection_id))
                .update_expression("SET lastSync.#e = :l DELETE initialSyncPending :e")
                .condition_expression("attribute_exists(id)")
                .expression_attribute_names("#e", &run.entity)
                .expression_attribute_values(":l", AttributeValue::M(to_item(&last)?))
                .expression_attribute_values(":e", AttributeValue::Ss(vec![run.entity.clone()]))
                .build(),
        )?;
        let event = retention::expiring(to_item(event)?, event.created_at, retention::EVENTS);
        let event = built(Put::builder().table_name(&self.events).set_item(Some(event)).build())?;
        let items = vec![
            put_unfinished(&self.runs, run)?,
            state,
            TransactWriteItem::builder().update(connection).build(),
            TransactWriteItem::builder().put(event).build(),
        ];
        transact(&self.client, items).await.map_err(conflict)
    }
}
