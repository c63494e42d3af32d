//! HTTP request metrics (count and latency per route template, method and status) and the
//! `/metrics` exposition that appends the engine's deployment metrics after them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;

/// The route label of requests that matched no route, so unknown paths cannot grow the label set.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The OpenMetrics text content type that `prometheus-client` produces.
pub const CONTENT_TYPE_OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: String,
    route: String,
}

/// The server's own registry: request counts and latencies.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~3.3 s, doubling: loopback requests take well under a millisecond, slow disks more.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "loco_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "loco_http_request_duration_seconds",
            "Time from request to response headers, by method and route",
            latency.clone(),
        );
        Self { registry, requests, latency }
    }
}

impl HttpMetrics {
    /// Counts one answered request and observes its latency.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { method: method.to_owned(), route: route.to_owned() })
            .observe(seconds);
    }

    /// This registry in OpenMetrics text, without the closing `# EOF`.
    pub fn encode_into(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = encode_registry(out, &self.registry);
    }
}

/// `GET /metrics`: HTTP metrics, then the engine's deployment metrics, then one `# EOF`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Metrics in OpenMetrics text format", body = String,
               content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(state): State<Arc<AppState>>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    state.engine.session(caller.0).reader()?;
    let mut text = String::new();
    state.http_metrics.encode_into(&mut text);
    state.engine.metrics().encode_into(&mut text);
    let _ = encode_eof(&mut text);
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text))
}
