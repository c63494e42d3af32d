//! The statistics behind the canary judge: percentiles, the Mann-Whitney U test (is the canary's
//! latency distribution shifted up?) and the two-proportion z-test (is its error rate higher?).
//! Both tests are one-sided and use the normal approximation, which is accurate at the sample
//! sizes the judge requires.

use loco_types::analysis::TestResult;

/// Standard normal cumulative distribution, Φ(z) (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

/// One-sided Mann-Whitney U test that `canary` tends to be larger than `baseline`, with average
/// ranks for ties, the tie-corrected variance and a continuity correction. `None` when either
/// side is empty or every value is tied.
pub fn mann_whitney_greater(canary: &[f64], baseline: &[f64]) -> Option<TestResult> {
    let (n1, n2) = (canary.len(), baseline.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> =
        canary.iter().map(|v| (*v, true)).chain(baseline.iter().map(|v| (*v, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let (mut rank_sum_canary, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0.total_cmp(&all[i].0).is_eq() {
            j += 1;
        }
        // Positions i..=j share the average of ranks i+1..=j+1.
        let avg_rank = (i + j + 2) as f64 / 2.0;
        let tied = (j - i + 1) as f64;
        tie_term += tied * tied * tied - tied;
        rank_sum_canary += avg_rank * all[i..=j].iter().filter(|(_, is_canary)| *is_canary).count() as f64;
        i = j + 1;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum_canary - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let variance = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if variance <= 0.0 {
        return None;
    }
    let z = (u - mean - 0.5) / variance.sqrt();
    Some(TestResult { statistic: u, z, p_value: 1.0 - normal_cdf(z) })
}

/// One-sided two-proportion z-test that the canary's failure rate (`x1` of `n1`) is higher than
/// the baseline's (`x2` of `n2`), with the pooled standard error. `None` when a side has no trials.
pub fn proportion_greater(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<TestResult> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let diff = p1 - p2;
    let (z, p_value) = if se == 0.0 {
        // Both all-success or all-failure: identical unless the rates differ.
        if diff > 0.0 { (f64::INFINITY, 0.0) } else { (0.0, 1.0) }
    } else {
        let z = diff / se;
        (z, 1.0 - normal_cdf(z))
    };
    Some(TestResult { statistic: diff, z, p_value })
}

#[cfg(test)]
mod tests {
    use loco_types::analysis::percentile;

    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_cdf_matches_tables() {
        for (z, phi) in [(0.0, 0.5), (1.0, 0.841_344_7), (1.644_854, 0.95), (-1.959_964, 0.025), (3.0, 0.998_650_1)] {
            assert!(close(normal_cdf(z), phi, 2e-7), "Φ({z}) = {}", normal_cdf(z));
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 0.01), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn mann_whitney_matches_a_worked_example() {
        // Classic example: U for the first group = 3 with n1 = n2 = 5 (no ties).
        let a = [19.0, 22.0, 16.0, 29.0, 24.0];
        let b = [20.0, 11.0, 17.0, 12.0, 30.0];
        let r = mann_whitney_greater(&a, &b).unwrap();
        assert!(close(r.statistic, 17.0, 1e-9), "U(a) = {}", r.statistic); // U(a) + U(b) = 25, U(b) = 8
        // Exact one-sided p for U >= 17 is 53/252 = 0.2103; the normal approximation gives 0.2017.
        assert!(close(r.p_value, 0.2017, 0.001), "p = {}", r.p_value);
        assert!(close(r.p_value, 53.0 / 252.0, 0.01));
    }

    #[test]
    fn mann_whitney_ties_and_extremes() {
        let same = [5.0; 40];
        assert!(mann_whitney_greater(&same, &same).is_none(), "all tied: no information");
        let slow: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i)).collect();
        let fast: Vec<f64> = (0..50).map(f64::from).collect();
        assert!(mann_whitney_greater(&slow, &fast).unwrap().p_value < 1e-10);
        assert!(mann_whitney_greater(&fast, &slow).unwrap().p_value > 0.999_999);
        assert!(mann_whitney_greater(&[], &fast).is_none());
    }

    #[test]
    fn proportion_test_matches_hand_computation() {
        // 30/200 vs 10/200: pooled 0.1, se = sqrt(0.1*0.9*(2/200)) = 0.03, z = 0.1/0.03.
        let r = proportion_greater(30, 200, 10, 200).unwrap();
        assert!(close(r.statistic, 0.1, 1e-12));
        assert!(close(r.z, 3.333_333, 1e-5));
        assert!(close(r.p_value, 1.0 - normal_cdf(10.0 / 3.0), 1e-12));
        let none = proportion_greater(0, 100, 0, 100).unwrap();
        assert_eq!((none.z, none.p_value), (0.0, 1.0));
        assert!(proportion_greater(5, 5, 0, 100).unwrap().p_value < 1e-6);
        assert!(proportion_greater(1, 0, 1, 10).is_none());
    }
}
