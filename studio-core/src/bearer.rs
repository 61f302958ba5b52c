//! Bearer-token checks (`Authorization: Bearer <token>`), compared in constant time. Used by the edge
//! for `/api/*` and by turso-local for its database token.

/// Whether an `Authorization` header value carries exactly `expected`.
pub fn matches(header: Option<&str>, expected: &str) -> bool {
    header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        assert!(matches(Some("Bearer s3cret"), "s3cret"));
        assert!(matches(Some("Bearer s3cret "), "s3cret"));
        for header in [None, Some("s3cret"), Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("Basic s3cret")] {
            assert!(!matches(header, "s3cret"), "{header:?}");
        }
    }
}
