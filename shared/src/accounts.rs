//! Opening accounts: a credit pool and its account key, created together.

use chrono::Utc;

use crate::{
    error::ApiError,
    model::{Account, TokenRecord},
    ports::{AccountStore, StoreError},
    token::{self, TokenKind},
};

/// Opens an account with `credits` in its pool. With `key`, that account key is used (it must be
/// a well-formed `mw_acct_` key); otherwise a new one is issued. Returns the account and its key.
pub async fn open(store: &dyn AccountStore, credits: u32, key: Option<String>) -> Result<(Account, String), ApiError> {
    let key = match key {
        Some(k) if token::well_formed(&k) == Some(TokenKind::Account) => k,
        Some(_) => {
            return Err(ApiError::invalid_field("key", "an account key is mw_acct_ and 64 lowercase hex digits"));
        }
        None => token::issue(TokenKind::Account).plaintext,
    };
    let account = Account {
        id: format!("acct_{}", ulid::Ulid::new().to_string().to_lowercase()),
        credits_total: credits,
        credits_available: credits,
        created_at: Utc::now(),
    };
    let record =
        TokenRecord { digest: token::digest(&key), account_id: account.id.clone(), connection_id: None, system: None };
    store.create_account(&account, &record).await.map_err(|e| match e {
        StoreError::Conflict(m) => ApiError::new(crate::error::ErrorCode::Conflict, m),
        other => {
            tracing::error!(error = %other, "could not open an account");
            ApiError::internal()
        }
    })?;
    Ok((account, key))
}
