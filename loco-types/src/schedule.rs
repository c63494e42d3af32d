//! Scheduled starts: "start deployment X at 02:00". A schedule is checked when it is made — the
//! deployment must still be waiting to start (`pending_approval` or `approved`), the time must be
//! in the future (at most 90 days ahead) and outside every freeze window of its environment,
//! unless an admin's override reason goes with it — and again when it falls due, when the engine
//! starts the deployment exactly as a caller would (gates, locks and windows in force then). What
//! happened is kept on the schedule: `started`, or `refused` with the error's code and message.
//!
//! ```
//! use loco_types::model::Timestamp;
//! use loco_types::schedule::ScheduleRequest;
//! let now = Timestamp::parse("2026-12-03T10:00:00Z").unwrap();
//! let request = ScheduleRequest::from_json(r#"{"at": "2026-12-04T02:00:00Z", "actor": "deploy-bot"}"#).unwrap();
//! assert!(request.validate(now).is_ok());
//! let past = ScheduleRequest::from_json(r#"{"at": "2026-12-03T09:00:00Z", "actor": "deploy-bot"}"#).unwrap();
//! assert_eq!(past.validate(now).unwrap_err().details()[0].field, "at");
//! ```

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::freeze::{self, FreezeWindow};
use crate::lifecycle::{self, Action, ActionInput, Status};
use crate::model::{Deployment, Timestamp};

/// How far ahead a start may be scheduled: 90 days.
pub const MAX_AHEAD: Duration = Duration::from_secs(90 * 24 * 3600);

/// What a caller asks for: start a deployment at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// When to start it, RFC 3339; in the future, at most 90 days ahead.
    pub at: Timestamp,
    /// Who starts it (recorded on its `started` event); over HTTP, the caller when absent.
    #[serde(default)]
    pub actor: String,
    /// Start a rollout with the plan its stage sets in its manifest (`true`), or make the plain
    /// lifecycle start (`false`, the default).
    #[serde(default)]
    pub rollout: bool,
    /// Start it in spite of a freeze window in force then, for this reason (an admin of the
    /// environment only); recorded as a `policy_override` event as a start's override is.
    #[serde(default)]
    pub override_reason: Option<String>,
}

impl ScheduleRequest {
    /// A request from its JSON document; unknown fields are refused.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::invalid("schedule", e.to_string()))
    }

    /// Checks its fields at `now`: the actor and override reason as a start's, the time ahead.
    pub fn validate(&self, now: Timestamp) -> Result<()> {
        let mut details = match lifecycle::validate_action(Action::Start, &self.input()) {
            Ok(()) => Vec::new(),
            Err(e) => e.details().to_vec(),
        };
        if self.at <= now {
            details.insert(0, FieldError::new("at", format!("must be in the future; it is {now} now")));
        } else if self.at > now.after(MAX_AHEAD) {
            details.insert(0, FieldError::new("at", "must be at most 90 days ahead"));
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// The start it makes when it falls due.
    pub fn input(&self) -> ActionInput {
        start_input(&self.actor, self.override_reason.as_ref())
    }

    /// Refuses scheduling `deployment` so: a deployment no longer waiting to start
    /// (`invalid_transition`), or a time inside a freeze window of its environment
    /// (`policy_violation` naming it), unless the request carries an override reason.
    pub fn check(&self, deployment: &Deployment, windows: &[FreezeWindow]) -> Result<()> {
        if !matches!(deployment.status, Status::PendingApproval | Status::Approved) {
            return Err(Error::InvalidTransition {
                id: deployment.id.clone(),
                from: deployment.status,
                action: Action::Start,
            });
        }
        match freeze::active_freeze(windows, &deployment.environment, self.at) {
            Some(active) if self.override_reason.is_none() => Err(freeze::violation(&active, &deployment.environment)),
            _ => Ok(()),
        }
    }
}

/// Where a schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for its time.
    Pending,
    /// The engine started the deployment at its time.
    Started,
    /// The start was refused when it fell due (`outcome` says why).
    Refused,
    /// Cancelled before its time.
    Cancelled,
}

impl ScheduleState {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Pending => "pending",
            ScheduleState::Started => "started",
            ScheduleState::Refused => "refused",
            ScheduleState::Cancelled => "cancelled",
        }
    }
}

/// A deployment's scheduled start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledStart {
    /// The deployment.
    pub deployment_id: String,
    /// When it starts (or was to start).
    pub at: Timestamp,
    /// Who starts it.
    pub actor: String,
    /// Whether it starts a rollout with its manifest's plan.
    pub rollout: bool,
    /// The override reason the start carries, if any.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub override_reason: Option<String>,
    /// Where it stands.
    pub state: ScheduleState,
    /// Why a start was refused: the error's code and message.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub outcome: Option<String>,
    /// Who scheduled it.
    pub scheduled_by: String,
    /// When.
    pub scheduled_at: Timestamp,
    /// When the engine ran (or cancelled) it.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub ended_at: Option<Timestamp>,
}

impl ScheduledStart {
    /// A new pending schedule of `deployment_id` as `request` asks, by `by` at `now`.
    pub fn new(deployment_id: &str, request: ScheduleRequest, by: &str, now: Timestamp) -> Self {
        ScheduledStart {
            deployment_id: deployment_id.to_owned(),
            at: request.at,
            actor: request.actor,
            rollout: request.rollout,
            override_reason: request.override_reason,
            state: ScheduleState::Pending,
            outcome: None,
            scheduled_by: by.to_owned(),
            scheduled_at: now,
            ended_at: None,
        }
    }

    /// The start it makes.
    pub fn input(&self) -> ActionInput {
        start_input(&self.actor, self.override_reason.as_ref())
    }

    /// This schedule ended as `state` at `now`, with `outcome` (why a start was refused).
    #[must_use]
    pub fn ended(mut self, state: ScheduleState, outcome: Option<String>, now: Timestamp) -> Self {
        self.state = state;
        self.outcome = outcome;
        self.ended_at = Some(now);
        self
    }
}

/// The start a schedule makes: by `actor`, with an admin's `override_reason` if it has one.
fn start_input(actor: &str, override_reason: Option<&String>) -> ActionInput {
    ActionInput { override_reason: override_reason.cloned(), ..ActionInput::new(actor) }
}
