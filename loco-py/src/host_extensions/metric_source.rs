//! [`HostMetricSource`]: a Python object's `stats(target, version, window_seconds)` method as a
//! source of per-version metrics for canary analysis. The answer is a dict shaped like the core's
//! [`WindowStats`] (`loco.WindowStatsDict`): `requests` and `errors` are required, `error_rate` is
//! computed from them when it is missing or `None`, and the latency percentiles, `cpu_percent` and
//! `memory_percent` may be `None` or left out (their rules are then skipped). A key it does not know
//! is refused, so that a typo (`p99` for `p99_ms`) cannot switch a rule off unnoticed.
//!
//! Each call may take [`STATS_CALL_LIMIT`], as long as a Prometheus query; the analysis treats a
//! call that fails, raises or runs out of time as metrics unavailable (an inconclusive window).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use loco_core::analysis::{HostStats, MetricSource, WindowStats};
use loco_core::platform::{PlatformError, PlatformResult, Target};
use pyo3::intern;
use pyo3::prelude::*;
use serde_json::Value;

use crate::host_platform::call::{self, Host};
use crate::host_platform::{json, read};

/// How long one `stats` call may take.
pub const STATS_CALL_LIMIT: Duration = Duration::from_secs(10);

/// A metric source whose numbers a Python object's `stats` method gives.
pub struct HostMetricSource {
    name: String,
    host: Arc<Host>,
}

impl HostMetricSource {
    /// The source `name` calling `host`'s `stats` (a host platform's, under the platform's name).
    pub fn new(name: String, host: Arc<Host>) -> Self {
        Self { name, host }
    }

    /// Reads `object`'s `name` and checks that it has a `stats` method; its coroutines run on
    /// `event_loop`.
    pub fn from_object(py: Python<'_>, object: &Bound<'_, PyAny>, event_loop: Py<PyAny>) -> loco_core::Result<Self> {
        let name = object
            .getattr(intern!(py, "name"))
            .and_then(|n| n.extract::<String>())
            .map_err(|_| loco_core::Error::invalid("name", "a metric source needs a `name` string attribute"))?;
        if name.trim().is_empty() {
            return Err(loco_core::Error::invalid("name", "must not be empty"));
        }
        if !object.getattr(intern!(py, "stats")).is_ok_and(|m| m.is_callable()) {
            return Err(loco_core::Error::invalid("stats", format!("metric source '{name}' has no stats() method")));
        }
        Ok(Self::new(name, Arc::new(Host { object: object.clone().unbind(), event_loop })))
    }
}

/// `stats`'s answer as the core's window.
fn window_from(answer: Value) -> PlatformResult<WindowStats> {
    // A struct also reads from a list (by position): only a dict names its numbers.
    if !answer.is_object() {
        return Err(bad_shape("", &format!("must be a dict, not {}", python_kind(&answer))));
    }
    read::<HostStats>("stats", answer)?.into_window().map_err(|(field, why)| bad_shape(&format!(".{field}"), &why))
}

/// A bad answer, named like the shape errors of [`read`] (`path` is `.errors`, or empty for the
/// whole answer).
fn bad_shape(path: &str, why: &str) -> PlatformError {
    PlatformError::new(format!("stats() returned a bad shape: result{path}: {why}"))
}

/// What a JSON value was in Python.
fn python_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a str",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// The future [`MetricSource::stats`] returns (what `async_trait` would write).
type Answer<'a> = Pin<Box<dyn Future<Output = PlatformResult<WindowStats>> + Send + 'a>>;

impl MetricSource for HostMetricSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn stats<'s, 't, 'v, 'a>(&'s self, target: &'t Target, version: &'v str, window: Duration) -> Answer<'a>
    where
        's: 'a,
        't: 'a,
        'v: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let args = vec![json(target)?, json(version)?, json(&window.as_secs_f64())?];
            let answer = tokio::time::timeout(STATS_CALL_LIMIT, call::call(&self.host, "stats", args)).await.map_err(
                |_| PlatformError::new(format!("stats() did not answer within {} s", STATS_CALL_LIMIT.as_secs())),
            )??;
            window_from(answer)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn window(answer: serde_json::Value) -> Result<loco_core::analysis::WindowStats, String> {
        super::window_from(answer).map_err(|e| e.message)
    }

    #[test]
    fn counts_alone_are_a_window_with_the_rate_computed() {
        let w = window(json!({"requests": 200, "errors": 50})).unwrap();
        assert_eq!((w.requests, w.errors, w.p99_ms, w.cpu_percent), (200, 50, None, None));
        assert!((w.error_rate - 0.25).abs() < 1e-12);
        let w = window(json!({"requests": 0, "errors": 0, "error_rate": null, "p99_ms": 12})).unwrap();
        assert_eq!((w.error_rate, w.p99_ms), (0.0, Some(12.0)));
    }

    #[test]
    fn bad_answers_name_the_field() {
        let cases = [
            (json!({"errors": 1}), "result.requests: is missing"),
            (json!({"requests": 10, "errors": 1, "p99": 5}), "result: unknown field `p99`"),
            (json!({"requests": 10, "errors": "1"}), "result.errors: invalid type: string"),
            (json!({"requests": 10, "errors": 11}), "result.errors: 11 is more than requests (10)"),
            (json!({"requests": 10, "errors": 1, "error_rate": 2.0}), "result.error_rate: must be between 0 and 1"),
            (json!([10, 1]), "result: must be a dict, not a list"),
            (json!(null), "result: must be a dict, not None"),
        ];
        for (answer, named) in cases {
            let message = window(answer).unwrap_err();
            assert!(message.starts_with("stats() returned a bad shape: "), "{message}");
            assert!(message.contains(named), "{message} lacks {named}");
        }
    }
}
