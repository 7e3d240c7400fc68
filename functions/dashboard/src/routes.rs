//! The `dashboard` function's routes: `/connect/{session}/{secret}` (the hosted connect page),
//! `/dashboard/assets/…` and the dashboard. Every outcome is a page: an error is shown as one,
//! with its status.

use millwright::error::{ApiError, ErrorCode};
use millwright_aws::http::{ApiRequest, Reply};
use std::sync::Arc;

use crate::{State, assets, connect_page, console, page};

/// A path no page has.
pub fn no_page() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "There is no page at this address.")
}

/// Dispatches one request.
pub async fn route(state: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    let path = request.path();
    let outcome = match path.as_slice() {
        ["connect", id, secret] => connect_page::handle(&state, &request, id, secret).await,
        ["dashboard", "assets", name] if request.method == "GET" => assets::serve(name).ok_or_else(no_page),
        ["dashboard", "assets", "accent", file] if request.method == "GET" => assets::accent(file).ok_or_else(no_page),
        ["dashboard", rest @ ..] => console::handle(&state, &request, rest).await,
        _ => Err(no_page()),
    };
    Ok(outcome.unwrap_or_else(|e| page::error(&e)))
}
