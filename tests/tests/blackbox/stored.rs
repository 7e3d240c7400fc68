//! What the stack stored, read straight from the local AWS: for checks the API does not show
//! (events before delivery, items left behind).

use aws_sdk_dynamodb::types::AttributeValue;
use millwright_blackbox::env;
use std::collections::HashMap;

/// The items of a table (named by its variable in the stack's environment) that `filter` keeps,
/// with `#a` standing for `attribute` and `:v` for `value` (a scan: tests only).
async fn scan(table: &str, filter: &str, attribute: &str, value: &str) -> Vec<HashMap<String, AttributeValue>> {
    let dynamo = aws_sdk_dynamodb::Client::new(&crate::local_aws().await);
    dynamo
        .scan()
        .table_name(env(table))
        .filter_expression(filter)
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .unwrap()
}

/// The types of the events recorded for a connection.
pub(crate) async fn events_of(connection_id: &str) -> Vec<String> {
    let items = scan("EVENTS_TABLE", "#a = :v", "connectionId", connection_id).await;
    items.iter().filter_map(|i| i.get("type")?.as_s().ok().cloned()).collect()
}

/// How many items a table holds whose `attribute` starts with `prefix`.
pub(crate) async fn items_starting(table: &str, attribute: &str, prefix: &str) -> usize {
    scan(table, "begins_with(#a, :v)", attribute, prefix).await.len()
}
