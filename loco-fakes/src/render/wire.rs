//! What the Render fake reads and writes on the wire besides its JSON shapes: form-style query
//! strings with repeated keys (RFC 3339 times among them), and Render's error body.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::ids::lower_ulid;
use crate::common::json_response;
use crate::common::query::parse_pairs;
use crate::common::time::{Separator, parse_rfc3339};

/// A form-style query string: `status=live&status=build_failed&limit=20` keeps both statuses.
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (percent-decoded, `+` as a space).
    pub(super) fn parse(raw: Option<&str>) -> Self {
        Query(parse_pairs(raw))
    }

    /// Every value given for `name`, in order.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The first value given for `name`.
    pub(super) fn first(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `limit`: 1–100, `default` when absent; `Err` with Render's message otherwise.
    pub(super) fn limit(&self, default: usize) -> Result<usize, ApiError> {
        match self.first("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if (1..=100).contains(&limit) => Ok(limit),
                _ => Err(error(400, "invalid limit: must be an integer between 1 and 100")),
            },
        }
    }

    /// A time parameter, `Err` naming it when it is not RFC 3339.
    pub(super) fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.first(name) {
            None => Ok(None),
            Some(text) => parse_rfc3339(text, Separator::OrSpace)
                .map(Some)
                .ok_or_else(|| error(400, &format!("invalid {name}: must be RFC 3339"))),
        }
    }
}

/// A refusal: answered with `status` and Render's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    status: u16,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &error_body(&self.message), &[])
    }
}

/// A refusal with `status` and `message`.
pub(super) fn error(status: u16, message: &str) -> ApiError {
    ApiError { status, message: message.to_owned() }
}

/// Render's error body: an error id and the message.
pub(super) fn error_body(message: &str) -> serde_json::Value {
    json!({ "id": lower_ulid(), "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_repeated_keys_and_decode() {
        let q = Query::parse(Some("status=live&status=build_failed&text=a+b%2Fc&limit=5"));
        assert_eq!(q.all("status"), ["live", "build_failed"]);
        assert_eq!(q.first("text"), Some("a b/c"));
        assert_eq!(q.limit(20).unwrap(), 5);
        assert!(Query::parse(Some("limit=500")).limit(20).is_err());
    }
}
