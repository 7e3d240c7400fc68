//! The time a request has left. API Gateway waits 30 s and Lambda ends a function at its
//! timeout; a request that runs out answers nothing useful. So each invocation runs within its
//! deadline (less the time needed to answer), and whatever calls out — the upstream HTTP client —
//! asks how long is left before it starts an attempt or a wait, and stops in time for the API to
//! answer `UPSTREAM_TIMEOUT` in its own shape.

use std::{
    future::Future,
    time::{Duration, Instant},
};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the time it has.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// How long is left, if the work runs within a deadline (zero once it has passed).
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|d| d.saturating_duration_since(Instant::now())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_knows_its_time_and_work_outside_has_no_limit() {
        assert_eq!(remaining(), None);
        let left = within(Instant::now() + Duration::from_secs(5), async { remaining() }).await.unwrap();
        assert!(left > Duration::from_secs(4) && left <= Duration::from_secs(5));
        let gone = within(Instant::now(), async { remaining() }).await;
        assert_eq!(gone, Some(Duration::ZERO));
    }
}
