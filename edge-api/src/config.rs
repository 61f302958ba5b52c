//! The Worker's bindings, read once per request into one typed struct. A missing binding is named in
//! the error, so a misconfigured deploy says exactly what to set.

use studio_core::accounts::quotas::QuotaDefaults;
use studio_core::net_policy::AllowList;
use studio_core::redact::Secret;
use studio_core::signing::SigningKey;
use studio_core::webhooks::WebhookSecret;
use worker::{Bucket, Env};

use crate::error::ApiError;

pub const BUCKET_BINDING: &str = "MEDIA";

pub struct Config {
    pub database_url: String,
    pub database_token: Option<Secret>,
    pub api_token: Secret,
    pub signing_key: SigningKey,
    pub download_ttl_ms: i64,
    /// Verifies the render service's callbacks (`whsec_…`); optional until renders are configured.
    pub webhook_secret: Option<WebhookSecret>,
    /// The render service's base URL, for the health check only (the worker talks to it).
    pub render_service_url: Option<String>,
    /// Per-account limits unless an account has its own (`QUOTA_*`, `RATE_LIMIT_PER_MINUTE`).
    pub quotas: QuotaDefaults,
    /// TEST ONLY (`CALLBACK_ALLOW_HOSTS`): `host:port`s a callback URL may use over plain HTTP or at a
    /// local address. Never set in production.
    pub callback_allow: AllowList,
    /// TEST ONLY (`INGEST_ALLOW_HOSTS`): `host:port`s a media URL may use over plain HTTP or at a local
    /// address. Never set in production.
    pub ingest_allow: AllowList,
    pub bucket: Bucket,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let required = |name: &'static str| {
            env.secret(name).map(|v| v.to_string()).ok().filter(|v| !v.trim().is_empty()).ok_or(ApiError::Config(name))
        };
        let optional = |name: &str| env.secret(name).map(|v| v.to_string()).ok().filter(|v| !v.trim().is_empty());
        let download_ttl_ms = match optional("DOWNLOAD_URL_TTL_SECONDS") {
            None => studio_core::limits::DOWNLOAD_URL_TTL_MS,
            Some(v) => {
                v.parse::<i64>().ok().filter(|s| *s > 0).ok_or(ApiError::Config("DOWNLOAD_URL_TTL_SECONDS"))? * 1000
            }
        };
        let positive = |name: &'static str, default: i64| match optional(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or(ApiError::Config(name)),
        };
        let defaults = QuotaDefaults::default();
        let quotas = QuotaDefaults {
            storage_bytes: positive("QUOTA_STORAGE_BYTES", defaults.storage_bytes)?,
            render_seconds_per_day: positive("QUOTA_RENDER_SECONDS_PER_DAY", defaults.render_seconds_per_day)?,
            active_jobs: positive("QUOTA_ACTIVE_JOBS", defaults.active_jobs)?,
            requests_per_minute: positive("RATE_LIMIT_PER_MINUTE", defaults.requests_per_minute)?,
        };
        let callback_allow = AllowList::parse(&optional("CALLBACK_ALLOW_HOSTS").unwrap_or_default())
            .map_err(|_| ApiError::Config("CALLBACK_ALLOW_HOSTS"))?;
        let ingest_allow = AllowList::parse(&optional("INGEST_ALLOW_HOSTS").unwrap_or_default())
            .map_err(|_| ApiError::Config("INGEST_ALLOW_HOSTS"))?;
        let webhook_secret = match optional("WEBHOOK_SECRET") {
            None => None,
            Some(v) => Some(WebhookSecret::parse(&v).ok_or(ApiError::Config("WEBHOOK_SECRET"))?),
        };
        Ok(Config {
            database_url: required("TURSO_DATABASE_URL")?,
            database_token: optional("TURSO_AUTH_TOKEN").map(Secret::new),
            api_token: Secret::new(required("API_TOKEN")?),
            signing_key: SigningKey::new(&required("SIGNING_SECRET")?),
            download_ttl_ms,
            webhook_secret,
            render_service_url: optional("RENDER_SERVICE_URL").map(|u| u.trim_end_matches('/').to_owned()),
            quotas,
            callback_allow,
            ingest_allow,
            bucket: env.bucket(BUCKET_BINDING).map_err(|_| ApiError::Config(BUCKET_BINDING))?,
        })
    }
}
