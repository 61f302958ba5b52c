//! Worker configuration, read once from the environment at start-up. A missing or malformed variable
//! is named in the error; secrets are wrapped so `Debug` never prints them.

use std::path::PathBuf;
use std::time::Duration;

use studio_core::net_policy::AllowList;
use studio_core::redact::Secret;
use studio_core::signing::SigningKey;
use studio_core::source_rate::SourceRate;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub database_token: Option<Secret>,
    pub signing_key: SigningKey,
    /// Public base URL of the edge; signed blob URLs point here.
    pub edge_base_url: String,
    pub worker_id: String,
    pub concurrency: usize,
    /// `ACCOUNT_MAX_SLOTS`: the most worker slots one account may hold at once across the fleet
    /// (default a quarter of `WORKER_FLEET_SLOTS`, at least 1), so one creator cannot starve the rest.
    pub account_max_slots: i64,
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    pub lease: Duration,
    pub shutdown_grace: Duration,
    pub reaper_interval: Duration,
    /// `ASSET_UNUSED_DAYS` (default 30, fractions allowed): an asset no job used for this long, and that
    /// no other asset's saved recipe names, is removed by housekeeping.
    pub asset_unused_after: Duration,
    /// Shared root of the workers' scratch directories (see `workdirs`).
    pub temp_root: PathBuf,
    /// Where render jobs go; without it this worker does not claim them.
    pub render: Option<RenderConfig>,
    /// How creators' callbacks are delivered.
    pub callbacks: CallbackConfig,
    /// How media URLs are fetched for ingest.
    pub media_urls: MediaUrlConfig,
    pub ffmpeg: String,
    pub ffprobe: String,
    /// `YTDLP_BIN` (default `yt-dlp`): the pinned yt-dlp (`cpu-worker/requirements.txt`).
    pub ytdlp: String,
    pub json_logs: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let required = |k: &'static str| get(k).ok_or(ConfigError::Missing(k));
        let millis = |k: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(k) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => {
                    v.trim().parse::<u64>().ok().filter(|n| *n > 0).map(Duration::from_millis).ok_or_else(|| {
                        ConfigError::Invalid {
                            name: k,
                            reason: format!("{v:?} is not a positive number of milliseconds"),
                        }
                    })
                }
            }
        };
        let concurrency = match get("WORKER_CONCURRENCY") {
            None => 2,
            Some(v) => v.trim().parse::<usize>().ok().filter(|n| (1..=64).contains(n)).ok_or_else(|| {
                ConfigError::Invalid { name: "WORKER_CONCURRENCY", reason: format!("{v:?} is not 1–64") }
            })?,
        };
        let slots = |name: &'static str, default: usize| match get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<usize>().ok().filter(|n| (1..=100_000).contains(n)).ok_or_else(|| {
                ConfigError::Invalid { name, reason: format!("{v:?} is not a number of slots (1–100000)") }
            }),
        };
        // `WORKER_FLEET_SLOTS`: every worker's concurrency summed (default: this worker alone).
        let fleet_slots = slots("WORKER_FLEET_SLOTS", concurrency)?;
        let account_max_slots = slots("ACCOUNT_MAX_SLOTS", (fleet_slots / 4).max(1))? as i64;
        let heartbeat_interval = millis("WORKER_HEARTBEAT_MS", 2_000)?;
        let edge_base_url = required("EDGE_BASE_URL")?;
        if !(edge_base_url.starts_with("http://") || edge_base_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "EDGE_BASE_URL",
                reason: "must start with http:// or https://".into(),
            });
        }
        let edge_base_url = edge_base_url.trim_end_matches('/').to_owned();
        let render = RenderConfig::from_lookup(&get, &edge_base_url, &millis)?;
        let poll_interval = millis("WORKER_POLL_INTERVAL_MS", 1_000)?;
        Ok(Config {
            render,
            callbacks: CallbackConfig::from_lookup(&get, poll_interval)?,
            media_urls: MediaUrlConfig::from_lookup(&get)?,
            database_url: required("TURSO_DATABASE_URL")?,
            database_token: get("TURSO_AUTH_TOKEN").map(Secret::new),
            signing_key: SigningKey::new(&required("SIGNING_SECRET")?),
            edge_base_url,
            worker_id: get("WORKER_ID").unwrap_or_else(default_worker_id),
            concurrency,
            account_max_slots,
            poll_interval,
            heartbeat_interval,
            // Lease 4× the heartbeat, as the design asks (3–4×).
            lease: millis("WORKER_LEASE_MS", heartbeat_interval.as_millis() as u64 * 4)?,
            shutdown_grace: millis("WORKER_SHUTDOWN_GRACE_MS", 25_000)?,
            reaper_interval: millis("WORKER_REAPER_INTERVAL_MS", 15_000)?,
            asset_unused_after: match get("ASSET_UNUSED_DAYS") {
                None => Duration::from_millis(studio_core::limits::ASSET_UNUSED_MS as u64),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d > 0.0 && *d <= 36_500.0)
                    .map(|d| Duration::from_secs_f64(d * 86_400.0))
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "ASSET_UNUSED_DAYS",
                        reason: format!("{v:?} is not a number of days above 0"),
                    })?,
            },
            temp_root: get("WORKER_TEMP_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("ethereal-flame-worker")),
            ffmpeg: get("FFMPEG_BIN").unwrap_or_else(|| "ffmpeg".into()),
            ffprobe: get("FFPROBE_BIN").unwrap_or_else(|| "ffprobe".into()),
            ytdlp: get("YTDLP_BIN").unwrap_or_else(|| "yt-dlp".into()),
            json_logs: get("LOG_FORMAT").map(|f| f != "pretty").unwrap_or(true),
        })
    }
}

/// The render service and how its renders are watched.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    pub service_url: String,
    pub auth_token: Secret,
    /// Where the render service posts its webhooks.
    pub webhook_url: String,
    /// How often handed-over renders are reconciled and ended ones told to stop.
    pub reconcile_interval: Duration,
    /// A render not heard from for this long is asked about (progress webhooks come every ≤ 15 s).
    pub quiet_after: Duration,
    /// Renders whose estimated video is larger than this upload it in parts (multipart), not one PUT.
    pub multipart_above_bytes: u64,
}

impl RenderConfig {
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        edge_base_url: &str,
        millis: &impl Fn(&'static str, u64) -> Result<Duration, ConfigError>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(service_url) = get("RENDER_SERVICE_URL") else {
            return Ok(None);
        };
        let webhook_url = get("RENDER_WEBHOOK_URL").unwrap_or_else(|| format!("{edge_base_url}/api/webhooks/render"));
        for (name, url) in [("RENDER_SERVICE_URL", &service_url), ("RENDER_WEBHOOK_URL", &webhook_url)] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid { name, reason: "must start with http:// or https://".into() });
            }
        }
        Ok(Some(RenderConfig {
            service_url: service_url.trim_end_matches('/').to_owned(),
            auth_token: Secret::new(get("MODAL_AUTH_TOKEN").ok_or(ConfigError::Missing("MODAL_AUTH_TOKEN"))?),
            webhook_url,
            reconcile_interval: millis("RENDER_RECONCILE_INTERVAL_MS", 5_000)?,
            quiet_after: millis("RENDER_QUIET_MS", 20_000)?,
            multipart_above_bytes: match get("RENDER_MULTIPART_ABOVE_BYTES") {
                None => studio_core::limits::SINGLE_PUT_MAX_BYTES / 2,
                Some(v) => {
                    v.trim().parse::<u64>().ok().filter(|n| *n <= studio_core::limits::SINGLE_PUT_MAX_BYTES).ok_or(
                        ConfigError::Invalid {
                            name: "RENDER_MULTIPART_ABOVE_BYTES",
                            reason: format!("{v:?} is not a byte count up to the single-PUT limit"),
                        },
                    )?
                }
            },
        }))
    }
}

/// Delivery of creators' callbacks (see `callbacks`).
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// `CALLBACK_ALLOW_HOSTS` (`host:port,…`): destinations let through the SSRF guard even over plain
    /// http and on loopback or private addresses. TESTS ONLY — never set it in production: it exists so
    /// a test can run a local receiver. Empty by default.
    pub allow_hosts: AllowList,
    /// `CALLBACK_RETRY_SCALE` (a number > 0, default 1): multiplies every wait of the retry schedule.
    /// TESTS ONLY, so a retry takes milliseconds; production keeps 1.
    pub retry_scale: f64,
    /// How often due callbacks are looked for (`WORKER_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
}

impl CallbackConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>, poll_interval: Duration) -> Result<Self, ConfigError> {
        let allow_hosts = match get("CALLBACK_ALLOW_HOSTS") {
            None => AllowList::default(),
            Some(v) => AllowList::parse(&v).map_err(|entry| ConfigError::Invalid {
                name: "CALLBACK_ALLOW_HOSTS",
                reason: format!("{entry:?} is not host:port"),
            })?,
        };
        let retry_scale = match get("CALLBACK_RETRY_SCALE") {
            None => 1.0,
            Some(v) => v.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0).ok_or_else(|| {
                ConfigError::Invalid { name: "CALLBACK_RETRY_SCALE", reason: format!("{v:?} is not a number above 0") }
            })?,
        };
        Ok(CallbackConfig { allow_hosts, retry_scale, poll_interval })
    }
}

/// Fetching creators' media URLs (`url_source`).
#[derive(Debug, Clone)]
pub struct MediaUrlConfig {
    /// `INGEST_ALLOW_HOSTS` (`host:port,…`): media hosts let through the SSRF guard even over plain http
    /// and on loopback or private addresses. TESTS ONLY — never set it in production.
    pub allow_hosts: AllowList,
    /// `INGEST_URL_TIMEOUT_MS` (default 600000): the whole download, redirects included.
    pub total_timeout: Duration,
    /// `INGEST_URL_READ_TIMEOUT_MS` (default 30000): the longest wait for the next bytes (slow servers).
    pub read_timeout: Duration,
    /// The slowest a link or YouTube download may be (`contracts/render.json` → `sourceRate`, with the
    /// `SOURCE_MIN_RATE_BYTES_PER_SEC`, `SOURCE_RATE_WINDOW_SEC` and `SOURCE_RATE_GRACE_SEC` overrides).
    pub source_rate: SourceRate,
}

impl MediaUrlConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let allow_hosts = match get("INGEST_ALLOW_HOSTS") {
            None => AllowList::default(),
            Some(v) => AllowList::parse(&v).map_err(|entry| ConfigError::Invalid {
                name: "INGEST_ALLOW_HOSTS",
                reason: format!("{entry:?} is not host:port"),
            })?,
        };
        let millis = |name: &'static str, default: u64| match get(name) {
            None => Ok(Duration::from_millis(default)),
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| *n > 0).map(Duration::from_millis).ok_or_else(|| {
                ConfigError::Invalid { name, reason: format!("{v:?} is not a positive number of milliseconds") }
            }),
        };
        Ok(MediaUrlConfig {
            allow_hosts,
            total_timeout: millis("INGEST_URL_TIMEOUT_MS", 600_000)?,
            read_timeout: millis("INGEST_URL_READ_TIMEOUT_MS", 30_000)?,
            source_rate: SourceRate::from_lookup(get)
                .map_err(|(name, reason)| ConfigError::Invalid { name, reason })?,
        })
    }
}

fn default_worker_id() -> String {
    let host =
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] =
        &[("TURSO_DATABASE_URL", "http://db"), ("SIGNING_SECRET", "s"), ("EDGE_BASE_URL", "http://edge/")];

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(c.concurrency, 2);
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(c.lease, Duration::from_secs(8));
        assert_eq!(c.edge_base_url, "http://edge");
        assert_eq!(c.callbacks.allow_hosts, AllowList::default());
        assert_eq!(c.callbacks.retry_scale, 1.0);
        assert_eq!(c.account_max_slots, 1, "a quarter of this worker's 2 slots, at least 1");
        assert_eq!(c.media_urls.source_rate, studio_core::render::rules().source_rate);
    }

    #[test]
    fn fair_share_follows_the_fleet() {
        let mut pairs = BASE.to_vec();
        pairs.push(("WORKER_FLEET_SLOTS", "16"));
        assert_eq!(Config::from_lookup(env(&pairs)).unwrap().account_max_slots, 4);
        pairs.push(("ACCOUNT_MAX_SLOTS", "6"));
        assert_eq!(Config::from_lookup(env(&pairs)).unwrap().account_max_slots, 6);
        pairs.push(("SOURCE_RATE_GRACE_SEC", "soon"));
        let err = Config::from_lookup(env(&pairs)).unwrap_err().to_string();
        assert!(err.contains("SOURCE_RATE_GRACE_SEC"), "{err}");
        let mut pairs = BASE.to_vec();
        pairs.push(("ACCOUNT_MAX_SLOTS", "0"));
        assert!(Config::from_lookup(env(&pairs)).unwrap_err().to_string().contains("ACCOUNT_MAX_SLOTS"));
    }

    #[test]
    fn callback_test_settings_parse_and_bad_ones_are_named() {
        let mut pairs = BASE.to_vec();
        pairs.extend([("CALLBACK_ALLOW_HOSTS", "127.0.0.1:9000"), ("CALLBACK_RETRY_SCALE", "0.001")]);
        let c = Config::from_lookup(env(&pairs)).unwrap().callbacks;
        assert!(c.allow_hosts.allows("127.0.0.1", 9000) && !c.allow_hosts.allows("127.0.0.1", 9001));
        assert_eq!(c.retry_scale, 0.001);
        for (name, bad) in
            [("CALLBACK_ALLOW_HOSTS", "127.0.0.1"), ("CALLBACK_RETRY_SCALE", "0"), ("CALLBACK_RETRY_SCALE", "x")]
        {
            let mut pairs = BASE.to_vec();
            pairs.push((name, bad));
            assert!(Config::from_lookup(env(&pairs)).unwrap_err().to_string().contains(name), "{name}={bad}");
        }
    }

    #[test]
    fn debug_never_prints_secrets() {
        let mut pairs = BASE.to_vec();
        pairs.push(("TURSO_AUTH_TOKEN", "db-token-value"));
        let shown = format!("{:?}", Config::from_lookup(env(&pairs)).unwrap());
        assert!(!shown.contains("db-token-value"), "{shown}");
    }

    #[test]
    fn render_settings_need_the_token_and_default_the_webhook_to_the_edge() {
        assert!(Config::from_lookup(env(BASE)).unwrap().render.is_none());
        let mut pairs = BASE.to_vec();
        pairs.push(("RENDER_SERVICE_URL", "http://render/"));
        assert_eq!(
            Config::from_lookup(env(&pairs)).unwrap_err().to_string(),
            "environment variable MODAL_AUTH_TOKEN is required"
        );
        pairs.push(("MODAL_AUTH_TOKEN", "modal-token-value"));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        let render = config.render.as_ref().unwrap();
        assert_eq!(
            (render.service_url.as_str(), render.webhook_url.as_str()),
            ("http://render", "http://edge/api/webhooks/render")
        );
        assert!(!format!("{config:?}").contains("modal-token-value"));
        pairs.push(("RENDER_WEBHOOK_URL", "ftp://x"));
        assert!(Config::from_lookup(env(&pairs)).unwrap_err().to_string().contains("RENDER_WEBHOOK_URL"));
    }

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let err = Config::from_lookup(env(&BASE[1..])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable TURSO_DATABASE_URL is required");
        let mut pairs = BASE.to_vec();
        pairs.push(("WORKER_CONCURRENCY", "zero"));
        assert!(Config::from_lookup(env(&pairs)).unwrap_err().to_string().contains("WORKER_CONCURRENCY"));
    }
}
