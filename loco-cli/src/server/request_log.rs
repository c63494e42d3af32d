//! Request ids and structured request logs: each request runs in a span carrying its id (taken
//! from `X-Request-Id` or generated), the id is echoed in the response, and one line is logged
//! per finished request. The handler runs in the id's request scope, so every event it records
//! carries the id too.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::server::error::ApiError;

/// The request id header, read from requests and written on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied request id kept; longer (or non-printable) ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The caller's request id when it is short printable ASCII, else a new ULID.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned)
}

/// Middleware: assigns the request id, runs the request inside its span, logs the outcome and
/// turns a panicking handler into a 500 instead of a dropped connection.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = route.as_deref().unwrap_or(super::metrics::UNMATCHED_ROUTE),
    );
    // Every event the request records names it (`Event::request_id`).
    let handled = loco_core::with_request_id(Some(id.clone()), next.run(request));
    let outcome = AssertUnwindSafe(handled).catch_unwind().instrument(span.clone()).await;
    let mut response = outcome.unwrap_or_else(|_| {
        span.in_scope(|| tracing::error!("handler panicked"));
        ApiError::Internal { message: "the request failed inside the server".to_owned() }.into_response()
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let status = response.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    span.in_scope(|| tracing::info!(status, latency_us, path = %path, "request finished"));
    response
}
