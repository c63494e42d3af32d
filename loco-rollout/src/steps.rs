//! Strategy runners: each strategy turns into a fixed list of [`Step`]s the orchestrator executes
//! one by one. Pure: no I/O, so every strategy's shape is tested directly.

use loco_types::plan::Strategy;
use loco_types::rollout::Step;

/// The steps that take a target from `old` running instances of the current release to `desired`
/// instances of the new one with `strategy`, with a monitoring window of `monitor_seconds` right
/// after traffic reaches 100 % (none when 0). With `keep_old`, the old instances are left running
/// at the end (they are stopped after a scale-down delay); the rolling strategy replaces them
/// step by step regardless.
pub fn plan_steps(strategy: &Strategy, desired: u32, old: u32, monitor_seconds: f64, keep_old: bool) -> Vec<Step> {
    let mut steps = strategy_steps(strategy, desired, old);
    if keep_old && !matches!(strategy, Strategy::Rolling { .. }) && matches!(steps.last(), Some(Step::StopOld { .. })) {
        steps.pop();
    }
    if monitor_seconds > 0.0
        && let Some(full) = steps.iter().rposition(|s| matches!(s, Step::Shift { percent: 100 }))
    {
        steps.insert(full + 1, Step::Monitor { seconds: monitor_seconds });
    }
    steps
}

fn strategy_steps(strategy: &Strategy, desired: u32, old: u32) -> Vec<Step> {
    let mut steps = Vec::new();
    match strategy {
        Strategy::Immediate {} => {
            steps.extend([Step::StartNew { count: desired }, Step::CheckNew, Step::Shift { percent: 100 }]);
        }
        Strategy::BlueGreen { switch_delay_seconds } => {
            steps.extend([Step::StartNew { count: desired }, Step::CheckNew]);
            if *switch_delay_seconds > 0.0 {
                steps.push(Step::Observe { seconds: *switch_delay_seconds });
            }
            steps.push(Step::Shift { percent: 100 });
        }
        Strategy::Canary { steps: percents, interval_seconds } => {
            // One canary instance takes the early shares; the rest start only for promotion.
            steps.extend([Step::StartNew { count: 1 }, Step::CheckNew]);
            for percent in percents {
                steps.push(Step::Shift { percent: *percent });
                steps.push(Step::Observe { seconds: *interval_seconds });
            }
            if desired > 1 {
                steps.extend([Step::StartNew { count: desired - 1 }, Step::CheckNew]);
            }
            if percents.last() != Some(&100) {
                steps.push(Step::Shift { percent: 100 });
            }
        }
        Strategy::Rolling { max_surge, max_unavailable } => {
            return rolling(desired, old, *max_surge, *max_unavailable);
        }
    }
    if old > 0 {
        steps.push(Step::StopOld { count: old });
    }
    steps
}

/// Kubernetes-style rolling replacement: never more than `desired + surge` instances, never fewer
/// than `desired - unavailable` serving; traffic follows the instance counts.
fn rolling(desired: u32, mut old: u32, surge: u32, unavailable: u32) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut new = 0u32;
    let floor = desired.saturating_sub(unavailable);
    while new < desired || old > 0 {
        let up = (desired - new).min((desired + surge).saturating_sub(old + new));
        if up > 0 {
            steps.extend([Step::StartNew { count: up }, Step::CheckNew]);
            new += up;
        }
        let down = old.min((old + new).saturating_sub(floor));
        let remaining_old = old - down;
        let percent = if new == 0 { 0 } else { (u64::from(new) * 100 / u64::from(new + remaining_old)) as u8 };
        if new > 0 {
            steps.push(Step::Shift { percent });
        }
        if down > 0 {
            steps.push(Step::StopOld { count: down });
            old -= down;
        }
        if up == 0 && down == 0 {
            // Only reachable when surge and unavailability are both 0, which validation refuses.
            break;
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use Step::{CheckNew, Monitor, Observe, Shift, StartNew, StopOld};

    fn plan_steps(strategy: &Strategy, desired: u32, old: u32) -> Vec<Step> {
        super::plan_steps(strategy, desired, old, 0.0, false)
    }

    #[test]
    fn a_scale_down_delay_keeps_the_old_instances_except_when_rolling() {
        let keep = |s: &Strategy| super::plan_steps(s, 2, 2, 0.0, true);
        assert_eq!(keep(&Strategy::Immediate {}), [StartNew { count: 2 }, CheckNew, Shift { percent: 100 }]);
        let rolling = Strategy::Rolling { max_surge: 1, max_unavailable: 0 };
        assert_eq!(keep(&rolling), plan_steps(&rolling, 2, 2), "rolling replaces them as it goes");
    }

    #[test]
    fn immediate_replaces_everything_at_once() {
        assert_eq!(
            plan_steps(&Strategy::Immediate {}, 2, 2),
            [StartNew { count: 2 }, CheckNew, Shift { percent: 100 }, StopOld { count: 2 }]
        );
        assert_eq!(
            plan_steps(&Strategy::Immediate {}, 1, 0),
            [StartNew { count: 1 }, CheckNew, Shift { percent: 100 }]
        );
    }

    #[test]
    fn blue_green_waits_before_switching() {
        let s = Strategy::BlueGreen { switch_delay_seconds: 5.0 };
        assert_eq!(
            plan_steps(&s, 3, 3),
            [StartNew { count: 3 }, CheckNew, Observe { seconds: 5.0 }, Shift { percent: 100 }, StopOld { count: 3 }]
        );
    }

    #[test]
    fn canary_observes_each_share_then_promotes() {
        let s = Strategy::Canary { steps: vec![10, 50], interval_seconds: 30.0 };
        assert_eq!(
            plan_steps(&s, 3, 3),
            [
                StartNew { count: 1 },
                CheckNew,
                Shift { percent: 10 },
                Observe { seconds: 30.0 },
                Shift { percent: 50 },
                Observe { seconds: 30.0 },
                StartNew { count: 2 },
                CheckNew,
                Shift { percent: 100 },
                StopOld { count: 3 },
            ]
        );
        let to_full = Strategy::Canary { steps: vec![50, 100], interval_seconds: 1.0 };
        assert_eq!(plan_steps(&to_full, 1, 1).last(), Some(&StopOld { count: 1 }));
        assert_eq!(plan_steps(&to_full, 1, 1).iter().filter(|s| matches!(s, Shift { percent: 100 })).count(), 1);
    }

    /// Replays the steps and checks the rolling invariants at every point.
    fn check_rolling(desired: u32, old: u32, surge: u32, unavailable: u32) -> Vec<Step> {
        let steps = rolling(desired, old, surge, unavailable);
        let (mut n, mut o) = (0u32, old);
        for step in &steps {
            match step {
                StartNew { count } => n += count,
                StopOld { count } => o -= count,
                _ => {}
            }
            assert!(n + o <= desired.max(old) + surge, "surge exceeded in {steps:?}");
            assert!(n + o >= desired.saturating_sub(unavailable).min(old), "too many unavailable in {steps:?}");
        }
        assert_eq!((n, o), (desired, 0), "{steps:?}");
        steps
    }

    #[test]
    fn rolling_respects_surge_and_unavailability() {
        assert_eq!(
            check_rolling(3, 3, 1, 0),
            [
                StartNew { count: 1 },
                CheckNew,
                Shift { percent: 33 },
                StopOld { count: 1 },
                StartNew { count: 1 },
                CheckNew,
                Shift { percent: 66 },
                StopOld { count: 1 },
                StartNew { count: 1 },
                CheckNew,
                Shift { percent: 100 },
                StopOld { count: 1 },
            ]
        );
        assert_eq!(
            check_rolling(2, 2, 0, 1),
            [
                StopOld { count: 1 },
                StartNew { count: 1 },
                CheckNew,
                // The last old instance goes in the same round, so the new one takes everything.
                Shift { percent: 100 },
                StopOld { count: 1 },
                StartNew { count: 1 },
                CheckNew,
                Shift { percent: 100 },
            ]
        );
        for (d, o, s, u) in [(1, 0, 1, 0), (5, 5, 2, 1), (4, 2, 1, 1), (10, 10, 3, 0), (3, 3, 0, 3)] {
            check_rolling(d, o, s, u);
        }
    }

    #[test]
    fn monitoring_window_keeps_the_old_release_until_it_ends() {
        let steps = super::plan_steps(&Strategy::Immediate {}, 1, 1, 60.0, false);
        assert_eq!(
            steps,
            [StartNew { count: 1 }, CheckNew, Shift { percent: 100 }, Monitor { seconds: 60.0 }, StopOld { count: 1 }]
        );
        let rolling = super::plan_steps(&Strategy::Rolling { max_surge: 1, max_unavailable: 0 }, 2, 2, 5.0, false);
        assert_eq!(
            &rolling[rolling.len() - 3..],
            [Shift { percent: 100 }, Monitor { seconds: 5.0 }, StopOld { count: 1 }]
        );
    }

    #[test]
    fn rolling_first_release_starts_everything() {
        assert_eq!(check_rolling(2, 0, 1, 0), [StartNew { count: 2 }, CheckNew, Shift { percent: 100 }]);
    }
}
