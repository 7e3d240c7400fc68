//! Turns an `Authorization: Bearer …` header into the caller it names.

use crate::{
    error::{ApiError, ErrorCode},
    model::Principal,
    ports::TokenStore,
    records::Target,
    token,
};

/// Resolves the bearer credential of a request, or explains in a 401 why it cannot; counts the
/// request against the credential's rate-limit window `window` and answers the uses so far.
pub async fn authenticate(
    tokens: &dyn TokenStore,
    authorization: Option<&str>,
    window: i64,
) -> Result<(Principal, u32), ApiError> {
    let presented = authorization
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, value)| value.trim())
        .ok_or_else(ApiError::unauthenticated)?;
    let kind = token::well_formed(presented).ok_or_else(ApiError::unauthenticated)?;
    let digest = token::digest(presented);
    let (record, used) = tokens
        .count_use(&digest, window)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            ApiError::internal()
        })?
        .filter(|(r, _)| token::digests_match(&r.digest, &digest))
        .ok_or_else(ApiError::unauthenticated)?;
    let principal = match (kind, record.connection_id, record.system) {
        (token::TokenKind::Account, None, _) => Principal::Account { account_id: record.account_id },
        (token::TokenKind::Connection | token::TokenKind::Sandbox, Some(connection_id), Some(system)) => {
            Principal::Connection { account_id: record.account_id, connection_id, system }
        }
        _ => return Err(ApiError::unauthenticated()),
    };
    Ok((principal, used))
}

/// The account behind an account key; connection tokens may not manage connections.
pub fn require_account(principal: &Principal) -> Result<&str, ApiError> {
    match principal {
        Principal::Account { account_id } => Ok(account_id),
        Principal::Connection { .. } => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "This endpoint needs the account key (mw_acct_…), not a connection token.",
        )),
    }
}

/// The connection behind a connection token; data calls are scoped to one connection.
pub fn require_connection(principal: &Principal) -> Result<Target<'_>, ApiError> {
    match principal {
        Principal::Connection { account_id, connection_id, system } => Ok(Target { account_id, connection_id, system }),
        Principal::Account { .. } => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            "Data calls need a connection token (mw_conn_… or mw_test_…), not the account key.",
        )),
    }
}
