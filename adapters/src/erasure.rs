//! `ConnectionData` on DynamoDB: a connection's synced records (one partition per entity) and
//! its runs, leases and marks (one partition in the runs table), deleted a batch at a time.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use crate::lazy::Lazy;
use crate::{
    batch,
    dynamo::{Item, s, sdk},
};
use millwright::{
    entities::Entity,
    ports::{ConnectionData, StoreError},
    sync::partition,
};

/// The two tables a connection's data lives in.
pub struct DynamoConnectionData {
    client: Lazy<Client>,
    records: String,
    runs: String,
}

impl DynamoConnectionData {
    /// Over the records table and the sync runs table.
    pub fn new(client: impl Into<Lazy<Client>>, records: String, runs: String) -> Self {
        Self { client: client.into(), records, runs }
    }

    /// Deletes up to `limit` items of one partition; answers how many.
    async fn clear(&self, table: &str, hash: (&str, &str), range: &str, limit: usize) -> Result<usize, StoreError> {
        let out = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("#h = :h")
            .projection_expression("#h, #r")
            .expression_attribute_names("#h", hash.0)
            .expression_attribute_names("#r", range)
            .expression_attribute_values(":h", s(hash.1))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("query a partition to delete", e))?;
        let keys: Vec<Item> = out.items.unwrap_or_default();
        let count = keys.len();
        if count > 0 {
            batch::delete_all(&self.client, table, keys).await?;
        }
        Ok(count)
    }
}

#[async_trait]
impl ConnectionData for DynamoConnectionData {
    async fn delete_some(&self, connection_id: &str, limit: usize) -> Result<usize, StoreError> {
        for entity in Entity::ALL {
            let deleted =
                self.clear(&self.records, ("partition", &partition(connection_id, entity)), "key", limit).await?;
            if deleted > 0 {
                return Ok(deleted);
            }
        }
        self.clear(&self.runs, ("connectionId", connection_id), "id", limit).await
    }
}
