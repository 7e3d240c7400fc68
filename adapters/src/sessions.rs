//! `ConnectSessionStore` and `SignInStore` on DynamoDB: one table keyed by `id`, connect
//! sessions under their `cs_…` id and dashboard sessions under `signin#` and their cookie's
//! digest. Every state change is one conditional update; TTL removes the records
//! (`purgeAt`), and reads check expiry themselves since TTL deletes late.

use async_trait::async_trait;
use aws_sdk_dynamodb::{Client, types::AttributeValue};
use chrono::{DateTime, Utc};

use crate::{
    dynamo::{from_item, s, sdk, to_item},
    lazy::Lazy,
};
use millwright::{
    connect_sessions::{ConnectSession, SessionError, SessionStatus},
    ports::{ConnectSessionStore, SignInStore, StoreError},
};

/// Connect and dashboard sessions in their table.
pub struct DynamoSessions {
    client: Lazy<Client>,
    table: String,
}

fn status(value: SessionStatus) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Backend(format!("encode status: {e}")))
}

fn epoch(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp().to_string())
}

fn sign_in_id(digest: &str) -> AttributeValue {
    s(format!("signin#{digest}"))
}

impl DynamoSessions {
    /// A store over one table.
    pub fn new(client: impl Into<Lazy<Client>>, table: String) -> Self {
        Self { client: client.into(), table }
    }

    /// Moves a connect session `from` one status with `update` (whose own values `values`
    /// holds); `Conflict` when it is not in that status (or the extra `condition` fails).
    async fn transition(
        &self,
        id: &str,
        from: SessionStatus,
        condition: Option<&str>,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let condition = match condition {
            Some(extra) => format!("#status = :from AND {extra}"),
            None => "#status = :from".to_owned(),
        };
        let request = values.into_iter().fold(
            self.client
                .update_item()
                .table_name(&self.table)
                .key("id", s(id))
                .update_expression(update)
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":from", status(from)?),
            |r, (name, value)| r.expression_attribute_values(name, value),
        );
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict(format!("connect session {id} is not {from:?}")))
            }
            Err(e) => Err(sdk("update connect session", e)),
        }
    }
}

#[async_trait]
impl ConnectSessionStore for DynamoSessions {
    async fn create(&self, session: &ConnectSession) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("create connect session", e))
    }

    async fn session(&self, id: &str) -> Result<Option<ConnectSession>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read connect session", e))?;
        out.item.map(from_item).transpose()
    }

    async fn begin_attempt(&self, id: &str, max: u32, now: DateTime<Utc>) -> Result<(), StoreError> {
        let now =
            serde_dynamo::to_attribute_value(now).map_err(|e| StoreError::Backend(format!("encode time: {e}")))?;
        self.transition(
            id,
            SessionStatus::Pending,
            Some("attempts < :max AND expiresAt > :now"),
            "SET #status = :to, attempts = attempts + :one",
            vec![
                (":to", status(SessionStatus::Verifying)?),
                (":max", AttributeValue::N(max.to_string())),
                (":now", now),
                (":one", AttributeValue::N("1".into())),
            ],
        )
        .await
    }

    async fn fail_attempt(&self, id: &str, reason: &SessionError) -> Result<(), StoreError> {
        let reason =
            serde_dynamo::to_attribute_value(reason).map_err(|e| StoreError::Backend(format!("encode reason: {e}")))?;
        self.transition(
            id,
            SessionStatus::Verifying,
            None,
            "SET #status = :to, lastError = :reason",
            vec![(":to", status(SessionStatus::Pending)?), (":reason", reason)],
        )
        .await
    }

    async fn complete(&self, id: &str, connection_id: &str, endpoint_id: Option<&str>) -> Result<(), StoreError> {
        let endpoint = endpoint_id.map_or(AttributeValue::Null(true), s);
        self.transition(
            id,
            SessionStatus::Verifying,
            None,
            "SET #status = :to, connectionId = :connection, webhookEndpointId = :endpoint, lastError = :none",
            vec![
                (":to", status(SessionStatus::Completed)?),
                (":connection", s(connection_id)),
                (":endpoint", endpoint),
                (":none", AttributeValue::Null(true)),
            ],
        )
        .await
    }

    async fn take_token(&self, id: &str) -> Result<(), StoreError> {
        self.transition(
            id,
            SessionStatus::Completed,
            None,
            "SET #status = :to",
            vec![(":to", status(SessionStatus::TokenFetched)?)],
        )
        .await
    }
}

#[async_trait]
impl SignInStore for DynamoSessions {
    async fn open(&self, digest: &str, account_id: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", sign_in_id(digest))
            .item("accountId", s(account_id))
            .item("purgeAt", epoch(expires_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("open dashboard session", e))
    }

    async fn account(&self, digest: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", sign_in_id(digest))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read dashboard session", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let until = item.get("purgeAt").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
        if until.is_none_or(|t| t <= now.timestamp()) {
            return Ok(None);
        }
        Ok(item.get("accountId").and_then(|v| v.as_s().ok()).cloned())
    }

    async fn close(&self, digest: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", sign_in_id(digest))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("close dashboard session", e))
    }
}
