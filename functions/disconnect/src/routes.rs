//! The `disconnect` function's endpoints.

use millwright::{auth::require_account, error::ApiError};
use millwright_aws::http::{ApiRequest, Reply, no_route};
use serde_json::json;
use std::sync::Arc;

use crate::State;

/// Dispatches one request.
pub async fn route(services: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    let id = match (request.method.as_str(), request.path().as_slice()) {
        ("POST", ["v1", "connections", id, "disconnect" | "token"]) | ("DELETE", ["v1", "connections", id, "data"]) => {
            id.to_string()
        }
        _ => return Err(no_route()),
    };
    let caller = services.api.caller(&request).await?;
    let account = require_account(&caller)?;
    if request.segments[3] == "data" {
        let connection = services.api.connections.request_data_deletion(account, &id).await?;
        services.syncs.erase(&connection).await?;
        Ok(Reply::new(202, json!({"connection": connection})))
    } else if request.segments[3] == "disconnect" {
        let outcome = services.api.connections.disconnect(account, &id).await?;
        Ok(Reply::ok(json!({"connection": outcome.connection()})))
    } else {
        let (connection, token) = services.api.connections.rotate(account, &id).await?;
        Ok(Reply::ok(json!({"connection": connection, "token": token.plaintext})))
    }
}
