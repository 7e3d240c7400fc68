//! Fair use. Every bearer credential — a connection's token, an account key — gets a number of
//! requests per fixed window of `WINDOW_SECONDS`, counted on its own token record by the same
//! DynamoDB call that looks the credential up, so the limit holds however many Lambdas serve the
//! API at once and costs no call of its own. An account may have its own number
//! (`Account::rate_limit`); otherwise a connection's token gets `CONNECTION_DEFAULT` and an
//! account key `ACCOUNT_KEY_DEFAULT`. Every answer carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (seconds); past the limit it is a 429
//! `RATE_LIMIT_EXCEEDED` with `Retry-After`.

use std::cell::Cell;

use chrono::{DateTime, Utc};

use crate::error::{ApiError, ErrorCode};

/// The window requests are counted in.
pub const WINDOW_SECONDS: i64 = 10;
/// Requests per window for a connection's token when its account sets none.
pub const CONNECTION_DEFAULT: u32 = 100;
/// Requests per window for an account key when its account sets none.
pub const ACCOUNT_KEY_DEFAULT: u32 = 200;

/// The window a moment falls in: its number, and the seconds until the next one begins.
pub fn window(now: DateTime<Utc>) -> (i64, u64) {
    let second = now.timestamp();
    let number = second.div_euclid(WINDOW_SECONDS);
    let resets_in = (number + 1) * WINDOW_SECONDS - second;
    (number, u64::try_from(resets_in).unwrap_or(1))
}

/// How much of its window a credential has used, this request included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Requests the window allows.
    pub limit: u32,
    /// Requests made in it so far.
    pub used: u32,
    /// Seconds until the window starts afresh.
    pub resets_in: u64,
}

impl Usage {
    /// The 429 once the window is used up.
    pub fn check(self) -> Result<(), ApiError> {
        if self.used <= self.limit {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::RateLimitExceeded,
            format!(
                "This credential made more than {} requests in {WINDOW_SECONDS} s; retry after {} s.",
                self.limit, self.resets_in
            ),
        ))
    }

    /// The headers every answer carries (and `Retry-After` on a 429).
    pub fn headers(self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.limit.saturating_sub(self.used).to_string()),
            ("ratelimit-reset", self.resets_in.to_string()),
        ];
        if self.used > self.limit {
            headers.push(("retry-after", self.resets_in.to_string()));
        }
        headers
    }
}

tokio::task_local! {
    static USAGE: Cell<Option<Usage>>;
}

/// Runs a request's work and answers, beside its outcome, the usage its credential was counted at.
pub async fn tracking<F: std::future::Future>(work: F) -> (F::Output, Option<Usage>) {
    USAGE
        .scope(Cell::new(None), async {
            let out = work.await;
            (out, USAGE.with(Cell::get))
        })
        .await
}

/// Notes the request's usage for its answer's headers.
pub fn note(usage: Usage) {
    let _ = USAGE.try_with(|cell| cell.set(Some(usage)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_say_when_they_reset() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let (first, resets) = window(at("2026-12-02T10:00:03Z"));
        assert_eq!(resets, 7);
        assert_eq!(window(at("2026-12-02T10:00:09.999Z")).0, first);
        assert_eq!(window(at("2026-12-02T10:00:10Z")), (first + 1, 10));
    }

    #[test]
    fn past_the_limit_is_a_429_with_when_to_retry() {
        let within = Usage { limit: 2, used: 2, resets_in: 4 };
        assert!(within.check().is_ok());
        assert_eq!(
            within.headers(),
            [("ratelimit-limit", "2".into()), ("ratelimit-remaining", "0".into()), ("ratelimit-reset", "4".into())]
        );
        let over = Usage { used: 3, ..within };
        assert_eq!(over.check().unwrap_err().code, ErrorCode::RateLimitExceeded);
        assert!(over.headers().contains(&("retry-after", "4".into())));
    }
}
