//! Keeping secrets inside their owner. [`scrub`] removes what must never leave the process from free
//! text (error chains, tool output) before it reaches a log line or a job event: the query string of
//! every URL (signed blob URLs carry `exp`, `max` and `sig` there), credentials in a URL's userinfo,
//! `sig=`/`token=`-style pairs and bearer tokens. [`Secret`] wraps a value so `Debug` never prints it.

/// Names whose `name=value` pairs are credentials wherever they appear.
const SECRET_PARAMS: &[&str] =
    &["sig", "signature", "token", "access_token", "auth_token", "api_key", "apikey", "key", "secret", "password"];
/// Prefixes of secrets we mint or hold (webhook secrets, creators' API keys).
const SECRET_PREFIXES: &[&str] = &["whsec_", "efs_live_"];
const REDACTED: &str = "[redacted]";

/// `text` with every secret-bearing part replaced by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let text = scrub_urls(text);
    let text = scrub_pairs(&text);
    let text = scrub_bearer(&text);
    scrub_prefixed(&text)
}

/// Whether `text` still holds something [`scrub`] would remove.
#[cfg(test)]
fn contains_secret(text: &str) -> bool {
    scrub(text) != text
}

fn is_url_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | '`' | '(' | ')' | '[' | ']' | '{' | '}' | ',')
}

/// Cuts the query and fragment off every `http(s)://` URL, and any `user:password@`.
fn scrub_urls(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut search = 0;
    while let Some(found) = ["http://", "https://"].iter().filter_map(|s| lower[search..].find(s)).min() {
        let start = search + found;
        let end = text[start..].find(|c: char| !is_url_char(c)).map_or(text.len(), |n| start + n);
        out.push_str(&text[rest..start]);
        out.push_str(&clean_url(&text[start..end]));
        rest = end;
        search = end.max(start + 1);
    }
    out.push_str(&text[rest..]);
    out
}

fn clean_url(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (mut head, tail) = match url.find(['?', '#']) {
        Some(i) => (url[..i].to_owned(), Some(&url[i..i + 1])),
        None => (url.to_owned(), None),
    };
    let authority_end = head[scheme_end..].find('/').map_or(head.len(), |i| scheme_end + i);
    if let Some(at) = head[scheme_end..authority_end].rfind('@') {
        head.replace_range(scheme_end..scheme_end + at + 1, &format!("{REDACTED}@"));
    }
    match tail {
        Some(sep) => format!("{head}{sep}{REDACTED}"),
        None => head,
    }
}

/// `sig=abc`, `token: abc`, `"token":"abc"` → the value redacted.
fn scrub_pairs(text: &str) -> String {
    let mut out = text.to_owned();
    for name in SECRET_PARAMS {
        let mut from = 0;
        loop {
            let lower = out.to_ascii_lowercase();
            let Some(pos) = lower[from..].find(name).map(|p| from + p) else { break };
            let before_ok = pos == 0 || !lower.as_bytes()[pos - 1].is_ascii_alphanumeric();
            let after = pos + name.len();
            let sep_len = lower[after..]
                .chars()
                .take_while(|c| matches!(c, '=' | ':' | '"' | ' '))
                .map(char::len_utf8)
                .sum::<usize>();
            let has_sep = lower[after..after + sep_len].contains(['=', ':']);
            if before_ok && has_sep {
                let value_start = after + sep_len;
                let value_len = out[value_start..]
                    .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | ',' | ';' | '}' | ')'))
                    .unwrap_or(out.len() - value_start);
                if value_len > 0 && &out[value_start..value_start + value_len] != REDACTED {
                    out.replace_range(value_start..value_start + value_len, REDACTED);
                }
            }
            from = after;
        }
    }
    out
}

fn scrub_bearer(text: &str) -> String {
    let mut out = text.to_owned();
    let mut from = 0;
    while let Some(pos) = out.to_ascii_lowercase()[from..].find("bearer ").map(|p| from + p) {
        let start = pos + "bearer ".len();
        let len = out[start..].find(|c: char| c.is_whitespace() || c == '"').unwrap_or(out.len() - start);
        if len > 0 && &out[start..start + len] != REDACTED {
            out.replace_range(start..start + len, REDACTED);
        }
        from = start;
    }
    out
}

fn scrub_prefixed(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in SECRET_PREFIXES {
        let mut from = 0;
        while let Some(pos) = out[from..].find(prefix).map(|p| from + p) {
            let len = out[pos..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')))
                .unwrap_or(out.len() - pos);
            out.replace_range(pos..pos + len, REDACTED);
            from = pos + REDACTED.len();
        }
    }
    out
}

/// A credential held in memory: `Debug` and `Display` print `[redacted]`; [`Secret::expose`] is the
/// one way to read it, so every use is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_lose_their_query() {
        let err = "error sending request for url \
            (http://127.0.0.1:8787/blobs/assets/ast_1/original.wav?exp=1700000000000&max=99&sig=AbC-_d): \
            connection refused";
        let clean = scrub(err);
        assert!(!clean.contains("sig=") && !clean.contains("AbC-_d") && !clean.contains("exp=1700"), "{clean}");
        assert!(clean.contains("http://127.0.0.1:8787/blobs/assets/ast_1/original.wav?[redacted]"), "{clean}");
        assert!(clean.ends_with("connection refused"));
    }

    #[test]
    fn credentials_in_pairs_userinfo_and_headers_go() {
        let cases = [
            ("retry with sig=ZZZ&exp=1", "ZZZ"),
            ("{\"token\":\"t0p\"}", "t0p"),
            ("Authorization: Bearer abc.def", "abc.def"),
            ("https://user:hunter2@db.example/v3", "hunter2"),
            ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw here", "MfKQ9r8G"),
            ("key efs_live_0123456789abcdef", "0123456789abcdef"),
        ];
        for (text, secret) in cases {
            let clean = scrub(text);
            assert!(!clean.contains(secret), "{text} → {clean}");
            assert!(contains_secret(text), "{text}");
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in [
            "the source file is missing",
            "edge answered HTTP 503 for assets/ast_1/original.wav",
            "keyboard: tokens of appreciation",
            "see https://example.com/docs/page",
        ] {
            assert_eq!(scrub(text), text);
            assert!(!contains_secret(text));
        }
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
