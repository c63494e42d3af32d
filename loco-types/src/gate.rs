//! Approval gates: how many reviewers an environment's deployments need before they may start.
//! Without a gate an environment keeps the single review of the lifecycle (one approver, never
//! the requester). A gate asks for `required_approvals` distinct reviewers (optionally only the
//! named `approvers` and the members of the named [`ReviewerGroup`]s), may let approvals expire, and may hold the start back for `wait_minutes`
//! after the last approval.
//!
//! Every approval but the last is recorded as an `approval_granted` event (its actor, note and
//! time; the deployment stays `pending_approval`); the approval that completes the count is the
//! `approved` transition. The count is taken inside the write transaction that records the
//! approval, so two reviewers approving at once cannot both be "the first" and leave the
//! deployment one short. One rejection by any reviewer (a named approver, when the gate names
//! them) rejects the deployment.
//!
//! ```
//! use loco_types::gate::{ApprovalGate, Approval, count_valid};
//! use loco_types::model::Timestamp;
//! let gate = ApprovalGate::from_json(r#"{"environment": "production", "required_approvals": 2,
//!     "expires_after_minutes": 60}"#).unwrap();
//! let at = |t: &str| Timestamp::parse(t).unwrap();
//! let approvals = vec![Approval { actor: "bob".into(), at: at("2026-12-02T10:00:00Z"), note: None }];
//! assert_eq!(count_valid(&gate, &approvals, at("2026-12-02T10:59:00Z")).len(), 1);
//! assert_eq!(count_valid(&gate, &approvals, at("2026-12-02T11:00:00Z")).len(), 0, "expired after an hour");
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::event_data::{ApprovalGrantedData, EventData, PolicyOverrideData};
use crate::lifecycle::{self, Action, ActionInput, NAME_MAX_CHARS, Status};
use crate::model::{Deployment, Event, EventKind, Timestamp};
use crate::rules::{DeploymentChange, EventDraft, NewEvent, Origin};

/// The rule name of a refusal by a gate (`details[0].field`, the `rule` fact): an approver not
/// named by the gate, or a second approval by the same reviewer.
pub const RULE: &str = "approval_gate";
/// The rule name of a start refused because the gate's wait timer has not run out.
pub const WAIT_RULE: &str = "wait_timer";
/// Most approvals a gate may require.
pub const MAX_REQUIRED: u32 = 10;
/// Most approvers a gate may name.
pub const MAX_APPROVERS: usize = 100;
/// Longest expiry and wait: 30 days, in minutes.
pub const MAX_MINUTES: u32 = 30 * 24 * 60;

/// The review an environment's deployments need before they may start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalGate {
    /// The environment it guards (compared case-insensitively). One gate per environment and
    /// service (`service`, or none): setting a gate where one is replaces it.
    pub environment: String,
    /// The one service whose deployments it guards (compared exactly, as services are); absent:
    /// every service of the environment that has no gate of its own. A service's own gate takes
    /// precedence over the environment's, so two services' manifests can each gate `production`
    /// their own way.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub service: Option<String>,
    /// How many distinct reviewers must approve, 1 to 10 (never the requester).
    pub required_approvals: u32,
    /// Who may approve or reject (compared ignoring case and surrounding space); empty, and no
    /// `groups` either: anyone holding the approver role.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Reviewer groups whose members may approve or reject too (each must exist when the gate is
    /// set; see [`ReviewerGroup`]). Membership is read when a review is recorded and when
    /// approvals are counted, so an approval by someone since removed from the group no longer
    /// counts. A gate naming groups admits only their members and `approvers`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The members of `groups`, as the store read them with the gate (never stored or sent).
    #[serde(skip)]
    #[schemars(skip)]
    pub members: Vec<String>,
    /// Minutes after which an approval no longer counts towards a deployment still waiting for
    /// more, 1 to 43200 (30 days); absent: approvals do not expire.
    #[serde(default)]
    pub expires_after_minutes: Option<u32>,
    /// Minutes a deployment must wait after its last approval before it may start, 1 to 43200;
    /// absent: it may start at once.
    #[serde(default)]
    pub wait_minutes: Option<u32>,
}

/// Most reviewer groups a gate may name.
pub const MAX_GROUPS: usize = 20;

/// A named set of reviewers, set by an admin, that approval gates admit by name (`groups`): a
/// team whose members change without touching every gate that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewerGroup {
    /// Its name: 1-256 letters, digits, `-`, `_` or `.` (compared case-insensitively).
    pub name: String,
    /// Who belongs to it (compared ignoring case and surrounding space), at most 100; empty: nobody,
    /// so a gate naming it admits only its other reviewers.
    #[serde(default)]
    pub members: Vec<String>,
}

impl ReviewerGroup {
    /// A group from its JSON document; unknown fields are refused, and the group is checked.
    pub fn from_json(text: &str) -> Result<Self> {
        let group: ReviewerGroup = serde_json::from_str(text).map_err(|e| Error::invalid("group", e.to_string()))?;
        group.validate()?;
        Ok(group)
    }

    /// Checks every field, naming each bad one.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        if !is_group_name(&self.name) {
            details.push(FieldError::new("name", "must be 1-256 letters, digits, '-', '_' or '.'"));
        }
        details.extend(people("members", &self.members));
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }
}

/// The key a store keeps reviewer group `name` under: one group per name, whatever the case.
pub fn group_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= NAME_MAX_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Refuses `gate` when it names a group that is not among `groups` (all there are), naming it
/// (`groups[i]`).
pub fn check_groups(gate: &ApprovalGate, groups: &[ReviewerGroup]) -> Result<()> {
    let details: Vec<FieldError> = gate
        .groups
        .iter()
        .enumerate()
        .filter(|(_, name)| !groups.iter().any(|g| group_key(&g.name) == group_key(name)))
        .map(|(i, name)| {
            FieldError::new(format!("groups[{i}]"), format!("names reviewer group '{name}', which does not exist"))
        })
        .collect();
    if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
}

/// Refuses removing reviewer group `name` while one of `gates` names it (its members would stop
/// counting, silently, everywhere it is named).
pub fn check_unused(name: &str, gates: &[ApprovalGate]) -> Result<()> {
    let naming: Vec<String> = gates
        .iter()
        .filter(|g| g.groups.iter().any(|n| group_key(n) == group_key(name)))
        .map(ApprovalGate::place)
        .collect();
    if naming.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "name",
        format!("reviewer group '{name}' is named by the gate of {}; take it out of the gate first", naming.join(", ")),
    ))
}

/// The problems of a list of people named `field`: at most 100, each 1-256 characters, not blank,
/// none twice.
fn people(field: &str, names: &[String]) -> Vec<FieldError> {
    let mut details = Vec::new();
    if names.len() > MAX_APPROVERS {
        details.push(FieldError::new(field, format!("may name at most {MAX_APPROVERS} people")));
    }
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS {
            details.push(FieldError::new(format!("{field}[{i}]"), "must be 1-256 characters, not blank"));
        } else if names[..i].iter().any(|earlier| lifecycle::same_person(earlier, name)) {
            details.push(FieldError::new(format!("{field}[{i}]"), format!("names '{name}' twice")));
        }
    }
    details
}

/// One reviewer's approval of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Who approved.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// What they said, if anything.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub note: Option<String>,
}

/// Where a deployment stands with its environment's review: the pipeline view of one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStatus {
    /// The deployment.
    pub deployment_id: String,
    /// Its environment.
    pub environment: String,
    /// Its status.
    pub status: Status,
    /// How many approvals it needs (1 without a gate).
    pub required: u32,
    /// The approvals that count: while it is `pending_approval`, those not expired at the time
    /// asked about; afterwards, those that approved it.
    pub approvals: Vec<Approval>,
    /// Whether a rejection ended its review.
    pub rejected: bool,
    /// When it may start: its approval time plus the gate's wait (absent while it is not
    /// approved, or without a wait).
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub startable_at: Option<Timestamp>,
}

impl ApprovalGate {
    /// A gate from its JSON document; unknown fields are refused, and the gate is checked.
    pub fn from_json(text: &str) -> Result<Self> {
        let gate: ApprovalGate = serde_json::from_str(text).map_err(|e| Error::invalid("gate", e.to_string()))?;
        gate.validate()?;
        Ok(gate)
    }

    /// Checks every field, naming each bad one.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        if self.environment.trim().is_empty() || self.environment.chars().count() > NAME_MAX_CHARS {
            details.push(FieldError::new("environment", "must be 1-256 characters, not blank"));
        }
        if self.service.as_ref().is_some_and(|s| s.trim().is_empty() || s.chars().count() > NAME_MAX_CHARS) {
            details.push(FieldError::new("service", "must be 1-256 characters, not blank, when given"));
        }
        if !(1..=MAX_REQUIRED).contains(&self.required_approvals) {
            details.push(FieldError::new("required_approvals", "must be 1 to 10"));
        }
        details.extend(people("approvers", &self.approvers));
        if self.groups.len() > MAX_GROUPS {
            details.push(FieldError::new("groups", format!("may name at most {MAX_GROUPS} groups")));
        }
        for (i, group) in self.groups.iter().enumerate() {
            if !is_group_name(group) {
                details.push(FieldError::new(format!("groups[{i}]"), "must be 1-256 letters, digits, '-', '_' or '.'"));
            } else if self.groups[..i].iter().any(|earlier| group_key(earlier) == group_key(group)) {
                details.push(FieldError::new(format!("groups[{i}]"), format!("names '{group}' twice")));
            }
        }
        if !self.approvers.is_empty()
            && self.groups.is_empty()
            && (self.approvers.len() as u64) < u64::from(self.required_approvals)
        {
            details.push(FieldError::new(
                "approvers",
                format!(
                    "names {} approvers, fewer than the {} approvals required",
                    self.approvers.len(),
                    self.required_approvals
                ),
            ));
        }
        for (field, value) in
            [("expires_after_minutes", self.expires_after_minutes), ("wait_minutes", self.wait_minutes)]
        {
            if value.is_some_and(|minutes| !(1..=MAX_MINUTES).contains(&minutes)) {
                details.push(FieldError::new(field, "must be 1 to 43200 (30 days) when given"));
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// Whether this gate is set on `environment` (for any service, or for all).
    pub fn is_on(&self, environment: &str) -> bool {
        lifecycle::same_person(&self.environment, environment)
    }

    /// Whether this gate is the one set on `environment` for `service` (`None`: the
    /// environment-wide gate): the same store key.
    pub fn is_at(&self, environment: &str, service: Option<&str>) -> bool {
        self.is_on(environment) && self.service.as_deref() == service
    }

    /// Where it is set, for messages: `production` or `production (service web)`.
    pub fn place(&self) -> String {
        match &self.service {
            Some(service) => format!("{} (service {service})", self.environment),
            None => self.environment.clone(),
        }
    }

    /// Whether `actor` may review under this gate: anyone when it names neither approvers nor
    /// groups; otherwise its approvers and the members of its groups ([`with_members`](Self::with_members)
    /// read them; a gate without them read admits no group member).
    pub fn admits(&self, actor: &str) -> bool {
        (self.approvers.is_empty() && self.groups.is_empty())
            || self.approvers.iter().chain(&self.members).any(|a| lifecycle::same_person(a, actor))
    }

    /// This gate with the members of the groups it names, from `groups` (all there are, or at
    /// least those it names); a group it names that is not among them adds nobody.
    #[must_use]
    pub fn with_members(mut self, groups: &[ReviewerGroup]) -> Self {
        self.members = groups
            .iter()
            .filter(|g| self.groups.iter().any(|name| group_key(name) == group_key(&g.name)))
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        self
    }

    /// Who may review, for a refusal: the approvers, then the groups by name.
    fn reviewers(&self) -> String {
        let groups = self.groups.iter().map(|g| format!("group {g}"));
        self.approvers.iter().cloned().chain(groups).collect::<Vec<_>>().join(", ")
    }
}

/// The gate among `gates` that guards `service`'s deployments to `environment`: the service's
/// own gate there, else the environment's.
pub fn gate_for<'a>(gates: &'a [ApprovalGate], service: &str, environment: &str) -> Option<&'a ApprovalGate> {
    gates
        .iter()
        .find(|gate| gate.is_at(environment, Some(service)))
        .or_else(|| gates.iter().find(|gate| gate.is_at(environment, None)))
}

/// The approvals `events` (one deployment's, oldest first) record: each `approval_granted`
/// event, and the `approved` transition.
pub fn approvals(events: &[Event]) -> Vec<Approval> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ApprovalGranted | EventKind::Approved))
        .map(|e| Approval { actor: e.actor.clone(), at: e.at, note: e.note.clone() })
        .collect()
}

/// The approvals of `approvals` that count under `gate` at `now`: those not expired, the latest
/// one of each reviewer.
pub fn count_valid(gate: &ApprovalGate, approvals: &[Approval], now: Timestamp) -> Vec<Approval> {
    let mut valid: Vec<Approval> = Vec::new();
    for approval in approvals {
        let expired = gate
            .expires_after_minutes
            .is_some_and(|minutes| approval.at.after(std::time::Duration::from_secs(u64::from(minutes) * 60)) <= now);
        if expired || !gate.admits(&approval.actor) {
            continue;
        }
        valid.retain(|earlier| !lifecycle::same_person(&earlier.actor, &approval.actor));
        valid.push(approval.clone());
    }
    valid
}

/// The key a store keeps `environment`'s gates under: one per environment (and service),
/// whatever the environment's case.
pub fn key(environment: &str) -> String {
    environment.trim().to_lowercase()
}

/// The service column a store keeps a gate under: the service, or empty for an
/// environment-wide gate (no service name is empty).
pub fn service_key(service: Option<&str>) -> &str {
    service.unwrap_or("")
}

/// A lifecycle action under `gate`, the gate of `current`'s environment if it has one (a store
/// reads it, and the approvals recorded so far, `prior`, only for reviews): reviews go through
/// [`decide_review`], everything else through [`crate::rules::decide_action`].
pub fn decide(
    current: &Deployment,
    rollout_state: Option<crate::rollout::RolloutState>,
    gate: Option<&ApprovalGate>,
    prior: &[Approval],
    action: Action,
    input: &ActionInput,
    now: Timestamp,
) -> Result<ApprovalStep> {
    match gate {
        Some(gate) if action.is_review() => decide_review(current, gate, prior, action, input, now),
        _ => Ok(ApprovalStep::Transition(Box::new(crate::rules::decide_action(
            current,
            rollout_state,
            Origin::Caller,
            action,
            input,
            now,
        )?))),
    }
}

/// What recording an approval writes.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalStep {
    /// Not the last approval the gate needs: an `approval_granted` event; the deployment stays
    /// `pending_approval`.
    Granted(EventDraft),
    /// The lifecycle transition: the approval completing the count (`approved`), a rejection,
    /// or any other action.
    Transition(Box<DeploymentChange>),
}

/// An approval (or a rejection) of `current` by `input.actor` under `gate`, given the approvals
/// recorded so far (`prior`, oldest first) at `now`. Checks, in order: the lifecycle rules
/// ([`crate::rules::decide_action`]: status, self-review), that the gate admits the reviewer
/// (`policy_violation`, rule `approval_gate`), and that they have not already given an approval
/// that still counts (the same). A rejection is decided as without a gate once admitted.
pub fn decide_review(
    current: &Deployment,
    gate: &ApprovalGate,
    prior: &[Approval],
    action: Action,
    input: &ActionInput,
    now: Timestamp,
) -> Result<ApprovalStep> {
    let change = Box::new(crate::rules::decide_action(current, None, Origin::Caller, action, input, now)?);
    if !gate.admits(&input.actor) {
        return Err(refusal(
            gate,
            format!(
                "'{}' is not one of the approvers of environment '{}' ({})",
                input.actor,
                current.environment,
                gate.reviewers()
            ),
        ));
    }
    if action != Action::Approve {
        return Ok(ApprovalStep::Transition(change));
    }
    let valid = count_valid(gate, prior, now);
    if valid.iter().any(|a| lifecycle::same_person(&a.actor, &input.actor)) {
        return Err(refusal(
            gate,
            format!(
                "'{}' has already approved deployment '{}'; {} of {} approvals, another reviewer must approve",
                input.actor,
                current.id,
                valid.len(),
                gate.required_approvals
            ),
        ));
    }
    let approvals = valid.len() as u32 + 1;
    if approvals >= gate.required_approvals {
        return Ok(ApprovalStep::Transition(change));
    }
    let event = NewEvent {
        actor: input.actor.clone(),
        request_id: None,
        note: input.note.clone(),
        data: EventData::ApprovalGranted(ApprovalGrantedData { approvals, required: gate.required_approvals }),
    };
    Ok(ApprovalStep::Granted(EventDraft::rollout(&current.id, event, now)))
}

/// Where `deployment` (whose events are `events`) stands with `gate` (`None`: the single review)
/// at `now`.
pub fn status(
    deployment: &Deployment,
    gate: Option<&ApprovalGate>,
    events: &[Event],
    now: Timestamp,
) -> ApprovalStatus {
    let recorded = approvals(events);
    let single = ApprovalGate {
        environment: deployment.environment.clone(),
        service: None,
        required_approvals: 1,
        approvers: Vec::new(),
        groups: Vec::new(),
        members: Vec::new(),
        expires_after_minutes: None,
        wait_minutes: None,
    };
    let gate = gate.unwrap_or(&single);
    let (approvals, startable_at) = match (deployment.status, deployment.reviewed_at) {
        (Status::PendingApproval, _) => (count_valid(gate, &recorded, now), None),
        (Status::Rejected, _) => (Vec::new(), None),
        (_, Some(approved_at)) => {
            let counted = count_valid(gate, &recorded, approved_at);
            (counted, gate.wait_minutes.map(|minutes| wait_end(approved_at, minutes)))
        }
        (_, None) => (recorded, None),
    };
    ApprovalStatus {
        deployment_id: deployment.id.clone(),
        environment: deployment.environment.clone(),
        status: deployment.status,
        required: gate.required_approvals,
        approvals,
        rejected: deployment.status == Status::Rejected,
        startable_at,
    }
}

/// The refusal of a start of `deployment` (`approved`) before `gate`'s wait after its approval
/// has passed at `now`, or `None` when it may start.
pub fn wait_violation(deployment: &Deployment, gate: &ApprovalGate, now: Timestamp) -> Option<Error> {
    let (Some(minutes), Some(approved_at)) = (gate.wait_minutes, deployment.reviewed_at) else {
        return None;
    };
    let end = wait_end(approved_at, minutes);
    if now >= end {
        return None;
    }
    Some(Error::PolicyViolation {
        rule: WAIT_RULE.to_owned(),
        name: gate.environment.clone(),
        environment: deployment.environment.clone(),
        until: Some(end.to_string()),
        details: vec![FieldError::new(
            WAIT_RULE,
            format!(
                "deployment '{}' was approved at {approved_at}; environment '{}' waits {minutes} minutes after \
                 approval, so it may start at {end}",
                deployment.id, deployment.environment
            ),
        )],
    })
}

/// The refusal of a start of `deployment`, still `pending_approval`, whose gate has had
/// `approvals` of its `required`.
pub fn approval_required(deployment: &Deployment, approvals: u32, required: u32) -> Error {
    Error::ApprovalRequired {
        id: deployment.id.clone(),
        environment: deployment.environment.clone(),
        approvals,
        required,
        details: vec![FieldError::new(
            "approvals",
            format!("{approvals} of the {required} approvals environment '{}' requires", deployment.environment),
        )],
    }
}

/// The `policy_override` event an admin's start of `deployment` inside `gate`'s wait writes just
/// before `started` (`None` when it has no wait running from an approval).
pub fn override_event(deployment: &Deployment, gate: &ApprovalGate, actor: &str, reason: &str) -> Option<NewEvent> {
    let (Some(minutes), Some(approved_at)) = (gate.wait_minutes, deployment.reviewed_at) else {
        return None;
    };
    Some(NewEvent::new(
        actor,
        reason,
        EventData::PolicyOverride(PolicyOverrideData {
            rule: WAIT_RULE.to_owned(),
            name: gate.environment.clone(),
            environment: deployment.environment.clone(),
            start: approved_at,
            end: wait_end(approved_at, minutes),
        }),
    ))
}

fn wait_end(approved_at: Timestamp, minutes: u32) -> Timestamp {
    approved_at.after(std::time::Duration::from_secs(u64::from(minutes) * 60))
}

fn refusal(gate: &ApprovalGate, message: String) -> Error {
    Error::PolicyViolation {
        rule: RULE.to_owned(),
        name: gate.environment.clone(),
        environment: gate.environment.clone(),
        until: None,
        details: vec![FieldError::new(RULE, message)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn pending() -> Deployment {
        let created = at("2026-12-02T10:00:00Z");
        Deployment {
            id: "dep_1".into(),
            service: "web".into(),
            environment: "production".into(),
            version: "1.0.0".into(),
            requester: "alice".into(),
            work_refs: vec!["W-1".into()],
            rollback_plan: "redeploy".into(),
            risk: None,
            commit: None,
            status: Status::PendingApproval,
            reviewed_by: None,
            reviewed_at: None,
            created_at: created,
            updated_at: created,
        }
    }

    fn gate(json: &str) -> ApprovalGate {
        ApprovalGate::from_json(json).unwrap()
    }

    fn review(actor: &str) -> ActionInput {
        ActionInput { actor: actor.into(), note: Some("ok".into()), override_reason: None }
    }

    fn approval(actor: &str, time: &str) -> Approval {
        Approval { actor: actor.into(), at: at(time), note: None }
    }

    #[test]
    fn the_last_of_n_approvals_is_the_transition_and_the_others_are_recorded() {
        let two = gate(r#"{"environment": "Production", "required_approvals": 2}"#);
        let now = at("2026-12-02T11:00:00Z");
        let first = decide_review(&pending(), &two, &[], Action::Approve, &review("bob"), now).unwrap();
        let ApprovalStep::Granted(event) = first else { panic!("the first of two is recorded only") };
        assert_eq!(event.kind, EventKind::ApprovalGranted);
        assert_eq!(event.data, Some(serde_json::json!({"approvals": 1, "required": 2})));
        let prior = [approval("bob", "2026-12-02T10:30:00Z")];
        let second = decide_review(&pending(), &two, &prior, Action::Approve, &review("carol"), now).unwrap();
        let ApprovalStep::Transition(change) = second else { panic!("the second of two approves") };
        assert_eq!(change.deployment.status, Status::Approved);
        assert_eq!(change.deployment.reviewed_by.as_deref(), Some("carol"));
    }

    #[test]
    fn a_reviewer_counts_once_and_the_requester_never() {
        let two = gate(r#"{"environment": "production", "required_approvals": 2}"#);
        let now = at("2026-12-02T11:00:00Z");
        let prior = [approval("bob", "2026-12-02T10:30:00Z")];
        let again = decide_review(&pending(), &two, &prior, Action::Approve, &review(" BOB "), now).unwrap_err();
        let Error::PolicyViolation { rule, .. } = &again else { panic!("{again:?}") };
        assert_eq!(rule, RULE);
        let own = decide_review(&pending(), &two, &[], Action::Approve, &review("Alice"), now).unwrap_err();
        assert_eq!(own.code(), "self_approval");
    }

    #[test]
    fn expired_approvals_do_not_count() {
        let two = gate(r#"{"environment": "production", "required_approvals": 2, "expires_after_minutes": 30}"#);
        let prior = [approval("bob", "2026-12-02T10:00:00Z")];
        let late = at("2026-12-02T10:30:00Z");
        let step = decide_review(&pending(), &two, &prior, Action::Approve, &review("carol"), late).unwrap();
        assert!(matches!(step, ApprovalStep::Granted(_)), "bob's approval expired at 10:30 exactly");
        let again = decide_review(&pending(), &two, &prior, Action::Approve, &review("bob"), late).unwrap();
        assert!(matches!(again, ApprovalStep::Granted(_)), "an expired reviewer may approve anew");
    }

    #[test]
    fn a_gate_with_approvers_admits_only_them_to_approve_and_reject() {
        let named = gate(r#"{"environment": "production", "required_approvals": 1, "approvers": ["bob", "carol"]}"#);
        let now = at("2026-12-02T11:00:00Z");
        let input = ActionInput { actor: "mallory".into(), note: Some("no".into()), override_reason: None };
        for action in [Action::Approve, Action::Reject] {
            let err = decide_review(&pending(), &named, &[], action, &input, now).unwrap_err();
            assert_eq!(err.code(), "policy_violation", "{action}");
        }
        let step = decide_review(&pending(), &named, &[], Action::Reject, &review("Carol"), now).unwrap();
        let ApprovalStep::Transition(change) = step else { panic!() };
        assert_eq!(change.deployment.status, Status::Rejected);
    }

    #[test]
    fn the_wait_runs_from_the_approval() {
        let wait = gate(r#"{"environment": "production", "required_approvals": 1, "wait_minutes": 10}"#);
        let mut approved = pending();
        approved.status = Status::Approved;
        approved.reviewed_at = Some(at("2026-12-02T10:00:00Z"));
        let err = wait_violation(&approved, &wait, at("2026-12-02T10:09:59Z")).unwrap();
        let Error::PolicyViolation { rule, until, .. } = err else { panic!() };
        assert_eq!((rule.as_str(), until.as_deref()), (WAIT_RULE, Some("2026-12-02T10:10:00.000000Z")));
        assert!(wait_violation(&approved, &wait, at("2026-12-02T10:10:00Z")).is_none());
    }

    #[test]
    fn bad_gates_name_every_field() {
        let err = ApprovalGate::from_json(
            r#"{"environment": " ", "required_approvals": 3, "approvers": ["bob", "BOB"],
                "expires_after_minutes": 0, "wait_minutes": 43201}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["environment", "approvers[1]", "approvers", "expires_after_minutes", "wait_minutes"]);
        // `members` is filled in by the store from the groups, never taken from a document.
        let unknown = ApprovalGate::from_json(r#"{"environment": "p", "required_approvals": 1, "members": ["x"]}"#);
        assert_eq!(unknown.unwrap_err().code(), "validation_error");
        let groups = ApprovalGate::from_json(
            r#"{"environment": "p", "required_approvals": 5, "approvers": ["a"], "groups": ["ok", "s re", "OK"]}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = groups.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["groups[1]", "groups[2]"], "fewer approvers than approvals is fine with groups");
        let zero = ApprovalGate::from_json(r#"{"environment": "p", "required_approvals": 0}"#).unwrap_err();
        assert_eq!(zero.details()[0].field, "required_approvals");
    }

    #[test]
    fn a_services_own_gate_takes_precedence_over_its_environments() {
        let wide = gate(r#"{"environment": "production", "required_approvals": 1}"#);
        let web = gate(r#"{"environment": "Production", "service": "web", "required_approvals": 3}"#);
        let gates = [wide.clone(), web.clone()];
        assert_eq!(gate_for(&gates, "web", "production"), Some(&web));
        assert_eq!(gate_for(&gates, "api", "production"), Some(&wide), "other services get the environment's");
        assert_eq!(gate_for(&gates, "WEB", "production"), Some(&wide), "services compare exactly");
        assert_eq!(gate_for(std::slice::from_ref(&web), "api", "production"), None, "a service's gate guards only it");
        assert_eq!(gate_for(&gates, "web", "staging"), None);
        assert_eq!(web.place(), "Production (service web)");
        let blank = ApprovalGate::from_json(r#"{"environment": "p", "service": " ", "required_approvals": 1}"#);
        assert_eq!(blank.unwrap_err().details()[0].field, "service");
    }
}
