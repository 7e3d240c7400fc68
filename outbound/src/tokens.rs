//! Access tokens the connectors obtain from systems — OAuth tokens, session logins — kept in the
//! process for their lifetime less a margin, under a digest of what obtained them (never the
//! secrets themselves): warm invocations reuse them, and a token a system refused is dropped so
//! the next call obtains a new one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

/// A token is given up this long before the system would refuse it.
const MARGIN: Duration = Duration::from_secs(60);

/// The tokens of one connector.
#[derive(Default)]
pub struct Tokens {
    held: Mutex<HashMap<String, (Arc<str>, Instant)>>,
}

/// The key tokens are kept under: a digest of the parts that obtained one (base URL, client,
/// secret…), so the map holds no secret.
pub fn key(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

impl Tokens {
    /// The token held under `key`, unless it is near its end.
    pub fn get(&self, key: &str) -> Option<Arc<str>> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(key).filter(|(_, until)| *until > Instant::now()).map(|(token, _)| token.clone())
    }

    /// Keeps a token obtained at `obtained` that lives `lifetime`; answers it.
    pub fn put(&self, key: &str, token: &str, obtained: Instant, lifetime: Duration) -> Arc<str> {
        let token: Arc<str> = token.into();
        let until = obtained + lifetime.saturating_sub(MARGIN);
        self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned(), (token.clone(), until));
        token
    }

    /// Drops the token under `key` if it is `stale` (the one a system just refused), or whatever
    /// it is when `stale` is none.
    pub fn forget(&self, key: &str, stale: Option<&str>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if stale.is_none_or(|s| held.get(key).is_some_and(|(t, _)| &**t == s)) {
            held.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_live_their_time_less_a_margin_and_a_refused_one_goes() {
        let tokens = Tokens::default();
        let k = key(&["https://x", "client", "secret"]);
        assert!(!k.contains("secret") && k.len() == 64);
        assert_ne!(k, key(&["https://x", "clien", "tsecret"]), "parts are kept apart");
        tokens.put(&k, "t1", Instant::now(), Duration::from_secs(3600));
        assert_eq!(tokens.get(&k).as_deref(), Some("t1"));
        tokens.forget(&k, Some("t0"));
        assert_eq!(tokens.get(&k).as_deref(), Some("t1"), "another token's refusal drops nothing");
        tokens.forget(&k, Some("t1"));
        assert_eq!(tokens.get(&k), None);
        tokens.put(&k, "t2", Instant::now(), Duration::from_secs(30));
        assert_eq!(tokens.get(&k), None, "within the margin of its end");
        tokens.put(&k, "t3", Instant::now(), Duration::from_secs(3600));
        tokens.forget(&k, None);
        assert_eq!(tokens.get(&k), None);
    }
}
