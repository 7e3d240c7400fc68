//! Bearer credentials: account keys and connection tokens.
//!
//! A token is 256 random bits behind a prefix that says what it is. Only its SHA-256 digest is
//! ever stored; lookups go by digest and the final comparison is constant-time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a bearer credential grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A platform team's account key (`mw_acct_`).
    Account,
    /// A connection token for a real system (`mw_conn_`).
    Connection,
    /// A connection token for the sandbox (`mw_test_`).
    Sandbox,
}

impl TokenKind {
    /// The prefix that makes the kind visible to people and secret scanners.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Account => "mw_acct_",
            TokenKind::Connection => "mw_conn_",
            TokenKind::Sandbox => "mw_test_",
        }
    }

    /// The kind a presented token claims by its prefix.
    pub fn of(token: &str) -> Option<TokenKind> {
        [TokenKind::Account, TokenKind::Connection, TokenKind::Sandbox]
            .into_iter()
            .find(|k| token.starts_with(k.prefix()))
    }
}

/// Hex characters after the prefix: 32 random bytes.
const SECRET_HEX_LEN: usize = 64;

/// A freshly issued token: the plaintext goes to the caller once, the digest to storage.
pub struct IssuedToken {
    /// The bearer value, shown once.
    pub plaintext: String,
    /// Its SHA-256 digest (hex), the only form that is stored.
    pub digest: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("digest", &self.digest).finish_non_exhaustive()
    }
}

/// 256 bits from the operating system's CSPRNG, as lowercase hex: the secret of a token, a
/// connect link or a dashboard session.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    hex::encode(bytes)
}

/// Issues a new token of a kind.
pub fn issue(kind: TokenKind) -> IssuedToken {
    let plaintext = format!("{}{}", kind.prefix(), random_hex());
    let digest = digest(&plaintext);
    IssuedToken { plaintext, digest }
}

/// Checks that a presented value has the shape of a token of some kind, so malformed input is
/// refused before any lookup.
pub fn well_formed(token: &str) -> Option<TokenKind> {
    let kind = TokenKind::of(token)?;
    let secret = &token[kind.prefix().len()..];
    (secret.len() == SECRET_HEX_LEN && secret.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then_some(kind)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two digests without leaking where they differ.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_carry_prefix_256_bits_and_their_digest() {
        for kind in [TokenKind::Account, TokenKind::Connection, TokenKind::Sandbox] {
            let t = issue(kind);
            assert!(t.plaintext.starts_with(kind.prefix()));
            assert_eq!(well_formed(&t.plaintext), Some(kind));
            assert_eq!(t.digest, digest(&t.plaintext));
            assert_ne!(t.digest, t.plaintext);
            assert!(!format!("{t:?}").contains(&t.plaintext));
        }
        assert_ne!(issue(TokenKind::Account).plaintext, issue(TokenKind::Account).plaintext);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = issue(TokenKind::Connection).plaintext;
        assert_eq!(well_formed(&good[..good.len() - 1]), None);
        assert_eq!(well_formed(&good.replace("mw_conn_", "mw_nope_")), None);
        assert_eq!(well_formed(&good.to_uppercase()), None);
        assert_eq!(well_formed(""), None);
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(digests_match(&digest("x"), &digest("x")));
        assert!(!digests_match(&digest("x"), &digest("y")));
    }
}
