//! The one middleware every request passes, outermost first: metrics (count and latency by
//! route), the request id and its span with one log line per finished request (a panicking
//! handler becomes a 500), the `Host` check, then — for the API, not the dashboard's page and
//! assets — authentication and the time limit. One function rather than a layer each: every
//! `from_fn` layer boxes and moves the request's future once more, which the P7 profile showed
//! as a fifth of the server's request work (docs/performance.md).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::server::error::ApiError;
use crate::server::metrics::UNMATCHED_ROUTE;
use crate::server::request_log::{REQUEST_ID, request_id};
use crate::server::{AppState, auth, dashboard, guard};

/// Middleware: see the module documentation.
pub async fn front(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route_label = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let id = request_id(&request);
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = route_label);
    // Every event the request records names it (`Event::request_id`).
    let handled = loco_core::with_request_id(Some(id.clone()), guarded(&state, route.as_ref(), request, next));
    let outcome = AssertUnwindSafe(handled).catch_unwind().instrument(span.clone()).await;
    let mut response = outcome.unwrap_or_else(|_| {
        span.in_scope(|| tracing::error!("handler panicked"));
        ApiError::Internal { message: "the request failed inside the server".to_owned() }.into_response()
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let latency_us = elapsed.as_micros() as u64;
    span.in_scope(|| tracing::info!(status, latency_us, path = %path, "request finished"));
    state.http_metrics.record(method.as_str(), route_label, status, elapsed.as_secs_f64());
    response
}

/// The `Host` check for every request; authentication and the time limit for all but the
/// dashboard, which holds no data and is served to anyone who reaches this server by its name.
async fn guarded(state: &AppState, route: Option<&MatchedPath>, mut request: Request, next: Next) -> Response {
    if let Err(refused) = guard::check_host(&state.config.hosts, &request) {
        return refused.into_response();
    }
    if route.is_some_and(|r| dashboard::serves(r.as_str())) {
        return next.run(request).await;
    }
    match auth::caller(state, request.uri().path(), request.headers()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
        }
        Err(refused) => return ApiError::Core(refused).into_response(),
    }
    guard::time_limit(state.config.request_timeout, request, next).await
}
