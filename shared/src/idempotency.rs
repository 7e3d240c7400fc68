//! `Idempotency-Key`: a request sent again with the same key and body gets the first answer
//! instead of running again, for 24 hours. Writes to customers' systems and connects use it. A
//! request that failed without changing anything gives its key back, so a retry runs; one whose
//! outcome is unknown (a write reached the system and got no clear answer) keeps that answer, so
//! a retry never repeats it; a request that was stopped part-way leaves its key unknown for good.

use chrono::Utc;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    error::{ApiError, ErrorCode},
    ports::{Claim, IdempotencyStore, StoreError, StoredResponse},
};

/// The longest key accepted.
const MAX_KEY: usize = 255;

/// A key claimed for one request in one scope (a connection's writes, an account's connects).
pub struct Claimed<'a> {
    store: &'a dyn IdempotencyStore,
    scope: String,
    key: String,
}

/// What claiming a key came to.
pub enum Begun<'a> {
    /// The request runs; `Claimed::finish` records its answer.
    Run(Claimed<'a>),
    /// The same request ran before: its answer, again.
    Replay(u16, Value),
}

/// A hash of what a retry must repeat exactly.
pub fn fingerprint(canonical: &Value) -> String {
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn storage(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "idempotency store failed");
    ApiError::internal()
}

/// Claims `key` for a request with `fingerprint`: the request runs, or its first answer comes
/// back, or a 409 when the key is busy or was used for another request.
pub async fn begin<'a>(
    store: &'a dyn IdempotencyStore,
    scope: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Begun<'a>, ApiError> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("Idempotency-Key", "1 to 255 printable characters"));
    }
    let reused = || {
        ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request in the last 24 hours.",
        )
    };
    match store.claim(scope, key, fingerprint, Utc::now()).await.map_err(storage)? {
        Claim::Claimed => Ok(Begun::Run(Claimed { store, scope: scope.to_owned(), key: key.to_owned() })),
        Claim::Done { fingerprint: first, response } if first == fingerprint => {
            let body = serde_json::from_str(&response.body).map_err(|_| ApiError::internal())?;
            if response.status >= 400 {
                return Err(ApiError::unknown_outcome_from(&body).ok_or_else(ApiError::internal)?);
            }
            Ok(Begun::Replay(response.status, body))
        }
        Claim::InProgress { fingerprint: first } if first == fingerprint => Err(ApiError::new(
            ErrorCode::Conflict,
            "A request with this Idempotency-Key is still running; retry shortly.",
        )),
        Claim::Abandoned { fingerprint: first } if first == fingerprint => {
            let mut err = ApiError::new(
                ErrorCode::UpstreamTimeout,
                "The first request with this Idempotency-Key stopped without an answer; what it changed is unknown, so \
                 it is not run again. Look before you retry with a new key.",
            );
            err.outcome_unknown = true;
            Err(err)
        }
        Claim::Done { .. } | Claim::InProgress { .. } | Claim::Abandoned { .. } => Err(reused()),
    }
}

impl Claimed<'_> {
    /// Records how the request ended. A success keeps `stored` (its answer, less anything shown
    /// only once); a failure after a write reached a system (`wrote`), unless the system refused
    /// it, is of unknown outcome and kept; any other failure gives the key back.
    pub async fn finish(
        self,
        result: Result<(u16, Value), ApiError>,
        stored: impl FnOnce(&Value) -> Value,
        wrote: bool,
    ) -> Result<(u16, Value), ApiError> {
        let Self { store, scope, key } = self;
        match result {
            Ok((status, body)) => {
                let kept = StoredResponse { status, body: stored(&body).to_string() };
                store.complete(&scope, &key, &kept).await.map_err(storage)?;
                Ok((status, body))
            }
            Err(mut e) if e.outcome_unknown || (wrote && e.code.status() >= 500) => {
                if !e.outcome_unknown {
                    e.outcome_unknown = true;
                    e = e
                        .with_detail("The write reached the system before this failure; it may have been carried out.");
                }
                let kept = StoredResponse { status: e.code.status(), body: e.body("").to_string() };
                store.complete(&scope, &key, &kept).await.map_err(storage)?;
                Err(e)
            }
            Err(e) => {
                store.release(&scope, &key).await.map_err(storage)?;
                Err(e)
            }
        }
    }
}
