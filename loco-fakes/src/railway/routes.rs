//! The Railway fake's HTTP surface: one `POST /graphql/v2`, the token headers, the rate limit
//! (`X-RateLimit-*` on every answer, 429 with `Retry-After` when used up or when a throttle is
//! queued for the operation), and the GraphQL execution behind it.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::model::World;
use super::resolve::{self, Auth};
use crate::common::{Instruments, json_response, record};

/// The fake's state, shared by every request.
pub(super) type Shared = crate::common::server::Shared<World>;

pub(super) use crate::common::server::lock;

/// The route, behind the recorder (so refused requests and injected faults are recorded too).
pub(super) fn router(shared: Shared, instruments: Instruments) -> Router {
    Router::new()
        .route("/graphql/v2", post(graphql))
        .fallback(|| async { json_response(404, &errors("Not Found"), &[]) })
        .layer(axum::middleware::from_fn_with_state(instruments, record))
        .with_state(shared)
}

/// A body with one GraphQL error.
pub(super) fn errors(message: &str) -> Value {
    json!({ "errors": [{ "message": message }] })
}

/// Which token was sent: `Project-Access-Token` when present and not empty, else
/// `Authorization: Bearer`.
fn auth(world: &World, headers: &HeaderMap) -> Auth {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let o = &world.options;
    if let Some(token) = header("project-access-token") {
        return if !o.project_token.is_empty() && token == o.project_token { Auth::Project } else { Auth::Rejected };
    }
    match header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        Some(token) if !o.account_token.is_empty() && token.trim() == o.account_token => Auth::Account,
        _ => Auth::Rejected,
    }
}

/// The rate-limit window: counts every request; returns the `X-RateLimit-*` headers and, when
/// refused, the seconds to wait.
fn admit(world: &mut World, operation: Option<&str>) -> (Vec<(String, String)>, Option<u64>) {
    let now = Instant::now();
    let window = world.options.rate_window;
    if now.duration_since(world.rate.0) >= window {
        world.rate = (now, 0);
    }
    let left = window.saturating_sub(now.duration_since(world.rate.0));
    let reset_at = std::time::SystemTime::now()
        .checked_add(left)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let limit = world.options.rate_limit;
    let throttled = operation.and_then(|op| world.throttles.iter().position(|(o, _)| o == op));
    let refused = if let Some(at) = throttled {
        Some(world.throttles.remove(at).1)
    } else if world.rate.1 >= limit {
        Some(left.as_secs_f64().ceil().max(1.0) as u64)
    } else {
        world.rate.1 += 1;
        None
    };
    let headers = vec![
        ("x-ratelimit-limit".to_owned(), limit.to_string()),
        ("x-ratelimit-remaining".to_owned(), limit.saturating_sub(world.rate.1).to_string()),
        ("x-ratelimit-reset".to_owned(), reset_at.to_string()),
    ];
    (headers, refused)
}

async fn graphql(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        _ => return json_response(400, &errors("POST body must be a JSON object with a GraphQL query"), &[]),
    };
    let mut world = lock(&shared);
    let (mut limits, refused) = admit(&mut world, request.get("operationName").and_then(Value::as_str));
    if let Some(after) = refused {
        limits.push(("retry-after".to_owned(), after.to_string()));
        return json_response(429, &errors("Rate limit exceeded. Please try again later."), &limits);
    }
    let operation = request.get("operationName").and_then(Value::as_str).unwrap_or_default();
    if let Some(at) = world.failures.iter().position(|(o, _)| o == operation) {
        let (_, status) = world.failures.remove(at);
        return json_response(status, &errors("Internal Server Error"), &limits);
    }
    let auth = auth(&world, &headers);
    let executed = resolve::execute(&mut world, &auth, &request);
    if executed.fail_after_acting {
        return json_response(500, &errors("Internal Server Error"), &limits);
    }
    json_response(200, &executed.body, &limits)
}
