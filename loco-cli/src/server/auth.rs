//! Who is calling: every request but `/healthz` and `/openapi.json` must carry
//! `Authorization: Bearer <token>`; the token's identity becomes the request's [`Caller`], which
//! handlers turn into an engine [`Session`](loco_core::Session) that checks roles. Each identity
//! gets its own request budget (a token bucket); a caller over budget is answered 429 with
//! `Retry-After`. A server started with `--no-auth` skips all of this and its callers act under
//! the names they give.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, header};
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
        // Set by the front middleware on every API request; its absence is a wiring bug, refused as such.
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

/// Who sends a request for `path` with `headers`: nobody in particular when the path is public
/// or the server runs without authentication, else the identity of its bearer token, once that
/// identity's rate limit allows one more request.
pub async fn caller(state: &AppState, path: &str, headers: &HeaderMap) -> Result<Caller, Error> {
    if !state.config.auth || is_public(path) {
        return Ok(Caller(None));
    }
    let identity = state.engine.authenticate(bearer(headers)?).await?;
    if let Some(limit) = state.config.rate_limit {
        let who = identity.token_id.as_deref().unwrap_or(&identity.subject);
        state.budgets.take(who, limit).map_err(|retry_after_seconds| Error::RateLimited { retry_after_seconds })?;
    }
    Ok(Caller(Some(identity)))
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let unauthenticated = |reason: &str| Error::Unauthenticated { reason: reason.to_owned() };
    let value = headers
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
