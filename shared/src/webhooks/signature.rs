//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the secret format, signing
//! every delivery, and the verifier users run on their side.
//!
//! A signature is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{raw body}"))
//! where the key is the secret's bytes (base64 after the `whsec_` prefix). During a rotation a
//! delivery carries one signature per live secret, space-separated; any one matching is enough.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Every secret starts with this.
const PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification allows 24 to 64).
const SECRET_BYTES: usize = 32;
/// How far a timestamp may be from the verifier's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

type HmacSha256 = Hmac<Sha256>;

/// An endpoint's signing secret (`whsec_…`). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The secret is not `whsec_` + base64 of 24 to 64 bytes.
    #[error("the secret is not a whsec_ secret")]
    BadSecret,
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing or malformed.
    #[error("missing or malformed header {0}")]
    BadHeader(&'static str),
    /// The timestamp is more than five minutes from now: a replay, or a wrong clock.
    #[error("the timestamp is outside the tolerance")]
    Stale,
    /// No signature matches.
    #[error("no matching signature")]
    NoMatch,
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        Self { key }
    }

    /// Parses `whsec_…` (the prefix may be left off, as the official libraries allow).
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let key = STANDARD.decode(text.strip_prefix(PREFIX).unwrap_or(text)).map_err(|_| VerifyError::BadSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(VerifyError::BadSecret);
        }
        Ok(Self { key })
    }

    /// The secret as users receive it.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// This secret's signature of a message: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, &timestamp.to_string(), body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

/// The `webhook-signature` header for a message: one signature per secret, space-separated.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Checks deliveries on the receiving side. Give it the raw body exactly as it arrived: JSON that
/// was parsed and serialised again will not verify.
///
/// ```
/// use millwright::webhooks::{Secret, Verifier};
/// let secret = Secret::generate();
/// let body = br#"{"id":"evt_1","type":"sync.completed"}"#;
/// let now = chrono::Utc::now().timestamp();
/// let signature = secret.sign("evt_1", now, body);
/// let verifier = Verifier::new(&secret.expose()).unwrap();
/// assert!(verifier.verify("evt_1", &now.to_string(), &signature, body).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    secret: Secret,
}

impl Verifier {
    /// A verifier for the endpoint's secret (`whsec_…`).
    pub fn new(secret: &str) -> Result<Self, VerifyError> {
        Ok(Self { secret: Secret::parse(secret)? })
    }

    /// Verifies a delivery from its `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// header values and its raw body, against the current time.
    pub fn verify(&self, id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(id, timestamp, signatures, body, Utc::now())
    }

    /// Like `verify`, against the given time.
    pub fn verify_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        if id.is_empty() {
            return Err(VerifyError::BadHeader("webhook-id"));
        }
        let sent: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadHeader("webhook-timestamp"))?;
        if (now.timestamp() - sent).abs() > TOLERANCE_SECONDS {
            return Err(VerifyError::Stale);
        }
        let mut any = false;
        for candidate in signatures.split(' ').filter(|s| !s.is_empty()) {
            let Some(encoded) = candidate.strip_prefix("v1,") else { continue };
            any = true;
            let Ok(tag) = STANDARD.decode(encoded) else { continue };
            // `verify_slice` compares in constant time.
            if self.secret.mac(id, timestamp, body).verify_slice(&tag).is_ok() {
                return Ok(());
            }
        }
        if any { Err(VerifyError::NoMatch) } else { Err(VerifyError::BadHeader("webhook-signature")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference test suite.
    #[test]
    fn matches_the_specification_example() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_round_trip() {
        let a = Secret::generate();
        assert_ne!(a, Secret::generate());
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(Secret::parse(&a.expose()).unwrap(), a);
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), Err(VerifyError::BadSecret));
        assert!(!format!("{a:?}").contains(&a.expose()[6..]));
    }

    #[test]
    fn verifies_any_of_several_signatures_and_nothing_else() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let now = Utc::now();
        let ts = now.timestamp();
        let body = b"{\"a\":1}";
        let header = signature_header(&[new.clone(), old.clone()], "evt_1", ts, body);
        for s in [&old, &new] {
            let v = Verifier::new(&s.expose()).unwrap();
            assert_eq!(v.verify_at("evt_1", &ts.to_string(), &header, body, now), Ok(()));
            assert_eq!(v.verify_at("evt_2", &ts.to_string(), &header, body, now), Err(VerifyError::NoMatch));
            assert_eq!(v.verify_at("evt_1", &ts.to_string(), &header, b"{\"a\": 1}", now), Err(VerifyError::NoMatch));
        }
        let stranger = Verifier::new(&Secret::generate().expose()).unwrap();
        assert_eq!(stranger.verify_at("evt_1", &ts.to_string(), &header, body, now), Err(VerifyError::NoMatch));
    }

    #[test]
    fn refuses_stale_and_malformed_headers() {
        let s = Secret::generate();
        let v = Verifier::new(&s.expose()).unwrap();
        let now = Utc::now();
        let old = now.timestamp() - TOLERANCE_SECONDS - 1;
        let sig = s.sign("evt_1", old, b"x");
        assert_eq!(v.verify_at("evt_1", &old.to_string(), &sig, b"x", now), Err(VerifyError::Stale));
        let future = now.timestamp() + TOLERANCE_SECONDS + 1;
        assert_eq!(
            v.verify_at("evt_1", &future.to_string(), &s.sign("evt_1", future, b"x"), b"x", now),
            Err(VerifyError::Stale)
        );
        let ts = now.timestamp().to_string();
        assert_eq!(v.verify_at("evt_1", "soon", &sig, b"x", now), Err(VerifyError::BadHeader("webhook-timestamp")));
        assert_eq!(v.verify_at("evt_1", &ts, "v2,abc", b"x", now), Err(VerifyError::BadHeader("webhook-signature")));
        assert_eq!(v.verify_at("", &ts, &sig, b"x", now), Err(VerifyError::BadHeader("webhook-id")));
    }
}
