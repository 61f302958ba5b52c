//! studio-core's Hrana transport, implemented with the Workers `fetch`.

use studio_core::hrana::{HranaClient, HttpReply, HttpTransport};
use wasm_bindgen::JsValue;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::config::Config;

/// `worker::Error` holds JS values (not `Send`), so the transport error keeps only the text.
#[derive(Debug, thiserror::Error)]
#[error("fetch failed: {0}")]
pub struct FetchError(String);

impl From<worker::Error> for FetchError {
    fn from(e: worker::Error) -> Self {
        FetchError(e.to_string())
    }
}

pub struct FetchTransport;

impl HttpTransport for FetchTransport {
    type Error = FetchError;

    async fn post_json(&self, url: &str, bearer: Option<&str>, body: String) -> Result<HttpReply, FetchError> {
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        if let Some(token) = bearer {
            headers.set("authorization", &format!("Bearer {token}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(JsValue::from_str(&body)));
        let request = Request::new_with_init(url, &init)?;
        let mut response = Fetch::Request(request).send().await?;
        let status = response.status_code();
        let body = response.text().await?;
        Ok(HttpReply { status, body })
    }
}

pub type Db = HranaClient<FetchTransport>;

pub fn database(config: &Config) -> Db {
    HranaClient::new(
        FetchTransport,
        &config.database_url,
        config.database_token.as_ref().map(|t| t.expose().to_owned()),
    )
}
