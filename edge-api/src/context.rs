//! What every route gets: configuration, a database client, the request's clock and public origin,
//! and — on creator routes — the request's [`Session`] (its API key, checked in its transaction).

use studio_core::accounts::access::Session;
use studio_core::net_policy::check_callback_url;
use studio_core::signing::{BlobGrant, BlobMethod};
use studio_core::ErrorCode;

use crate::config::Config;
use crate::error::ApiError;
use crate::transport::{database, Db};

pub struct Ctx {
    pub config: Config,
    pub db: Db,
    pub now_ms: i64,
    /// Scheme, host and port the client used; signed URLs we hand out point back at it.
    pub origin: String,
    /// Set by the router on creator routes.
    pub session: Option<Session>,
}

impl Ctx {
    pub fn new(env: &worker::Env, url: &worker::Url) -> Result<Self, ApiError> {
        let config = Config::from_env(env)?;
        let db = database(&config);
        Ok(Ctx {
            db,
            config,
            now_ms: worker::Date::now().as_millis() as i64,
            origin: url.origin().ascii_serialization(),
            session: None,
        })
    }

    /// A signed download link for blob `key`, valid for the configured download lifetime: the one way
    /// a route hands out a GET URL.
    pub fn download_url(&self, key: &str) -> String {
        let grant = BlobGrant::object(BlobMethod::Get, key, self.now_ms + self.config.download_ttl_ms, 0);
        self.config.signing_key.url(&self.origin, &grant)
    }

    /// A JSON body's optional `callbackUrl`, checked against the callback policy: the one way a route
    /// accepts one.
    pub fn callback_url(&self, raw: Option<&serde_json::Value>) -> Result<Option<String>, ApiError> {
        match raw {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(url)) => Ok(Some(check_callback_url(url, &self.config.callback_allow)?)),
            Some(_) => Err(ApiError::problem(ErrorCode::InvalidRequest, "callbackUrl: must be a string")),
        }
    }

    /// The creator's session (the router sets it before any creator route runs).
    pub fn session(&self) -> Result<&Session, ApiError> {
        self.session.as_ref().ok_or_else(|| ApiError::Runtime("creator route without a session".into()))
    }
}
