//! What canary analysis produces and is configured with: per-version metric windows, thresholds,
//! verdicts and the statistical test results behind them. The judge itself lives in the rollout
//! layer; these are the facts it records.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};

/// The `q`-quantile (0–1) of `sorted` by nearest rank; `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The result of a one-sided test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestResult {
    /// The test statistic (U for Mann-Whitney, the difference in rates for the proportion test).
    pub statistic: f64,
    /// The standardized statistic.
    pub z: f64,
    /// Probability of a result at least this extreme if the canary were no worse.
    pub p_value: f64,
}

/// Metrics of one release version over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WindowStats {
    /// Requests served.
    pub requests: u64,
    /// Requests that failed (5xx).
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// Median latency, ms.
    #[schemars(with = "crate::schema::Nullable<f64>")]
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    #[schemars(with = "crate::schema::Nullable<f64>")]
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    #[schemars(with = "crate::schema::Nullable<f64>")]
    pub p99_ms: Option<f64>,
    /// CPU use of the version's busiest instance, percent of one core, when the source reports
    /// it.
    #[schemars(with = "crate::schema::Nullable<f64>")]
    pub cpu_percent: Option<f64>,
    /// Resident memory of the version's largest instance, percent of the machine's, when
    /// reported.
    #[schemars(with = "crate::schema::Nullable<f64>")]
    pub memory_percent: Option<f64>,
    /// Every latency in the window, sorted (sources that only have aggregates leave it empty).
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
}

impl WindowStats {
    /// Aggregates raw requests, each given as `(failed, latency_ms)`.
    pub fn from_requests(requests: impl IntoIterator<Item = (bool, f64)>) -> Self {
        let mut stats = WindowStats::default();
        for (failed, latency_ms) in requests {
            stats.requests += 1;
            stats.errors += u64::from(failed);
            stats.latencies_ms.push(latency_ms);
        }
        stats.latencies_ms.sort_by(f64::total_cmp);
        stats.fill_derived();
        stats
    }

    /// Recomputes the error rate and, from raw latencies when present, the percentiles.
    pub fn fill_derived(&mut self) {
        self.error_rate = if self.requests == 0 { 0.0 } else { self.errors as f64 / self.requests as f64 };
        if !self.latencies_ms.is_empty() {
            self.p50_ms = percentile(&self.latencies_ms, 0.50);
            self.p95_ms = percentile(&self.latencies_ms, 0.95);
            self.p99_ms = percentile(&self.latencies_ms, 0.99);
        }
    }
}

/// What a metric source written in a host language answers for one version (a Python dict, a
/// JavaScript object): the counts, and optionally the error rate (computed from the counts when
/// absent), latency percentiles, resource use, and every latency (which gives the percentiles and
/// the rank test). Unknown fields are refused, so a misspelt one cannot switch a rule off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostStats {
    /// Requests served.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// `errors / requests`, when the source has its own.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Median latency, ms.
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    #[serde(default)]
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// CPU use, percent of one core.
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// Resident memory, percent of the machine's.
    #[serde(default)]
    pub memory_percent: Option<f64>,
    /// Every latency in the window, ms, in any order.
    #[serde(default)]
    pub latencies_ms: Vec<f64>,
}

impl HostStats {
    /// The window these numbers describe, or the field that contradicts the others and why.
    pub fn into_window(self) -> std::result::Result<WindowStats, (&'static str, String)> {
        if self.errors > self.requests {
            return Err(("errors", format!("{} is more than requests ({})", self.errors, self.requests)));
        }
        if let Some(rate) = self.error_rate.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(("error_rate", format!("must be between 0 and 1, got {rate}")));
        }
        let mut latencies_ms = self.latencies_ms;
        latencies_ms.sort_by(f64::total_cmp);
        let mut window = WindowStats {
            requests: self.requests,
            errors: self.errors,
            p50_ms: self.p50_ms,
            p95_ms: self.p95_ms,
            p99_ms: self.p99_ms,
            cpu_percent: self.cpu_percent,
            memory_percent: self.memory_percent,
            latencies_ms,
            ..WindowStats::default()
        };
        // The error rate, and the percentiles when there are raw latencies.
        window.fill_derived();
        if let Some(rate) = self.error_rate {
            window.error_rate = rate;
        }
        Ok(window)
    }
}

/// When a canary counts as worse than its baseline. Defaults follow the requirements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Canary requests (and baseline requests, when there is a baseline) needed for a pass or a
    /// high-severity verdict (default 50).
    pub min_samples: u64,
    /// Canary requests needed before a critical trigger may fire (default 10).
    pub critical_min_samples: u64,
    /// Critical: canary error rate above this (default 0.5).
    pub critical_error_rate: f64,
    /// Critical: canary p99 above this multiple of the baseline's (default 5).
    pub critical_latency_ratio: f64,
    /// High: canary error rate above the baseline's by more than this (default 0.10).
    pub high_error_rate_increase: f64,
    /// High: canary p99 above this multiple of the baseline's (default 2).
    pub high_latency_ratio: f64,
    /// High: canary p99 above this many milliseconds while the baseline's is not (default 500).
    pub max_p99_ms: f64,
    /// Latency ratios only count when the canary's p99 is also this many milliseconds above the
    /// baseline's (default 20): a 3 ms → 7 ms change is noise, not a regression.
    pub latency_noise_floor_ms: f64,
    /// High: CPU above this percent (default 90).
    pub max_cpu_percent: f64,
    /// High: memory above this percent of the machine (default 85).
    pub max_memory_percent: f64,
    /// Significance level of the statistical tests (default 0.05).
    pub alpha: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_samples: 50,
            critical_min_samples: 10,
            critical_error_rate: 0.5,
            critical_latency_ratio: 5.0,
            high_error_rate_increase: 0.10,
            high_latency_ratio: 2.0,
            max_p99_ms: 500.0,
            latency_noise_floor_ms: 20.0,
            max_cpu_percent: 90.0,
            max_memory_percent: 85.0,
            alpha: 0.05,
        }
    }
}

impl Thresholds {
    /// Parses and checks one set of thresholds from JSON; problems name `prefix` and the field
    /// (`analysis.thresholds.alpha` for the prefix `analysis.thresholds.`).
    pub fn from_json(json: &str, prefix: &str) -> Result<Self> {
        let whole = prefix.strip_suffix('.').unwrap_or(prefix);
        let thresholds: Thresholds = crate::document::parse(json, prefix, whole)?;
        thresholds.validate(prefix)?;
        Ok(thresholds)
    }

    /// Parses and checks a document mapping environment names to thresholds
    /// (`{"production": {"min_samples": 100}}`), as a thresholds file or a binding's dictionary
    /// gives it. Problems name the full path: `thresholds.production.alpha`.
    pub fn by_environment_from_json(json: &str) -> Result<BTreeMap<String, Thresholds>> {
        let by_environment: BTreeMap<String, Thresholds> = crate::document::parse(json, "thresholds.", "thresholds")?;
        let mut details = Vec::new();
        for (environment, thresholds) in &by_environment {
            if let Err(Error::Validation { details: more }) = thresholds.validate(&format!("thresholds.{environment}."))
            {
                details.extend(more);
            }
        }
        if details.is_empty() { Ok(by_environment) } else { Err(Error::Validation { details }) }
    }

    /// Checks that every threshold is usable.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let mut details = Vec::new();
        let mut check = |name: &str, ok: bool, rule: &str| {
            if !ok {
                details.push(FieldError::new(format!("{prefix}{name}"), rule.to_owned()));
            }
        };
        check("min_samples", self.min_samples >= 1, "must be at least 1");
        check("critical_min_samples", self.critical_min_samples >= 1, "must be at least 1");
        for (name, v) in [
            ("critical_error_rate", self.critical_error_rate),
            ("high_error_rate_increase", self.high_error_rate_increase),
        ] {
            check(name, (0.0..=1.0).contains(&v), "must be between 0 and 1");
        }
        for (name, v) in
            [("critical_latency_ratio", self.critical_latency_ratio), ("high_latency_ratio", self.high_latency_ratio)]
        {
            check(name, v.is_finite() && v >= 1.0, "must be at least 1");
        }
        for (name, v) in [
            ("max_p99_ms", self.max_p99_ms),
            ("max_cpu_percent", self.max_cpu_percent),
            ("max_memory_percent", self.max_memory_percent),
        ] {
            check(name, v.is_finite() && v > 0.0, "must be greater than 0");
        }
        check(
            "latency_noise_floor_ms",
            self.latency_noise_floor_ms.is_finite() && self.latency_noise_floor_ms >= 0.0,
            "must be 0 or more",
        );
        check("alpha", self.alpha > 0.0 && self.alpha < 1.0, "must be between 0 and 1 (exclusive)");
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }
}

/// How bad a failed verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Roll back at once.
    Critical,
    /// Pause and wait for a person to approve the rollback or override.
    High,
}

/// The judge's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The canary is no worse than the baseline.
    Pass,
    /// The canary is worse (see the severity).
    Fail,
    /// Not enough data to tell.
    Inconclusive,
}

/// A verdict with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Judgement {
    /// Pass, fail or inconclusive.
    pub verdict: Verdict,
    /// For a failure: critical or high.
    #[schemars(with = "crate::schema::Nullable<Severity>")]
    pub severity: Option<Severity>,
    /// One sentence per rule that fired (or why the verdict is inconclusive).
    pub reasons: Vec<String>,
    /// The canary's window.
    pub canary: WindowStats,
    /// The baseline's window (absent for a service's first release, or at 100 %).
    #[schemars(with = "crate::schema::Nullable<WindowStats>")]
    pub baseline: Option<WindowStats>,
    /// The error-rate test, when both sides had requests.
    #[schemars(with = "crate::schema::Nullable<TestResult>")]
    pub error_rate_test: Option<TestResult>,
    /// The latency test, when both sides had raw latencies.
    #[schemars(with = "crate::schema::Nullable<TestResult>")]
    pub latency_test: Option<TestResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_by_environment_name_the_full_path() {
        let ok =
            Thresholds::by_environment_from_json(r#"{"production": {"min_samples": 100}, "staging": {}}"#).unwrap();
        assert_eq!((ok["production"].min_samples, ok["staging"].min_samples), (100, 50));
        let fields = |json: &str| -> Vec<String> {
            Thresholds::by_environment_from_json(json).unwrap_err().details().iter().map(|d| d.field.clone()).collect()
        };
        assert_eq!(fields(r#"{"production": {"min_sample": 100}}"#), ["thresholds.production.min_sample"]);
        assert_eq!(
            fields(r#"{"production": {"alpha": 2}, "dev": {"min_samples": 0}}"#),
            ["thresholds.dev.min_samples", "thresholds.production.alpha"]
        );
        assert_eq!(fields("[]"), ["thresholds"]);
        let one = Thresholds::from_json(r#"{"alpha": 0}"#, "analysis.thresholds.").unwrap_err();
        assert_eq!(one.details()[0].field, "analysis.thresholds.alpha");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            (percentile(&sorted, 0.5), percentile(&sorted, 0.99), percentile(&[], 0.5)),
            (Some(2.0), Some(4.0), None)
        );
    }
}
