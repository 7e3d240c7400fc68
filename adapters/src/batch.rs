//! DynamoDB's batch calls at their real limits — 25 writes and 100 keys per call — with the
//! items DynamoDB leaves unprocessed retried after a backoff, as AWS asks callers to do.

use aws_sdk_dynamodb::{
    Client,
    types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest},
};
use std::collections::HashMap;

use crate::dynamo::{Item, backoff, built, sdk};
use millwright::ports::StoreError;

/// The most writes one BatchWriteItem takes (moto takes more; AWS does not).
pub const MAX_WRITES: usize = 25;
/// The most keys one BatchGetItem takes.
pub const MAX_KEYS: usize = 100;
/// How often unprocessed items are tried again before the call fails.
const ATTEMPTS: u32 = 10;

/// Puts every item into `table`, 25 per call.
pub async fn put_all(client: &Client, table: &str, items: Vec<Item>) -> Result<(), StoreError> {
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        requests.push(
            WriteRequest::builder().put_request(built(PutRequest::builder().set_item(Some(item)).build())?).build(),
        );
    }
    write_all(client, table, requests).await
}

/// Deletes the items under `keys` from `table`, 25 per call.
pub async fn delete_all(client: &Client, table: &str, keys: Vec<Item>) -> Result<(), StoreError> {
    let mut requests = Vec::with_capacity(keys.len());
    for key in keys {
        requests.push(
            WriteRequest::builder().delete_request(built(DeleteRequest::builder().set_key(Some(key)).build())?).build(),
        );
    }
    write_all(client, table, requests).await
}

/// Sends the write requests, 25 per call, retrying what DynamoDB leaves unprocessed.
async fn write_all(client: &Client, table: &str, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
    for chunk in requests.chunks(MAX_WRITES) {
        let mut pending = HashMap::from([(table.to_owned(), chunk.to_vec())]);
        for attempt in 0.. {
            let out = client
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| sdk("batch write", e))?;
            pending = out.unprocessed_items.unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
            if pending.is_empty() {
                break;
            }
            if attempt + 1 >= ATTEMPTS {
                return Err(StoreError::Backend("batch write: items still unprocessed after retries".into()));
            }
            backoff(attempt).await;
        }
    }
    Ok(())
}

/// Reads the items under `keys` from `table` (100 per call), only the attributes `projection`
/// names (with `names` for reserved words).
pub async fn get_all(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    projection: &str,
    names: &[(&str, &str)],
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MAX_KEYS) {
        let mut request = KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).projection_expression(projection);
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        let mut pending = HashMap::from([(table.to_owned(), built(request.build())?)]);
        for attempt in 0.. {
            let out = client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| sdk("batch get", e))?;
            found.extend(out.responses.unwrap_or_default().into_values().flatten());
            pending = out.unprocessed_keys.unwrap_or_default();
            pending.retain(|_, v| !v.keys().is_empty());
            if pending.is_empty() {
                break;
            }
            if attempt + 1 >= ATTEMPTS {
                return Err(StoreError::Backend("batch get: keys still unprocessed after retries".into()));
            }
            backoff(attempt).await;
        }
    }
    Ok(found)
}
