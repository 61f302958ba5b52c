//! HTTP surface: `/v2/pipeline`, `/v3/pipeline`, `/v3/cursor`, version probes, `/health`, and bearer
//! authentication when a token is configured.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use studio_core::hrana::proto::{
    CursorEntry, CursorRequest, CursorResponse, PipelineRequest, PipelineResponse, StreamRequest,
};

use crate::sql::{check_conditions, Version};
use crate::streams::{StreamError, Streams};

pub struct AppState {
    pub streams: Streams,
    pub auth_token: Option<String>,
}

pub fn router(state: Arc<AppState>) -> Router {
    let hrana = Router::new()
        .route("/v2", get(|| async { StatusCode::OK }))
        .route("/v3", get(|| async { StatusCode::OK }))
        .route("/v2/pipeline", post(pipeline_v2))
        .route("/v3/pipeline", post(pipeline_v3))
        .route("/v3/cursor", post(cursor))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new().route("/health", get(|| async { Json(json!({"status": "ok"})) })).merge(hrana).with_state(state)
}

async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(expected) = &state.auth_token {
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !studio_core::bearer::matches(header, expected) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token", "UNAUTHORIZED");
        }
    }
    next.run(req).await
}

async fn pipeline_v2(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    pipeline(state, body, Version::V2).await
}

async fn pipeline_v3(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    pipeline(state, body, Version::V3).await
}

/// Parses a request body and finds (or opens) the stream its baton names.
fn open<T: serde::de::DeserializeOwned>(
    state: &AppState,
    body: &[u8],
    baton: impl Fn(&T) -> Option<&str>,
) -> Result<(T, Arc<std::sync::Mutex<crate::sql::Session>>), Box<Response>> {
    let req: T = serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &format!("invalid request: {e}"), "PROTOCOL_ERROR")))?;
    let session = state.streams.take(baton(&req)).map_err(|e| Box::new(stream_error(e)))?;
    Ok((req, session))
}

async fn pipeline(state: Arc<AppState>, body: axum::body::Bytes, version: Version) -> Response {
    let (req, session) = match open(&state, &body, |r: &PipelineRequest| r.baton.as_deref()) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let closes = req.requests.iter().any(|r| matches!(r, StreamRequest::Close {}));
    let worker_session = session.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut s = worker_session.lock().expect("session lock");
        req.requests.into_iter().map(|r| s.handle(r, version)).collect::<Vec<_>>()
    })
    .await
    .expect("SQL thread panicked");
    let baton = (!closes).then(|| state.streams.park(session));
    Json(PipelineResponse { baton, base_url: None, results }).into_response()
}

async fn cursor(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let (req, session) = match open(&state, &body, |r: &CursorRequest| r.baton.as_deref()) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let worker_session = session.clone();
    let entries = tokio::task::spawn_blocking(move || {
        let mut s = worker_session.lock().expect("session lock");
        if let Err(error) = check_conditions(&req.batch, Version::V3) {
            return vec![CursorEntry::Error { error }];
        }
        let mut entries = Vec::new();
        s.batch(&req.batch, |step, outcome| match outcome {
            Ok(r) => {
                entries.push(CursorEntry::StepBegin { step: step as u32, cols: r.cols.clone() });
                entries.extend(r.rows.iter().map(|row| CursorEntry::Row { row: row.clone() }));
                entries.push(CursorEntry::StepEnd {
                    affected_row_count: r.affected_row_count,
                    last_insert_rowid: r.last_insert_rowid,
                });
            }
            Err(error) => entries.push(CursorEntry::StepError { step: step as u32, error: error.clone() }),
        });
        entries
    })
    .await
    .expect("SQL thread panicked");
    let baton = state.streams.park(session);
    let mut out = serde_json::to_string(&CursorResponse { baton: Some(baton), base_url: None }).expect("json");
    out.push('\n');
    for entry in entries {
        out.push_str(&serde_json::to_string(&entry).expect("json"));
        out.push('\n');
    }
    Response::builder().header(header::CONTENT_TYPE, "text/plain").body(Body::from(out)).expect("response")
}

fn stream_error(e: StreamError) -> Response {
    match e {
        StreamError::UnknownBaton => error(StatusCode::BAD_REQUEST, &e.to_string(), "STREAM_EXPIRED"),
        StreamError::Open(_) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), "INTERNAL"),
    }
}

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    (status, Json(json!({"message": message, "code": code}))).into_response()
}
