//! Counts the AWS calls each request makes (every attempt, retries included), so every request
//! log line shows what the request cost and the hot path's budget can be checked from the logs.
//! A Lambda process serves one request at a time, so process-wide counters are exact. Benchmarks
//! may also have calls counted per operation (off unless asked, so requests pay nothing for it).

use aws_sdk_dynamodb::config::{
    ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextRef,
};
use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

static CALLS: AtomicU64 = AtomicU64::new(0);
static BY_OPERATION: AtomicBool = AtomicBool::new(false);
static OPERATIONS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// The interceptor that counts; added to every AWS client the functions build.
#[derive(Debug)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        if !BY_OPERATION.load(Ordering::Relaxed) {
            return Ok(());
        }
        // JSON-protocol services name the operation in X-Amz-Target ("DynamoDB_20120810.Query");
        // REST ones (Scheduler) by method and first path segment, so the keys stay few.
        let request = context.request();
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => target.to_owned(),
            None => {
                let path = request.uri().split("://").last().unwrap_or_default();
                let segment = path.split('/').nth(1).unwrap_or_default().split('?').next().unwrap_or_default();
                format!("{} /{segment}", request.method())
            }
        };
        if let Ok(mut counts) = OPERATIONS.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// The calls made since the last `take`, resetting the count.
pub fn take() -> u64 {
    CALLS.swap(0, Ordering::Relaxed)
}

/// Counts calls per operation from now on in this process.
pub fn count_operations() {
    BY_OPERATION.store(true, Ordering::Relaxed);
}

/// The calls per operation since the last `take_operations`, resetting them.
pub fn take_operations() -> BTreeMap<String, u64> {
    OPERATIONS.lock().map(|mut counts| std::mem::take(&mut *counts)).unwrap_or_default()
}
