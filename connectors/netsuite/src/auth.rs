//! OAuth 2.0 client credentials as NetSuite runs them: a short-lived client assertion (a JWT
//! signed with the certificate's private key) is exchanged at the token endpoint for an access
//! token valid an hour. There is no refresh token; a new assertion mints the next one. Tokens are
//! kept in the process, per integration and key, for their lifetime, so warm invocations reuse
//! them; a 401 on a call discards the one it used.

use std::{
    sync::{Arc, LazyLock},
    time::{Duration, Instant},
};

use jsonwebtoken::Header;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use millwright::connectors::ConnectorError;
use millwright_outbound::{
    tokens::Tokens,
    upstream::{Replay, Upstream},
};

use crate::account::Account;

/// Where tokens are minted, under the REST domain.
const TOKEN_PATH: &str = "services/rest/auth/oauth2/v1/token";
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion's life: well inside NetSuite's hour, and the fifteen minutes some report.
const ASSERTION_SECONDS: i64 = 300;
/// A token's life when NetSuite's answer does not say (it documents an hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The tokens this process holds, by account fingerprint.
static TOKENS: LazyLock<Tokens> = LazyLock::new(Tokens::default);

/// The claims of a client assertion, as NetSuite's "request token structure" lists them.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: Value,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The token endpoint of the account.
pub fn token_url(account: &Account) -> Result<Url, ConnectorError> {
    account.base.join(TOKEN_PATH).map_err(|e| ConnectorError::Upstream(format!("building the token URL: {e}")))
}

/// A client assertion signed now.
pub fn assertion(account: &Account, now: i64) -> Result<String, ConnectorError> {
    let mut header = Header::new(account.key.algorithm);
    header.kid = Some(account.certificate_id.clone());
    let audience = token_url(account)?;
    let claims = Claims {
        iss: &account.client_id,
        scope: crate::assumed::scope_claim(&account.scopes),
        aud: audience.as_str(),
        iat: now,
        exp: now + ASSERTION_SECONDS,
    };
    jsonwebtoken::encode(&header, &claims, &account.key.key)
        .map_err(|e| ConnectorError::Upstream(format!("signing the client assertion: {e}")))
}

/// What a refusal at the token endpoint means, in words a person setting NetSuite up can act on.
/// NetSuite answers only an OAuth error code; its Login Audit Trail has the detail.
fn refusal(status: u16, body: &[u8]) -> ConnectorError {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.get("error").and_then(Value::as_str).map(str::to_owned));
    let audit = "NetSuite's Login Audit Trail (Setup > Users/Roles > User Management) has the detail";
    let meaning = match code.as_deref() {
        Some("invalid_client") => {
            "the certificate id, client id, private key or account do not match an active OAuth 2.0 client credentials \
             (M2M) mapping"
        }
        Some("invalid_grant") => {
            "the assertion is outside its time window (this clock and NetSuite's differ by minutes) or the certificate \
             was revoked or has expired"
        }
        Some("invalid_request") => "NetSuite could not read the token request",
        Some("unauthorized_client" | "invalid_scope") => {
            "the integration record does not allow the client credentials grant or these scopes"
        }
        _ => return ConnectorError::Upstream(format!("the token endpoint answered HTTP {status}")),
    };
    ConnectorError::Rejected(format!(
        "NetSuite refused the client assertion ({}): {meaning}; {audit}.",
        code.unwrap_or_default()
    ))
}

/// The lifetime NetSuite gave a token: `expires_in` as a number or a numeric string.
fn lifetime(answer: &Value) -> Duration {
    let seconds = match answer.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    seconds.map_or(DEFAULT_LIFETIME, Duration::from_secs)
}

/// Drops the token held for the account, so the next call mints one.
pub fn forget(account: &Account) {
    TOKENS.forget(&account.fingerprint, None);
}

/// A token for the account: the one held, unless `stale` is the one a call was just refused
/// with, or a new one from NetSuite.
pub async fn token(upstream: &Upstream, account: &Account, stale: Option<&str>) -> Result<Arc<str>, ConnectorError> {
    if let Some(stale) = stale {
        TOKENS.forget(&account.fingerprint, Some(stale));
    }
    if let Some(token) = TOKENS.get(&account.fingerprint) {
        return Ok(token);
    }
    let url = token_url(account)?;
    let assertion = assertion(account, chrono::Utc::now().timestamp())?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let asked = Instant::now();
    let answer = upstream
        .send(Replay::Safe, || {
            upstream.client().post(url.clone()).header(reqwest::header::ACCEPT, "application/json").form(&form)
        })
        .await?;
    if !answer.status.is_success() {
        return Err(refusal(answer.status.as_u16(), &answer.body));
    }
    let body = answer.json("the token endpoint")?;
    let value = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ConnectorError::Upstream("the token endpoint answered without an access_token".into()))?;
    let value = TOKENS.put(&account.fingerprint, value, asked, lifetime(&body));
    tracing::info!(account = %account.id, "NetSuite access token issued");
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{account, fixture};
    use millwright::connectors::Credentials;
    use ring::signature::{self, KeyPair};
    use serde_json::json;

    fn demo_account(key: &str) -> Account {
        let c =
            json!({"accountId": "1234567_SB1", "clientId": "client-1", "certificateId": "cert-1", "privateKey": key});
        account::account(&Credentials(c.as_object().cloned().unwrap())).unwrap()
    }

    fn decode(part: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    #[test]
    fn the_assertion_carries_what_netsuite_checks_and_verifies_with_the_public_key() {
        let key = fixture("other_p256");
        let jwt = assertion(&demo_account(&key), 1_767_225_600).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        assert_eq!(header, json!({"typ": "JWT", "alg": "ES256", "kid": "cert-1"}));
        let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(
            claims,
            json!({"iss": "client-1", "scope": ["rest_webservices"],
                   "aud": "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
                   "iat": 1_767_225_600, "exp": 1_767_225_900})
        );
        // The signature checks out against the key's public half (ring, independently of the
        // JWT library), over "<header>.<payload>".
        let der = pem::parse(&key).unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.contents(),
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        let public = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &decode(parts[2])).is_ok());
    }

    #[test]
    fn rsa_keys_sign_with_pss() {
        let key = fixture("rsa3072");
        let jwt = assertion(&demo_account(&key), 1_767_225_600).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let der = pem::parse(&key).unwrap();
        let pair = signature::RsaKeyPair::from_pkcs8(der.contents()).unwrap();
        let public = signature::UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, pair.public().as_ref());
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &decode(parts[2])).is_ok(), "PS256, not RS256");
    }

    #[test]
    fn token_endpoint_refusals_say_what_to_check() {
        let said = |code: &str| match refusal(401, json!({"error": code}).to_string().as_bytes()) {
            ConnectorError::Rejected(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(said("invalid_client").contains("certificate id, client id, private key"));
        assert!(said("invalid_grant").contains("time window"));
        assert!(said("invalid_grant").contains("Login Audit Trail"));
        assert!(matches!(refusal(502, b"<html>"), ConnectorError::Upstream(_)));
        assert_eq!(lifetime(&json!({"expires_in": "3600"})), Duration::from_secs(3600));
        assert_eq!(lifetime(&json!({"expires_in": 1800})), Duration::from_secs(1800));
        assert_eq!(lifetime(&json!({})), DEFAULT_LIFETIME);
    }
}
