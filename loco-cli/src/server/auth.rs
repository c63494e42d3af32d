//! Who is calling: every request but `/healthz` and `/openapi.json` must carry
//! `Authorization: Bearer <token>`; the token's identity becomes the request's [`Caller`], which
//! handlers turn into an engine [`Session`](loco_core::Session) that checks roles. Each identity
//! gets its own request budget (a token bucket); a caller over budget is answered 429 with
//! `Retry-After`. A server started with `--no-auth` skips all of this and its callers act under
//! the names they give.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use loco_core::Error;
use loco_core::identity::Identity;

use crate::server::AppState;
use crate::server::error::ApiError;

/// The authenticated identity of a request; `None` when the server runs without authentication.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Identity>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Set by `authenticate` on every request; its absence is a wiring bug, refused as such.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Core(Error::Unauthenticated { reason: "the request was not authenticated".to_owned() })
        })
    }
}

/// Paths anyone may read: liveness and the API's own description.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/openapi.json")
}

/// Requests per second each identity may make, and how many it may burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: 50.0, burst: 100.0 }
    }
}

/// One token bucket per identity.
#[derive(Debug, Default)]
pub struct Budgets {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Budgets {
    /// Takes one request from `who`'s bucket, or says how many seconds until one is available.
    pub fn take(&self, who: &str, limit: RateLimit) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let (tokens, last) = buckets.entry(who.to_owned()).or_insert((limit.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * limit.per_second).min(limit.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / limit.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Authenticates the request (unless public or the server runs without authentication), applies
/// the caller's rate limit, and hands the handlers a [`Caller`].
pub async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    if !state.config.auth || is_public(request.uri().path()) {
        request.extensions_mut().insert(Caller(None));
        return next.run(request).await;
    }
    let identity = match bearer(&request) {
        Ok(secret) => match state.engine.authenticate(secret).await {
            Ok(identity) => identity,
            Err(e) => return ApiError::Core(e).into_response(),
        },
        Err(e) => return ApiError::Core(e).into_response(),
    };
    if let Some(limit) = state.config.rate_limit {
        let who = identity.token_id.clone().unwrap_or_else(|| identity.subject.clone());
        if let Err(retry_after_seconds) = state.budgets.take(&who, limit) {
            return ApiError::Core(Error::RateLimited { retry_after_seconds }).into_response();
        }
    }
    request.extensions_mut().insert(Caller(Some(identity)));
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(request: &Request) -> Result<&str, Error> {
    let unauthenticated = |reason: &str| Error::Unauthenticated { reason: reason.to_owned() };
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("send the API token as Authorization: Bearer <token>"))?;
    let value = value.to_str().map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| unauthenticated("the Authorization header is not Bearer"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthenticated("the Authorization header is not Bearer"));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_asks_to_wait() {
        let budgets = Budgets::default();
        let limit = RateLimit { per_second: 1.0, burst: 3.0 };
        for _ in 0..3 {
            assert_eq!(budgets.take("alice", limit), Ok(()));
        }
        assert_eq!(budgets.take("alice", limit), Err(1));
        assert_eq!(budgets.take("bob", limit), Ok(()), "each identity has its own bucket");
    }
}
