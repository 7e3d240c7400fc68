//! Counts the AWS calls each request makes (every attempt, retries included), so every request
//! log line shows what the request cost and the hot path's budget can be checked from the logs.
//! A Lambda process serves one request at a time, so one process-wide counter is exact.

use aws_sdk_dynamodb::config::{
    ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextRef,
};
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// The interceptor that counts; added to every AWS client the functions build.
#[derive(Debug)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The calls made since the last `take`, resetting the count.
pub fn take() -> u64 {
    CALLS.swap(0, Ordering::Relaxed)
}
