//! `InFlight` on DynamoDB: a connection's places for calls to its system are items
//! `{connection}#{n}`, taken with a conditional put (free, or its holder's time is up) and given
//! back with a delete by the holder's token. A holder that never gives its place back (its
//! function was stopped) loses it at its time; TTL sweeps the items later.

use async_trait::async_trait;
use aws_sdk_dynamodb::{Client, error::DisplayErrorContext, types::AttributeValue};
use chrono::{DateTime, Duration, Utc};

use crate::lazy::Lazy;
use millwright::ports::{InFlight, Place, StoreError};

/// How long after its time an abandoned place's item is kept before TTL may delete it.
const KEEP: Duration = Duration::hours(1);

/// Places in their table.
pub struct DynamoInFlight {
    client: Lazy<Client>,
    table: String,
}

impl DynamoInFlight {
    /// The places in one table.
    pub fn new(client: impl Into<Lazy<Client>>, table: String) -> Self {
        Self { client: client.into(), table }
    }
}

fn epoch(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp().to_string())
}

fn fail<E: std::error::Error + 'static>(what: &str, e: E) -> StoreError {
    StoreError::Backend(format!("{what}: {}", DisplayErrorContext(e)))
}

#[async_trait]
impl InFlight for DynamoInFlight {
    async fn take(
        &self,
        connection_id: &str,
        places: u32,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Place>, StoreError> {
        let token = ulid::Ulid::new().to_string();
        for n in 0..places {
            let id = format!("{connection_id}#{n}");
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("id", AttributeValue::S(id.clone()))
                .item("token", AttributeValue::S(token.clone()))
                .item("until", epoch(until))
                .item("expiresAt", epoch(until + KEEP))
                .condition_expression("attribute_not_exists(id) OR #until < :now")
                .expression_attribute_names("#until", "until")
                .expression_attribute_values(":now", epoch(now))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Some(Place { id, token })),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(fail("take a place in flight", e)),
            }
        }
        Ok(None)
    }

    async fn release(&self, place: &Place) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(place.id.clone()))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", AttributeValue::S(place.token.clone()))
            .send()
            .await;
        match deleted {
            // Lost to another request after its time was up: nothing of ours to give back.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(fail("give back a place in flight", e)),
            Ok(_) => Ok(()),
        }
    }
}
