//! Moving Vercel production traffic one API call at a time: from what the project shows (its
//! production deployment, its active rolling release, its last promote or rollback job) and the
//! split wanted, the next call to make. Pure, so every transition is tested directly.
//!
//! - A split `{new: p, old: 100 − p}` is a rolling release of `new` from `old`: started when
//!   none runs (it begins at its first stage), then approved stage by stage up to the stage of
//!   `p`. Going back to an earlier stage is not possible on Vercel, and is refused.
//! - `{d: 100}` completes a rolling release whose canary is `d`; aborts one that rolls from `d`
//!   (an instant rollback to `d`, as Vercel's CLI aborts); otherwise promotes `d` when it is a
//!   staged build that never served, or rolls back to it when it served before.

/// What the project shows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Observed {
    /// The deployment holding the production domains.
    pub(super) production: Option<String>,
    /// The active rolling release.
    pub(super) release: Option<Release>,
    /// The last promote or rollback job: its target and status.
    pub(super) alias_job: Option<(String, String)>,
}

/// An active rolling release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Release {
    pub(super) canary: String,
    pub(super) current: String,
    /// The stages' percentages, in order.
    pub(super) stages: Vec<u8>,
    pub(super) active_stage: usize,
    pub(super) percent: u8,
}

/// The split wanted, by deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Wanted {
    /// `canary` gets `percent` (1–99), `old` the rest.
    Split { canary: String, old: String, percent: u8 },
    /// One deployment serves everything; `staged` when it never served production.
    All { deployment: String, staged: bool },
}

/// The next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// The split is in place.
    Done,
    /// A promote or rollback to the wanted deployment is still running: look again later.
    Wait,
    Start {
        canary: String,
    },
    Approve {
        canary: String,
        next: usize,
    },
    Complete {
        canary: String,
    },
    Rollback {
        to: String,
    },
    Promote {
        to: String,
    },
    /// Not possible: why.
    Refuse(String),
}

/// The next call towards `wanted` from `observed`.
pub(super) fn next_step(observed: &Observed, wanted: &Wanted) -> Step {
    let job_to = |d: &str| observed.alias_job.as_ref().filter(|(to, _)| to == d).map(|(_, s)| s.as_str());
    match wanted {
        Wanted::All { deployment, staged } => {
            if let Some(r) = &observed.release {
                return if r.canary == *deployment {
                    Step::Complete { canary: deployment.clone() }
                } else if r.current == *deployment {
                    Step::Rollback { to: deployment.clone() }
                } else {
                    Step::Refuse(format!(
                        "a rolling release of {} from {} is running; {deployment} is neither",
                        r.canary, r.current
                    ))
                };
            }
            match job_to(deployment) {
                Some("pending" | "in-progress") => return Step::Wait,
                Some("failed") if observed.production.as_deref() != Some(deployment) => {
                    return Step::Refuse(format!("Vercel's job moving production to {deployment} failed"));
                }
                _ => {}
            }
            if observed.production.as_deref() == Some(deployment) {
                Step::Done
            } else if *staged {
                Step::Promote { to: deployment.clone() }
            } else {
                Step::Rollback { to: deployment.clone() }
            }
        }
        Wanted::Split { canary, old, percent } => match &observed.release {
            Some(r) if r.canary == *canary && r.current == *old => {
                if r.percent == *percent {
                    return Step::Done;
                }
                match r.stages.iter().position(|p| p == percent) {
                    Some(i) if i > r.active_stage => Step::Approve { canary: canary.clone(), next: r.active_stage + 1 },
                    Some(_) => Step::Refuse(format!(
                        "the rolling release is at {}% already; Vercel cannot go back to {percent}%",
                        r.percent
                    )),
                    None => {
                        Step::Refuse(format!("the rolling release's stages are {:?}%; none is {percent}%", r.stages))
                    }
                }
            }
            Some(r) => Step::Refuse(format!(
                "a rolling release of {} from {} is running, not of {canary} from {old}",
                r.canary, r.current
            )),
            None if observed.production.as_deref() == Some(old) => Step::Start { canary: canary.clone() },
            None if job_to(old).is_some_and(|s| matches!(s, "pending" | "in-progress")) => Step::Wait,
            None => Step::Refuse(format!(
                "{old} does not serve production ({}), so no rolling release can start from it",
                observed.production.as_deref().unwrap_or("nothing does")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(active_stage: usize) -> Release {
        let stages = vec![10, 50, 100];
        Release { canary: "new".into(), current: "old".into(), percent: stages[active_stage], stages, active_stage }
    }

    fn split(percent: u8) -> Wanted {
        Wanted::Split { canary: "new".into(), old: "old".into(), percent }
    }

    fn serving(production: &str) -> Observed {
        Observed { production: Some(production.into()), ..Observed::default() }
    }

    #[test]
    fn a_canary_starts_then_climbs_one_stage_at_a_time() {
        assert_eq!(next_step(&serving("old"), &split(10)), Step::Start { canary: "new".into() });
        let at = |stage| Observed { release: Some(release(stage)), ..serving("old") };
        assert_eq!(next_step(&at(0), &split(10)), Step::Done);
        assert_eq!(next_step(&at(0), &split(50)), Step::Approve { canary: "new".into(), next: 1 });
        assert!(matches!(next_step(&at(1), &split(10)), Step::Refuse(m) if m.contains("cannot go back")));
        assert!(matches!(next_step(&at(0), &split(30)), Step::Refuse(m) if m.contains("none is 30%")));
        let all_new = Wanted::All { deployment: "new".into(), staged: false };
        assert_eq!(next_step(&at(1), &all_new), Step::Complete { canary: "new".into() });
    }

    #[test]
    fn all_traffic_to_the_old_deployment_aborts_by_rolling_back() {
        let observed = Observed { release: Some(release(1)), ..serving("old") };
        let old = Wanted::All { deployment: "old".into(), staged: false };
        assert_eq!(next_step(&observed, &old), Step::Rollback { to: "old".into() });
        assert_eq!(next_step(&serving("old"), &old), Step::Done, "nothing to do once it serves");
    }

    #[test]
    fn a_staged_build_is_promoted_and_a_former_one_rolled_back_to() {
        let staged = Wanted::All { deployment: "new".into(), staged: true };
        assert_eq!(next_step(&serving("old"), &staged), Step::Promote { to: "new".into() });
        assert_eq!(next_step(&Observed::default(), &staged), Step::Promote { to: "new".into() });
        let pending = Observed { alias_job: Some(("new".into(), "in-progress".into())), ..serving("old") };
        assert_eq!(next_step(&pending, &staged), Step::Wait);
        let failed = Observed { alias_job: Some(("new".into(), "failed".into())), ..serving("old") };
        assert!(matches!(next_step(&failed, &staged), Step::Refuse(_)));
        let former = Wanted::All { deployment: "older".into(), staged: false };
        assert_eq!(next_step(&serving("old"), &former), Step::Rollback { to: "older".into() });
    }

    #[test]
    fn a_split_needs_the_old_deployment_serving() {
        assert!(matches!(next_step(&serving("other"), &split(10)), Step::Refuse(m) if m.contains("does not serve")));
        let pending = Observed { alias_job: Some(("old".into(), "pending".into())), ..serving("other") };
        assert_eq!(next_step(&pending, &split(10)), Step::Wait);
    }
}
