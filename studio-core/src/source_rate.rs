//! The slowest a download of a creator's source may be (`contracts/render.json` → `sourceRate`): the
//! worker's link and YouTube ingests check it as bytes arrive, the render service its audio fetch. A
//! slow-loris origin (a byte every few seconds) would otherwise hold a worker slot for the whole
//! download timeout; with the floor it is given up once the grace has passed, while an origin that
//! keeps the rate is never cut. Pure: the caller brings the clock.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The floor: the average over the last `window_sec` must be at least `min_bytes_per_sec`, checked
/// once `grace_sec` have passed since the download began (the average then covers what has passed,
/// up to the window).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRate {
    pub min_bytes_per_sec: f64,
    pub window_sec: f64,
    pub grace_sec: f64,
}

impl SourceRate {
    /// The contract's floor with the environment's overrides (`SOURCE_MIN_RATE_BYTES_PER_SEC`,
    /// `SOURCE_RATE_WINDOW_SEC`, `SOURCE_RATE_GRACE_SEC`); a malformed value is refused with its name.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<SourceRate, (&'static str, String)> {
        let mut rate = crate::render::rules().source_rate;
        for (name, field) in [
            ("SOURCE_MIN_RATE_BYTES_PER_SEC", &mut rate.min_bytes_per_sec),
            ("SOURCE_RATE_WINDOW_SEC", &mut rate.window_sec),
            ("SOURCE_RATE_GRACE_SEC", &mut rate.grace_sec),
        ] {
            if let Some(v) = get(name).filter(|v| !v.trim().is_empty()) {
                *field = v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| (name, format!("{v:?} is not a number ≥ 0")))?;
            }
        }
        if rate.window_sec <= 0.0 {
            return Err(("SOURCE_RATE_WINDOW_SEC", "must be above 0".into()));
        }
        Ok(rate)
    }

    /// A watch of one download that began at `start_ms`.
    pub fn watch(self, start_ms: i64) -> RateWatch {
        RateWatch { floor: self, start_ms, samples: VecDeque::from([(start_ms, 0)]) }
    }
}

/// The download fell below the floor: `bytes_per_sec` is what it averaged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TooSlow {
    pub bytes_per_sec: f64,
}

impl TooSlow {
    /// The creator's message.
    pub fn message(&self, floor: &SourceRate) -> String {
        format!(
            "the source sent {:.1} KiB/s, under the {:.0} KiB/s minimum",
            self.bytes_per_sec / 1024.0,
            floor.min_bytes_per_sec / 1024.0
        )
    }
}

/// One download's progress against the floor.
#[derive(Debug, Clone)]
pub struct RateWatch {
    floor: SourceRate,
    start_ms: i64,
    /// (time, total bytes so far), oldest first, covering at least the window.
    samples: VecDeque<(i64, u64)>,
}

impl RateWatch {
    pub fn floor(&self) -> &SourceRate {
        &self.floor
    }

    /// Records that `total_bytes` have arrived by `now_ms` (call it on every chunk and on a timer, so a
    /// silent origin is judged too), and judges the average over the window.
    pub fn observe(&mut self, now_ms: i64, total_bytes: u64) -> Result<(), TooSlow> {
        self.samples.push_back((now_ms, total_bytes));
        let window_ms = (self.floor.window_sec * 1000.0) as i64;
        // Keep one sample at or before the window's start, so the average spans the whole window.
        while self.samples.len() > 2 && self.samples[1].0 <= now_ms - window_ms {
            self.samples.pop_front();
        }
        let elapsed_ms = now_ms - self.start_ms;
        if (elapsed_ms as f64) < self.floor.grace_sec * 1000.0 || elapsed_ms <= 0 {
            return Ok(());
        }
        let (then_ms, then_bytes) = self.samples[0];
        let span_sec = ((now_ms - then_ms).max(1)) as f64 / 1000.0;
        let bytes_per_sec = total_bytes.saturating_sub(then_bytes) as f64 / span_sec;
        if bytes_per_sec < self.floor.min_bytes_per_sec {
            Err(TooSlow { bytes_per_sec })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: SourceRate = SourceRate { min_bytes_per_sec: 65_536.0, window_sec: 30.0, grace_sec: 10.0 };

    /// Feeds `rate` bytes/s in 250-ms steps for `seconds`; the time of the first refusal, if any.
    fn run(rate: impl Fn(f64) -> f64, seconds: f64) -> Option<f64> {
        let mut watch = FLOOR.watch(0);
        let mut total = 0.0;
        let mut t = 0.0;
        while t < seconds {
            t += 0.25;
            total += rate(t) * 0.25;
            if watch.observe((t * 1000.0) as i64, total as u64).is_err() {
                return Some(t);
            }
        }
        None
    }

    #[test]
    fn a_slow_loris_is_cut_right_after_the_grace() {
        // One byte every two seconds.
        let cut = run(|_| 0.5, 120.0).expect("cut");
        assert!((10.0..=10.5).contains(&cut), "cut at {cut}s");
    }

    #[test]
    fn an_origin_that_keeps_the_rate_is_never_cut() {
        assert_eq!(run(|_| 128.0 * 1024.0, 300.0), None);
        assert_eq!(run(|_| 66.0 * 1024.0, 300.0), None);
        // A slow start, then the full rate: the average over the window is what counts.
        assert_eq!(run(|t| if t < 5.0 { 20.0 * 1024.0 } else { 128.0 * 1024.0 }, 120.0), None);
    }

    #[test]
    fn an_origin_that_stalls_later_is_cut_within_the_window() {
        let cut = run(|t| if t < 60.0 { 200.0 * 1024.0 } else { 0.0 }, 200.0).expect("cut");
        assert!(cut > 60.0 && cut < 60.0 + 30.0, "cut at {cut}s");
    }

    #[test]
    fn overrides_are_read_and_bad_ones_named() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let rate = SourceRate::from_lookup(get(&[("SOURCE_RATE_GRACE_SEC", "2")])).unwrap();
        assert_eq!((rate.grace_sec, rate.min_bytes_per_sec, rate.window_sec), (2.0, 65_536.0, 30.0));
        let (name, _) = SourceRate::from_lookup(get(&[("SOURCE_MIN_RATE_BYTES_PER_SEC", "fast")])).unwrap_err();
        assert_eq!(name, "SOURCE_MIN_RATE_BYTES_PER_SEC");
        assert!(SourceRate::from_lookup(get(&[("SOURCE_RATE_WINDOW_SEC", "0")])).is_err());
    }
}
