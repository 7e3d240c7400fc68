//! A connection's credentials, checked and made ready to use: which NetSuite account and host,
//! which integration and certificate, the private key that signs for them, and how many requests
//! the account lets the connection run at once. Every mistake a connect body can make is caught
//! here, before NetSuite is asked, and named by its field.

use jsonwebtoken::{Algorithm, EncodingKey};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair},
};
use serde_json::Value;
use url::Url;

use millwright::{
    connectors::{ConnectorError, Credentials},
    error::ErrorCode,
};
use millwright_outbound::tokens;

/// The scope every connection needs: the REST record service and SuiteQL.
pub const REST_WEB_SERVICES: &str = "rest_webservices";
/// The scopes NetSuite knows.
const SCOPES: [&str; 3] = [REST_WEB_SERVICES, "restlets", "suite_analytics"];
/// Requests at once when the credentials do not say: NetSuite's limit is per account and shared
/// with every other integration, so one is the polite default.
pub const DEFAULT_CALLS_AT_ONCE: u32 = 1;
/// The most a connection may ask for (an account's limit is 5 plus 10 per SuiteCloud Plus licence).
const MAX_CALLS_AT_ONCE: u32 = 50;
/// RSA key sizes NetSuite accepts for client-credentials certificates.
const RSA_BITS: [usize; 2] = [3072, 4096];

/// A NetSuite connection, ready to sign and send.
pub struct Account {
    /// The account id as typed (`1234567_SB1`).
    pub id: String,
    /// The REST domain, with a trailing `/`: `https://1234567-sb1.suitetalk.api.netsuite.com/`.
    pub base: Url,
    /// The integration record's client id (the assertion's `iss`).
    pub client_id: String,
    /// The certificate id of the M2M mapping (the assertion's `kid`).
    pub certificate_id: String,
    /// The private key and the algorithm it signs with.
    pub key: SigningKey,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// How many requests the connection may have in flight at once.
    pub calls_at_once: u32,
    /// Names this account's integration and key without holding them: tokens and request
    /// permits are kept under it.
    pub fingerprint: String,
}

/// A private key and the JWT algorithm it signs with.
pub struct SigningKey {
    /// PS256 for RSA keys; ES256 or ES384 by the EC key's curve.
    pub algorithm: Algorithm,
    /// The key, as the JWT library takes it.
    pub key: EncodingKey,
}

/// A refusal of one credential, before NetSuite is asked.
pub fn invalid(field: &str, why: impl Into<String>) -> ConnectorError {
    ConnectorError::Rule {
        code: ErrorCode::InvalidCredentials,
        message: why.into(),
        field: Some(format!("credentials.{field}")),
    }
}

fn required<'a>(credentials: &'a Credentials, field: &str) -> Result<&'a str, ConnectorError> {
    credentials.text(field).map(str::trim).ok_or_else(|| invalid(field, "required"))
}

/// The account's REST domain as NetSuite derives it from the account id: lower case, `_` as `-`
/// (`1234567_SB1` → `1234567-sb1.suitetalk.api.netsuite.com`).
pub fn domain(account_id: &str) -> String {
    format!("{}.suitetalk.api.netsuite.com", account_id.to_ascii_lowercase().replace('_', "-"))
}

/// The base URL: `baseUrl` when given (Setup > Company > Company Information > Company URLs, as
/// Oracle advises), else the domain derived from the account id.
fn base_url(credentials: &Credentials, account_id: &str) -> Result<Url, ConnectorError> {
    let Some(text) = credentials.text("baseUrl") else {
        return Url::parse(&format!("https://{}/", domain(account_id))).map_err(|_| invalid("accountId", "not usable"));
    };
    let url = Url::parse(text.trim()).map_err(|_| invalid("baseUrl", "not a valid URL"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
        return Err(invalid("baseUrl", "the REST domain alone, such as https://1234567.suitetalk.api.netsuite.com"));
    }
    Ok(url)
}

/// A whole number of requests at once from a string or a number, within bounds.
pub fn calls_at_once(credentials: &Credentials) -> Result<u32, ConnectorError> {
    let value = match credentials.0.get("concurrencyLimit") {
        None | Some(Value::Null) => return Ok(DEFAULT_CALLS_AT_ONCE),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(DEFAULT_CALLS_AT_ONCE),
        Some(Value::String(s)) => s.trim().parse::<u32>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(_) => None,
    };
    value
        .filter(|n| (1..=MAX_CALLS_AT_ONCE).contains(n))
        .ok_or_else(|| invalid("concurrencyLimit", format!("a whole number from 1 to {MAX_CALLS_AT_ONCE}")))
}

/// The scopes asked for: `rest_webservices` unless the credentials list others (comma or space
/// separated), which must include it.
fn scopes(credentials: &Credentials) -> Result<Vec<String>, ConnectorError> {
    let Some(text) = credentials.text("scopes") else { return Ok(vec![REST_WEB_SERVICES.to_owned()]) };
    let asked: Vec<String> = text.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(unknown) = asked.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(invalid("scopes", format!("\"{unknown}\" is not a scope; use {}", SCOPES.join(", "))));
    }
    if !asked.iter().any(|s| s == REST_WEB_SERVICES) {
        return Err(invalid("scopes", format!("must include {REST_WEB_SERVICES}")));
    }
    Ok(asked)
}

/// A PEM text as a browser form may send it: a pasted key whose line breaks became spaces, or
/// were lost, gets them back around its armour lines, so the PEM reader finds its parts.
fn restored_pem(text: &str) -> String {
    let text = text.trim();
    if text.contains('\n') {
        return text.replace("\r\n", "\n");
    }
    let Some((head, rest)) = text.strip_prefix("-----BEGIN ").and_then(|t| t.split_once("-----")) else {
        return text.to_owned();
    };
    let footer = format!("-----END {head}-----");
    let body: String = rest.trim_end_matches(footer.as_str()).split_whitespace().collect();
    format!("-----BEGIN {head}-----\n{body}\n{footer}\n")
}

/// The signing key in a PEM private key: RSA of 3072 or 4096 bits (PS256), or EC on P-256
/// (ES256) or P-384 (ES384), as PKCS#8 (`BEGIN PRIVATE KEY`) or, for RSA, PKCS#1.
pub fn signing_key(text: &str) -> Result<SigningKey, ConnectorError> {
    let bad = |why: &str| invalid("privateKey", why);
    let text = restored_pem(text);
    let pem = pem::parse(&text).map_err(|_| bad("not a PEM private key (-----BEGIN PRIVATE KEY----- …)"))?;
    let der = pem.contents();
    let rsa = |pair: RsaKeyPair| {
        let bits = pair.public().modulus_len() * 8;
        if !RSA_BITS.contains(&bits) {
            return Err(bad(&format!("an RSA key of {bits} bits; NetSuite takes 3072 or 4096 bits")));
        }
        let key = EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|_| bad("an RSA key that cannot sign"))?;
        Ok(SigningKey { algorithm: Algorithm::PS256, key })
    };
    match pem.tag() {
        "PRIVATE KEY" => {
            if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
                return rsa(pair);
            }
            let random = SystemRandom::new();
            let curves = [
                (&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256),
                (&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384),
            ];
            for (curve, algorithm) in curves {
                if EcdsaKeyPair::from_pkcs8(curve, der, &random).is_ok() {
                    return Ok(SigningKey { algorithm, key: EncodingKey::from_ec_der(der) });
                }
            }
            Err(bad(
                "neither an RSA key of 3072 or 4096 bits nor an EC key on P-256 or P-384 (P-521 keys, for ES512, are not supported)",
            ))
        }
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der).map_err(|_| bad("an RSA key that cannot be read")).and_then(rsa),
        "EC PRIVATE KEY" => {
            Err(bad("an EC key in SEC1 form; convert it to PKCS#8 with: openssl pkcs8 -topk8 -nocrypt -in key.pem"))
        }
        "ENCRYPTED PRIVATE KEY" => Err(bad("encrypted; give the key without a passphrase")),
        "CERTIFICATE" | "PUBLIC KEY" => {
            Err(bad("the certificate or public key; NetSuite keeps that, the connection needs the private key"))
        }
        _ => Err(bad("not a private key")),
    }
}

/// The account the credentials describe, or the first thing wrong with them.
pub fn account(credentials: &Credentials) -> Result<Account, ConnectorError> {
    let id = required(credentials, "accountId")?;
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(invalid("accountId", "the account id, such as 1234567 or 1234567_SB1"));
    }
    let client_id = required(credentials, "clientId")?;
    let certificate_id = required(credentials, "certificateId")?;
    let private_key = required(credentials, "privateKey")?;
    let base = base_url(credentials, id)?;
    let key = signing_key(private_key)?;
    let scopes = scopes(credentials)?;
    let calls_at_once = calls_at_once(credentials)?;
    let fingerprint = tokens::key(&[base.as_str(), client_id, certificate_id, private_key, &scopes.join(",")]);
    Ok(Account {
        id: id.to_owned(),
        base,
        client_id: client_id.to_owned(),
        certificate_id: certificate_id.to_owned(),
        key,
        scopes,
        calls_at_once,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use serde_json::json;

    fn credentials(v: Value) -> Credentials {
        Credentials(v.as_object().cloned().unwrap())
    }

    fn field_of(e: ConnectorError) -> (String, String) {
        match e {
            ConnectorError::Rule { code: ErrorCode::InvalidCredentials, field: Some(f), message } => (f, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hosts_follow_the_account_id_unless_a_base_url_is_given() {
        assert_eq!(domain("1234567_SB1"), "1234567-sb1.suitetalk.api.netsuite.com");
        assert_eq!(domain("TSTDRV123456"), "tstdrv123456.suitetalk.api.netsuite.com");
        let base = |v| base_url(&credentials(v), "1234567_SB1");
        assert_eq!(base(json!({})).unwrap().as_str(), "https://1234567-sb1.suitetalk.api.netsuite.com/");
        let given = base(json!({"baseUrl": "https://1234567-sb1.suitetalk.api.netsuite.com"})).unwrap();
        assert_eq!(given.as_str(), "https://1234567-sb1.suitetalk.api.netsuite.com/");
        for bad in ["ftp://x", "https://x/services/rest", "https://x?q=1", "nope"] {
            assert_eq!(field_of(base(json!({"baseUrl": bad})).unwrap_err()).0, "credentials.baseUrl", "{bad}");
        }
    }

    #[test]
    fn keys_sign_with_the_algorithm_their_type_allows() {
        assert_eq!(signing_key(&fixture("rsa3072")).unwrap().algorithm, Algorithm::PS256);
        assert_eq!(signing_key(&fixture("other_p256")).unwrap().algorithm, Algorithm::ES256);
        assert_eq!(signing_key(&fixture("p384")).unwrap().algorithm, Algorithm::ES384);
        let refused = |name: &str| field_of(signing_key(&fixture(name)).err().unwrap());
        let (field, why) = refused("rsa2048");
        assert_eq!(
            (field.as_str(), why.as_str()),
            ("credentials.privateKey", "an RSA key of 2048 bits; NetSuite takes 3072 or 4096 bits")
        );
        assert!(refused("p521").1.contains("P-521"));
        for (text, says) in [
            ("hello", "not a PEM"),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "the certificate"),
            ("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "openssl pkcs8"),
        ] {
            let (_, why) = field_of(signing_key(text).err().unwrap());
            assert!(why.contains(says), "{why}");
        }
    }

    #[test]
    fn a_key_pasted_on_one_line_is_read_all_the_same() {
        let flat = fixture("other_p256").replace('\n', " ");
        assert_eq!(signing_key(&flat).unwrap().algorithm, Algorithm::ES256);
        let squashed = fixture("p384").replace('\n', "");
        assert_eq!(signing_key(&squashed).unwrap().algorithm, Algorithm::ES384);
    }

    #[test]
    fn credentials_are_checked_field_by_field() {
        let good = json!({"accountId": "1234567_SB1", "clientId": "c", "certificateId": "k", "privateKey": fixture("other_p256")});
        let account = account(&credentials(good.clone())).unwrap();
        assert_eq!((account.calls_at_once, account.scopes.clone()), (1, vec!["rest_webservices".to_owned()]));
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            super::account(&credentials(c)).err().map(field_of)
        };
        assert_eq!(with("accountId", json!("12 34")).unwrap().0, "credentials.accountId");
        assert_eq!(with("clientId", json!("")).unwrap(), ("credentials.clientId".into(), "required".into()));
        assert_eq!(with("concurrencyLimit", json!(0)).unwrap().0, "credentials.concurrencyLimit");
        assert!(with("concurrencyLimit", json!("3")).is_none() && with("concurrencyLimit", json!(3)).is_none());
        assert!(with("scopes", json!("restlets")).unwrap().1.contains("must include rest_webservices"));
        assert!(with("scopes", json!("rest_webservices, restlets")).is_none());
        assert!(with("scopes", json!("rest_webservices,admin")).unwrap().1.contains("\"admin\""));
        // The fingerprint names the integration and key, and holds neither.
        assert_eq!(account.fingerprint.len(), 64);
        assert!(!account.fingerprint.contains("MIG"));
    }
}
