//! The web dashboard at `/`: the compiled UI of `loco-cli/dashboard/dist/`, embedded in the binary
//! and served under a strict Content-Security-Policy. The page and its assets hold no data, so they
//! need no token; every API call the page makes carries the token its user signs in with.
//!
//! The routes are mounted outside the OpenAPI document (they are not part of the JSON API) and
//! outside authentication, but behind the `Host` check, the request log and the metrics.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::error::{ApiError, method_not_allowed};

/// What the page may load and talk to: only this server, no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                                           style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// A strong validator of the body, computed when the binary is compiled.
    etag: u64,
}

/// Declares an embedded file of `dist/` with its content type.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../dashboard/dist/", $name));
        Asset { name: $name, content_type: $content_type, body: BODY, etag: fnv1a(BODY) }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/`.
const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything the page loads, served at `/assets/{name}`: every file of `dist/` but the page
/// (the dashboard test checks that the two lists agree).
const ASSETS: [Asset; 10] = [
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("charts.js", JS),
    asset!("detail.js", JS),
    asset!("dom.js", JS),
    asset!("list.js", JS),
    asset!("session.js", JS),
    asset!("sse.js", JS),
];

/// 64-bit FNV-1a: a cheap, stable content hash for `ETag`s (not a security boundary).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The names of the embedded files, the page first: what `dist/` must hold.
pub fn embedded_files() -> Vec<&'static str> {
    std::iter::once(INDEX.name).chain(ASSETS.iter().map(|a| a.name)).collect()
}

/// The page's route.
const PAGE_ROUTE: &str = "/";
/// The assets' route.
const ASSETS_ROUTE: &str = "/assets/{name}";

/// Whether `route` (a matched route template) is one of the dashboard's.
pub fn serves(route: &str) -> bool {
    route == PAGE_ROUTE || route == ASSETS_ROUTE
}

/// The dashboard's routes: `GET /` and `GET /assets/{name}` (any other method is 405).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PAGE_ROUTE, get(index))
        .route(ASSETS_ROUTE, get(asset))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

async fn asset(Path(name): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, &headers),
        None => ApiError::RouteNotFound { path: uri.path().to_owned() }.into_response(),
    }
}

/// The file with its type and the security headers; `304` when the browser's copy is current.
/// Nothing is cached without asking (`no-cache`): a new binary may serve new files under the same
/// names, and revalidating a file costs one small request.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
