//! Ethereal Flame Studio's public HTTP surface as a Cloudflare Worker: every `/api/*` route and the
//! signed `/blobs/*` URLs. It is the only holder of the R2 binding and reaches Turso over Hrana.

mod auth;
mod body;
mod config;
mod context;
mod creates;
mod error;
mod log;
mod random;
mod router;
mod routes;
mod transport;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, env).await)
}
