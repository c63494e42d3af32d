//! Request ids: taken from `X-Request-Id` when the caller sends a usable one, else generated. The
//! front middleware ([`super::front`]) runs each request in a span carrying its id, echoes the id
//! in the response and logs one line per finished request.

use axum::extract::Request;
use axum::http::HeaderName;

/// The request id header, read from requests and written on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied request id kept; longer (or non-printable) ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The caller's request id when it is short printable ASCII, else a new ULID.
pub fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned)
}
