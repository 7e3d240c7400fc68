//! How long what is kept only for a while is kept. DynamoDB's TTL deletes an item some time
//! after its `expiresAt` (epoch seconds) has passed (lazily: it may be listed a little longer),
//! and each table that keeps such items names that attribute in the template.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::dynamo::Item;

/// Events (what webhooks deliver), from when they happened.
pub const EVENTS: Duration = Duration::days(30);
/// Webhook deliveries and their attempts, from when they were made.
pub const DELIVERIES: Duration = Duration::days(30);
/// Sync runs, from when they ended (running and queued ones stay).
pub const FINISHED_RUNS: Duration = Duration::days(90);

/// The item, to be deleted `keep` after `from`.
pub fn expiring(mut item: Item, from: DateTime<Utc>, keep: Duration) -> Item {
    item.insert("expiresAt".into(), AttributeValue::N((from + keep).timestamp().to_string()));
    item
}
