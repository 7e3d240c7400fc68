//! Dashboard sign-in: an account key buys a server-side session whose opaque id lives in an
//! HttpOnly cookie; the key itself is never kept, in the browser or here. Also the forms' CSRF
//! tokens, derived from a secret the browser holds in a cookie or a link.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

use crate::{
    auth,
    error::{ApiError, ErrorCode},
    limits,
    model::Principal,
    ports::{SignInStore, StoreError, TokenStore},
    token,
};

/// The session cookie: `__Host-` binds it to this origin, over https, for every path.
pub const SESSION_COOKIE: &str = "__Host-mw_session";
/// The sign-in form's double-submit cookie, before any session exists.
pub const FORM_COOKIE: &str = "__Host-mw_form";
/// How long a dashboard session lasts.
pub const LIFETIME: Duration = Duration::hours(8);

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"millwright csrf v1");
    mac
}

/// The CSRF token of the forms a secret (a session id, a connect link's secret, a form cookie)
/// guards: only a page that knows the secret can name it.
pub fn csrf_token(secret: &str) -> String {
    hex::encode(mac(secret).finalize().into_bytes())
}

/// Whether a form's CSRF token is the secret's (constant-time).
pub fn csrf_matches(secret: &str, presented: &str) -> bool {
    hex::decode(presented).is_ok_and(|bytes| mac(secret).verify_slice(&bytes).is_ok())
}

/// A dashboard session just made.
pub struct SignedIn {
    /// The cookie's value, given to the browser once.
    pub session: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Signing in and out, and who a session is.
#[derive(Clone)]
pub struct SignIns {
    tokens: Arc<dyn TokenStore>,
    store: Arc<dyn SignInStore>,
}

fn storage(e: StoreError) -> ApiError {
    ApiError::from_store(e, "session")
}

impl SignIns {
    /// Wires the service to its ports.
    pub fn new(tokens: Arc<dyn TokenStore>, store: Arc<dyn SignInStore>) -> Self {
        Self { tokens, store }
    }

    /// Checks an account key (counted against its rate limit like any request) and opens a
    /// session for its account. A connection token is refused.
    pub async fn sign_in(&self, key: &str) -> Result<SignedIn, ApiError> {
        let (window, _) = limits::window(Utc::now());
        let bearer = format!("Bearer {}", key.trim());
        let refused = || ApiError::new(ErrorCode::AuthenticationFailed, "That is not a valid account key.");
        let account = match auth::authenticate(self.tokens.as_ref(), Some(&bearer), window).await {
            Ok((Principal::Account { account_id }, _)) => account_id,
            Ok(_) => return Err(refused()),
            Err(e) if e.code == ErrorCode::AuthenticationFailed => return Err(refused()),
            Err(e) => return Err(e),
        };
        let session = token::random_hex();
        let expires_at = Utc::now().trunc_subsecs(0) + LIFETIME;
        self.store.open(&token::digest(&session), &account, expires_at).await.map_err(storage)?;
        tracing::info!(account = %account, "dashboard sign-in");
        Ok(SignedIn { session, expires_at })
    }

    /// The account a session cookie signs in, while the session lasts.
    pub async fn account(&self, session: &str) -> Result<Option<String>, ApiError> {
        if session.len() != 64 {
            return Ok(None);
        }
        self.store.account(&token::digest(session), Utc::now()).await.map_err(storage)
    }

    /// Ends a session.
    pub async fn sign_out(&self, session: &str) -> Result<(), ApiError> {
        self.store.close(&token::digest(session)).await.map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrf_token_is_its_secrets_alone() {
        let token = csrf_token("secret-a");
        assert!(csrf_matches("secret-a", &token));
        assert!(!csrf_matches("secret-b", &token));
        assert!(!csrf_matches("secret-a", "not hex"));
        assert!(!csrf_matches("secret-a", ""));
    }
}
