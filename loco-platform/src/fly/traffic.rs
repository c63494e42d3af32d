//! Traffic by machine count: which share of a split whole machines can give, and the share each
//! version gets from the machines routed to it. Pure, so the rounding is tested directly.
//!
//! Fly's proxy balances requests over the started, uncordoned machines of an app; there is no
//! weighted split. A version's share is therefore the number of its routed machines over all
//! routed machines. For a split, Loco routes the counts whose shares are closest to the asked
//! ones (the smallest sum of absolute differences), with these rules:
//!
//! - a version asked for more than 0 % gets at least one machine (a canary's 10 % with one new
//!   machine beside two old ones becomes 1 of 3, 33 %); a version asked for 0 %, or not named,
//!   gets none;
//! - a version gets at most the started machines it has;
//! - between equally close choices, the one routing more machines wins (more capacity), then the
//!   one routing more machines of the earlier-named version.

use crate::TrafficWeight;

/// More combinations than this are not searched exhaustively; the per-total search is used.
const EXHAUSTIVE_LIMIT: usize = 20_000;

/// How many machines to route for each `(percent, started machines)`, in order; a version with a
/// positive share and no started machine is an error naming its index.
pub(super) fn machine_counts(wanted: &[(u8, usize)]) -> Result<Vec<usize>, usize> {
    if let Some(missing) = wanted.iter().position(|(percent, available)| *percent > 0 && *available == 0) {
        return Err(missing);
    }
    let total: u32 = wanted.iter().map(|(p, _)| u32::from(*p)).sum();
    if total == 0 {
        return Ok(vec![0; wanted.len()]);
    }
    let targets: Vec<f64> = wanted.iter().map(|(p, _)| f64::from(*p) / f64::from(total)).collect();
    let ranges: Vec<(usize, usize)> =
        wanted.iter().map(|(p, available)| if *p == 0 { (0, 0) } else { (1, *available) }).collect();
    let combinations = ranges.iter().try_fold(1usize, |acc, (lo, hi)| acc.checked_mul(hi - lo + 1));
    let mut best: Option<(f64, Vec<usize>)> = None;
    let mut consider = |counts: Vec<usize>| {
        let error = distance(&counts, &targets);
        if best.as_ref().is_none_or(|(e, b)| better(error, &counts, *e, b)) {
            best = Some((error, counts));
        }
    };
    if combinations.is_some_and(|c| c <= EXHAUSTIVE_LIMIT) {
        let mut counts: Vec<usize> = ranges.iter().map(|(lo, _)| *lo).collect();
        loop {
            consider(counts.clone());
            // Odometer over the ranges.
            let mut i = 0;
            loop {
                if i == counts.len() {
                    return Ok(best.map(|(_, c)| c).unwrap_or_default());
                }
                if counts[i] < ranges[i].1 {
                    counts[i] += 1;
                    break;
                }
                counts[i] = ranges[i].0;
                i += 1;
            }
        }
    }
    let most: usize = ranges.iter().map(|(_, hi)| hi).sum();
    for routed in 1..=most {
        let counts = ranges
            .iter()
            .zip(&targets)
            .map(|((lo, hi), share)| ((share * routed as f64).round() as usize).clamp(*lo, *hi))
            .collect();
        consider(counts);
    }
    Ok(best.map(|(_, c)| c).unwrap_or_default())
}

fn distance(counts: &[usize], targets: &[f64]) -> f64 {
    let routed: usize = counts.iter().sum();
    if routed == 0 {
        return f64::INFINITY;
    }
    counts.iter().zip(targets).map(|(n, t)| (*n as f64 / routed as f64 - t).abs()).sum()
}

fn better(error: f64, counts: &[usize], best_error: f64, best: &[usize]) -> bool {
    const EPSILON: f64 = 1e-9;
    if (error - best_error).abs() > EPSILON {
        return error < best_error;
    }
    let (routed, best_routed) = (counts.iter().sum::<usize>(), best.iter().sum::<usize>());
    if routed != best_routed {
        return routed > best_routed;
    }
    counts > best
}

/// The split the routed machines give: each version's share of `routed` (version, machines), in
/// whole percents adding up to 100 (largest remainders round up), biggest share first.
pub(super) fn shares(routed: &[(String, usize)]) -> Vec<TrafficWeight> {
    let total: usize = routed.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut parts: Vec<(String, usize, usize)> = routed
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(version, n)| (version.clone(), n * 100 / total, n * 100 % total))
        .collect();
    let mut left = 100 - parts.iter().map(|(_, p, _)| p).sum::<usize>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|a, b| parts[*b].2.cmp(&parts[*a].2).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    parts.into_iter().map(|(version, percent, _)| TrafficWeight { version, percent: percent as u8 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_become_the_closest_machine_counts() {
        type Case<'a> = (&'a [(u8, usize)], &'a [usize]);
        let cases: [Case; 9] = [
            (&[(100, 3)], &[3]),
            (&[(100, 3), (0, 3)], &[3, 0]),
            // A canary's small share with one new machine: 1 of 3 is as close as it gets.
            (&[(10, 1), (90, 2)], &[1, 2]),
            (&[(50, 1), (50, 2)], &[1, 1]),
            // Rolling 1 of 3 new: 33 % is exact with two old machines routed.
            (&[(33, 1), (67, 3)], &[1, 2]),
            (&[(66, 2), (34, 2)], &[2, 1]),
            (&[(25, 4), (75, 4)], &[1, 3]),
            // Equally close: more machines routed.
            (&[(50, 3), (50, 3)], &[3, 3]),
            (&[(1, 5), (99, 5)], &[1, 5]),
        ];
        for (wanted, expected) in cases {
            assert_eq!(machine_counts(wanted).unwrap(), expected, "{wanted:?}");
        }
    }

    #[test]
    fn a_positive_share_without_a_started_machine_is_refused() {
        assert_eq!(machine_counts(&[(10, 0), (90, 2)]), Err(0));
        assert_eq!(machine_counts(&[(0, 0), (100, 2)]).unwrap(), [0, 2]);
        assert_eq!(machine_counts(&[]).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn large_fleets_use_the_per_total_search() {
        let counts = machine_counts(&[(20, 500), (80, 500)]).unwrap();
        let routed: usize = counts.iter().sum();
        assert!((counts[0] as f64 / routed as f64 - 0.2).abs() < 0.01, "{counts:?}");
        assert!(routed >= 500, "{counts:?}");
    }

    #[test]
    fn shares_add_up_to_one_hundred() {
        let s = |routed: &[(&str, usize)]| {
            shares(&routed.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect::<Vec<_>>())
                .into_iter()
                .map(|w| (w.version, w.percent))
                .collect::<Vec<_>>()
        };
        assert_eq!(s(&[("v1", 2), ("v2", 1)]), [("v1".to_owned(), 67), ("v2".to_owned(), 33)]);
        assert_eq!(s(&[("v1", 1), ("v2", 1), ("v3", 1)]), [("v1".into(), 34), ("v2".into(), 33), ("v3".into(), 33)]);
        assert_eq!(s(&[("v2", 3), ("v1", 0)]), [("v2".to_owned(), 100)]);
        assert!(s(&[]).is_empty());
    }
}
