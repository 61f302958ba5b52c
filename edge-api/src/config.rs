//! The Worker's bindings, read once per request into one typed struct. A missing binding is named in
//! the error, so a misconfigured deploy says exactly what to set.

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
            bucket: env.bucket(BUCKET_BINDING).map_err(|_| ApiError::Config(BUCKET_BINDING))?,
        })
    }
}
