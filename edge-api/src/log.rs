//! The edge's one way to log: one JSON line per event (`level`, `msg`, then named fields, with the
//! worker's field names where they apply: `job.id`, `code`, …), every value scrubbed of secrets
//! (signed URLs' queries, keys, tokens, webhook secrets) on the way out, so no call site can forget.

use serde_json::{Map, Value as Json};
use studio_core::redact::scrub;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The line [`log`] writes.
pub fn line(level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    let mut object = Map::new();
    object.insert("level".into(), Json::from(level.as_str()));
    object.insert("msg".into(), Json::from(scrub(msg)));
    for (name, value) in fields {
        object.insert((*name).into(), Json::from(scrub(value)));
    }
    Json::Object(object).to_string()
}

/// Writes one event to the Worker's log (`wrangler tail`, Workers Logs).
pub fn log(level: Level, msg: &str, fields: &[(&str, &str)]) {
    worker::console_error!("{}", line(level, msg, fields));
}

pub fn warn(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, msg, fields);
}

pub fn error(msg: &str, fields: &[(&str, &str)]) {
    log(Level::Error, msg, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_json_with_every_value_scrubbed() {
        let text = line(
            Level::Error,
            "upload failed for https://edge/blobs/k?exp=1&sig=SECRET",
            &[("detail", "Authorization: Bearer efs_live_SECRET"), ("job.id", "job_1")],
        );
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!((parsed["level"].as_str(), parsed["job.id"].as_str()), (Some("error"), Some("job_1")));
        assert!(parsed["msg"].as_str().unwrap().starts_with("upload failed for https://edge/blobs/k"));
        assert!(!text.contains("SECRET"), "{text}");
    }
}
