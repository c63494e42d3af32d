//! What the Vercel fake reads and writes on the wire besides its JSON shapes: Vercel's error
//! body (`{"error":{"code","message"}}`), the 429 body with its `limit` object, and query strings.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::common::json_response;
use crate::common::query::parse_pairs;
use crate::common::time::unix_seconds;

/// A refusal: answered with `status` and Vercel's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) status: u16,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &error_body(self.code, &self.message), &[])
    }
}

/// A refusal with `status`, Vercel's error `code` and `message`.
pub(super) fn error(status: u16, code: &'static str, message: &str) -> ApiError {
    ApiError { status, code, message: message.to_owned() }
}

/// Vercel's error body.
pub(super) fn error_body(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// Vercel's 429 body: the error plus the limit that was hit (`reset` in epoch seconds).
pub(super) fn rate_limited_body(retry_after_seconds: u64, total: u32) -> Value {
    let reset = unix_seconds() + retry_after_seconds;
    json!({
        "error": {
            "code": "rate_limited",
            "message": format!("Rate limit exceeded. Try again in {retry_after_seconds} seconds."),
            "limit": { "remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": total },
        }
    })
}

/// The headers of a 429: `Retry-After` is added by the caller; these are the `X-RateLimit-*`.
pub(super) fn rate_limit_headers(retry_after_seconds: u64, total: u32) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit".to_owned(), total.to_string()),
        ("x-ratelimit-remaining".to_owned(), "0".to_owned()),
        ("x-ratelimit-reset".to_owned(), (unix_seconds() + retry_after_seconds).to_string()),
    ]
}

/// A query string's pairs (percent-decoded, `+` as a space).
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        Query(parse_pairs(raw))
    }

    /// The first value given for `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The team scope: `teamId`, else `slug` (resolved by the caller).
    pub(super) fn team(&self) -> Option<&str> {
        self.get("teamId").or_else(|| self.get("slug")).filter(|t| !t.is_empty())
    }
}
