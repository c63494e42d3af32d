//! The one error type every Loco operation returns, with a stable machine-readable `code()` per variant.

use std::fmt;

use serde::Serialize;

use crate::lifecycle::{Action, Status};

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid input field: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field name as it appears in the HTTP JSON body (`work_refs[2]` for list items).
    pub field: String,
    /// A human-readable sentence saying what is wrong.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything that can go wrong in Loco. Every surface (HTTP, CLI, Python, Node) maps these
/// variants by [`Error::code`], never by message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input is missing or invalid; `details` names every offending field.
    #[error("invalid input: {}", join_details(.details))]
    Validation {
        /// One entry per invalid field.
        details: Vec<FieldError>,
    },
    /// No deployment has this id.
    #[error("deployment '{id}' not found")]
    NotFound {
        /// The id that was looked up.
        id: String,
    },
    /// The action is not allowed from the deployment's current status.
    #[error("deployment '{id}' is {from}; cannot {action}")]
    InvalidTransition {
        /// The deployment the action was aimed at.
        id: String,
        /// Its status when the action was tried.
        from: Status,
        /// The refused action.
        action: Action,
    },
    /// The requester tried to approve or reject their own deployment.
    #[error("'{actor}' requested deployment '{id}' and cannot {action} it; review needs another person")]
    SelfApproval {
        /// The deployment under review.
        id: String,
        /// The actor, who is also the requester.
        actor: String,
        /// `approve` or `reject`.
        action: Action,
    },
    /// The idempotency key was used before with a different request body.
    #[error("idempotency key '{key}' was already used with a different request")]
    IdempotencyConflict {
        /// The reused key.
        key: String,
    },
    /// A request body was larger than the accepted limit.
    #[error("request body is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The limit that was exceeded, in bytes.
        limit_bytes: usize,
    },
    /// The database failed; nothing of the failed operation was written.
    #[error("storage error: {message}")]
    Storage {
        /// What the database reported.
        message: String,
    },
    /// Another rollout is already active on the same service and environment.
    #[error("{service}/{environment} already has an active rollout (deployment '{active}')")]
    RolloutConflict {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
        /// The deployment whose rollout is active.
        active: String,
    },
    /// The deployment's rollout is running; the orchestrator alone moves it (rollback stays allowed).
    #[error("deployment '{id}' has a rollout in progress; only rollback is allowed until it ends")]
    RolloutInProgress {
        /// The deployment.
        id: String,
    },
    /// The deployment has no rollout.
    #[error("deployment '{id}' has no rollout")]
    RolloutNotFound {
        /// The deployment.
        id: String,
    },
    /// The rollout is not paused, so there is nothing to override.
    #[error("the rollout of deployment '{id}' is {state}, not paused; only a paused rollout can be overridden")]
    RolloutNotPaused {
        /// The deployment.
        id: String,
        /// The rollout's state.
        state: crate::rollout::RolloutState,
    },
    /// A platform operation failed.
    #[error("platform '{platform}' failed: {message}")]
    Platform {
        /// The platform's name.
        platform: String,
        /// What it reported.
        message: String,
    },
    /// Restoring the previous release failed; the deployment is not serving a known-good release.
    #[error("rollback of deployment '{id}' failed: {message}")]
    RollbackFailed {
        /// The deployment.
        id: String,
        /// What went wrong.
        message: String,
    },
}

/// Every code [`Error::code`] can return, for surfaces that check their own tables against it.
pub const CODES: [&str; 12] = [
    "validation_error",
    "not_found",
    "invalid_transition",
    "self_approval",
    "idempotency_conflict",
    "payload_too_large",
    "storage_error",
    "rollout_conflict",
    "rollout_in_progress",
    "rollout_not_paused",
    "platform_error",
    "rollback_failed",
];

impl Error {
    /// The stable code of this error, the same string on every surface.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "validation_error",
            Error::NotFound { .. } | Error::RolloutNotFound { .. } => "not_found",
            Error::InvalidTransition { .. } => "invalid_transition",
            Error::SelfApproval { .. } => "self_approval",
            Error::IdempotencyConflict { .. } => "idempotency_conflict",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::Storage { .. } => "storage_error",
            Error::RolloutConflict { .. } => "rollout_conflict",
            Error::RolloutInProgress { .. } => "rollout_in_progress",
            Error::RolloutNotPaused { .. } => "rollout_not_paused",
            Error::Platform { .. } => "platform_error",
            Error::RollbackFailed { .. } => "rollback_failed",
        }
    }

    /// The per-field details of a validation error; empty for every other error.
    pub fn details(&self) -> &[FieldError] {
        match self {
            Error::Validation { details } => details,
            _ => &[],
        }
    }

    /// A validation error about a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation { details: vec![FieldError::new(field, message)] }
    }

    /// A storage error carrying the given message.
    pub fn storage(message: impl fmt::Display) -> Self {
        Error::Storage { message: message.to_string() }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage(e)
    }
}

fn join_details(details: &[FieldError]) -> String {
    details.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_strings() {
        let cases = [
            (Error::invalid("service", "is required"), "validation_error"),
            (Error::NotFound { id: "dep_x".into() }, "not_found"),
            (
                Error::InvalidTransition { id: "d".into(), from: Status::RolledBack, action: Action::Approve },
                "invalid_transition",
            ),
            (Error::SelfApproval { id: "d".into(), actor: "a".into(), action: Action::Approve }, "self_approval"),
            (Error::IdempotencyConflict { key: "k".into() }, "idempotency_conflict"),
            (Error::PayloadTooLarge { limit_bytes: 1 }, "payload_too_large"),
            (Error::storage("disk I/O error"), "storage_error"),
            (
                Error::RolloutConflict { service: "a".into(), environment: "b".into(), active: "d".into() },
                "rollout_conflict",
            ),
            (Error::RolloutInProgress { id: "d".into() }, "rollout_in_progress"),
            (Error::RolloutNotFound { id: "d".into() }, "not_found"),
            (Error::Platform { platform: "local".into(), message: "m".into() }, "platform_error"),
            (
                Error::RolloutNotPaused { id: "d".into(), state: crate::rollout::RolloutState::Running },
                "rollout_not_paused",
            ),
            (Error::RollbackFailed { id: "d".into(), message: "m".into() }, "rollback_failed"),
        ];
        for (error, code) in &cases {
            assert_eq!(error.code(), *code, "{error}");
            assert!(CODES.contains(code), "{code} is missing from CODES");
        }
    }

    #[test]
    fn messages_carry_the_facts() {
        let e = Error::InvalidTransition { id: "dep_1".into(), from: Status::RolledBack, action: Action::Approve };
        assert_eq!(e.to_string(), "deployment 'dep_1' is rolled_back; cannot approve");
        let v = Error::Validation {
            details: vec![FieldError::new("service", "is required"), FieldError::new("risk", "is required")],
        };
        assert_eq!(v.to_string(), "invalid input: service: is required; risk: is required");
        assert_eq!(v.details().len(), 2);
    }
}
