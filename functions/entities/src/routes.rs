//! The `entities` function's endpoints: the caller's connection's records in the unified model,
//! its capabilities and its statuses.

use chrono::{DateTime, Utc};
use millwright::{
    auth::require_connection,
    connectors::{ListQuery, Page},
    entities::{Entity, Record},
    error::{ApiError, ErrorCode},
    model::Principal,
    page,
    records::Write,
};
use millwright_aws::http::{ApiRequest, Reply, no_route};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use crate::State;

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

/// A page of records with the cursor of the next.
fn page_reply(page: Page) -> Reply {
    Reply::ok(json!({"data": page.records, "nextCursor": page.next.as_deref().map(page::encode_cursor)}))
}

/// The `connectionId` an account-key read names, checked to be the account's (404 otherwise).
async fn owned(services: &State, request: &ApiRequest, account_id: &str) -> Result<String, ApiError> {
    let id = request
        .query("connectionId")
        .ok_or_else(|| ApiError::invalid_field("connectionId", "required when reading with the account key"))?;
    let connection = services.api.connections.get(account_id, id).await?;
    if connection.data_deletion.is_some() {
        return Err(ApiError::new(ErrorCode::NotFound, "The connection's synced data was deleted."));
    }
    Ok(connection.id)
}

/// Dispatches one request.
pub async fn route(services: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    let path = request.path();
    let method = request.method.as_str();
    // Refuse unknown paths before authenticating, as API Gateway would.
    let target = match (method, path.as_slice()) {
        ("GET", ["v1", "capabilities"]) => None,
        ("GET", ["v1", "statuses", e]) => Some(entity(e)?),
        (_, ["v1", e, ..]) if path.len() <= 5 => Some(entity(e)?),
        _ => return Err(no_route()),
    };
    let caller = services.api.caller(&request).await?;
    let records = &services.records;
    // The account key reads a connection's synced copy (also after disconnect); it does not write.
    if let Principal::Account { account_id } = &caller {
        return match (method, path.as_slice(), target) {
            ("GET", ["v1", _], Some(e)) => {
                let connection = owned(&services, &request, account_id).await?;
                Ok(page_reply(records.synced_page(&connection, e, &list_query(&request)?).await?))
            }
            ("GET", ["v1", _, key], Some(e)) => {
                let connection = owned(&services, &request, account_id).await?;
                let record = records.synced_record(&connection, e, key).await?;
                Ok(Reply::ok(json!({"data": record.ok_or_else(|| ApiError::not_found(e.singular()))?})))
            }
            // Capabilities and writes are a connection's: this answers 403 with the reason.
            _ => require_connection(&caller).and(Err(no_route())),
        };
    }
    let connection = require_connection(&caller)?;
    let system = connection.system;
    let idempotency_key = request.header("idempotency-key");
    let write = |entity: Entity, write: Write| async move {
        let (status, body) = records.write(connection, entity, write, idempotency_key).await?;
        Ok(Reply::new(status, body))
    };
    match (method, path.as_slice(), target) {
        ("GET", ["v1", "capabilities"], _) => {
            Ok(Reply::ok(json!({"system": system, "entities": records.capabilities(system)?})))
        }
        ("GET", ["v1", "statuses", _], Some(e)) => {
            let statuses = records.capabilities(system)?.of(e).statuses;
            Ok(Reply::ok(json!({"data": statuses, "nextCursor": null})))
        }
        ("GET", ["v1", _], Some(e)) => Ok(page_reply(records.list(connection, e, &list_query(&request)?).await?)),
        ("GET", ["v1", _, key], Some(e)) => Ok(Reply::ok(json!({"data": records.get(connection, e, key).await?}))),
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
