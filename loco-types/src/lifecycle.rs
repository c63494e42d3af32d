//! The deployment lifecycle as a pure state machine: statuses, actions, the transition table and
//! every input rule (creation fields, notes, actors, self-approval). No I/O, no async.
//!
//! ```text
//!                 approve           start            succeed
//! pending_approval ──────► approved ──────► started ─────────► succeeded
//!        │                                  │   │                  │
//!        │ reject                      fail │   │ rollback         │ rollback
//!        ▼                                  ▼   ▼                  ▼
//!    rejected                            failed ──rollback──► rolled_back
//! ```
//!
//! ```
//! use loco_types::lifecycle::{next_status, Action, Status};
//! assert_eq!(next_status(Status::Started, Action::Rollback), Some(Status::RolledBack));
//! assert_eq!(next_status(Status::RolledBack, Action::Approve), None);
//! ```

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::model::NewDeployment;

/// Longest accepted name-like string (service, environment, version, requester, actor, work ref,
/// idempotency key), in characters.
pub const NAME_MAX_CHARS: usize = 256;
/// Longest accepted free text (rollback plan, risk, note), in bytes.
pub const TEXT_MAX_BYTES: usize = 64 * 1024;
/// Most work references one deployment may carry.
pub const WORK_REFS_MAX: usize = 100;

/// Where a deployment is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created and waiting for a reviewer.
    PendingApproval,
    /// Approved by a reviewer other than the requester.
    Approved,
    /// Rejected by a reviewer. Terminal.
    Rejected,
    /// Rollout has begun.
    Started,
    /// Rollout finished well. Final unless rolled back.
    Succeeded,
    /// Rollout failed. Final unless rolled back.
    Failed,
    /// Reverted. Terminal.
    RolledBack,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 7] = [
        Status::PendingApproval,
        Status::Approved,
        Status::Rejected,
        Status::Started,
        Status::Succeeded,
        Status::Failed,
        Status::RolledBack,
    ];

    /// The snake_case name used in JSON, the database and every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingApproval => "pending_approval",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Started => "started",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::RolledBack => "rolled_back",
        }
    }

    /// True for statuses no action can leave (`rejected`, `rolled_back`).
    pub fn is_terminal(self) -> bool {
        Action::ALL.iter().all(|action| next_status(self, *action).is_none())
    }

    /// Parses a status name, or returns a validation error naming `field`.
    pub fn parse_field(value: &str, field: &str) -> Result<Status> {
        value.parse().map_err(|_| {
            Error::invalid(field, format!("'{value}' is not a status; expected one of {}", names(&Status::ALL)))
        })
    }
}

/// Returned when a string names no status or action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name '{}'", self.0)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for Status {
    type Err = UnknownName;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Something a person or the orchestrator does to an existing deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Review: accept a pending deployment.
    Approve,
    /// Review: refuse a pending deployment (note required).
    Reject,
    /// Begin the rollout of an approved deployment.
    Start,
    /// Record that a started rollout finished well.
    Succeed,
    /// Record that a started rollout failed (note required).
    Fail,
    /// Record a reversal of a started, succeeded or failed deployment (note required).
    Rollback,
}

impl Action {
    /// Every action, in lifecycle order.
    pub const ALL: [Action; 6] =
        [Action::Approve, Action::Reject, Action::Start, Action::Succeed, Action::Fail, Action::Rollback];

    /// The name used in URLs (`/deployments/{id}/approve`), JSON and every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Start => "start",
            Action::Succeed => "succeed",
            Action::Fail => "fail",
            Action::Rollback => "rollback",
        }
    }

    /// Whether this action must carry a non-blank note.
    pub fn requires_note(self) -> bool {
        matches!(self, Action::Reject | Action::Fail | Action::Rollback)
    }

    /// Whether this action is a review decision (writes `reviewed_by`/`reviewed_at`, forbids self-review).
    pub fn is_review(self) -> bool {
        matches!(self, Action::Approve | Action::Reject)
    }

    /// The status this action leads to when it is allowed.
    pub fn target(self) -> Status {
        match self {
            Action::Approve => Status::Approved,
            Action::Reject => Status::Rejected,
            Action::Start => Status::Started,
            Action::Succeed => Status::Succeeded,
            Action::Fail => Status::Failed,
            Action::Rollback => Status::RolledBack,
        }
    }

    /// The statuses from which this action is allowed.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Action::Approve | Action::Reject => &[Status::PendingApproval],
            Action::Start => &[Status::Approved],
            Action::Succeed | Action::Fail => &[Status::Started],
            Action::Rollback => &[Status::Started, Status::Succeeded, Status::Failed],
        }
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The transition table: where `action` leads from `from`, or `None` when it is not allowed.
pub fn next_status(from: Status, action: Action) -> Option<Status> {
    action.allowed_from().contains(&from).then(|| action.target())
}

/// True when `environment` names production (`production` or `prod`, any case, surrounding
/// whitespace ignored); production deployments must state their risk.
pub fn is_production(environment: &str) -> bool {
    let env = environment.trim();
    env.eq_ignore_ascii_case("production") || env.eq_ignore_ascii_case("prod")
}

/// Who performs an action, and why. As a JSON request body a missing or `null` actor reads as
/// empty, so the rules name it; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["actor"]))]
pub struct ActionInput {
    /// The person or system performing the action; must be non-blank.
    #[serde(default, deserialize_with = "crate::model::null_as_default")]
    pub actor: String,
    /// Free text; required (non-blank) for reject, fail and rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Start only: an admin's reason to start in spite of a freeze window in force. The start
    /// is then preceded by a `policy_override` event (actor, reason, the window); without a
    /// window in force it is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

impl ActionInput {
    /// An input with an actor and no note.
    pub fn new(actor: impl Into<String>) -> Self {
        Self { actor: actor.into(), note: None, override_reason: None }
    }

    /// The same input with a note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The same input overriding any freeze window in force (a start by an admin), for `reason`.
    #[must_use]
    pub fn overriding(mut self, reason: impl Into<String>) -> Self {
        self.override_reason = Some(reason.into());
        self
    }
}

/// The outcome of an allowed action, computed before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The status before the action.
    pub from: Status,
    /// The status after the action.
    pub to: Status,
    /// Whether `reviewed_by`/`reviewed_at` are set by this action.
    pub is_review: bool,
}

/// Checks creation input: required fields, at least one work reference, risk for production,
/// length limits. Strings are trimmed only to decide emptiness; they are stored as given.
pub fn validate_new(new: &NewDeployment) -> Result<()> {
    let mut details = Vec::new();
    for (field, value) in [
        ("service", &new.service),
        ("environment", &new.environment),
        ("version", &new.version),
        ("requester", &new.requester),
    ] {
        check_name(&mut details, field, value);
    }
    if new.work_refs.is_empty() {
        details.push(FieldError::new("work_refs", "needs at least one work reference"));
    } else if new.work_refs.len() > WORK_REFS_MAX {
        details.push(FieldError::new(
            "work_refs",
            format!("has {} entries; at most {WORK_REFS_MAX}", new.work_refs.len()),
        ));
    } else {
        for (i, work_ref) in new.work_refs.iter().enumerate() {
            check_name(&mut details, &format!("work_refs[{i}]"), work_ref);
        }
    }
    check_text(&mut details, "rollback_plan", Some(&new.rollback_plan), true);
    check_text(&mut details, "risk", new.risk.as_ref(), is_production(&new.environment));
    if let Some(commit) = &new.commit {
        let before = details.len();
        check_name(&mut details, "commit", commit);
        if details.len() == before && commit.chars().any(char::is_whitespace) {
            details.push(FieldError::new("commit", "must not contain whitespace"));
        }
    }
    if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
}

/// Checks an action's input on its own: a non-blank actor and, where required, a non-blank note.
pub fn validate_action(action: Action, input: &ActionInput) -> Result<()> {
    let mut details = Vec::new();
    check_name(&mut details, "actor", &input.actor);
    check_text(&mut details, "note", input.note.as_ref(), action.requires_note());
    if input.override_reason.is_some() {
        if action == Action::Start {
            check_text(&mut details, "override_reason", input.override_reason.as_ref(), true);
        } else {
            details.push(FieldError::new("override_reason", "only a start may override a freeze window"));
        }
    }
    if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
}

/// Checks a caller-supplied idempotency key (non-blank, name-length, no control characters).
pub fn validate_idempotency_key(key: &str) -> Result<()> {
    let mut details = Vec::new();
    check_name(&mut details, "idempotency_key", key);
    if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
}

/// Decides whether `actor` may perform `action` on deployment `id`, currently `from` and
/// requested by `requester`. The transition rule is checked before the self-review rule, so an
/// action that is impossible anyway reports `invalid_transition`.
///
/// Self-review compares actor and requester ignoring surrounding whitespace and case, so
/// `Alice@Example.com ` cannot approve what `alice@example.com` requested.
pub fn transition(id: &str, from: Status, requester: &str, action: Action, actor: &str) -> Result<Transition> {
    let Some(to) = next_status(from, action) else {
        return Err(Error::InvalidTransition { id: id.to_owned(), from, action });
    };
    if action.is_review() && same_person(actor, requester) {
        return Err(Error::SelfApproval { id: id.to_owned(), actor: actor.to_owned(), action });
    }
    Ok(Transition { from, to, is_review: action.is_review() })
}

/// Whether two names are the same person: equal ignoring surrounding whitespace and case.
pub fn same_person(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn check_name(details: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        details.push(FieldError::new(field, "is required and must not be blank"));
    } else if value.chars().count() > NAME_MAX_CHARS {
        details.push(FieldError::new(field, format!("is longer than {NAME_MAX_CHARS} characters")));
    } else if value.chars().any(char::is_control) {
        details.push(FieldError::new(field, "must not contain control characters"));
    }
}

fn check_text(details: &mut Vec<FieldError>, field: &str, value: Option<&String>, required: bool) {
    match value {
        None if required => details.push(FieldError::new(field, "is required")),
        Some(v) if required && v.trim().is_empty() => {
            details.push(FieldError::new(field, "is required and must not be blank"));
        }
        Some(v) if v.len() > TEXT_MAX_BYTES => {
            details.push(FieldError::new(field, format!("is longer than {TEXT_MAX_BYTES} bytes")));
        }
        Some(v) if v.contains('\0') => details.push(FieldError::new(field, "must not contain NUL characters")),
        None | Some(_) => {}
    }
}

fn names<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_deployment(environment: &str) -> NewDeployment {
        NewDeployment {
            service: "api".into(),
            environment: environment.into(),
            version: "1.2.3".into(),
            requester: "alice".into(),
            work_refs: vec!["PROJ-1".into()],
            rollback_plan: "redeploy 1.2.2".into(),
            risk: None,
            commit: None,
        }
    }

    fn fields(result: Result<()>) -> Vec<String> {
        match result {
            Err(Error::Validation { details }) => details.into_iter().map(|d| d.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    /// The whole table, written out independently of `allowed_from`, so a change to either is caught.
    const TABLE: [(Status, Action, Option<Status>); 42] = {
        use Action as A;
        use Status as S;
        [
            (S::PendingApproval, A::Approve, Some(S::Approved)),
            (S::PendingApproval, A::Reject, Some(S::Rejected)),
            (S::PendingApproval, A::Start, None),
            (S::PendingApproval, A::Succeed, None),
            (S::PendingApproval, A::Fail, None),
            (S::PendingApproval, A::Rollback, None),
            (S::Approved, A::Approve, None),
            (S::Approved, A::Reject, None),
            (S::Approved, A::Start, Some(S::Started)),
            (S::Approved, A::Succeed, None),
            (S::Approved, A::Fail, None),
            (S::Approved, A::Rollback, None),
            (S::Rejected, A::Approve, None),
            (S::Rejected, A::Reject, None),
            (S::Rejected, A::Start, None),
            (S::Rejected, A::Succeed, None),
            (S::Rejected, A::Fail, None),
            (S::Rejected, A::Rollback, None),
            (S::Started, A::Approve, None),
            (S::Started, A::Reject, None),
            (S::Started, A::Start, None),
            (S::Started, A::Succeed, Some(S::Succeeded)),
            (S::Started, A::Fail, Some(S::Failed)),
            (S::Started, A::Rollback, Some(S::RolledBack)),
            (S::Succeeded, A::Approve, None),
            (S::Succeeded, A::Reject, None),
            (S::Succeeded, A::Start, None),
            (S::Succeeded, A::Succeed, None),
            (S::Succeeded, A::Fail, None),
            (S::Succeeded, A::Rollback, Some(S::RolledBack)),
            (S::Failed, A::Approve, None),
            (S::Failed, A::Reject, None),
            (S::Failed, A::Start, None),
            (S::Failed, A::Succeed, None),
            (S::Failed, A::Fail, None),
            (S::Failed, A::Rollback, Some(S::RolledBack)),
            (S::RolledBack, A::Approve, None),
            (S::RolledBack, A::Reject, None),
            (S::RolledBack, A::Start, None),
            (S::RolledBack, A::Succeed, None),
            (S::RolledBack, A::Fail, None),
            (S::RolledBack, A::Rollback, None),
        ]
    };

    #[test]
    fn every_status_action_pair_follows_the_table() {
        for (from, action, expected) in TABLE {
            assert_eq!(next_status(from, action), expected, "{from} --{action}-->");
            let result = transition("dep_1", from, "alice", action, "bob");
            match expected {
                Some(to) => assert_eq!(result, Ok(Transition { from, to, is_review: action.is_review() })),
                None => assert_eq!(result, Err(Error::InvalidTransition { id: "dep_1".into(), from, action })),
            }
        }
    }

    #[test]
    fn only_rejected_and_rolled_back_are_terminal() {
        let terminal: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![Status::Rejected, Status::RolledBack]);
    }

    #[test]
    fn rollback_after_success_and_after_failure() {
        assert_eq!(next_status(Status::Succeeded, Action::Rollback), Some(Status::RolledBack));
        assert_eq!(next_status(Status::Failed, Action::Rollback), Some(Status::RolledBack));
    }

    #[test]
    fn approve_by_requester_is_self_approval() {
        for action in [Action::Approve, Action::Reject] {
            for actor in ["alice", " Alice ", "ALICE"] {
                assert_eq!(
                    transition("dep_1", Status::PendingApproval, "alice", action, actor),
                    Err(Error::SelfApproval { id: "dep_1".into(), actor: actor.into(), action }),
                );
            }
        }
    }

    #[test]
    fn requester_may_perform_non_review_actions() {
        assert!(transition("d", Status::Approved, "alice", Action::Start, "alice").is_ok());
        assert!(transition("d", Status::Started, "alice", Action::Rollback, "alice").is_ok());
    }

    #[test]
    fn impossible_self_review_reports_invalid_transition() {
        let err = transition("d", Status::Started, "alice", Action::Approve, "alice").unwrap_err();
        assert_eq!(err.code(), "invalid_transition");
    }

    #[test]
    fn production_needs_risk_in_any_case() {
        for env in ["production", "Production", "PROD", " prod "] {
            assert_eq!(fields(validate_new(&new_deployment(env))), vec!["risk"], "{env}");
            let mut with_risk = new_deployment(env);
            with_risk.risk = Some("schema change".into());
            assert_eq!(validate_new(&with_risk), Ok(()));
            with_risk.risk = Some("   ".into());
            assert_eq!(fields(validate_new(&with_risk)), vec!["risk"]);
        }
    }

    #[test]
    fn non_production_accepts_missing_risk() {
        for env in ["staging", "dev", "production-eu", "preprod"] {
            assert_eq!(validate_new(&new_deployment(env)), Ok(()), "{env}");
        }
    }

    #[test]
    fn missing_rollback_plan_is_rejected() {
        let mut d = new_deployment("staging");
        d.rollback_plan = " \n\t".into();
        assert_eq!(fields(validate_new(&d)), vec!["rollback_plan"]);
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let d = NewDeployment {
            service: String::new(),
            environment: " ".into(),
            version: String::new(),
            requester: String::new(),
            work_refs: vec![],
            rollback_plan: String::new(),
            risk: None,
            commit: None,
        };
        assert_eq!(
            fields(validate_new(&d)),
            vec!["service", "environment", "version", "requester", "work_refs", "rollback_plan"]
        );
    }

    #[test]
    fn blank_work_ref_is_named_by_index() {
        let mut d = new_deployment("dev");
        d.work_refs = vec!["PROJ-1".into(), " ".into()];
        assert_eq!(fields(validate_new(&d)), vec!["work_refs[1]"]);
    }

    #[test]
    fn limits_give_validation_errors_not_truncation() {
        let mut d = new_deployment("dev");
        d.service = "s".repeat(NAME_MAX_CHARS);
        assert_eq!(validate_new(&d), Ok(()));
        d.service = "é".repeat(NAME_MAX_CHARS + 1);
        d.rollback_plan = "x".repeat(TEXT_MAX_BYTES + 1);
        d.work_refs = vec!["w".into(); WORK_REFS_MAX + 1];
        assert_eq!(fields(validate_new(&d)), vec!["service", "work_refs", "rollback_plan"]);
    }

    #[test]
    fn control_characters_in_names_and_nul_in_text_are_rejected() {
        let mut d = new_deployment("dev");
        d.service = "api\nprod".into();
        d.rollback_plan = "step 1\nstep 2".into();
        assert_eq!(fields(validate_new(&d)), vec!["service"]);
        d.service = "api".into();
        d.rollback_plan = "a\0b".into();
        assert_eq!(fields(validate_new(&d)), vec!["rollback_plan"]);
    }

    #[test]
    fn notes_are_required_for_reject_fail_and_rollback() {
        for action in Action::ALL {
            let no_note = validate_action(action, &ActionInput::new("bob"));
            let blank = validate_action(action, &ActionInput::new("bob").with_note("  "));
            if action.requires_note() {
                assert_eq!(fields(no_note), vec!["note"], "{action}");
                assert_eq!(fields(blank), vec!["note"], "{action}");
            } else {
                assert_eq!(no_note, Ok(()), "{action}");
                assert_eq!(blank, Ok(()), "{action}: optional notes are stored as given");
            }
            assert_eq!(validate_action(action, &ActionInput::new("bob").with_note("why")), Ok(()));
        }
    }

    #[test]
    fn blank_actor_is_rejected() {
        for actor in ["", "   "] {
            assert_eq!(fields(validate_action(Action::Start, &ActionInput::new(actor))), vec!["actor"]);
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        let err = Status::parse_field("done", "status").unwrap_err();
        assert_eq!(err.details()[0].field, "status");
    }
}
