//! HTTP `Range` requests over a blob of known size (single ranges, as media players send them).

/// What to send for a `Range` header against an object of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeDecision {
    /// No (usable) range: send the whole object with 200.
    Full,
    /// Send bytes `start..=end` with 206 and `Content-Range: bytes start-end/size`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

impl RangeDecision {
    pub fn content_range(&self, size: u64) -> Option<String> {
        match self {
            RangeDecision::Full => None,
            RangeDecision::Partial { start, end } => Some(format!("bytes {start}-{end}/{size}")),
            RangeDecision::Unsatisfiable => Some(format!("bytes */{size}")),
        }
    }
}

/// Interprets a `Range` header (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`. Multiple ranges and
/// other units are ignored (the whole object is sent), as the RFC allows.
pub fn decide(header: Option<&str>, size: u64) -> RangeDecision {
    let Some(spec) = header.map(str::trim).and_then(|h| h.strip_prefix("bytes=")) else {
        return RangeDecision::Full;
    };
    if spec.contains(',') {
        return RangeDecision::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeDecision::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, true) => RangeDecision::Full,
        (true, false) => match last.parse::<u64>() {
            Ok(0) => RangeDecision::Unsatisfiable,
            Ok(_) if size == 0 => RangeDecision::Unsatisfiable,
            Ok(n) => RangeDecision::Partial { start: size.saturating_sub(n), end: size - 1 },
            Err(_) => RangeDecision::Full,
        },
        (false, _) => {
            let Ok(start) = first.parse::<u64>() else { return RangeDecision::Full };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match last.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return RangeDecision::Full,
                }
            };
            if start >= size {
                RangeDecision::Unsatisfiable
            } else {
                RangeDecision::Partial { start, end: end.min(size - 1) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeDecision::*;

    #[test]
    fn common_forms() {
        assert_eq!(decide(None, 100), Full);
        assert_eq!(decide(Some("bytes=0-9"), 100), Partial { start: 0, end: 9 });
        assert_eq!(decide(Some("bytes=90-"), 100), Partial { start: 90, end: 99 });
        assert_eq!(decide(Some("bytes=90-500"), 100), Partial { start: 90, end: 99 });
        assert_eq!(decide(Some("bytes=-10"), 100), Partial { start: 90, end: 99 });
        assert_eq!(decide(Some("bytes=-500"), 100), Partial { start: 0, end: 99 });
    }

    #[test]
    fn unsatisfiable_and_ignored_forms() {
        assert_eq!(decide(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(decide(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(decide(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(decide(Some("bytes=5-1"), 100), Full);
        assert_eq!(decide(Some("items=0-1"), 100), Full);
        assert_eq!(decide(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(Unsatisfiable.content_range(100).as_deref(), Some("bytes */100"));
        assert_eq!(Partial { start: 0, end: 9 }.content_range(100).as_deref(), Some("bytes 0-9/100"));
    }
}
