//! The rules of rollout writes: beginning a rollout together with the deployment's `start`, and
//! changing a rollout (owner compare-and-set, one active rollout per target, an optional
//! lifecycle action, events, release activation) atomically.

use super::{DeploymentChange, EventDraft, NewEvent, Origin, decide_action};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Action, ActionInput};
use crate::model::{Deployment, Timestamp};
use crate::plan::RolloutPlan;
use crate::rollout::{Release, Rollout, RolloutFailure, RolloutProgress, RolloutState};

/// What beginning a rollout needs.
#[derive(Debug, Clone)]
pub struct BeginRollout {
    /// The approved deployment to roll out.
    pub deployment_id: String,
    /// The validated plan.
    pub plan: RolloutPlan,
    /// Who starts it (the `started` event's actor).
    pub actor: String,
    /// The engine process that will execute it.
    pub owner: String,
    /// Events appended before `started` (the passed pre-deployment validation).
    pub lead_events: Vec<NewEvent>,
}

/// A rollout begun: the deployment's `start` and the new rollout record.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutBegun {
    /// Events to append before the `start` event.
    pub lead_events: Vec<EventDraft>,
    /// The `start` action's row and event.
    pub start: DeploymentChange,
    /// The rollout to insert.
    pub rollout: Rollout,
}

/// Begins a rollout of `deployment`. `active_on_target` is the deployment whose rollout is
/// active on the same service+environment, if any; `current_release` is the release serving it.
/// Checks, in order: `start` is allowed, no other rollout is active there (`rollout_conflict`),
/// and the new release's version differs from the serving one.
pub fn decide_begin_rollout(
    deployment: &Deployment,
    active_on_target: Option<String>,
    current_release: Option<Release>,
    begin: BeginRollout,
    now: Timestamp,
) -> Result<RolloutBegun> {
    let BeginRollout { deployment_id: id, mut plan, actor, owner, lead_events } = begin;
    lifecycle::transition(&id, deployment.status, &deployment.requester, Action::Start, &actor)?;
    if let Some(active) = active_on_target {
        return Err(Error::RolloutConflict {
            service: deployment.service.clone(),
            environment: deployment.environment.clone(),
            active,
        });
    }
    if plan.release.version.is_empty() {
        plan.release.version.clone_from(&deployment.version);
    }
    if current_release.as_ref().is_some_and(|r| r.version == plan.release.version) {
        return Err(Error::invalid(
            "release.version",
            format!(
                "'{}' is the version already serving {}/{}; give the new release a distinct version label",
                plan.release.version, deployment.service, deployment.environment
            ),
        ));
    }
    let note = format!("rollout: {} on {}", plan.strategy.name(), plan.platform);
    let input = ActionInput::new(actor.clone()).with_note(note);
    let start = decide_action(deployment, None, Origin::Rollout, Action::Start, &input, now)?;
    let lead_events = lead_events.into_iter().map(|event| EventDraft::rollout(&id, event, now)).collect();
    let rollout = Rollout {
        deployment_id: id,
        service: deployment.service.clone(),
        environment: deployment.environment.clone(),
        platform: plan.platform.clone(),
        plan,
        state: RolloutState::Running,
        progress: RolloutProgress::default(),
        previous: current_release,
        failure: None,
        actor,
        owner,
        lease: 0,
        heartbeat_at: now,
        started_at: now,
        updated_at: now,
        finished_at: None,
    };
    Ok(RolloutBegun { lead_events, start, rollout })
}

/// One atomic change to a rollout; unset fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct RolloutUpdate {
    /// New progress.
    pub progress: Option<RolloutProgress>,
    /// New state (a final state also sets `finished_at`).
    pub state: Option<RolloutState>,
    /// Why it failed.
    pub failure: Option<RolloutFailure>,
    /// Rollout events appended before the lifecycle action (what led to it).
    pub lead_events: Vec<NewEvent>,
    /// A lifecycle action applied to the deployment in the same transaction.
    pub action: Option<(Action, ActionInput)>,
    /// Rollout events appended after the action.
    pub events: Vec<NewEvent>,
    /// A release that becomes the target's current one (the current one is retired).
    pub activate: Option<Release>,
    /// Hands the rollout to another engine process (its `lease` grows by one)…
    pub owner: Option<String>,
    /// …only if it still belongs to this one (compare-and-set); `rollout_conflict` otherwise.
    pub expect_owner: Option<String>,
    /// The fencing token the writer holds: the change is refused (`rollout_conflict`) unless it is
    /// still the rollout's `lease`.
    pub fence: Option<u64>,
    /// A new restore point: the release a rollback of this rollout brings back.
    pub previous: Option<Release>,
    /// With `activate`: how many releases of the target the history keeps (older ones are
    /// dropped); all when unset.
    pub keep_releases: Option<u32>,
    /// New instances of this rollout's release while it is the target's current one (it was
    /// brought back after the engine restarted).
    pub serving_instances: Option<Vec<crate::platform::Instance>>,
}

impl RolloutUpdate {
    /// Whether [`decide_rollout_update`] needs the deployment row (the update applies an action).
    pub fn needs_deployment(&self) -> bool {
        self.action.is_some()
    }

    /// Whether [`decide_rollout_update`] needs to know which rollout is active on the target
    /// (the update makes an inactive rollout active again).
    pub fn needs_active_on_target(&self, current: &Rollout) -> bool {
        self.state.is_some_and(RolloutState::is_active) && !current.state.is_active()
    }

    /// Whether it changes nothing but the heartbeat (then `updated_at` stays).
    pub fn is_heartbeat(&self) -> bool {
        self.progress.is_none()
            && self.state.is_none()
            && self.failure.is_none()
            && self.lead_events.is_empty()
            && self.action.is_none()
            && self.events.is_empty()
            && self.activate.is_none()
            && self.owner.is_none()
            && self.previous.is_none()
            && self.serving_instances.is_none()
    }
}

/// A rollout change as a store persists it, in this order: every event of `events` at the head
/// of the chain, the deployment row (when an action was applied), the rollout row, and the
/// activated release (retiring the current one).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutChanged {
    /// The rollout row after the change.
    pub rollout: Rollout,
    /// How many releases of the target to keep after activating one (all when `None`).
    pub keep_releases: Option<u32>,
    /// New instances of the rollout's release, when it is the target's current one.
    pub serving_instances: Option<Vec<crate::platform::Instance>>,
    /// The deployment row after the action, if one was applied.
    pub deployment: Option<Deployment>,
    /// Events to append, in order: the lead events, the action's, the others.
    pub events: Vec<EventDraft>,
    /// The release that becomes current (its `activated_at` is the change's time).
    pub activate: Option<Release>,
}

/// Changes `current`. `deployment` is its deployment row (needed when the update applies an
/// action, see [`RolloutUpdate::needs_deployment`]); `active_on_target` is the deployment whose
/// rollout is active on the same target (needed when the update reactivates the rollout).
/// Checks, in order: the owner compare-and-set and the one-active-rollout rule
/// (`rollout_conflict`), then the action's own rules.
pub fn decide_rollout_update(
    current: Rollout,
    deployment: Option<&Deployment>,
    active_on_target: Option<String>,
    update: RolloutUpdate,
    now: Timestamp,
) -> Result<RolloutChanged> {
    let conflict = |rollout: &Rollout, active: String| Error::RolloutConflict {
        service: rollout.service.clone(),
        environment: rollout.environment.clone(),
        active,
    };
    let stale_fence = update.fence.is_some_and(|fence| fence != current.lease);
    let stale_owner = update.expect_owner.as_ref().is_some_and(|expected| *expected != current.owner);
    if stale_fence || stale_owner {
        return Err(conflict(&current, current.deployment_id.clone()));
    }
    if update.needs_active_on_target(&current)
        && let Some(active) = active_on_target
    {
        return Err(conflict(&current, active));
    }
    let mut rollout = current;
    if update.is_heartbeat() {
        rollout.heartbeat_at = now;
        return Ok(RolloutChanged {
            rollout,
            deployment: None,
            events: Vec::new(),
            activate: None,
            keep_releases: None,
            serving_instances: None,
        });
    }
    let id = rollout.deployment_id.clone();
    let mut events: Vec<EventDraft> =
        update.lead_events.into_iter().map(|e| EventDraft::rollout(&id, e, now)).collect();
    let mut changed_deployment = None;
    if let Some((action, input)) = &update.action {
        let Some(deployment) = deployment else {
            return Err(Error::storage(format!("the store did not read deployment '{id}' for its rollout's action")));
        };
        let change = decide_action(deployment, Some(rollout.state), Origin::Rollout, *action, input, now)?;
        events.push(change.event);
        changed_deployment = Some(change.deployment);
    }
    events.extend(update.events.into_iter().map(|e| EventDraft::rollout(&id, e, now)));
    if let Some(progress) = update.progress {
        rollout.progress = progress;
    }
    if let Some(state) = update.state {
        rollout.state = state;
        if !state.is_active() {
            rollout.finished_at = Some(now);
        }
    }
    if let Some(failure) = update.failure {
        rollout.failure = Some(failure);
    }
    if let Some(previous) = update.previous {
        rollout.previous = Some(previous);
    }
    if let Some(owner) = update.owner
        && owner != rollout.owner
    {
        rollout.owner = owner;
        rollout.lease += 1;
    }
    rollout.updated_at = now;
    rollout.heartbeat_at = now;
    let activate = update.activate.map(|release| Release { activated_at: now, retired_at: None, ..release });
    let keep_releases = update.keep_releases.filter(|_| activate.is_some());
    let serving_instances = update.serving_instances;
    Ok(RolloutChanged { rollout, deployment: changed_deployment, events, activate, keep_releases, serving_instances })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::FailureCode;

    fn rollout(state: RolloutState, owner: &str) -> Rollout {
        let now = Timestamp::now();
        let plan =
            RolloutPlan::from_json(r#"{"platform": "sim", "strategy": {"type": "immediate"}, "release": {}}"#).unwrap();
        Rollout {
            deployment_id: "dep_1".into(),
            service: "api".into(),
            environment: "dev".into(),
            platform: "sim".into(),
            plan,
            state,
            progress: RolloutProgress::default(),
            previous: None,
            failure: None,
            actor: "ops".into(),
            owner: owner.into(),
            lease: 3,
            heartbeat_at: now,
            started_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    #[test]
    fn only_the_owner_it_expects_may_hand_a_rollout_over() {
        let update = |expect: &str| RolloutUpdate {
            owner: Some("b".into()),
            expect_owner: Some(expect.into()),
            ..RolloutUpdate::default()
        };
        let now = Timestamp::now();
        let err = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, update("x"), now).unwrap_err();
        assert_eq!(err.code(), "rollout_conflict");
        let changed = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, update("a"), now).unwrap();
        assert_eq!((changed.rollout.owner.as_str(), changed.rollout.heartbeat_at), ("b", now));
        assert_eq!(changed.rollout.lease, 4, "a new owner holds a new fencing token");
    }

    #[test]
    fn a_write_with_a_stale_fencing_token_is_refused() {
        let now = Timestamp::now();
        let write = |fence| RolloutUpdate { fence: Some(fence), ..RolloutUpdate::default() };
        let err = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, write(2), now).unwrap_err();
        assert_eq!(err.code(), "rollout_conflict");
        let changed = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, write(3), now).unwrap();
        assert_eq!((changed.rollout.lease, changed.rollout.heartbeat_at), (3, now), "a heartbeat keeps the token");
        let same = RolloutUpdate { owner: Some("a".into()), ..RolloutUpdate::default() };
        let changed = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, same, now).unwrap();
        assert_eq!(changed.rollout.lease, 3, "the same owner again is no hand-over");
    }

    #[test]
    fn reactivating_needs_a_free_target_and_a_final_state_sets_finished_at() {
        let now = Timestamp::now();
        let revive = RolloutUpdate { state: Some(RolloutState::Running), ..RolloutUpdate::default() };
        let finished = rollout(RolloutState::RolledBack, "a");
        assert!(revive.needs_active_on_target(&finished));
        let err = decide_rollout_update(finished.clone(), None, Some("dep_2".into()), revive.clone(), now);
        assert_eq!(err.unwrap_err().code(), "rollout_conflict");
        assert!(decide_rollout_update(finished, None, None, revive, now).is_ok());
        let fail = RolloutUpdate {
            state: Some(RolloutState::RolledBack),
            failure: Some(RolloutFailure { code: FailureCode::StepFailed, message: "m".into(), step: Some(1) }),
            ..RolloutUpdate::default()
        };
        let changed = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, fail, now).unwrap();
        assert_eq!((changed.rollout.state, changed.rollout.finished_at), (RolloutState::RolledBack, Some(now)));
    }

    #[test]
    fn an_action_without_its_deployment_row_is_a_storage_error() {
        let update =
            RolloutUpdate { action: Some((Action::Succeed, ActionInput::new("loco"))), ..RolloutUpdate::default() };
        assert!(update.needs_deployment());
        let err = decide_rollout_update(rollout(RolloutState::Running, "a"), None, None, update, Timestamp::now());
        assert_eq!(err.unwrap_err().code(), "storage_error");
    }
}
