//! Accounts and their keys: a credit pool opened together with its first account key, and the
//! keys an account adds and revokes to rotate them without downtime.

use chrono::{SubsecRound, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::{
    error::{ApiError, ErrorCode},
    model::{Account, AccountKey, TokenRecord},
    ports::{AccountStore, StoreError},
    token::{self, TokenKind},
};

/// An account key as the API shows it: never the key, never its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// `key_…`
    pub id: String,
    /// The key's last four characters.
    pub last4: String,
    /// When it was issued.
    pub created_at: chrono::DateTime<Utc>,
}

/// A new key's entry and token record, under a new id.
fn entry(account_id: &str, key: &str) -> (String, AccountKey, TokenRecord) {
    let id = format!("key_{}", ulid::Ulid::new().to_string().to_lowercase());
    let digest = token::digest(key);
    let record =
        TokenRecord { digest: digest.clone(), account_id: account_id.to_owned(), connection_id: None, system: None };
    let last4 = key[key.len() - 4..].to_owned();
    (id, AccountKey { digest, last4, created_at: Utc::now().trunc_subsecs(3) }, record)
}

fn storage(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("account key"),
        StoreError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
        other => {
            tracing::error!(error = %other, "account store failed");
            ApiError::internal()
        }
    }
}

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
    let id = format!("acct_{}", ulid::Ulid::new().to_string().to_lowercase());
    let (key_id, first, record) = entry(&id, &key);
    let account = Account {
        id,
        credits_total: credits,
        credits_available: credits,
        created_at: Utc::now(),
        keys: BTreeMap::from([(key_id, first)]),
        rate_limit: None,
        branding: Default::default(),
    };
    store.create_account(&account, &record).await.map_err(storage)?;
    Ok((account, key))
}

/// Sets how many requests each of the account's credentials may make per rate-limit window
/// (`limits::WINDOW_SECONDS`); none restores the defaults. Running functions apply it within a
/// minute.
pub async fn set_rate_limit(store: &dyn AccountStore, account_id: &str, limit: Option<u32>) -> Result<(), ApiError> {
    if limit == Some(0) {
        return Err(ApiError::invalid_field("rateLimit", "at least 1 request per window"));
    }
    store.set_rate_limit(account_id, limit).await.map_err(storage)
}

/// The account's keys, oldest first.
pub async fn keys(store: &dyn AccountStore, account_id: &str) -> Result<Vec<KeyView>, ApiError> {
    let account = store.account(account_id).await.map_err(storage)?.ok_or_else(|| ApiError::not_found("account"))?;
    let mut views: Vec<KeyView> =
        account.keys.into_iter().map(|(id, k)| KeyView { id, last4: k.last4, created_at: k.created_at }).collect();
    views.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(views)
}

/// Issues another account key; answers it with the key itself, shown this once.
pub async fn add_key(store: &dyn AccountStore, account_id: &str) -> Result<(KeyView, String), ApiError> {
    let key = token::issue(TokenKind::Account).plaintext;
    let (id, entry, record) = entry(account_id, &key);
    store.add_key(account_id, &id, &entry, &record).await.map_err(storage)?;
    tracing::info!(account = %account_id, key = %id, "account key issued");
    Ok((KeyView { id, last4: entry.last4, created_at: entry.created_at }, key))
}

/// Revokes an account key: it fails from the next request on. The last key stays (409).
pub async fn revoke_key(store: &dyn AccountStore, account_id: &str, id: &str) -> Result<(), ApiError> {
    if !id.starts_with("key_") {
        return Err(ApiError::not_found("account key"));
    }
    store.revoke_key(account_id, id).await.map_err(storage)?;
    tracing::info!(account = %account_id, key = %id, "account key revoked");
    Ok(())
}
