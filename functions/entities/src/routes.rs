//! The `entities` function's endpoints: purchase orders of the caller's connection.

use millwright::{
    adapters::{
        config::Services,
        http::{ApiRequest, Reply, no_route},
    },
    auth::require_connection,
    catalog,
    connectors::sandbox,
    error::{ApiError, ErrorCode},
    page,
};
use serde_json::json;
use std::sync::Arc;

/// Dispatches one request.
pub async fn route(services: Arc<Services>, request: ApiRequest) -> Result<Reply, ApiError> {
    let key = match (request.method.as_str(), request.path().as_slice()) {
        ("GET", ["v1", "purchase-orders"]) => None,
        ("GET", ["v1", "purchase-orders", key]) => Some(key.to_string()),
        _ => return Err(no_route()),
    };
    let caller = services.caller(&request).await?;
    let (_, system) = require_connection(&caller)?;
    if system != catalog::SANDBOX {
        return Err(ApiError::new(
            ErrorCode::SystemUnavailable,
            "Reads for this system are served from synced data, which is not available yet.",
        ));
    }
    match key {
        Some(key) => sandbox::purchase_order_by_key(&key)
            .map(|po| Reply::ok(json!({"data": po})))
            .ok_or_else(|| ApiError::not_found("purchase order")),
        None => {
            let limit = page::limit(request.query("limit"))?;
            let after = request.query("cursor").map(page::decode_cursor).transpose()?;
            let (data, more) = sandbox::purchase_order_page(after.as_deref(), limit);
            let next = more.then(|| data.last().and_then(|po| po["key"].as_str()).map(page::encode_cursor)).flatten();
            Ok(Reply::ok(json!({"data": data, "nextCursor": next})))
        }
    }
}
