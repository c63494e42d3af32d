//! [`HostMetricSource`]: a JavaScript object's `stats(target, version, windowSeconds)` method as a
//! source of per-version metrics for canary analysis — a host platform's own (then its source has
//! the platform's name), or an object registered with `Engine.open(path, { metricSources: [obj] })`
//! or `engine.registerMetricSource(obj)`, which plans name as `{ type: 'host', name }`.
//!
//! The answer is `PlatformStats`: `requests` and `errors` are required; `errorRate` is computed from
//! them when it is absent or `null`; the latency percentiles, `cpuPercent` and `memoryPercent` may
//! be `null` or left out (their rules are then skipped); `latenciesMs`, every request's latency,
//! lets Loco compute the percentiles and test latency. A key it does not know is refused, so that
//! a typo (`p99` for `p99Ms`) cannot switch a rule off unnoticed. Each call may take
//! [`STATS_CALL_LIMIT`], as long as a Prometheus query; the analysis treats a call that fails,
//! throws or runs out of time as metrics unavailable (an inconclusive window).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use loco_core::FieldError;
use loco_core::analysis::{HostStats, MetricSource, WindowStats};
use loco_core::platform::{PlatformError, PlatformResult, Target};
use napi::bindgen_prelude::{Env, Unknown, ValueType};
use serde_json::Value;

use super::call::{Callee, Host};
use super::js::{self, Js};
use super::{read, record};
use crate::value::camel_case;

/// How long one `stats` call may take.
pub(crate) const STATS_CALL_LIMIT: Duration = Duration::from_secs(10);

/// A metric source whose numbers a JavaScript object's `stats` method gives.
pub(crate) struct HostMetricSource {
    name: String,
    host: Arc<Host>,
}

impl HostMetricSource {
    /// The source `name` calling `host`'s `stats` (a host platform's, under the platform's name).
    pub(crate) fn new(name: String, host: Arc<Host>) -> Self {
        Self { name, host }
    }

    /// Reads `object`'s `name` and checks that it has a `stats` method; problems are named from
    /// `field` (`metricSources[0].stats`; bare for `registerMetricSource`'s argument).
    pub(crate) fn from_object(env: Env, object: Unknown, field: &str) -> Result<Self, Vec<FieldError>> {
        let at = |name: &str| if field == "source" { name.to_owned() } else { format!("{field}.{name}") };
        let unreadable = |e: napi::Error| vec![FieldError::new(field, format!("could not be read: {}", e.reason))];
        let js = Js::new(&env).map_err(unreadable)?;
        if !matches!(object.get_type(), Ok(ValueType::Object | ValueType::Function)) {
            return Err(vec![FieldError::new(field, "must be an object with a stats() method")]);
        }
        let mut problems = Vec::new();
        let name = js.get(object, "name").and_then(js::text).ok().flatten().unwrap_or_default();
        if name.trim().is_empty() {
            problems.push(FieldError::new(at("name"), "must be a non-empty string: the name plans use"));
        }
        if !js.get(object, "stats").is_ok_and(|m| m.get_type().is_ok_and(|t| t == ValueType::Function)) {
            problems.push(FieldError::new(at("stats"), format!("metric source '{name}' has no stats() method")));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let host = Host::new(env, object).map_err(unreadable)?;
        Ok(Self::new(name, Arc::new(host)))
    }
}

/// The answer as [`HostStats`]; an object only (serde would read a struct from a list of its fields).
fn parse(answer: &Value) -> PlatformResult<HostStats> {
    if !answer.is_object() {
        return Err(PlatformError::new("stats() returned a bad shape: result: must be an object (PlatformStats)"));
    }
    read("stats", answer)
}

/// The answer as the core's window, or a bad-shape error naming the field in JavaScript spelling.
fn into_window(stats: HostStats) -> PlatformResult<WindowStats> {
    stats.into_window().map_err(|(field, why)| {
        PlatformError::new(format!("stats() returned a bad shape: result.{}: {why}", camel_case(field)))
    })
}

#[async_trait]
impl MetricSource for HostMetricSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stats(&self, target: &Target, version: &str, window: Duration) -> PlatformResult<WindowStats> {
        let args = vec![record(target)?, record(version)?, record(&window.as_secs_f64())?];
        let answer = tokio::time::timeout(STATS_CALL_LIMIT, self.host.call(Callee::Method("stats"), "stats", args))
            .await
            .map_err(|_| {
                PlatformError::new(format!("stats() did not answer within {} s", STATS_CALL_LIMIT.as_secs()))
            })??;
        into_window(parse(&answer)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{into_window, parse};

    fn window(answer: &serde_json::Value) -> Result<loco_core::analysis::WindowStats, String> {
        parse(answer).and_then(into_window).map_err(|e| e.message)
    }

    #[test]
    fn counts_alone_are_a_window_with_the_rate_computed() {
        let w = window(&json!({"requests": 200, "errors": 50})).unwrap();
        assert_eq!((w.requests, w.errors, w.p99_ms, w.cpu_percent), (200, 50, None, None));
        assert!((w.error_rate - 0.25).abs() < 1e-12);
        let w = window(&json!({"requests": 0, "errors": 0, "errorRate": null, "p99Ms": 12})).unwrap();
        assert_eq!((w.error_rate, w.p99_ms), (0.0, Some(12.0)));
    }

    #[test]
    fn raw_latencies_give_the_percentiles() {
        let w = window(&json!({"requests": 4, "errors": 0, "latenciesMs": [40, 10, 30, 20]})).unwrap();
        assert_eq!(w.latencies_ms, [10.0, 20.0, 30.0, 40.0]);
        assert!(w.p50_ms.is_some() && w.p99_ms == Some(40.0), "{w:?}");
    }

    #[test]
    fn bad_answers_name_the_field() {
        let cases = [
            (json!({"errors": 1}), "result.requests: is missing"),
            (
                json!({"requests": 10, "errors": 1, "p99": 5}),
                "result.p99: unknown field `p99`, expected one of `requests`",
            ),
            (json!({"requests": 10, "errors": 1, "p99": 5}), "`errorRate`, `p50Ms`"),
            (json!({"requests": 10, "errors": "1"}), "result.errors: invalid type: string"),
            (json!({"requests": 10, "errors": 11}), "result.errors: 11 is more than requests (10)"),
            (json!({"requests": 10, "errors": 1, "errorRate": 2.0}), "result.errorRate: must be between 0 and 1"),
            (json!([1, 2]), "result: must be an object"),
        ];
        for (answer, named) in cases {
            let message = window(&answer).unwrap_err();
            assert!(message.starts_with("stats() returned a bad shape: "), "{message}");
            assert!(message.contains(named), "{message} lacks {named}");
        }
    }
}
