//! The rules every store applies inside its write transaction, decided here once so no backend
//! can disagree: a backend reads the facts a rule names, asks the rule, and persists exactly the
//! change it returns — rows and events together, or nothing.
//!
//! | write | rule | refuses with |
//! |---|---|---|
//! | create | [`decide_create`] (the row and event: [`creation`]) | `idempotency_conflict` |
//! | lifecycle action | [`decide_action`] | `rollout_in_progress`, `invalid_transition`, `self_approval` |
//! | begin a rollout | [`decide_begin_rollout`] | `invalid_transition`, `rollout_conflict`, `validation_error` (version already serving) |
//! | change a rollout | [`decide_rollout_update`] | `rollout_conflict` (owner compare-and-set, one active rollout per target) |
//! | record an event | [`decide_record`] | `validation_error` (a lifecycle kind) |

use crate::audit::sha256_hex;
use crate::error::{Error, Result};
use crate::event_data::{CreatedData, EventData};
use crate::lifecycle::{self, Action, ActionInput, Status};
use crate::model::{Deployment, EventKind, NewDeployment, Timestamp, new_deployment_id};
use crate::rollout::RolloutState;

mod rollout;

pub use rollout::{
    BeginRollout, RolloutBegun, RolloutChanged, RolloutUpdate, decide_begin_rollout, decide_rollout_update,
};

/// A rollout event to append with a rollout change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Who or what caused it.
    pub actor: String,
    /// The request it was done for, when known where the event is made (a store otherwise
    /// records the request its write runs for, see `loco_store::context`).
    pub request_id: Option<String>,
    /// A one-line summary.
    pub note: Option<String>,
    /// The structured facts; they also decide the event's kind.
    pub data: EventData,
}

impl NewEvent {
    /// An event of the kind `data` belongs to.
    pub fn new(actor: impl Into<String>, note: impl Into<String>, data: EventData) -> Self {
        Self { actor: actor.into(), request_id: None, note: Some(note.into()), data }
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
    /// The request it was done for.
    pub request_id: Option<String>,
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
    /// Records, on a `created` event, the version of the service's manifest whose pipeline
    /// ordered the create (see [`CreatedData::manifest_version`](crate::event_data::CreatedData)).
    pub fn record_manifest_version(&mut self, version: u32) {
        if self.kind == EventKind::Created
            && let Some(serde_json::Value::Object(data)) = &mut self.data
        {
            data.insert("manifest_version".to_owned(), version.into());
        }
    }
}

/// An event placed at the head of the audit chain: the event with its `seq`, `id` and `hash`, and
/// the canonical text of its data, which is what a store writes (the hash covers exactly it).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEvent {
    /// The event, hash included.
    pub event: crate::model::Event,
    /// `canonical_data` of its data, to store byte for byte.
    pub data_text: Option<String>,
}

impl EventDraft {
    /// This draft as the event after the chain head `prev_hash`, numbered `seq`: every store
    /// numbers, identifies and hashes its events here, the same way.
    pub fn chain(self, seq: i64, prev_hash: &str) -> ChainedEvent {
        let mut event = crate::model::Event {
            seq,
            id: crate::model::new_event_id(),
            deployment_id: self.deployment_id,
            kind: self.kind,
            actor: self.actor,
            request_id: self.request_id,
            note: self.note,
            from_status: self.from_status,
            to_status: self.to_status,
            at: self.at,
            hash: String::new(),
            data: self.data,
        };
        let data_text = event.data.as_ref().map(crate::audit::canonical_data);
        event.hash = crate::audit::event_hash(prev_hash, &event, data_text.as_deref());
        ChainedEvent { event, data_text }
    }

    pub(crate) fn rollout(deployment_id: &str, event: NewEvent, at: Timestamp) -> Self {
        Self {
            deployment_id: deployment_id.to_owned(),
            kind: event.data.kind(),
            actor: event.actor,
            request_id: event.request_id,
            note: event.note,
            from_status: None,
            to_status: None,
            at,
            data: Some(event.data.to_value()),
        }
    }
}

/// An event that changes nothing but the history of `deployment` (a refused validation): only
/// the non-lifecycle kinds may be recorded this way, so no status moves without its action.
pub fn decide_record(deployment: &Deployment, event: NewEvent, now: Timestamp) -> Result<EventDraft> {
    let kind = event.data.kind();
    if kind.is_lifecycle() {
        return Err(Error::invalid("kind", format!("a {kind} event is written by its lifecycle action only")));
    }
    Ok(EventDraft::rollout(&deployment.id, event, now))
}

/// A deployment row to write and the one lifecycle event that records the change.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentChange {
    /// The row as it is after the change.
    pub deployment: Deployment,
    /// The event.
    pub event: EventDraft,
}

/// A lifecycle action a store applied: the deployment after it, and the status it left with the
/// time it had entered it (the row's previous `updated_at`), so a caller can time a stage without
/// reading the history back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The row after the action.
    pub deployment: Deployment,
    /// The status before it.
    pub from: Status,
    /// When the deployment entered `from`.
    pub since: Timestamp,
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
/// request, `idempotency_conflict` when it came from another; else a replay of `open_commit`
/// (the open deployment of the same service, environment, version and commit, see
/// [`commit_target`]) when there is one; otherwise a new deployment in `pending_approval` with
/// its `created` event.
pub fn decide_create(
    new: NewDeployment,
    idempotency_key: Option<String>,
    existing: Option<KeyedDeployment>,
    open_commit: Option<Deployment>,
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
    if let Some(open) = open_commit {
        return Ok(CreateDecision::Replay(open));
    }
    let change = creation(new_deployment_id(), new, now);
    Ok(CreateDecision::Insert { change, idempotency_key, request_hash: hash })
}

/// The statuses in which a deployment is open: creating the same service, environment, version
/// and commit again returns it. Once it is rejected, succeeded, failed or rolled back, the same
/// commit may be deployed anew.
pub const OPEN_STATUSES: [Status; 3] = [Status::PendingApproval, Status::Approved, Status::Started];

/// What a store looks up before a create: `(service, environment, version, commit)` when `new`
/// names a commit, the key of [`OPEN_STATUSES`] deployments it replays.
pub fn commit_target(new: &NewDeployment) -> Option<(&str, &str, &str, &str)> {
    new.commit.as_deref().map(|commit| (new.service.as_str(), new.environment.as_str(), new.version.as_str(), commit))
}

/// The deployment `new` creates as `id` at `at`, in `pending_approval`, and its `created` event,
/// which carries the whole request as its data so the audit chain covers every field the
/// deployment starts with. [`decide_create`] writes it; verifying the audit replays it.
pub fn creation(id: String, new: NewDeployment, at: Timestamp) -> DeploymentChange {
    let event = EventDraft {
        deployment_id: id.clone(),
        kind: EventKind::Created,
        actor: new.requester.clone(),
        request_id: None,
        note: None,
        from_status: None,
        to_status: Some(Status::PendingApproval),
        at,
        data: Some(EventData::Created(CreatedData::from(new.clone())).to_value()),
    };
    let deployment = Deployment {
        id,
        service: new.service,
        environment: new.environment,
        version: new.version,
        requester: new.requester,
        work_refs: new.work_refs,
        rollback_plan: new.rollback_plan,
        risk: new.risk,
        commit: new.commit,
        status: Status::PendingApproval,
        reviewed_by: None,
        reviewed_at: None,
        created_at: at,
        updated_at: at,
    };
    DeploymentChange { deployment, event }
}

/// Revoking `token` at `now`: revoking twice keeps the first time.
pub fn decide_revoke(mut token: crate::identity::Token, now: Timestamp) -> crate::identity::Token {
    token.revoked_at.get_or_insert(now);
    token
}

/// `spec` with every secret value passed through `reseal` (a key rotation); returns how many
/// values it changed.
pub fn reseal_spec(spec: &mut crate::plan::ReleaseSpec, reseal: &dyn Fn(&str) -> Result<String>) -> Result<u64> {
    let mut changed = 0;
    for value in spec.secret_env.values_mut() {
        let resealed = reseal(value)?;
        if resealed != *value {
            *value = resealed;
            changed += 1;
        }
    }
    Ok(changed)
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
        request_id: None,
        note: input.note.clone(),
        from_status: Some(transition.from),
        to_status: Some(transition.to),
        at: now,
        data: None,
    };
    Ok(DeploymentChange { deployment, event })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::RolloutState;

    fn new(service: &str) -> NewDeployment {
        NewDeployment {
            service: service.into(),
            environment: "dev".into(),
            version: "1".into(),
            requester: "alice".into(),
            work_refs: vec!["W-1".into()],
            rollback_plan: "redo".into(),
            risk: None,
            commit: None,
        }
    }

    fn inserted(decision: CreateDecision) -> DeploymentChange {
        match decision {
            CreateDecision::Insert { change, .. } => change,
            CreateDecision::Replay(d) => panic!("expected an insert, got a replay of {}", d.id),
        }
    }

    #[test]
    fn a_key_replays_the_same_request_and_refuses_another() {
        let now = Timestamp::now();
        let first = inserted(decide_create(new("api"), Some("k".into()), None, None, now).unwrap());
        assert_eq!((first.event.kind, first.event.to_status), (EventKind::Created, Some(Status::PendingApproval)));
        let keyed = |request: &NewDeployment| KeyedDeployment {
            deployment: first.deployment.clone(),
            request_hash: Some(request_hash(request)),
        };
        let replay = decide_create(new("api"), Some("k".into()), Some(keyed(&new("api"))), None, now).unwrap();
        assert_eq!(replay, CreateDecision::Replay(first.deployment.clone()));
        let conflict = decide_create(new("web"), Some("k".into()), Some(keyed(&new("api"))), None, now).unwrap_err();
        assert_eq!(conflict.code(), "idempotency_conflict");
    }

    #[test]
    fn the_created_event_carries_the_whole_request() {
        let now = Timestamp::now();
        let mut request = new("api");
        request.risk = Some("schema change".into());
        let change = inserted(decide_create(request.clone(), None, None, None, now).unwrap());
        let data = EventData::parse(EventKind::Created, change.event.data.as_ref().unwrap()).unwrap();
        assert_eq!(data, Some(EventData::Created(CreatedData::from(request))));
        assert_eq!((change.event.actor.as_str(), change.event.at), ("alice", now));
        assert_eq!((change.deployment.created_at, change.deployment.updated_at), (now, now));
    }

    #[test]
    fn a_caller_is_refused_while_the_rollout_is_active_but_the_rollout_is_not() {
        let now = Timestamp::now();
        let mut d = inserted(decide_create(new("api"), None, None, None, now).unwrap()).deployment;
        d.status = Status::Started;
        let input = ActionInput::new("bob").with_note("done");
        for state in RolloutState::ALL {
            let by_caller = decide_action(&d, Some(state), Origin::Caller, Action::Succeed, &input, now);
            assert_eq!(by_caller.is_err(), state.is_active(), "{state}");
            let by_rollout = decide_action(&d, Some(state), Origin::Rollout, Action::Succeed, &input, now).unwrap();
            assert_eq!(by_rollout.deployment.status, Status::Succeeded);
        }
        // The rollout rule comes first: an impossible action is still `rollout_in_progress`.
        let err = decide_action(&d, Some(RolloutState::Running), Origin::Caller, Action::Approve, &input, now);
        assert_eq!(err.unwrap_err().code(), "rollout_in_progress");
    }

    #[test]
    fn a_review_records_the_reviewer_and_time() {
        let now = Timestamp::now();
        let d = inserted(decide_create(new("api"), None, None, None, now).unwrap()).deployment;
        let change = decide_action(&d, None, Origin::Caller, Action::Approve, &ActionInput::new("bob"), now).unwrap();
        assert_eq!(change.deployment.reviewed_by.as_deref(), Some("bob"));
        assert_eq!((change.deployment.reviewed_at, change.deployment.updated_at), (Some(now), now));
        assert_eq!((change.event.from_status, change.event.actor.as_str()), (Some(Status::PendingApproval), "bob"));
    }
}
