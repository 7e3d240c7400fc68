//! `RecordStore` on DynamoDB: one item per synced record, partitioned by connection and entity
//! and sorted by key, so reads page in key order and a cursor (the last key) stays valid however
//! many records syncs write meanwhile.

use async_trait::async_trait;
use aws_sdk_dynamodb::{Client, types::AttributeValue};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

use crate::lazy::Lazy;
use crate::{
    batch,
    dynamo::{Item, s, sdk},
};
use millwright::{
    connectors::{ListQuery, Page},
    ports::{Known, RecordStore, StoreError},
    sync::{Change, StoredRecord, sortable},
};

/// How many queries one read makes at most before it answers a short page.
const QUERIES_PER_PAGE: usize = 8;
/// Items a sweep evaluates per step (a query also stops at 1 MB).
const SWEEP_BATCH: i32 = 2_000;

/// Synced records in one table.
pub struct DynamoRecords {
    client: Lazy<Client>,
    table: String,
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn key(partition: &str, key: &str) -> Item {
    HashMap::from([("partition".into(), s(partition)), ("key".into(), s(key))])
}

fn to_item(partition: &str, r: &StoredRecord) -> Item {
    let mut item = key(partition, &r.key);
    item.insert("data".into(), s(Value::Object(r.record.clone()).to_string()));
    item.insert("hash".into(), s(&r.hash));
    // When the store got it: a full run's sweep leaves alone what was stored after it began.
    item.insert("storedAt".into(), s(sortable(Utc::now())));
    let optional = [
        ("syncId", r.sync_id.clone()),
        ("change", r.change.map(|c| c.as_str().to_owned())),
        ("updatedAt", r.updated_at().map(sortable)),
        ("deletedAt", r.deleted_at().map(sortable)),
        ("statusKey", r.status().map(str::to_owned)),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.into(), s(v));
        }
    }
    item
}

fn from_item(item: &Item) -> Result<StoredRecord, StoreError> {
    let data = text(item, "data").ok_or_else(|| StoreError::Backend("record item without data".into()))?;
    let record = serde_json::from_str(&data).map_err(|e| StoreError::Backend(format!("record data: {e}")))?;
    let mut stored = StoredRecord::new(record).ok_or_else(|| StoreError::Backend("record without key".into()))?;
    stored.sync_id = text(item, "syncId");
    stored.change = text(item, "change").as_deref().and_then(Change::parse);
    Ok(stored)
}

/// A filter expression with its values, built up condition by condition.
#[derive(Default)]
struct Filter {
    conditions: Vec<&'static str>,
    values: HashMap<String, AttributeValue>,
}

impl Filter {
    fn and(&mut self, condition: &'static str, values: &[(&str, String)]) {
        self.conditions.push(condition);
        for (k, v) in values {
            self.values.insert((*k).to_owned(), s(v));
        }
    }

    fn expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }
}

impl DynamoRecords {
    /// Records in `table`.
    pub fn new(client: impl Into<Lazy<Client>>, table: String) -> Self {
        Self { client: client.into(), table }
    }

    /// One query of a partition after a key; the items and the key it stopped at.
    async fn query(
        &self,
        partition: &str,
        after: Option<&str>,
        filter: &Filter,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let mut values = filter.values.clone();
        values.insert(":p".into(), s(partition));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", "partition")
            .set_filter_expression(filter.expression())
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(after.map(|a| key(partition, a)))
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk("query records", e))?;
        let stopped = out.last_evaluated_key.as_ref().and_then(|k| text(k, "key"));
        Ok((out.items.unwrap_or_default(), stopped))
    }
}

#[async_trait]
impl RecordStore for DynamoRecords {
    async fn known(&self, partition: &str, keys: &[String]) -> Result<HashMap<String, Known>, StoreError> {
        let keys = keys.iter().map(|k| key(partition, k)).collect();
        let items = batch::get_all(
            &self.client,
            &self.table,
            keys,
            "#k, #h, syncId, #c",
            &[("#k", "key"), ("#h", "hash"), ("#c", "change")],
        )
        .await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let known =
                    Known { hash: text(item, "hash")?, sync_id: text(item, "syncId"), change: text(item, "change") };
                Some((text(item, "key")?, known))
            })
            .collect())
    }

    async fn put(&self, partition: &str, records: &[StoredRecord]) -> Result<(), StoreError> {
        batch::put_all(&self.client, &self.table, records.iter().map(|r| to_item(partition, r)).collect()).await
    }

    async fn page(&self, partition: &str, query: &ListQuery) -> Result<Page, StoreError> {
        let mut filter = Filter::default();
        if !query.include_deleted {
            filter.and("attribute_not_exists(deletedAt)", &[]);
        }
        if let Some(status) = &query.status {
            filter.and("statusKey = :s", &[(":s", status.clone())]);
        }
        if let Some(t) = query.modified_after {
            // Deletions are changes too: the feed a user polls shows them.
            filter.and("(updatedAt > :t OR deletedAt > :t)", &[(":t", sortable(t))]);
        }
        let mut records = Vec::new();
        let mut after = query.after.clone();
        for _ in 0..QUERIES_PER_PAGE {
            let want = query.limit + 1 - records.len();
            let (items, stopped) =
                self.query(partition, after.as_deref(), &filter, i32::try_from(want).unwrap_or(i32::MAX)).await?;
            for item in &items {
                records.push(from_item(item)?.record);
            }
            after = stopped;
            if records.len() > query.limit || after.is_none() {
                break;
            }
        }
        let next = if records.len() > query.limit {
            records.truncate(query.limit);
            records.last().and_then(|r| r.get("key")).and_then(Value::as_str).map(str::to_owned)
        } else {
            // A short page: the filter left little of what was read; carry on from there.
            after
        };
        Ok(Page { records, next })
    }

    async fn get(&self, partition: &str, record_key: &str) -> Result<Option<StoredRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(partition, record_key)))
            .send()
            .await
            .map_err(|e| sdk("get record", e))?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn unseen(
        &self,
        partition: &str,
        sync_id: &str,
        since: Option<DateTime<Utc>>,
        began: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<(Vec<StoredRecord>, Option<String>), StoreError> {
        let mut filter = Filter::default();
        filter.and("attribute_not_exists(deletedAt)", &[]);
        filter.and("(attribute_not_exists(syncId) OR syncId <> :run)", &[(":run", sync_id.to_owned())]);
        filter.and("(attribute_not_exists(storedAt) OR storedAt < :began)", &[(":began", sortable(began))]);
        if let Some(t) = since {
            // Records older than the window were never asked for, so their absence says nothing.
            filter.and("updatedAt >= :since", &[(":since", sortable(t))]);
        }
        let (items, stopped) = self.query(partition, after, &filter, SWEEP_BATCH).await?;
        Ok((items.iter().map(from_item).collect::<Result<_, _>>()?, stopped))
    }
}
