//! Retry delay: exponential with full jitter, capped. Pure, with the jitter passed in, so it can be tested.

/// Base delay of the first retry.
pub const BASE_MS: i64 = 2_000;
/// No retry waits longer than this.
pub const CAP_MS: i64 = 5 * 60 * 1000;

/// Delay before attempt `attempt + 1`, given `attempt` attempts so far and `jitter` in `[0, 1)`.
/// The delay lies in `[d/2, d)` where `d = min(CAP, BASE · 2^(attempt-1))`.
pub fn retry_delay_ms(attempt: i64, jitter: f64) -> i64 {
    let exp = (attempt.max(1) - 1).min(20) as u32;
    let ceiling = BASE_MS.saturating_mul(1_i64 << exp).min(CAP_MS);
    let jitter = jitter.clamp(0.0, 0.999_999);
    ceiling / 2 + ((ceiling / 2) as f64 * jitter) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
