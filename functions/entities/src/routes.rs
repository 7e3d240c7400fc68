//! The `entities` function's endpoints: the caller's connection's records in the unified model,
//! its capabilities and its statuses.

use chrono::{DateTime, Utc};
use millwright::{
    adapters::{
        config::Services,
        http::{ApiRequest, Reply, no_route},
    },
    auth::require_connection,
    connectors::ListQuery,
    entities::{Entity, Record},
    error::ApiError,
    page,
    records::Write,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StatusChange {
    status_key: String,
}

fn entity(segment: &str) -> Result<Entity, ApiError> {
    Entity::from_path(segment).ok_or_else(no_route)
}

fn list_query(request: &ApiRequest) -> Result<ListQuery, ApiError> {
    let modified_after = request
        .query("modifiedAfter")
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid_field("modifiedAfter", "must be an RFC 3339 timestamp"))
        })
        .transpose()?;
    let include_deleted = match request.query("includeDeleted") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_field("includeDeleted", "must be true or false")),
    };
    Ok(ListQuery {
        after: request.query("cursor").map(page::decode_cursor).transpose()?,
        limit: page::limit(request.query("limit"))?,
        modified_after,
        status: request.query("status").map(str::to_owned),
        include_deleted,
    })
}

/// Dispatches one request.
pub async fn route(services: Arc<Services>, request: ApiRequest) -> Result<Reply, ApiError> {
    let path = request.path();
    let method = request.method.as_str();
    // Refuse unknown paths before authenticating, as API Gateway would.
    let target = match (method, path.as_slice()) {
        ("GET", ["v1", "capabilities"]) => None,
        ("GET", ["v1", "statuses", e]) => Some(entity(e)?),
        (_, ["v1", e, ..]) if path.len() <= 5 => Some(entity(e)?),
        _ => return Err(no_route()),
    };
    let caller = services.caller(&request).await?;
    let (connection, system) = require_connection(&caller)?;
    let records = &services.records;
    let idempotency_key = request.header("idempotency-key");
    let write = |entity: Entity, write: Write| async move {
        let (status, body) = records.write(connection, system, entity, write, idempotency_key).await?;
        Ok(Reply { status, body })
    };
    match (method, path.as_slice(), target) {
        ("GET", ["v1", "capabilities"], _) => {
            Ok(Reply::ok(json!({"system": system, "entities": records.capabilities(system)?})))
        }
        ("GET", ["v1", "statuses", _], Some(e)) => {
            let statuses = records.capabilities(system)?.of(e).statuses;
            Ok(Reply::ok(json!({"data": statuses, "nextCursor": null})))
        }
        ("GET", ["v1", _], Some(e)) => {
            let page = records.list(system, e, &list_query(&request)?).await?;
            let next = page
                .more
                .then(|| {
                    page.records.last().and_then(|r| r.get("key")).and_then(Value::as_str).map(page::encode_cursor)
                })
                .flatten();
            Ok(Reply::ok(json!({"data": page.records, "nextCursor": next})))
        }
        ("GET", ["v1", _, key], Some(e)) => Ok(Reply::ok(json!({"data": records.get(system, e, key).await?}))),
        ("POST", ["v1", _], Some(e)) => write(e, Write::Create(request.json::<Record>()?)).await,
        ("PATCH", ["v1", _, key], Some(e)) => write(e, Write::Update(key.to_string(), request.json::<Record>()?)).await,
        ("PUT", ["v1", _, key, "status"], Some(e)) => {
            let change: StatusChange = request.json()?;
            write(e, Write::ChangeStatus(key.to_string(), change.status_key)).await
        }
        ("DELETE", ["v1", _, key], Some(e)) => write(e, Write::Delete(key.to_string())).await,
        _ => Err(no_route()),
    }
}
