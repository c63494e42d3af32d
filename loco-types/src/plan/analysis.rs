//! Canary analysis settings of a plan: where metrics come from (the platform, a Prometheus
//! server with PromQL templates, or a source the host registered), the thresholds, the
//! monitoring window and pause behaviour.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{MAX_MONITOR_SECONDS, check_seconds};
use crate::analysis::Thresholds;
use crate::error::{Error, FieldError, Result};

/// Where the analysis reads metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MetricSourceSpec {
    /// The platform's own measurements (the local proxy measures every request it forwards).
    #[default]
    Platform,
    /// A Prometheus server.
    Prometheus(PrometheusSpec),
    /// A metric source the embedding program registered under `name` (a Rust `MetricSource`, a
    /// Python object or a JavaScript object with a `stats` method).
    Host {
        /// The name the source was registered under.
        name: String,
    },
}

/// Where the Prometheus server is and what to ask it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSpec {
    /// Base URL, e.g. `http://127.0.0.1:9090` (plain HTTP).
    pub url: String,
    /// PromQL templates; the defaults suit the usual `http_requests_total` and
    /// `http_request_duration_seconds` instrumentation.
    #[serde(default)]
    pub queries: PrometheusQueries,
}

/// PromQL templates with `{service}`, `{environment}`, `{version}` and `{window}` placeholders
/// (label values are escaped). Latency queries must return milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusQueries {
    /// Requests served in the window.
    pub requests: String,
    /// Failed (5xx) requests in the window.
    pub errors: String,
    /// Median latency, ms.
    pub p50: String,
    /// 95th percentile latency, ms.
    pub p95: String,
    /// 99th percentile latency, ms.
    pub p99: String,
}

const SELECTOR: &str = r#"service="{service}",environment="{environment}",version="{version}""#;

fn quantile(q: &str) -> String {
    format!(
        "1000 * histogram_quantile({q}, sum by (le) (rate(http_request_duration_seconds_bucket{{{SELECTOR}}}[{{window}}])))"
    )
}

impl Default for PrometheusQueries {
    fn default() -> Self {
        Self {
            requests: format!("sum(increase(http_requests_total{{{SELECTOR}}}[{{window}}]))"),
            errors: format!(r#"sum(increase(http_requests_total{{{SELECTOR},code=~"5.."}}[{{window}}]))"#),
            p50: quantile("0.5"),
            p95: quantile("0.95"),
            p99: quantile("0.99"),
        }
    }
}

impl PrometheusSpec {
    /// Checks the URL: plain `http://host[:port]`, optionally with a path, and no query,
    /// fragment, credentials or whitespace.
    pub fn validate(&self, field: &str) -> Result<()> {
        if is_plain_http_url(&self.url) {
            Ok(())
        } else {
            Err(Error::invalid(field, format!("'{}' is not a plain http:// URL", self.url)))
        }
    }
}

fn is_plain_http_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host_ok, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else { return false };
        let ok = !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
        match after {
            "" => (ok, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (ok, Some(port)),
                None => return false,
            },
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (!host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')), port)
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    let path_ok = path.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#'));
    host_ok && port_ok && path_ok
}

/// Canary analysis settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSpec {
    /// Where metrics come from (default: the platform).
    pub source: MetricSourceSpec,
    /// Thresholds for this rollout; by default the engine's for the deployment's environment.
    pub thresholds: Option<Thresholds>,
    /// Observation at 100 % before the old release is stopped and the deployment succeeds
    /// (default 300 s; 0–1800).
    pub monitor_seconds: f64,
    /// How long a paused rollout waits for a person before rolling back (default 3600 s).
    pub pause_timeout_seconds: f64,
    /// How often the metrics are judged while a step is observed (default 1 s).
    pub poll_seconds: f64,
    /// Extra observation windows granted when a window is inconclusive before pausing (default 2).
    pub inconclusive_extensions: u32,
}

impl Default for AnalysisSpec {
    fn default() -> Self {
        Self {
            source: MetricSourceSpec::Platform,
            thresholds: None,
            monitor_seconds: 300.0,
            pause_timeout_seconds: 3600.0,
            poll_seconds: 1.0,
            inconclusive_extensions: 2,
        }
    }
}

pub(super) fn validate_analysis(analysis: &AnalysisSpec, details: &mut Vec<FieldError>) {
    let mut nested = Vec::new();
    if let Some(t) = &analysis.thresholds
        && let Err(Error::Validation { details: more }) = t.validate("analysis.thresholds.")
    {
        nested.extend(more);
    }
    if let MetricSourceSpec::Prometheus(spec) = &analysis.source
        && let Err(Error::Validation { details: more }) = spec.validate("analysis.source.url")
    {
        nested.extend(more);
    }
    if let MetricSourceSpec::Host { name } = &analysis.source
        && name.trim().is_empty()
    {
        nested.push(FieldError::new("analysis.source.name", "is required"));
    }
    let mut bad = |field: &str, message: String| details.push(FieldError::new(field, message));
    if !(0.0..=MAX_MONITOR_SECONDS).contains(&analysis.monitor_seconds) {
        bad("analysis.monitor_seconds", format!("must be between 0 and {MAX_MONITOR_SECONDS} seconds"));
    }
    check_seconds(&mut bad, "analysis.pause_timeout_seconds", analysis.pause_timeout_seconds);
    if !(analysis.poll_seconds > 0.0 && analysis.poll_seconds <= 3600.0) {
        bad("analysis.poll_seconds", "must be greater than 0 and at most 3600".to_owned());
    }
    if analysis.inconclusive_extensions > 100 {
        bad("analysis.inconclusive_extensions", "must be at most 100".to_owned());
    }
    details.extend(nested);
}
