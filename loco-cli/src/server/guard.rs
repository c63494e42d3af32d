//! The request guards that stand before every route: the `Host` header must name this server
//! (DNS rebinding), mutating requests must say `Content-Type: application/json` (a web page
//! cannot send that cross-origin without a preflight this server never answers), and a request
//! that runs too long is cut off. Streams (SSE) are exempt from the time limit and counted
//! against their own cap instead.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::error::ApiError;

/// Which `Host` headers a server answers to.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Names (`host` or `host:port`, lowercase) accepted besides the bound address.
    pub allowed: Vec<String>,
    /// The address the server listens on, once bound.
    pub bound: Option<SocketAddr>,
}

impl HostPolicy {
    /// Whether a request whose `Host` header is `host` is for this server: the bound address,
    /// `localhost:<port>` when bound to a loopback address, or an allowed name. A server bound to
    /// every interface with no allowed names accepts any host (its tokens and TLS protect it).
    pub fn accepts(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&host);
        if self.allowed.iter().any(|a| *a == host || (!a.contains(':') && *a == name)) {
            return true;
        }
        let Some(bound) = self.bound else { return self.allowed.is_empty() };
        if bound.ip().is_unspecified() {
            return self.allowed.is_empty();
        }
        let port_ok = port.is_none_or(|p| p == bound.port());
        let ip_ok = name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() == Ok(bound.ip());
        let localhost = bound.ip().is_loopback() && name == "localhost";
        port_ok && (ip_ok || localhost)
    }
}

/// `host:port` → (`host`, port); bracketed IPv6 literals keep their brackets.
fn split_host(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && (!name.contains(':') || name.ends_with(']')) => {
            (name, port.parse().ok())
        }
        _ => (host, None),
    }
}

/// Refuses a request whose `Host` header does not name this server (421).
pub fn check_host(hosts: &HostPolicy, request: &Request) -> Result<(), ApiError> {
    match request.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if hosts.accepts(host) => Ok(()),
        host => Err(ApiError::HostNotAllowed { host: host.unwrap_or_default().to_owned() }),
    }
}

/// Refuses a request with a body (POST, PUT, PATCH) that does not declare it JSON (415): the
/// content types a web page may send cross-origin without a preflight are exactly the ones
/// refused. A DELETE carries no body and always needs a preflight cross-origin.
pub async fn require_json(request: Request, next: Next) -> Response {
    let mutating = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    if mutating {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let is_json = content_type
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            let error = loco_core::Error::UnsupportedMediaType { content_type: content_type.map(str::to_owned) };
            return ApiError::Core(error).into_response();
        }
    }
    next.run(request).await
}

/// Whether a path serves a long-lived stream (server-sent events).
pub fn is_stream(path: &str) -> bool {
    path == "/api/v1/events" || path.ends_with("/events/stream") || path.ends_with("/logs")
}

/// Runs `request` to its response, cutting it off (503) when it runs longer than `limit`,
/// unless it is a stream.
pub async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    if is_stream(request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { seconds: limit.as_secs_f64() }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(bound: &str, allowed: &[&str]) -> HostPolicy {
        HostPolicy { allowed: allowed.iter().map(|s| (*s).to_owned()).collect(), bound: Some(bound.parse().unwrap()) }
    }

    #[test]
    fn a_loopback_server_answers_only_to_its_own_names() {
        let p = policy("127.0.0.1:8080", &[]);
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "127.0.0.1", "localhost"] {
            assert!(p.accepts(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:9999", "attacker.rebind.network", "", "127.0.0.2:8080"] {
            assert!(!p.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn allowed_names_and_ipv6() {
        let p = policy("[::1]:8443", &["loco.internal", "ops.example:443"]);
        for ok in ["[::1]:8443", "localhost:8443", "loco.internal", "loco.internal:8443", "ops.example:443"] {
            assert!(p.accepts(ok), "{ok}");
        }
        assert!(!p.accepts("ops.example:444"));
        let any = policy("0.0.0.0:8443", &[]);
        assert!(any.accepts("anything.example"));
        let named = policy("0.0.0.0:8443", &["loco.internal"]);
        assert!(named.accepts("loco.internal:8443") && !named.accepts("other.example"));
    }

    #[test]
    fn streams_are_recognised() {
        assert!(is_stream("/api/v1/events") && is_stream("/api/v1/deployments/d/events/stream"));
        assert!(is_stream("/api/v1/deployments/d/rollout/instances/i/logs"));
        assert!(!is_stream("/api/v1/deployments/d/events"));
    }
}
