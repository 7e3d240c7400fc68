//! The `webhooks` function's endpoints, all for the account key: `/v1/webhook-endpoints` (create,
//! list), `/v1/webhook-endpoints/{id}` (get, update, delete), `…/{id}/rotate-secret`,
//! `…/{id}/deliveries` and `POST /v1/webhook-deliveries/{id}/redeliver`.

use millwright::{
    auth::require_account,
    error::ApiError,
    page,
    webhooks::{CreateEndpoint, Endpoint, UpdateEndpoint},
};
use millwright_aws::http::{ApiRequest, Reply, no_route};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::State;

/// Dispatches one request.
pub async fn route(services: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    let path = request.path();
    let method = request.method.as_str();
    let known = matches!(
        (method, path.as_slice()),
        ("POST" | "GET", ["v1", "webhook-endpoints"])
            | ("GET" | "PATCH" | "DELETE", ["v1", "webhook-endpoints", _])
            | ("POST", ["v1", "webhook-endpoints", _, "rotate-secret"])
            | ("GET", ["v1", "webhook-endpoints", _, "deliveries"])
            | ("POST", ["v1", "webhook-deliveries", _, "redeliver"])
    );
    if !known {
        return Err(no_route());
    }
    let caller = services.api.caller(&request).await?;
    let account = require_account(&caller)?;
    let hooks = &services.webhooks;
    match (method, path.as_slice()) {
        ("POST", ["v1", "webhook-endpoints"]) => {
            let body: CreateEndpoint = request.json()?;
            if let Some(connection) = &body.connection_id {
                services.api.connections.get(account, connection).await?;
            }
            let (endpoint, secret) = hooks.create(account, body).await?;
            Ok(Reply::created(endpoint.with_secret(&secret)))
        }
        ("GET", ["v1", "webhook-endpoints"]) => {
            let (limit, after) = position(&request)?;
            let (endpoints, next) = hooks.list(account, after.as_deref(), limit).await?;
            Ok(listing(endpoints.iter().map(Endpoint::view).collect(), next))
        }
        ("GET", ["v1", "webhook-endpoints", id]) => Ok(Reply::ok(endpoint(&hooks.get(account, id).await?))),
        ("PATCH", ["v1", "webhook-endpoints", id]) => {
            let body: UpdateEndpoint = request.json()?;
            Ok(Reply::ok(endpoint(&hooks.update(account, id, body).await?)))
        }
        ("DELETE", ["v1", "webhook-endpoints", id]) => {
            let deleted = hooks.delete(account, id).await?;
            Ok(Reply::ok(json!({"webhookEndpoint": deleted.view(), "deleted": true})))
        }
        ("POST", ["v1", "webhook-endpoints", id, "rotate-secret"]) => {
            let (endpoint, secret) = hooks.rotate(account, id).await?;
            Ok(Reply::ok(endpoint.with_secret(&secret)))
        }
        ("GET", ["v1", "webhook-endpoints", id, "deliveries"]) => {
            let (limit, after) = position(&request)?;
            let (deliveries, next) = hooks.deliveries(account, id, after.as_deref(), limit).await?;
            Ok(listing(deliveries.iter().map(|d| d.view()).collect(), next))
        }
        ("POST", ["v1", "webhook-deliveries", id, "redeliver"]) => {
            Ok(Reply::accepted(json!({"webhookDelivery": hooks.redeliver(account, id).await?.view()})))
        }
        _ => Err(no_route()),
    }
}

fn endpoint(endpoint: &Endpoint) -> Value {
    json!({"webhookEndpoint": endpoint.view()})
}

/// The endpoint and its new secret, which is shown this once.
/// `limit` and the decoded `cursor` of a list request.
fn position(request: &ApiRequest) -> Result<(usize, Option<String>), ApiError> {
    Ok((page::limit(request.query("limit"))?, request.query("cursor").map(page::decode_cursor).transpose()?))
}

fn listing(data: Vec<Value>, next: Option<String>) -> Reply {
    Reply::ok(json!({"data": data, "nextCursor": next.as_deref().map(page::encode_cursor)}))
}
