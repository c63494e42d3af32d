//! What the Vercel fake reads and writes on the wire besides its JSON shapes: Vercel's error
//! body (`{"error":{"code","message"}}`), the 429 body with its `limit` object, and query strings.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::common::json_response;

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
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let reset = now + retry_after_seconds;
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
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    vec![
        ("x-ratelimit-limit".to_owned(), total.to_string()),
        ("x-ratelimit-remaining".to_owned(), "0".to_owned()),
        ("x-ratelimit-reset".to_owned(), (now + retry_after_seconds).to_string()),
    ]
}

/// A query string's pairs (percent-decoded, `+` as a space).
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        Query(pairs)
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

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (char::from(bytes[i + 1]).to_digit(16), char::from(bytes[i + 2]).to_digit(16)) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
