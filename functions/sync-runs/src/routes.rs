//! The `sync-runs` function's endpoints: `POST /v1/syncs` (connection token),
//! `POST /v1/connections/{id}/syncs` (account key), `GET /v1/syncs` and `GET /v1/syncs/{id}` (either).

use millwright::{
    auth::require_account,
    error::{ApiError, ErrorCode},
    model::Principal,
    page,
    ports::RunScope,
    sync::{SyncRequest, Trigger},
};
use millwright_aws::http::{ApiRequest, Reply, no_route};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::State;

/// Dispatches one request.
pub async fn route(services: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    let path = request.path();
    let method = request.method.as_str();
    if !matches!(
        (method, path.as_slice()),
        ("POST" | "GET", ["v1", "syncs"]) | ("GET", ["v1", "syncs", _]) | ("POST", ["v1", "connections", _, "syncs"])
    ) {
        return Err(no_route());
    }
    let caller = services.api.caller(&request).await?;
    match (method, path.as_slice()) {
        ("POST", ["v1", "connections", id, "syncs"]) => start(&services, &request, require_account(&caller)?, id).await,
        ("POST", ["v1", "syncs"]) => match &caller {
            Principal::Connection { account_id, connection_id, .. } => {
                start(&services, &request, account_id, connection_id).await
            }
            Principal::Account { .. } => Err(ApiError::new(
                ErrorCode::PermissionDenied,
                "POST /v1/syncs takes a connection token; with the account key use POST /v1/connections/{id}/syncs.",
            )),
        },
        ("GET", ["v1", "syncs"]) => {
            let limit = page::limit(request.query("limit"))?;
            let after = request.query("cursor").map(page::decode_cursor).transpose()?;
            let filter = request.query("connectionId");
            let scope = match (&caller, filter) {
                (Principal::Connection { connection_id, .. }, _) => RunScope::Connection(connection_id),
                (Principal::Account { account_id }, Some(id)) => {
                    services.api.connections.get(account_id, id).await?;
                    RunScope::Connection(id)
                }
                (Principal::Account { account_id }, None) => RunScope::Account(account_id),
            };
            let (runs, next) = services.syncs.list(scope, after.as_deref(), limit).await?;
            let data: Vec<Value> = runs.iter().map(|r| r.view()).collect();
            Ok(Reply::ok(json!({"data": data, "nextCursor": next.as_deref().map(page::encode_cursor)})))
        }
        ("GET", ["v1", "syncs", id]) => {
            let scope = match &caller {
                Principal::Connection { connection_id, .. } => RunScope::Connection(connection_id),
                Principal::Account { account_id } => RunScope::Account(account_id),
            };
            Ok(Reply::ok(json!({"sync": services.syncs.get(scope, id).await?.view()})))
        }
        _ => Err(no_route()),
    }
}

/// Queues runs for a connection of the account.
async fn start(services: &State, request: &ApiRequest, account_id: &str, id: &str) -> Result<Reply, ApiError> {
    let connection = services.api.connections.get(account_id, id).await?;
    let body: SyncRequest =
        if request.body.iter().all(u8::is_ascii_whitespace) { SyncRequest::default() } else { request.json()? };
    let runs = services.syncs.start(&connection, body, Trigger::Manual).await?;
    let syncs: Vec<Value> =
        runs.iter().map(|r| json!({"id": r.id, "entity": r.entity, "mode": r.mode, "status": r.status})).collect();
    Ok(Reply::accepted(json!({"syncs": syncs})))
}
