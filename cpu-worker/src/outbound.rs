//! HTTP requests to URLs a creator gave us (callback URLs, direct media links), guarded against
//! server-side request forgery: HTTPS only, no credentials in the URL, every address the host resolves
//! to must be public (`studio_core::net_policy`), the connection is pinned to the address that was
//! checked (so a second DNS answer cannot swap in a private one), and every redirect hop is checked the
//! same way. `CALLBACK_ALLOW_HOSTS` (tests only, never production) lets named `host:port` pairs through.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::{Method, Response, Url};
use studio_core::net_policy::{is_public, AllowList};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers that vouch for the sender or the request, never sent on to another origin by a redirect.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "cookie" | "proxy-authorization") || name.starts_with("webhook-")
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not a valid http(s) URL")]
    InvalidUrl,
    #[error("only https URLs are allowed")]
    NotHttps,
    #[error("URLs with credentials are not allowed")]
    Credentials,
    #[error("{0} resolves to an address that is not public")]
    Forbidden(String),
    #[error("{0} could not be resolved")]
    Unresolvable(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the exchange took longer than its time limit")]
    TimedOut,
    /// The HTTP client's error with its URL removed (it may carry a token).
    #[error("network: {0}")]
    Network(reqwest::Error),
}

impl From<reqwest::Error> for OutboundError {
    fn from(e: reqwest::Error) -> Self {
        OutboundError::Network(e.without_url())
    }
}

impl OutboundError {
    /// Whether trying again later may succeed (the URL itself is acceptable).
    pub fn is_transient(&self) -> bool {
        matches!(self, OutboundError::Network(_) | OutboundError::Unresolvable(_) | OutboundError::TimedOut)
    }
}

/// A request to send through the guard.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Outbound {
    allow: AllowList,
    timeout: Duration,
    read_timeout: Option<Duration>,
    follow_redirects: bool,
}

impl Outbound {
    pub fn new(allow: AllowList, timeout: Duration) -> Self {
        Outbound { allow, timeout, read_timeout: None, follow_redirects: true }
    }

    /// Gives up when the server sends nothing for `wait` (a server that trickles bytes to hold us).
    pub fn with_read_timeout(mut self, wait: Duration) -> Self {
        self.read_timeout = Some(wait);
        self
    }

    /// Answers a redirect as it is instead of following it. Callbacks use this: a redirect that turns a
    /// POST into a GET would drop the message, and its 2xx would look like a delivery.
    pub fn without_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// Checks a URL without sending anything (for refusing a bad `callbackUrl` when it is given).
    pub async fn check(&self, url: &str) -> Result<(), OutboundError> {
        let url = Url::parse(url).map_err(|_| OutboundError::InvalidUrl)?;
        self.destination(&url).await.map(|_| ())
    }

    /// Sends the request, following redirects hop by hop, each one checked and pinned. 307 and 308 keep
    /// the method and body; other redirects continue as a GET without a body. Credentials and webhook
    /// signature headers go to the first origin only.
    pub async fn send(&self, request: OutboundRequest) -> Result<Response, OutboundError> {
        let mut url = Url::parse(&request.url).map_err(|_| OutboundError::InvalidUrl)?;
        let first_origin = url.origin();
        let (mut method, mut body) = (request.method, request.body);
        // One time limit for the whole exchange, redirects included.
        let deadline = tokio::time::Instant::now() + self.timeout;
        for _ in 0..=MAX_REDIRECTS {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(OutboundError::TimedOut);
            }
            let pinned = self.destination(&url).await?;
            // No proxy: a proxy would resolve the host itself, around the pinned, checked address.
            let mut client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(left)
                .connect_timeout(Duration::from_secs(10));
            if let Some(wait) = self.read_timeout {
                client = client.read_timeout(wait);
            }
            if let Some((domain, addr)) = &pinned {
                client = client.resolve(domain, *addr);
            }
            let mut builder = client.build()?.request(method.clone(), url.clone());
            let same_origin = url.origin() == first_origin;
            for (name, value) in request.headers.iter().filter(|(name, _)| same_origin || !is_credential(name)) {
                builder = builder.header(name, value);
            }
            if let Some(bytes) = &body {
                builder = builder.body(bytes.clone());
            }
            let response = builder.send().await?;
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            match (self.follow_redirects && response.status().is_redirection(), location) {
                (true, Some(location)) => {
                    url = url.join(location).map_err(|_| OutboundError::InvalidUrl)?;
                    if !matches!(response.status().as_u16(), 307 | 308) {
                        method = Method::GET;
                        body = None;
                    }
                }
                _ => return Ok(response),
            }
        }
        Err(OutboundError::TooManyRedirects)
    }

    /// Checks one hop's URL; for a host name, returns the checked address to pin the connection to.
    async fn destination(&self, url: &Url) -> Result<Option<(String, SocketAddr)>, OutboundError> {
        let host = url.host_str().ok_or(OutboundError::InvalidUrl)?.to_owned();
        let port = url.port_or_known_default().ok_or(OutboundError::InvalidUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Credentials);
        }
        let allowed = self.allow.allows(&host, port);
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            "http" => return Err(OutboundError::NotHttps),
            _ => return Err(OutboundError::InvalidUrl),
        }
        let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
        let addrs: Vec<SocketAddr> = match literal {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| OutboundError::Unresolvable(host.clone()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(OutboundError::Unresolvable(host));
        }
        // Every answer must pass, so a mixed answer cannot smuggle a private address in.
        if !allowed && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(OutboundError::Forbidden(host));
        }
        Ok(literal.is_none().then(|| (host, addrs[0])))
    }
}
