//! [`PrometheusSource`]: per-version metrics from a Prometheus server's instant-query API
//! (`GET /api/v1/query`), with PromQL templates for request, error and latency-quantile queries.
//!
//! Prometheus returns aggregates, not individual requests, so the judge applies its rate and
//! ratio rules but cannot run the rank test on latency; critical triggers are evaluated every
//! poll instead of on every request.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use loco_types::analysis::WindowStats;
pub use loco_types::plan::{PrometheusQueries, PrometheusSpec};

use crate::metrics::MetricSource;
use crate::{PlatformError, PlatformResult, Target};

/// A [`MetricSource`] backed by Prometheus.
pub struct PrometheusSource {
    spec: PrometheusSpec,
    client: Client<HttpConnector, Empty<Bytes>>,
}

/// Longest wait for one Prometheus query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    result: Vec<VectorSample>,
}

#[derive(Deserialize)]
struct VectorSample {
    value: (f64, String),
}

fn escape(label_value: &str) -> String {
    label_value.replace('\\', r"\\").replace('"', r#"\""#).replace('\n', r"\n")
}

impl PrometheusSource {
    /// A source for `spec` (validate it first).
    pub fn new(spec: PrometheusSpec) -> Self {
        Self { spec, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    fn render(template: &str, target: &Target, version: &str, window: Duration) -> String {
        template
            .replace("{service}", &escape(&target.service))
            .replace("{environment}", &escape(&target.environment))
            .replace("{version}", &escape(version))
            .replace("{window}", &format!("{}s", window.as_secs().max(1)))
    }

    /// Runs one instant query; `None` when the result vector is empty or NaN.
    async fn scalar(&self, query: &str) -> PlatformResult<Option<f64>> {
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let uri: hyper::Uri = format!("{}/api/v1/query?query={encoded}", self.spec.url.trim_end_matches('/'))
            .parse()
            .map_err(|e| PlatformError::new(format!("bad Prometheus URL: {e}")))?;
        let response = tokio::time::timeout(QUERY_TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| PlatformError::new("Prometheus did not answer within 10s"))?
            .map_err(|e| PlatformError::new(format!("Prometheus query failed: {e}")))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(PlatformError::new)?.to_bytes();
        let parsed: QueryResponse = serde_json::from_slice(&body)
            .map_err(|e| PlatformError::new(format!("Prometheus answered {status} with an unreadable body: {e}")))?;
        if parsed.status != "success" {
            return Err(PlatformError::new(format!(
                "Prometheus query failed ({status}): {}",
                parsed.error.unwrap_or_else(|| "no error message".to_owned())
            )));
        }
        let value = parsed.data.and_then(|d| d.result.into_iter().next()).and_then(|s| s.value.1.parse::<f64>().ok());
        Ok(value.filter(|v| v.is_finite()))
    }
}

#[async_trait]
impl MetricSource for PrometheusSource {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    async fn stats(&self, target: &Target, version: &str, window: Duration) -> PlatformResult<WindowStats> {
        let q = &self.spec.queries;
        let run = |template: &str| self.scalar_owned(Self::render(template, target, version, window));
        let (requests, errors, p50, p95, p99) =
            tokio::try_join!(run(&q.requests), run(&q.errors), run(&q.p50), run(&q.p95), run(&q.p99))?;
        let mut stats = WindowStats {
            requests: requests.unwrap_or(0.0).round() as u64,
            errors: errors.unwrap_or(0.0).round() as u64,
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
            ..WindowStats::default()
        };
        stats.fill_derived();
        Ok(stats)
    }
}

impl PrometheusSource {
    async fn scalar_owned(&self, query: String) -> PlatformResult<Option<f64>> {
        self.scalar(&query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_and_label_values_escaped() {
        let t = Target { service: r#"we"ird"#.into(), environment: "prod".into() };
        let q = PrometheusSource::render(&PrometheusQueries::default().errors, &t, "v2", Duration::from_secs(90));
        assert_eq!(
            q,
            r#"sum(increase(http_requests_total{service="we\"ird",environment="prod",version="v2",code=~"5.."}[90s]))"#
        );
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        for (url, ok) in
            [("http://127.0.0.1:9090", true), ("https://prom:9090", false), ("http://", false), ("ftp://x", false)]
        {
            let spec = PrometheusSpec { url: url.into(), queries: PrometheusQueries::default() };
            assert_eq!(spec.validate("analysis.source.url").is_ok(), ok, "{url}");
        }
    }
}
