//! When a failed delivery is tried again: the Standard Webhooks schedule (5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h, 10 h after the first attempt's failure; about 27.6 hours in all), each wait
//! stretched by up to a fifth at random so that endpoints recovering from an outage are not hit
//! by every retry at once.

use std::time::Duration;

/// Waits after the 1st, 2nd, … failed attempt, in seconds.
const SCHEDULE: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
/// Attempts in all: the first and one after each wait. The delivery queue's `maxReceiveCount`
/// in infra/template.yaml is the same number.
pub const MAX_ATTEMPTS: u32 = SCHEDULE.len() as u32 + 1;
/// The longest a received SQS message can be hidden.
const MAX_WAIT: Duration = Duration::from_secs(12 * 3600);

/// The wait after failed attempt `attempt` (1-based), jittered by `jitter` in [0, 1); none after
/// the last attempt.
pub fn wait_after(attempt: u32, jitter: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempt.checked_sub(1)?).ok()?)?;
    let stretched = Duration::from_secs(base).mul_f64(1.0 + jitter.clamp(0.0, 1.0) / 5.0);
    Some(stretched.min(MAX_WAIT))
}

/// A uniform random number in [0, 1).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_more_than_a_day_and_then_stop() {
        let total: Duration = (1..MAX_ATTEMPTS).map(|a| wait_after(a, 0.0).unwrap()).sum();
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(wait_after(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(wait_after(MAX_ATTEMPTS, 0.0), None);
        assert_eq!(wait_after(0, 0.0), None);
    }

    #[test]
    fn jitter_stretches_by_at_most_a_fifth_and_stays_within_sqs_limits() {
        assert_eq!(wait_after(2, 0.5), Some(Duration::from_secs(330)));
        for attempt in 1..MAX_ATTEMPTS {
            let w = wait_after(attempt, 0.999_999).unwrap();
            assert!(w <= MAX_WAIT && w >= wait_after(attempt, 0.0).unwrap());
        }
        assert!((0..1000).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }
}
