//! `IdempotencyStore` on DynamoDB: one item per connection and key, claimed with a conditional
//! put, expiring after 24 hours (TTL deletes lazily, so expiry is also checked on every claim).
//! A claim whose request ended without finishing it (its function was stopped) is never taken
//! over: what that request did is unknown.

use async_trait::async_trait;
use aws_sdk_dynamodb::{Client, error::DisplayErrorContext, types::AttributeValue};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

use crate::lazy::Lazy;
use millwright::ports::{Claim, IdempotencyStore, StoreError, StoredResponse};

/// How long a key is remembered.
const RETENTION: Duration = Duration::hours(24);
/// How long a request may hold its claim: longer than any function runs. A claim older than
/// this is of a request that was stopped.
const LOCK: Duration = Duration::seconds(60);

/// Idempotency keys in their table.
pub struct DynamoIdempotency {
    client: Lazy<Client>,
    table: String,
}

fn id(scope: &str, key: &str) -> AttributeValue {
    AttributeValue::S(format!("{scope}#{key}"))
}

fn epoch(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp().to_string())
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn fail<E: std::error::Error + 'static>(what: &str, e: E) -> StoreError {
    StoreError::Backend(format!("{what}: {}", DisplayErrorContext(e)))
}

impl DynamoIdempotency {
    /// A store over one table.
    pub fn new(client: impl Into<Lazy<Client>>, table: String) -> Self {
        Self { client: client.into(), table }
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotency {
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", id(scope, key))
            .item("fingerprint", AttributeValue::S(fingerprint.to_owned()))
            .item("state", AttributeValue::S("pending".into()))
            .item("lockedUntil", epoch(now + LOCK))
            .item("expiresAt", epoch(now + RETENTION))
            .condition_expression("attribute_not_exists(id) OR expiresAt < :now")
            .expression_attribute_values(":now", epoch(now))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::Claimed),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(fail("claim idempotency key", e)),
        }
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", id(scope, key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("read idempotency key", e))?
            .item
            .ok_or_else(|| StoreError::Backend("idempotency key vanished while claimed".into()))?;
        let first = text(&item, "fingerprint").unwrap_or_default().to_owned();
        match (text(&item, "state"), text(&item, "body"), item.get("status").and_then(|v| v.as_n().ok())) {
            (Some("done"), Some(body), Some(status)) => Ok(Claim::Done {
                fingerprint: first,
                response: StoredResponse {
                    status: status.parse().map_err(|_| StoreError::Backend("stored status is not a number".into()))?,
                    body: body.to_owned(),
                },
            }),
            _ if item.get("lockedUntil").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok())
                < Some(now.timestamp()) =>
            {
                Ok(Claim::Abandoned { fingerprint: first })
            }
            _ => Ok(Claim::InProgress { fingerprint: first }),
        }
    }

    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", id(scope, key))
            .update_expression("SET #state = :done, #status = :status, body = :body REMOVE lockedUntil")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":status", AttributeValue::N(response.status.to_string()))
            .expression_attribute_values(":body", AttributeValue::S(response.body.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("complete idempotency key", e))
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", id(scope, key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("release idempotency key", e))
    }
}
