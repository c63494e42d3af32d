//! Canary analysis: metric windows per release version, thresholds per environment, the canary
//! judge (thresholds plus Mann-Whitney U on latency and a two-proportion z-test on error rates,
//! with minimum sample counts) and the per-sample watch that triggers a critical rollback the
//! moment the deciding sample arrives.
//!
//! Severities follow the requirements (000): **critical** — error rate > 50 %, p99 latency > 5×
//! the baseline's (or 3 consecutive failed health checks, handled by the orchestrator) — rolls
//! back at once; **high** — error rate up by more than 10 points, p99 latency > 2× the
//! baseline's, p99 over the absolute limit, CPU > 90 %, memory > 85 % — pauses the rollout until
//! a person approves the rollback or overrides.

pub mod stats;

use loco_platform::metrics::RequestSample;
use loco_types::analysis::{Judgement, Severity, TestResult, Thresholds, Verdict, WindowStats};
use stats::{mann_whitney_greater, proportion_greater};

/// Compares `canary` with `baseline` (or with absolute limits when there is none).
pub fn judge(canary: &WindowStats, baseline: Option<&WindowStats>, t: &Thresholds) -> Judgement {
    let baseline = baseline.filter(|b| b.requests > 0);
    let error_rate_test =
        baseline.and_then(|b| proportion_greater(canary.errors, canary.requests, b.errors, b.requests));
    let latency_test = baseline.and_then(|b| mann_whitney_greater(&canary.latencies_ms, &b.latencies_ms));
    let mut judgement = Judgement {
        verdict: Verdict::Pass,
        severity: None,
        reasons: Vec::new(),
        canary: canary.clone(),
        baseline: baseline.cloned(),
        error_rate_test,
        latency_test,
    };
    let critical = critical_reasons(canary, baseline, t);
    if !critical.is_empty() {
        judgement.verdict = Verdict::Fail;
        judgement.severity = Some(Severity::Critical);
        judgement.reasons = critical;
        return judgement;
    }
    let enough = canary.requests >= t.min_samples && baseline.is_none_or(|b| b.requests >= t.min_samples);
    if !enough {
        judgement.verdict = Verdict::Inconclusive;
        let base = baseline.map_or(String::new(), |b| format!(" and baseline {}", b.requests));
        judgement.reasons.push(format!("too few samples: canary {}{base}, need {}", canary.requests, t.min_samples));
        return judgement;
    }
    let high = high_reasons(canary, baseline, t, error_rate_test, latency_test);
    if !high.is_empty() {
        judgement.verdict = Verdict::Fail;
        judgement.severity = Some(Severity::High);
        judgement.reasons = high;
    }
    judgement
}

/// Samples needed before p99 (resp. p95) means more than "the slowest request".
const P99_MIN_SAMPLES: u64 = 100;
const P95_MIN_SAMPLES: u64 = 20;

/// The highest latency percentile both windows have enough samples for, with its name; raw
/// p99 over 40 requests is just the slowest one, so smaller windows compare p95.
fn tail_latency(canary: &WindowStats, baseline: &WindowStats) -> Option<(&'static str, f64, f64)> {
    let n = canary.requests.min(baseline.requests);
    if n >= P99_MIN_SAMPLES {
        Some(("p99", canary.p99_ms?, baseline.p99_ms?))
    } else if n >= P95_MIN_SAMPLES {
        Some(("p95", canary.p95_ms?, baseline.p95_ms?))
    } else {
        None
    }
}

fn critical_reasons(canary: &WindowStats, baseline: Option<&WindowStats>, t: &Thresholds) -> Vec<String> {
    let mut reasons = Vec::new();
    if canary.requests < t.critical_min_samples {
        return reasons;
    }
    if canary.error_rate > t.critical_error_rate {
        reasons.push(format!(
            "error rate {:.1}% is above the critical {:.0}% ({} of {} requests)",
            canary.error_rate * 100.0,
            t.critical_error_rate * 100.0,
            canary.errors,
            canary.requests
        ));
    }
    if let Some((name, c, b)) = baseline.and_then(|b| tail_latency(canary, b))
        && b > 0.0
        && c > t.critical_latency_ratio * b
        && c - b > t.latency_noise_floor_ms
    {
        reasons
            .push(format!("{name} latency {c:.1} ms is over {}x the baseline's {b:.1} ms", t.critical_latency_ratio));
    }
    reasons
}

fn high_reasons(
    canary: &WindowStats,
    baseline: Option<&WindowStats>,
    t: &Thresholds,
    error_rate_test: Option<TestResult>,
    latency_test: Option<TestResult>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let base_rate = baseline.map_or(0.0, |b| b.error_rate);
    let increase = canary.error_rate - base_rate;
    // With a baseline the increase must also be statistically significant.
    let significant = error_rate_test.is_none_or(|test| test.p_value < t.alpha);
    if increase > t.high_error_rate_increase && significant {
        reasons.push(format!(
            "error rate {:.1}% is {:.1} points above the baseline's {:.1}%{}",
            canary.error_rate * 100.0,
            increase * 100.0,
            base_rate * 100.0,
            error_rate_test.map_or(String::new(), |x| format!(" (z = {:.2}, p = {:.2e})", x.z, x.p_value))
        ));
    }
    if let Some(b) = baseline {
        if let Some((name, c, bl)) = tail_latency(canary, b) {
            // Sources with only aggregates cannot run the rank test; the ratio alone decides then.
            let shifted = latency_test.is_none_or(|test| test.p_value < t.alpha);
            if bl > 0.0 && c > t.high_latency_ratio * bl && c - bl > t.latency_noise_floor_ms && shifted {
                reasons.push(format!(
                    "{name} latency {c:.1} ms is over {}x the baseline's {bl:.1} ms",
                    t.high_latency_ratio
                ));
            }
        }
        if let (Some(c), Some(bl)) = (canary.p99_ms, b.p99_ms)
            && c > t.max_p99_ms
            && bl <= t.max_p99_ms
        {
            reasons
                .push(format!("p99 latency {c:.1} ms is above {} ms while the baseline's is {bl:.1} ms", t.max_p99_ms));
        }
    } else if let Some(c) = canary.p99_ms.filter(|c| *c > t.max_p99_ms) {
        reasons.push(format!("p99 latency {c:.1} ms is above {} ms", t.max_p99_ms));
    }
    if let Some(cpu) = canary.cpu_percent.filter(|c| *c > t.max_cpu_percent) {
        reasons.push(format!("CPU {cpu:.0}% is above {}%", t.max_cpu_percent));
    }
    if let Some(mem) = canary.memory_percent.filter(|m| *m > t.max_memory_percent) {
        reasons.push(format!("memory {mem:.0}% is above {}%", t.max_memory_percent));
    }
    reasons
}

/// Watches a canary's samples one by one and reports a critical problem the moment the sample
/// that proves it arrives, instead of at the end of an interval.
#[derive(Debug)]
pub struct CriticalWatch {
    thresholds: Thresholds,
    version: String,
    requests: u64,
    errors: u64,
    slow: u64,
    slow_limit_ms: Option<f64>,
}

/// p99 is meaningless on fewer samples; the per-sample latency rule waits for this many.
const LATENCY_MIN_SAMPLES: u64 = 100;

impl CriticalWatch {
    /// Watches samples of `version` against `thresholds`.
    pub fn new(version: &str, thresholds: Thresholds) -> Self {
        Self { thresholds, version: version.to_owned(), requests: 0, errors: 0, slow: 0, slow_limit_ms: None }
    }

    /// Updates the latency limit from the baseline's current p99.
    pub fn set_baseline_p99(&mut self, p99_ms: Option<f64>) {
        let t = &self.thresholds;
        self.slow_limit_ms =
            p99_ms.filter(|p| *p > 0.0).map(|p| (p * t.critical_latency_ratio).max(p + t.latency_noise_floor_ms));
    }

    /// Counts one sample (samples of other versions are ignored) and returns the reason when a
    /// critical threshold is now crossed.
    pub fn observe(&mut self, sample: &RequestSample) -> Option<String> {
        if sample.version != self.version {
            return None;
        }
        self.requests += 1;
        self.errors += u64::from(sample.is_error());
        if self.slow_limit_ms.is_some_and(|limit| sample.latency_ms > limit) {
            self.slow += 1;
        }
        let t = &self.thresholds;
        if self.requests >= t.critical_min_samples {
            let rate = self.errors as f64 / self.requests as f64;
            if rate > t.critical_error_rate {
                return Some(format!(
                    "error rate {:.1}% is above the critical {:.0}% ({} of {} requests)",
                    rate * 100.0,
                    t.critical_error_rate * 100.0,
                    self.errors,
                    self.requests
                ));
            }
        }
        // p99 above the limit means more than 1 % of requests are slower than it.
        if self.requests >= LATENCY_MIN_SAMPLES.max(t.critical_min_samples)
            && let Some(limit) = self.slow_limit_ms
            && self.slow * 100 > self.requests
        {
            return Some(format!(
                "p99 latency is over {}x the baseline's ({} of {} requests slower than {limit:.1} ms)",
                t.critical_latency_ratio, self.slow, self.requests
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A deterministic window: `n` requests, `errors` of them failing, latencies spread evenly
    /// around `latency` (±20 %).
    fn window(n: u64, errors: u64, latency: f64) -> WindowStats {
        let samples: Vec<RequestSample> = (0..n)
            .map(|i| RequestSample {
                version: "v".into(),
                status: if i < errors { 500 } else { 200 },
                latency_ms: latency * (0.8 + 0.4 * (i % 10) as f64 / 9.0),
                at: Instant::now(),
            })
            .collect();
        WindowStats::from_requests(samples.iter().map(|s| (s.is_error(), s.latency_ms)))
    }

    #[test]
    fn clearly_worse_error_rate_fails_high_with_significance() {
        let j = judge(&window(200, 40, 20.0), Some(&window(800, 8, 20.0)), &Thresholds::default());
        assert_eq!((j.verdict, j.severity), (Verdict::Fail, Some(Severity::High)));
        assert!(j.error_rate_test.unwrap().p_value < 1e-6);
        assert!(j.reasons[0].contains("points above the baseline"), "{:?}", j.reasons);
    }

    #[test]
    fn clearly_equal_passes() {
        let j = judge(&window(300, 3, 20.0), Some(&window(900, 9, 20.0)), &Thresholds::default());
        assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reasons);
        assert!(j.latency_test.unwrap().p_value > 0.05);
        assert!(j.reasons.is_empty());
    }

    #[test]
    fn too_few_samples_is_inconclusive() {
        let j = judge(&window(20, 1, 20.0), Some(&window(500, 5, 20.0)), &Thresholds::default());
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reasons[0].contains("too few samples: canary 20"), "{:?}", j.reasons);
        let j = judge(&window(100, 0, 20.0), Some(&window(30, 0, 20.0)), &Thresholds::default());
        assert_eq!(j.verdict, Verdict::Inconclusive, "the baseline needs samples too");
    }

    #[test]
    fn sixty_percent_errors_is_critical_even_on_few_samples() {
        let j = judge(&window(10, 6, 20.0), Some(&window(10, 0, 20.0)), &Thresholds::default());
        assert_eq!((j.verdict, j.severity), (Verdict::Fail, Some(Severity::Critical)));
        assert!(j.reasons[0].contains("60.0%"));
    }

    #[test]
    fn latency_rules_use_the_ratio_and_the_rank_test() {
        let base = window(500, 0, 20.0);
        let j = judge(&window(200, 0, 120.0), Some(&base), &Thresholds::default());
        assert_eq!(j.severity, Some(Severity::Critical), "6x the baseline p99");
        let j = judge(&window(200, 0, 50.0), Some(&base), &Thresholds::default());
        assert_eq!(j.severity, Some(Severity::High), "2.5x: high");
        assert!(j.latency_test.unwrap().p_value < 1e-6);
        let j = judge(&window(200, 0, 30.0), Some(&base), &Thresholds::default());
        assert_eq!(j.verdict, Verdict::Pass, "1.5x is within the limits: {:?}", j.reasons);
    }

    #[test]
    fn small_absolute_latency_changes_are_noise() {
        // 3.5 ms -> 7.5 ms is over 2x but only 4 ms: not a regression.
        let j = judge(&window(300, 0, 7.5), Some(&window(900, 0, 3.5)), &Thresholds::default());
        assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reasons);
        let sensitive = Thresholds { latency_noise_floor_ms: 0.0, ..Thresholds::default() };
        assert_eq!(judge(&window(300, 0, 7.5), Some(&window(900, 0, 3.5)), &sensitive).severity, Some(Severity::High));
    }

    #[test]
    fn without_a_baseline_absolute_limits_apply() {
        assert_eq!(judge(&window(100, 20, 20.0), None, &Thresholds::default()).severity, Some(Severity::High));
        assert_eq!(judge(&window(100, 0, 700.0), None, &Thresholds::default()).severity, Some(Severity::High));
        assert_eq!(judge(&window(100, 5, 20.0), None, &Thresholds::default()).verdict, Verdict::Pass);
    }

    #[test]
    fn per_environment_thresholds_change_the_verdict() {
        let strict = Thresholds { high_error_rate_increase: 0.01, ..Thresholds::default() };
        let (canary, base) = (window(1000, 40, 20.0), window(1000, 5, 20.0));
        assert_eq!(judge(&canary, Some(&base), &Thresholds::default()).verdict, Verdict::Pass);
        assert_eq!(judge(&canary, Some(&base), &strict).severity, Some(Severity::High));
    }

    #[test]
    fn watch_fires_on_the_deciding_sample() {
        let mut watch = CriticalWatch::new("v2", Thresholds::default());
        let sample = |status| RequestSample { version: "v2".into(), status, latency_ms: 5.0, at: Instant::now() };
        // 60 % errors: ok ok err err err, repeated. The rule needs 10 samples.
        let pattern = [200, 200, 500, 500, 500];
        let mut fired_at = None;
        for (i, status) in pattern.iter().cycle().take(20).enumerate() {
            if watch.observe(&sample(*status)).is_some() {
                fired_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(fired_at, Some(10), "fires on the 10th sample, the first allowed to decide");
        let mut other = CriticalWatch::new("v2", Thresholds::default());
        let foreign = RequestSample { version: "v1".into(), status: 500, latency_ms: 5.0, at: Instant::now() };
        assert!((0..50).all(|_| other.observe(&foreign).is_none()), "other versions are ignored");
    }

    #[test]
    fn watch_latency_rule_needs_a_baseline_and_enough_samples() {
        let mut watch = CriticalWatch::new("v2", Thresholds::default());
        watch.set_baseline_p99(Some(10.0)); // limit: max(5 x 10, 10 + 20) = 50 ms
        let slow = RequestSample { version: "v2".into(), status: 200, latency_ms: 60.0, at: Instant::now() };
        let fired = (1..=200).find(|_| watch.observe(&slow).is_some());
        assert_eq!(fired, Some(100));
    }

    #[test]
    fn bad_thresholds_are_named() {
        let t = Thresholds { alpha: 0.0, high_latency_ratio: 0.5, ..Thresholds::default() };
        let err = t.validate("analysis.thresholds.").unwrap_err();
        let fields: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["analysis.thresholds.high_latency_ratio", "analysis.thresholds.alpha"]);
    }
}
