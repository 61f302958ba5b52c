//! The retry schedule: exponential with jitter, capped, and long enough in all to ride out minutes of
//! a dependency's outage (an edge restart, a database failover) while staying inside the job type's
//! timeout. Pure, with the jitter passed in, so it can be tested. Used by every path that puts a job
//! back in the queue (a failed attempt, an expired lease).

/// Base delay of the first retry.
pub const BASE_MS: i64 = 2_000;
/// No retry waits longer than this.
pub const CAP_MS: i64 = 60_000;

/// Delay before attempt `attempt + 1`, given `attempt` attempts so far and `jitter` in `[0, 1)`.
/// The delay lies in `[d/2, d)` where `d = min(CAP, BASE · 2^(attempt-1))`.
pub fn retry_delay_ms(attempt: i64, jitter: f64) -> i64 {
    let exp = (attempt.max(1) - 1).min(20) as u32;
    let ceiling = BASE_MS.saturating_mul(1_i64 << exp).min(CAP_MS);
    let jitter = jitter.clamp(0.0, 0.999_999);
    ceiling / 2 + ((ceiling / 2) as f64 * jitter) as i64
}

/// What happens after an attempt ends without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Back to `pending`, claimable from `run_after_ms`.
    Retry { run_after_ms: i64 },
    /// No more attempts: the job fails.
    Fail,
}

/// The one retry decision: a retryable end with attempts left is retried after the backoff.
pub fn next(attempt: i64, max_attempts: i64, retryable: bool, jitter: f64, now_ms: i64) -> Next {
    if retryable && attempt < max_attempts {
        Next::Retry { run_after_ms: now_ms + retry_delay_ms(attempt, jitter) }
    } else {
        Next::Fail
    }
}

/// The shortest total wait across a whole schedule of `max_attempts` (every jitter 0): an outage
/// shorter than this never fails a job on its own.
pub fn shortest_schedule_ms(max_attempts: i64) -> i64 {
    (1..max_attempts).map(|a| retry_delay_ms(a, 0.0)).sum()
}

/// The longest total wait across a whole schedule of `max_attempts`.
pub fn longest_schedule_ms(max_attempts: i64) -> i64 {
    (1..max_attempts).map(|a| retry_delay_ms(a, 1.0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobType;

    #[test]
    fn grows_exponentially_then_caps() {
        assert_eq!(retry_delay_ms(1, 0.0), 1_000);
        assert_eq!(retry_delay_ms(2, 0.0), 2_000);
        assert_eq!(retry_delay_ms(3, 0.0), 4_000);
        assert_eq!(retry_delay_ms(40, 0.0), CAP_MS / 2);
    }

    #[test]
    fn jitter_stays_within_the_window() {
        for attempt in 1..30 {
            let low = retry_delay_ms(attempt, 0.0);
            let high = retry_delay_ms(attempt, 1.0);
            assert!(low <= high && high < 2 * low + 1, "attempt {attempt}: {low}..{high}");
            assert!(high <= CAP_MS);
        }
    }

    #[test]
    fn only_retryable_ends_with_attempts_left_retry() {
        assert_eq!(next(1, 3, true, 0.0, 100), Next::Retry { run_after_ms: 1_100 });
        assert_eq!(next(3, 3, true, 0.0, 100), Next::Fail);
        assert_eq!(next(1, 3, false, 0.0, 100), Next::Fail);
    }

    #[test]
    fn every_schedule_rides_out_two_minutes_and_fits_in_its_timeout() {
        for &job_type in JobType::ALL {
            let attempts = job_type.default_max_attempts();
            assert!(
                shortest_schedule_ms(attempts) >= 2 * 60_000,
                "{job_type:?}: an outage of {} ms would fail it",
                shortest_schedule_ms(attempts)
            );
            assert!(
                longest_schedule_ms(attempts) < job_type.default_timeout_ms(),
                "{job_type:?}: the schedule outlasts the timeout"
            );
        }
    }
}
