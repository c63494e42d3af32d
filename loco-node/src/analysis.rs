//! Canary analysis results as plain JavaScript objects: a verdict with the metric windows and
//! statistical tests behind it (camelCase names of the core's `analysis` types).

use napi_derive::napi;

use crate::model::wire_name;

/// A verdict of the canary judge, with the numbers behind it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Judgement {
    /// `pass`, `fail` or `inconclusive`.
    #[napi(ts_type = "Verdict")]
    pub verdict: String,
    /// For a failure: `critical` (rolled back at once) or `high` (paused for a person).
    #[napi(ts_type = "Severity")]
    pub severity: Option<String>,
    /// One sentence per rule that fired, or why the verdict is inconclusive.
    pub reasons: Vec<String>,
    /// The new release's window.
    pub canary: WindowStats,
    /// The old release's window over the same period; `null` for a service's first release or
    /// when the old release no longer takes traffic.
    pub baseline: Option<WindowStats>,
    /// The one-sided two-proportion z-test on error rates, when both sides had requests.
    pub error_rate_test: Option<TestResult>,
    /// The one-sided Mann-Whitney U test on latencies, when both sides had raw latencies.
    pub latency_test: Option<TestResult>,
}

/// Metrics of one release version over an observation window.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct WindowStats {
    /// Requests served.
    pub requests: i64,
    /// Requests that failed (status 500 or above).
    pub errors: i64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// Median latency to the response head, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: Option<f64>,
    /// CPU use of the version's instances, percent of one core, when the source measures it.
    pub cpu_percent: Option<f64>,
    /// Resident memory of the version's instances, percent of the machine's, when measured.
    pub memory_percent: Option<f64>,
}

/// The outcome of one statistical test: is the canary worse than the baseline?
#[napi(object, object_from_js = false)]
pub struct TestResult {
    /// The test statistic (U for Mann-Whitney, the difference in rates for the proportion test).
    pub statistic: f64,
    /// The standardized statistic.
    pub z: f64,
    /// The chance of a result at least this extreme if the canary were no worse.
    pub p_value: f64,
}

impl From<loco_core::analysis::Judgement> for Judgement {
    fn from(j: loco_core::analysis::Judgement) -> Self {
        Self {
            verdict: wire_name(serde_json::to_value(j.verdict)),
            severity: j.severity.map(|s| wire_name(serde_json::to_value(s))),
            reasons: j.reasons,
            canary: j.canary.into(),
            baseline: j.baseline.map(WindowStats::from),
            error_rate_test: j.error_rate_test.map(TestResult::from),
            latency_test: j.latency_test.map(TestResult::from),
        }
    }
}

impl From<loco_core::analysis::WindowStats> for WindowStats {
    fn from(w: loco_core::analysis::WindowStats) -> Self {
        Self {
            requests: i64::try_from(w.requests).unwrap_or(i64::MAX),
            errors: i64::try_from(w.errors).unwrap_or(i64::MAX),
            error_rate: w.error_rate,
            p50_ms: w.p50_ms,
            p95_ms: w.p95_ms,
            p99_ms: w.p99_ms,
            cpu_percent: w.cpu_percent,
            memory_percent: w.memory_percent,
        }
    }
}

impl From<loco_core::analysis::TestResult> for TestResult {
    fn from(t: loco_core::analysis::TestResult) -> Self {
        Self { statistic: t.statistic, z: t.z, p_value: t.p_value }
    }
}
