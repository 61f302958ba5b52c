//! The one I/O seam of the Hrana client: each runtime posts JSON over HTTP its own way
//! (`worker::Fetch` at the edge, reqwest in the cpu-worker).

use std::future::Future;

/// What came back from one HTTP POST.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// Posts a JSON body to a URL with an optional bearer token.
pub trait HttpTransport {
    /// Errors the transport itself raises (connection refused, DNS, timeouts).
    type Error: std::error::Error + Send + Sync + 'static;

    fn post_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: String,
    ) -> impl Future<Output = Result<HttpReply, Self::Error>>;
}
