//! The rules every store applies inside its write transaction, decided here once so no backend
//! can disagree: a backend reads the facts a rule names, asks the rule, and persists exactly the
//! change it returns — rows and events together, or nothing.
//!
//! | write | rule | refuses with |
//! |---|---|---|
//! | create | [`decide_create`] | `idempotency_conflict` |
//! | lifecycle action | [`decide_action`] | `rollout_in_progress`, `invalid_transition`, `self_approval` |
//! | begin a rollout | [`decide_begin_rollout`] | `invalid_transition`, `rollout_conflict`, `validation_error` (version already serving) |
//! | change a rollout | [`decide_rollout_update`] | `rollout_conflict` (owner compare-and-set, one active rollout per target) |

use crate::audit::sha256_hex;
use crate::error::{Error, Result};
use crate::event_data::EventData;
use crate::lifecycle::{self, Action, ActionInput, Status};
use crate::model::{Deployment, EventKind, NewDeployment, Timestamp, new_deployment_id};
use crate::plan::RolloutPlan;
use crate::rollout::{Release, Rollout, RolloutFailure, RolloutProgress, RolloutState};

/// A rollout event to append with a rollout change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Who or what caused it.
    pub actor: String,
    /// A one-line summary.
    pub note: Option<String>,
    /// The structured facts; they also decide the event's kind.
    pub data: EventData,
}

impl NewEvent {
    /// An event of the kind `data` belongs to.
    pub fn new(actor: impl Into<String>, note: impl Into<String>, data: EventData) -> Self {
        Self { actor: actor.into(), note: Some(note.into()), data }
    }
}

/// An event as a store appends it at the head of its chain (the store assigns `seq`, `id` and
/// `hash`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// The deployment it belongs to.
    pub deployment_id: String,
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub actor: String,
    /// Why, if given.
    pub note: Option<String>,
    /// Status before (lifecycle events other than `created`).
    pub from_status: Option<Status>,
    /// Status after (lifecycle events).
    pub to_status: Option<Status>,
    /// When.
    pub at: Timestamp,
    /// Rollout facts.
    pub data: Option<serde_json::Value>,
}

impl EventDraft {
    fn rollout(deployment_id: &str, event: NewEvent, at: Timestamp) -> Self {
        Self {
            deployment_id: deployment_id.to_owned(),
            kind: event.data.kind(),
            actor: event.actor,
            note: event.note,
            from_status: None,
            to_status: None,
            at,
            data: Some(event.data.to_value()),
        }
    }
}

/// A deployment row to write and the one lifecycle event that records the change.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentChange {
    /// The row as it is after the change.
    pub deployment: Deployment,
    /// The event.
    pub event: EventDraft,
}

/// The outcome of a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new deployment, or the original one for a replayed idempotent request.
    pub deployment: Deployment,
    /// True when an idempotency key matched an earlier identical request.
    pub replayed: bool,
}

/// The deployment an idempotency key created earlier, with the hash of that request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedDeployment {
    /// The deployment as it is now.
    pub deployment: Deployment,
    /// [`request_hash`] of the request that created it.
    pub request_hash: Option<String>,
}

/// What a store does for a create.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateDecision {
    /// Write nothing; answer with the deployment the key created.
    Replay(Deployment),
    /// Insert the row (with the key and request hash, when given) and its `created` event.
    Insert {
        /// The row and event.
        change: DeploymentChange,
        /// The idempotency key to store with it.
        idempotency_key: Option<String>,
        /// The request's hash, stored with the key.
        request_hash: Option<String>,
    },
}

/// The hash that tells an idempotent replay (same request) from a conflict (another request).
pub fn request_hash(new: &NewDeployment) -> String {
    // A struct of strings always serializes.
    let bytes = serde_json::to_vec(new).unwrap_or_default();
    sha256_hex(&[&bytes])
}

/// A create: a replay when `existing` (the deployment the key created) came from the same
/// request, `idempotency_conflict` when it came from another, otherwise a new deployment in
/// `pending_approval` with its `created` event.
pub fn decide_create(
    new: NewDeployment,
    idempotency_key: Option<String>,
    existing: Option<KeyedDeployment>,
    now: Timestamp,
) -> Result<CreateDecision> {
    let hash = idempotency_key.as_ref().map(|_| request_hash(&new));
    if let (Some(key), Some(existing)) = (&idempotency_key, existing) {
        return if existing.request_hash == hash {
            Ok(CreateDecision::Replay(existing.deployment))
        } else {
            Err(Error::IdempotencyConflict { key: key.clone() })
        };
    }
    let deployment = Deployment {
        id: new_deployment_id(),
        service: new.service,
        environment: new.environment,
        version: new.version,
        requester: new.requester,
        work_refs: new.work_refs,
        rollback_plan: new.rollback_plan,
        risk: new.risk,
        status: Status::PendingApproval,
        reviewed_by: None,
        reviewed_at: None,
        created_at: now,
        updated_at: now,
    };
    let event = EventDraft {
        deployment_id: deployment.id.clone(),
        kind: EventKind::Created,
        actor: deployment.requester.clone(),
        note: None,
        from_status: None,
        to_status: Some(Status::PendingApproval),
        at: now,
        data: None,
    };
    Ok(CreateDecision::Insert { change: DeploymentChange { deployment, event }, idempotency_key, request_hash: hash })
}

/// Who asks for a lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A person or program through the engine: refused while the deployment's rollout is active
    /// (the orchestrator alone moves it then).
    Caller,
    /// The orchestrator, as part of a rollout change.
    Rollout,
}

/// A lifecycle action on `current`, whose rollout (if any) is in `rollout_state`: the row after
/// it and its event. Checks, in order: a caller's action while the rollout is active
/// (`rollout_in_progress`), the transition table (`invalid_transition`), self-review
/// (`self_approval`).
pub fn decide_action(
    current: &Deployment,
    rollout_state: Option<RolloutState>,
    origin: Origin,
    action: Action,
    input: &ActionInput,
    now: Timestamp,
) -> Result<DeploymentChange> {
    if origin == Origin::Caller && rollout_state.is_some_and(RolloutState::is_active) {
        return Err(Error::RolloutInProgress { id: current.id.clone() });
    }
    let transition = lifecycle::transition(&current.id, current.status, &current.requester, action, &input.actor)?;
    let mut deployment = current.clone();
    deployment.status = transition.to;
    deployment.updated_at = now;
    if transition.is_review {
        deployment.reviewed_by = Some(input.actor.clone());
        deployment.reviewed_at = Some(now);
    }
    let event = EventDraft {
        deployment_id: current.id.clone(),
        kind: action.into(),
        actor: input.actor.clone(),
        note: input.note.clone(),
        from_status: Some(transition.from),
        to_status: Some(transition.to),
        at: now,
        data: None,
    };
    Ok(DeploymentChange { deployment, event })
}

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
}

/// A rollout begun: the deployment's `start` and the new rollout record.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutBegun {
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
    let BeginRollout { deployment_id: id, mut plan, actor, owner } = begin;
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
        heartbeat_at: now,
        started_at: now,
        updated_at: now,
        finished_at: None,
    };
    Ok(RolloutBegun { start, rollout })
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
    /// Hands the rollout to another engine process…
    pub owner: Option<String>,
    /// …only if it still belongs to this one (compare-and-set); `rollout_conflict` otherwise.
    pub expect_owner: Option<String>,
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
}

/// A rollout change as a store persists it, in this order: every event of `events` at the head
/// of the chain, the deployment row (when an action was applied), the rollout row, and the
/// activated release (retiring the current one).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutChanged {
    /// The rollout row after the change.
    pub rollout: Rollout,
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
    if let Some(expected) = &update.expect_owner
        && &current.owner != expected
    {
        return Err(conflict(&current, current.deployment_id.clone()));
    }
    if update.needs_active_on_target(&current)
        && let Some(active) = active_on_target
    {
        return Err(conflict(&current, active));
    }
    let mut rollout = current;
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
    if let Some(owner) = update.owner {
        rollout.owner = owner;
    }
    rollout.updated_at = now;
    rollout.heartbeat_at = now;
    let activate = update.activate.map(|release| Release { activated_at: now, retired_at: None, ..release });
    Ok(RolloutChanged { rollout, deployment: changed_deployment, events, activate })
}
