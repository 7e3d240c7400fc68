//! `WebhookStore` on DynamoDB: endpoints keyed by account (with one item beside them counting
//! them, so the per-account limit holds under concurrent creates), deliveries keyed by id (so a
//! redelivery finds one without knowing its endpoint) with a `byEndpoint` index for the
//! delivery log, newest first.

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    operation::{put_item::PutItemError, query::builders::QueryFluentBuilder},
    types::{AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update},
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::lazy::Lazy;
use crate::{
    dynamo::{Item, TxFailure, backend, built, from_item, s, sdk, to_item, transact},
    retention,
};
use millwright::{
    ports::{StoreError, WebhookStore},
    webhooks::{Attempt, Delivery, DeliveryStatus, Endpoint, EndpointStatus},
};

/// The index of deliveries by endpoint.
const BY_ENDPOINT: &str = "byEndpoint";

/// The item beside an account's endpoints that counts them (it sorts after every `we_…` id).
const COUNT: &str = "~count";

/// Endpoints and deliveries in their two tables.
pub struct DynamoWebhooks {
    client: Lazy<Client>,
    endpoints: String,
    deliveries: String,
}

/// A page of a query whose sort key is `id`: at most `limit` items, and the last id shown when
/// more follow.
async fn page<T: DeserializeOwned>(
    query: QueryFluentBuilder,
    limit: usize,
    id: impl Fn(&T) -> &str,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    let out = query.limit(i32::try_from(limit + 1).unwrap_or(i32::MAX)).send().await.map_err(|e| sdk("query", e))?;
    let mut items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<T>, _>>()?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        id(&items[limit - 1]).to_owned()
    });
    Ok((items, next))
}

/// Whether a call failed on its condition.
fn conditional(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl DynamoWebhooks {
    /// The store over the endpoints and deliveries tables.
    pub fn new(client: impl Into<Lazy<Client>>, endpoints: String, deliveries: String) -> Self {
        Self { client: client.into(), endpoints, deliveries }
    }

    fn endpoint_key(account_id: &str, id: &str) -> Item {
        HashMap::from([("accountId".into(), s(account_id)), ("id".into(), s(id))])
    }

    /// Puts an item under a condition; `Conflict` when the condition fails.
    async fn put(&self, table: &str, item: Item, condition: &str) -> Result<(), StoreError> {
        match self.client.put_item().table_name(table).set_item(Some(item)).condition_expression(condition).send().await
        {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => Err(StoreError::Conflict("condition failed".into())),
            Err(e) => Err(sdk("put item", e)),
        }
    }
}

#[async_trait]
impl WebhookStore for DynamoWebhooks {
    async fn create_endpoint(&self, endpoint: &Endpoint, max: usize) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.endpoints)
            .set_item(Some(to_item(endpoint)?))
            .condition_expression("attribute_not_exists(id)")
            .build();
        let count = Update::builder()
            .table_name(&self.endpoints)
            .set_key(Some(Self::endpoint_key(&endpoint.account_id, COUNT)))
            .update_expression("ADD #n :one")
            .condition_expression("attribute_not_exists(#n) OR #n < :max")
            .expression_attribute_names("#n", "endpoints")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .build();
        let items = vec![
            TransactWriteItem::builder().put(built(put)?).build(),
            TransactWriteItem::builder().update(built(count)?).build(),
        ];
        transact(&self.client, items).await.map_err(|f| match f {
            TxFailure::Conditions(_) => StoreError::Conflict("the account has no room for another endpoint".into()),
            other => backend(other),
        })
    }

    async fn endpoint(&self, account_id: &str, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.endpoints)
            .set_key(Some(Self::endpoint_key(account_id, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get endpoint", e))?;
        out.item.map(from_item).transpose()
    }

    async fn endpoints(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, Option<String>), StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.endpoints)
            .key_condition_expression("accountId = :a AND id < :count")
            .expression_attribute_values(":a", s(account_id))
            .expression_attribute_values(":count", s(COUNT))
            .consistent_read(true)
            .set_exclusive_start_key(after.map(|a| Self::endpoint_key(account_id, a)));
        page(query, limit, |e: &Endpoint| &e.id).await
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, read: DateTime<Utc>) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.endpoints)
            .set_item(Some(to_item(endpoint)?))
            .condition_expression("updatedAt = :read")
            .expression_attribute_values(":read", to_item_value(&read)?)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => {
                let gone = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(c)) => c.item().is_none(),
                    _ => false,
                };
                Err(if gone {
                    StoreError::NotFound
                } else {
                    StoreError::Conflict("the endpoint changed meanwhile".into())
                })
            }
            Err(e) => Err(sdk("update endpoint", e)),
        }
    }

    async fn disable_endpoint(
        &self,
        account_id: &str,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.endpoints)
            .set_key(Some(Self::endpoint_key(account_id, id)))
            .update_expression("SET #s = :s, disabledReason = :r, updatedAt = :at")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", to_item_value(&EndpointStatus::Disabled)?)
            .expression_attribute_values(":r", s(reason))
            .expression_attribute_values(":at", to_item_value(&at)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => Ok(()), // deleted meanwhile: nothing left to disable
            Err(e) => Err(sdk("disable endpoint", e)),
        }
    }

    async fn delete_endpoint(&self, account_id: &str, id: &str) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.endpoints)
            .set_key(Some(Self::endpoint_key(account_id, id)))
            .condition_expression("attribute_exists(id)")
            .build();
        let count = Update::builder()
            .table_name(&self.endpoints)
            .set_key(Some(Self::endpoint_key(account_id, COUNT)))
            .update_expression("ADD #n :less")
            .expression_attribute_names("#n", "endpoints")
            .expression_attribute_values(":less", AttributeValue::N("-1".into()))
            .build();
        let items = vec![
            TransactWriteItem::builder().delete(built(delete)?).build(),
            TransactWriteItem::builder().update(built(count)?).build(),
        ];
        transact(&self.client, items).await.map_err(|f| match f {
            TxFailure::Conditions(_) => StoreError::NotFound,
            other => backend(other),
        })
    }

    async fn add_deliveries(&self, deliveries: &[Delivery]) -> Result<Vec<Delivery>, StoreError> {
        let puts = deliveries.iter().map(|d| async move {
            let item = retention::expiring(to_item(d)?, Utc::now(), retention::DELIVERIES);
            match self.put(&self.deliveries, item, "attribute_not_exists(id)").await {
                Ok(()) => Ok(Some(d.clone())),
                Err(StoreError::Conflict(_)) => {
                    // Fanned out before: queue it again only if it was never attempted.
                    let stored = self.delivery(&d.id).await?;
                    Ok(stored.filter(|s| s.status == DeliveryStatus::Pending && s.attempts.is_empty()))
                }
                Err(e) => Err(e),
            }
        });
        let results = futures_util::future::join_all(puts).await;
        results.into_iter().filter_map(Result::transpose).collect()
    }

    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get delivery", e))?;
        out.item.map(from_item).transpose()
    }

    async fn deliveries(
        &self,
        endpoint_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.deliveries)
            .index_name(BY_ENDPOINT)
            .key_condition_expression("endpointId = :e")
            .expression_attribute_values(":e", s(endpoint_id))
            .scan_index_forward(false)
            .set_exclusive_start_key(
                after.map(|a| HashMap::from([("id".into(), s(a)), ("endpointId".into(), s(endpoint_id))])),
            );
        page(query, limit, |d: &Delivery| &d.id).await
    }

    async fn update_delivery(
        &self,
        id: &str,
        status: DeliveryStatus,
        attempt: Option<&Attempt>,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut expression = "SET #s = :s, updatedAt = :u, nextAttemptAt = :n".to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.deliveries)
            .key("id", s(id))
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", to_item_value(&status)?)
            .expression_attribute_values(":u", to_item_value(&Utc::now())?)
            .expression_attribute_values(":n", to_item_value(&next_attempt_at)?);
        if let Some(attempt) = attempt {
            expression.push_str(", attempts = list_append(if_not_exists(attempts, :none), :a) ADD roundAttempts :one");
            request = request
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":a", AttributeValue::L(vec![AttributeValue::M(to_item(attempt)?)]))
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
        }
        match request.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk("update delivery", e)),
        }
    }

    async fn restart_delivery(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let pending = to_item_value(&DeliveryStatus::Pending)?;
        let restarted = self
            .client
            .update_item()
            .table_name(&self.deliveries)
            .key("id", s(id))
            .update_expression("SET #s = :pending, updatedAt = :at, nextAttemptAt = :at, roundAttempts = :zero")
            .condition_expression("attribute_exists(id) AND #s <> :pending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", pending)
            .expression_attribute_values(":at", to_item_value(&at)?)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match restarted {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => {
                Err(StoreError::Conflict("the delivery is pending: its attempts go on".into()))
            }
            Err(e) => Err(sdk("restart delivery", e)),
        }
    }
}

/// One value as DynamoDB stores it through serde.
fn to_item_value<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Backend(format!("encode value: {e}")))
}
