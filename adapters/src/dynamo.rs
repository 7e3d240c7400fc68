//! The account, connection and token ports on DynamoDB. Every change that moves credits is one
//! `TransactWriteItems` call whose conditions make it exactly-once under any concurrency; the
//! events of a connect (`connection.created`, `connection.status_changed`) or disconnect are
//! written in the same call.

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::DisplayErrorContext,
    types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update},
};
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use std::{collections::HashMap, time::Duration};

use crate::lazy::Lazy;
use crate::{config::Tables, retention};
use millwright::{
    branding::Branding,
    events::Event,
    model::{Account, AccountKey, Connection, ConnectionStatus, DataDeletion, DeletionStatus, TokenRecord},
    ports::{AccountStore, ConnectionStore, Disconnected, StoreError, TokenStore},
};

pub(super) type Item = HashMap<String, AttributeValue>;

/// The attribute of a connection item that holds its current token's digest.
const TOKEN_DIGEST: &str = "tokenDigest";
/// How often a transaction that lost a race is tried again.
const ATTEMPTS: u32 = 12;

/// Accounts, connections and tokens in their three tables.
pub struct DynamoStore {
    client: Lazy<Client>,
    tables: Tables,
}

/// How a transaction ended when it did not commit.
pub(super) enum TxFailure {
    /// A condition failed; one entry per item, `true` where its condition failed.
    Conditions(Vec<bool>),
    /// Anything else.
    Backend(String),
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u32) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A time as items hold it (serde's form), so a condition on it compares like with like.
fn time(at: DateTime<Utc>) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(at).map_err(|e| StoreError::Backend(format!("encode time: {e}")))
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Backend(format!("encode item: {e}")))
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Backend(format!("decode item: {e}")))
}

pub(super) fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("build request: {e}")))
}

pub(super) fn sdk<E: std::error::Error + 'static>(what: &str, e: E) -> StoreError {
    StoreError::Backend(format!("{what}: {}", DisplayErrorContext(e)))
}

/// A short, jittered pause before trying a lost race again.
pub(super) async fn backoff(attempt: u32) {
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    let base = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(base + u64::from(u16::from_le_bytes(jitter)) % base)).await;
}

/// Runs a transaction, retrying it while it only lost to a concurrent transaction.
pub(super) async fn transact(client: &Client, items: Vec<TransactWriteItem>) -> Result<(), TxFailure> {
    for attempt in 0..ATTEMPTS {
        let result = client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let retry = match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
                let codes: Vec<&str> = c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                if codes.contains(&"ConditionalCheckFailed") {
                    return Err(TxFailure::Conditions(codes.iter().map(|c| *c == "ConditionalCheckFailed").collect()));
                }
                codes.iter().any(|c| *c == "TransactionConflict" || *c == "ThrottlingError")
            }
            Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionInProgressException(_)) => true,
            _ => false,
        };
        if !retry {
            return Err(TxFailure::Backend(format!("transaction: {}", DisplayErrorContext(err))));
        }
        backoff(attempt).await;
    }
    Err(TxFailure::Backend("transaction: still conflicting after retries".into()))
}

impl DynamoStore {
    /// A store over the given tables.
    pub fn new(client: impl Into<Lazy<Client>>, tables: Tables) -> Self {
        Self { client: client.into(), tables }
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxFailure> {
        transact(&self.client, items).await
    }

    async fn get(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get item", e))?;
        Ok(out.item)
    }

    fn connection_key(account_id: &str, id: &str) -> Item {
        HashMap::from([("accountId".into(), s(account_id)), ("id".into(), s(id))])
    }

    /// A connection with the digest of its current token (none once disconnected).
    async fn load(&self, account_id: &str, id: &str) -> Result<Option<(Connection, Option<String>)>, StoreError> {
        let Some(mut item) = self.get(&self.tables.connections, Self::connection_key(account_id, id)).await? else {
            return Ok(None);
        };
        let digest = match item.remove(TOKEN_DIGEST) {
            Some(AttributeValue::S(d)) => Some(d),
            _ => None,
        };
        Ok(Some((from_item(item)?, digest)))
    }

    fn put(&self, table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(built(Put::builder().table_name(table).set_item(Some(item)).condition_expression(condition).build())?)
            .build())
    }

    /// Records an event with the change it reports.
    fn event(&self, event: &Event) -> Result<TransactWriteItem, StoreError> {
        let item = retention::expiring(to_item(event)?, event.created_at, retention::EVENTS);
        self.put(&self.tables.events, item, "attribute_not_exists(id)")
    }

    fn delete_token(&self, digest: &str) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .delete(built(
                Delete::builder()
                    .table_name(&self.tables.tokens)
                    .key("digest", s(digest))
                    .condition_expression("attribute_exists(digest)")
                    .build(),
            )?)
            .build())
    }

    /// Takes credits from (`take`) or returns them to an account's available pool; taking
    /// requires the pool to hold them.
    fn move_credits(&self, account_id: &str, credits: u32, take: bool) -> Result<TransactWriteItem, StoreError> {
        let (expression, condition) = if take {
            ("SET creditsAvailable = creditsAvailable - :c", "attribute_exists(id) AND creditsAvailable >= :c")
        } else {
            ("SET creditsAvailable = creditsAvailable + :c", "attribute_exists(id)")
        };
        Ok(TransactWriteItem::builder()
            .update(built(
                Update::builder()
                    .table_name(&self.tables.accounts)
                    .key("id", s(account_id))
                    .update_expression(expression)
                    .condition_expression(condition)
                    .expression_attribute_values(":c", n(credits))
                    .build(),
            )?)
            .build())
    }
}

pub(super) fn backend(f: TxFailure) -> StoreError {
    match f {
        TxFailure::Conditions(c) => StoreError::Backend(format!("unexpected condition failure {c:?}")),
        TxFailure::Backend(m) => StoreError::Backend(m),
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn create_account(&self, account: &Account, key: &TokenRecord) -> Result<(), StoreError> {
        let items = vec![
            self.put(&self.tables.accounts, to_item(account)?, "attribute_not_exists(id)")?,
            self.put(&self.tables.tokens, to_item(key)?, "attribute_not_exists(digest)")?,
        ];
        self.transact(items).await.map_err(|f| match f {
            TxFailure::Conditions(_) => StoreError::Conflict("the account or its key exists already".into()),
            other => backend(other),
        })
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        self.get(&self.tables.accounts, HashMap::from([("id".into(), s(account_id))])).await?.map(from_item).transpose()
    }

    async fn add_key(
        &self,
        account_id: &str,
        id: &str,
        key: &AccountKey,
        record: &TokenRecord,
    ) -> Result<(), StoreError> {
        let entry = built(
            Update::builder()
                .table_name(&self.tables.accounts)
                .key("id", s(account_id))
                .update_expression("SET #keys.#id = :key")
                .condition_expression("attribute_exists(id) AND attribute_not_exists(#keys.#id)")
                .expression_attribute_names("#keys", "keys")
                .expression_attribute_names("#id", id)
                .expression_attribute_values(":key", AttributeValue::M(to_item(key)?))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(entry).build(),
            self.put(&self.tables.tokens, to_item(record)?, "attribute_not_exists(digest)")?,
        ];
        self.transact(items).await.map_err(|f| match f {
            TxFailure::Conditions(_) => StoreError::Conflict("the key exists already".into()),
            other => backend(other),
        })
    }

    async fn revoke_key(&self, account_id: &str, id: &str) -> Result<(), StoreError> {
        let account = self.account(account_id).await?.ok_or(StoreError::NotFound)?;
        let key = account.keys.get(id).ok_or(StoreError::NotFound)?;
        if account.keys.len() < 2 {
            return Err(StoreError::Conflict("The last account key cannot be revoked; issue another first.".into()));
        }
        // Conditional on the entry and on another key remaining, so two revocations at once
        // cannot take the last two.
        let entry = built(
            Update::builder()
                .table_name(&self.tables.accounts)
                .key("id", s(account_id))
                .update_expression("REMOVE #keys.#id")
                .condition_expression("attribute_exists(#keys.#id) AND size(#keys) > :one")
                .expression_attribute_names("#keys", "keys")
                .expression_attribute_names("#id", id)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build(),
        )?;
        let items = vec![TransactWriteItem::builder().update(entry).build(), self.delete_token(&key.digest)?];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxFailure::Conditions(_)) => Err(StoreError::Conflict(
                "The key changed meanwhile (revoked already, or the last one left); read the keys again.".into(),
            )),
            Err(other) => Err(backend(other)),
        }
    }

    async fn set_rate_limit(&self, account_id: &str, limit: Option<u32>) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .key("id", s(account_id))
            .condition_expression("attribute_exists(id)");
        let update = match limit {
            Some(n) => update
                .update_expression("SET rateLimit = :n")
                .expression_attribute_values(":n", AttributeValue::N(n.to_string())),
            None => update.update_expression("REMOVE rateLimit"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(sdk("set rate limit", e)),
        }
    }

    async fn set_branding(&self, account_id: &str, branding: &Branding) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(branding)
            .map_err(|e| StoreError::Backend(format!("encode branding: {e}")))?;
        let set = self
            .client
            .update_item()
            .table_name(&self.tables.accounts)
            .key("id", s(account_id))
            .condition_expression("attribute_exists(id)")
            .update_expression("SET branding = :b")
            .expression_attribute_values(":b", value)
            .send()
            .await;
        match set {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(sdk("set branding", e)),
        }
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn count_use(&self, digest: &str, window: i64) -> Result<Option<(TokenRecord, u32)>, StoreError> {
        // One counter per window, `hits<window>`; the one before goes in the same step.
        let (current, previous) = (format!("{HITS}{window}"), format!("{HITS}{}", window - 1));
        let key = HashMap::from([("digest".into(), s(digest))]);
        let counted = self
            .client
            .update_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key.clone()))
            .update_expression("ADD #current :one REMOVE #previous")
            .condition_expression("attribute_exists(digest)")
            .expression_attribute_names("#current", &current)
            .expression_attribute_names("#previous", &previous)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let mut item = match counted {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk("count token use", e)),
        };
        let used = item.remove(&current).and_then(|v| v.as_n().ok()?.parse().ok()).unwrap_or(1);
        // Counters of windows long past stay only when a credential rested a while: cleared now.
        let stale: Vec<String> = item.keys().filter(|k| k.starts_with(HITS)).cloned().collect();
        if !stale.is_empty() {
            let names: Vec<String> = (0..stale.len()).map(|i| format!("#s{i}")).collect();
            let cleared = names.iter().zip(&stale).fold(
                self.client
                    .update_item()
                    .table_name(&self.tables.tokens)
                    .set_key(Some(key))
                    .update_expression(format!("REMOVE {}", names.join(", ")))
                    .condition_expression("attribute_exists(digest)"),
                |update, (name, attribute)| update.expression_attribute_names(name, attribute),
            );
            if let Err(e) = cleared.send().await {
                tracing::warn!(error = %DisplayErrorContext(e), "stale rate-limit counters stay for now");
            }
        }
        item.retain(|k, _| !k.starts_with(HITS));
        Ok(Some((from_item(item)?, used)))
    }
}

/// The prefix of a token record's per-window use counters.
const HITS: &str = "hits";

impl DynamoStore {
    /// Moves a connection from `from` to `to` with its `connection.status_changed` event (and
    /// `extra`'s), in one step conditional on the status and change time it read. False when the
    /// connection was not in `from`, or changed meanwhile: that change stands.
    async fn move_status(
        &self,
        account_id: &str,
        id: &str,
        from: ConnectionStatus,
        to: ConnectionStatus,
        extra: impl FnOnce(&Connection) -> Option<Event>,
    ) -> Result<bool, StoreError> {
        let Some((mut connection, _)) = self.load(account_id, id).await? else { return Ok(false) };
        if connection.status != from {
            return Ok(false);
        }
        let changed = connection.status_changed_at;
        connection.change_status(to, Utc::now());
        let wire = |status: ConnectionStatus| serde_dynamo::to_attribute_value(status);
        let encode = |e: serde_dynamo::Error| StoreError::Backend(format!("encode status: {e}"));
        let mark = built(
            Update::builder()
                .table_name(&self.tables.connections)
                .set_key(Some(Self::connection_key(account_id, id)))
                .update_expression("SET #s = :to, statusChangedAt = :at")
                .condition_expression("#s = :from AND statusChangedAt = :changed")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":to", wire(to).map_err(encode)?)
                .expression_attribute_values(":from", wire(from).map_err(encode)?)
                .expression_attribute_values(":at", time(connection.status_changed_at)?)
                .expression_attribute_values(":changed", time(changed)?)
                .build(),
        )?;
        let mut items = vec![
            TransactWriteItem::builder().update(mark).build(),
            self.event(&Event::status_changed(&connection, Some(from)))?,
        ];
        if let Some(event) = extra(&connection) {
            items.push(self.event(&event)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(TxFailure::Conditions(_)) => Ok(false),
            Err(other) => Err(backend(other)),
        }
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn insert_charged(&self, connection: &Connection, token: &TokenRecord) -> Result<(), StoreError> {
        let mut item = to_item(connection)?;
        item.insert(TOKEN_DIGEST.into(), s(&token.digest));
        let items = vec![
            self.move_credits(&connection.account_id, connection.credits, true)?,
            self.put(&self.tables.connections, item, "attribute_not_exists(id)")?,
            self.put(&self.tables.tokens, to_item(token)?, "attribute_not_exists(digest)")?,
            self.event(&Event::created(connection))?,
            self.event(&Event::status_changed(connection, None))?,
        ];
        self.transact(items).await.map_err(|f| match f {
            TxFailure::Conditions(c) if c.first() == Some(&true) => StoreError::InsufficientCredits,
            other => backend(other),
        })
    }

    async fn connection(&self, account_id: &str, id: &str) -> Result<Option<Connection>, StoreError> {
        Ok(self.load(account_id, id).await?.map(|(c, _)| c))
    }

    async fn connections(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Connection>, Option<String>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.connections)
            .key_condition_expression("accountId = :a")
            .expression_attribute_values(":a", s(account_id))
            .set_exclusive_start_key(after.map(|a| Self::connection_key(account_id, a)))
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk("query connections", e))?;
        let mut connections = Vec::new();
        for mut item in out.items.unwrap_or_default() {
            item.remove(TOKEN_DIGEST);
            connections.push(from_item::<Connection>(item)?);
        }
        let next = (connections.len() > limit).then(|| {
            connections.truncate(limit);
            connections[limit - 1].id.clone()
        });
        Ok((connections, next))
    }

    async fn disconnect(&self, account_id: &str, id: &str, at: DateTime<Utc>) -> Result<Disconnected, StoreError> {
        for attempt in 0..ATTEMPTS {
            let (mut connection, digest) = self.load(account_id, id).await?.ok_or(StoreError::NotFound)?;
            if connection.status == ConnectionStatus::Disconnected {
                return Ok(Disconnected::Already(connection));
            }
            let digest = digest.ok_or_else(|| StoreError::Backend(format!("connection {id} has no token")))?;
            let (previous, changed) = (connection.status, connection.status_changed_at);
            connection.change_status(ConnectionStatus::Disconnected, at);
            connection.disconnected_at = Some(connection.status_changed_at);
            let close = built(
                Update::builder()
                    .table_name(&self.tables.connections)
                    .set_key(Some(Self::connection_key(account_id, id)))
                    .update_expression("SET #s = :d, disconnectedAt = :at, statusChangedAt = :at REMOVE tokenDigest")
                    .condition_expression("statusChangedAt = :changed AND tokenDigest = :t")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":d", s("disconnected"))
                    .expression_attribute_values(":at", time(connection.status_changed_at)?)
                    .expression_attribute_values(":changed", time(changed)?)
                    .expression_attribute_values(":t", s(&digest))
                    .build(),
            )?;
            let items = vec![
                TransactWriteItem::builder().update(close).build(),
                self.move_credits(account_id, connection.credits, false)?,
                self.delete_token(&digest)?,
                self.event(&Event::status_changed(&connection, Some(previous)))?,
            ];
            match self.transact(items).await {
                Ok(()) => return Ok(Disconnected::Now(connection)),
                // Someone else changed its status or re-keyed it meanwhile: read again and decide anew.
                Err(TxFailure::Conditions(_)) => backoff(attempt).await,
                Err(other) => return Err(backend(other)),
            }
        }
        Err(StoreError::Backend(format!("disconnect of {id} kept losing races")))
    }

    async fn rotate_token(&self, account_id: &str, id: &str, token: &TokenRecord) -> Result<Connection, StoreError> {
        for attempt in 0..ATTEMPTS {
            let (connection, digest) = self.load(account_id, id).await?.ok_or(StoreError::NotFound)?;
            let Some(old) = digest.filter(|_| connection.status != ConnectionStatus::Disconnected) else {
                return Err(StoreError::Conflict("a disconnected connection has no token to rotate".into()));
            };
            let swap = built(
                Update::builder()
                    .table_name(&self.tables.connections)
                    .set_key(Some(Self::connection_key(account_id, id)))
                    .update_expression("SET tokenDigest = :new")
                    .condition_expression("tokenDigest = :old AND #s <> :d")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":new", s(&token.digest))
                    .expression_attribute_values(":old", s(&old))
                    .expression_attribute_values(":d", s("disconnected"))
                    .build(),
            )?;
            let items = vec![
                TransactWriteItem::builder().update(swap).build(),
                self.delete_token(&old)?,
                self.put(&self.tables.tokens, to_item(token)?, "attribute_not_exists(digest)")?,
            ];
            match self.transact(items).await {
                Ok(()) => return Ok(connection),
                Err(TxFailure::Conditions(_)) => backoff(attempt).await,
                Err(other) => return Err(backend(other)),
            }
        }
        Err(StoreError::Backend(format!("rotation of {id} kept losing races")))
    }

    async fn save_settings(&self, connection: &Connection) -> Result<(), StoreError> {
        let (account_id, id) = (&connection.account_id, &connection.id);
        let name = connection.name.as_ref().map_or(AttributeValue::Null(true), |n| s(n.as_str()));
        let sent = self
            .client
            .update_item()
            .table_name(&self.tables.connections)
            .set_key(Some(Self::connection_key(account_id, id)))
            .update_expression("SET settings = :settings, #n = :name, metadata = :metadata")
            .condition_expression("attribute_exists(id) AND #s <> :d")
            .expression_attribute_names("#n", "name")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":settings", AttributeValue::M(to_item(&connection.settings)?))
            .expression_attribute_values(":name", name)
            .expression_attribute_values(":metadata", AttributeValue::M(to_item(&connection.metadata)?))
            .expression_attribute_values(":d", s("disconnected"))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                match self.load(account_id, id).await? {
                    Some(_) => Err(StoreError::Conflict("The connection is disconnected; it cannot change.".into())),
                    None => Err(StoreError::NotFound),
                }
            }
            Err(e) => {
                Err(StoreError::Backend(format!("save settings: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))))
            }
        }
    }

    async fn require_auth(&self, account_id: &str, id: &str, reason: &str) -> Result<bool, StoreError> {
        let (from, to) = (ConnectionStatus::Active, ConnectionStatus::AuthRequired);
        self.move_status(account_id, id, from, to, |c| Some(Event::auth_required(c, reason))).await
    }

    async fn request_data_deletion(
        &self,
        account_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Connection, StoreError> {
        let deletion = DataDeletion { status: DeletionStatus::Deleting, requested_at: at, deleted_at: None };
        let sent = self
            .client
            .update_item()
            .table_name(&self.tables.connections)
            .set_key(Some(Self::connection_key(account_id, id)))
            .update_expression("SET dataDeletion = :d")
            .condition_expression("#s = :disconnected AND attribute_not_exists(dataDeletion)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":d", AttributeValue::M(to_item(&deletion)?))
            .expression_attribute_values(":disconnected", s("disconnected"))
            .send()
            .await;
        match sent {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(StoreError::Backend(format!("request data deletion: {}", DisplayErrorContext(e)))),
        }
        // Asked for now or before, or refused: the connection as it stands says which.
        let (connection, _) = self.load(account_id, id).await?.ok_or(StoreError::NotFound)?;
        match connection.data_deletion {
            Some(_) => Ok(connection),
            None => Err(StoreError::Conflict("Disconnect the connection before deleting its data.".into())),
        }
    }

    async fn finish_data_deletion(&self, account_id: &str, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let done = built(
            Update::builder()
                .table_name(&self.tables.connections)
                .set_key(Some(Self::connection_key(account_id, id)))
                .update_expression("SET dataDeletion.#s = :deleted, dataDeletion.deletedAt = :at")
                .condition_expression("dataDeletion.#s = :deleting")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":deleted", s("deleted"))
                .expression_attribute_values(":deleting", s("deleting"))
                .expression_attribute_values(":at", time(at)?)
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(done).build(),
            self.event(&Event::data_deleted(account_id, id, at))?,
        ];
        match self.transact(items).await {
            // Finished by an earlier delivery of the same message: nothing more to say.
            Ok(()) | Err(TxFailure::Conditions(_)) => Ok(()),
            Err(other) => Err(backend(other)),
        }
    }

    async fn restore_auth(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let (from, to) = (ConnectionStatus::AuthRequired, ConnectionStatus::Active);
        self.move_status(account_id, id, from, to, |_| None).await
    }
}
