//! The one error type every Loco operation returns, with a stable machine-readable `code()` per variant.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::identity::Role;
use crate::lifecycle::{Action, Status};
use crate::plan::ValidationReport;
use crate::rollout::RolloutState;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid input field: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    /// The field name as it appears in the HTTP JSON body (`work_refs[2]` for list items).
    pub field: String,
    /// A human-readable sentence saying what is wrong.
    pub message: String,
    /// For a problem in a text document (a `service.yaml` manifest): the line it is on, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// For a problem in a text document: the column it starts at, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), line: None, column: None }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => match self.column {
                Some(column) => write!(f, "{} (line {line}, column {column}): {}", self.field, self.message),
                None => write!(f, "{} (line {line}): {}", self.field, self.message),
            },
            None => write!(f, "{}: {}", self.field, self.message),
        }
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
    /// No API token has this id.
    #[error("token '{id}' not found")]
    TokenNotFound {
        /// The id that was looked up.
        id: String,
    },
    /// No service of this name is registered.
    #[error("service '{name}' is not registered")]
    ServiceNotFound {
        /// The name that was looked up.
        name: String,
    },
    /// No freeze window has this name.
    #[error("freeze window '{name}' does not exist")]
    FreezeWindowNotFound {
        /// The name that was looked up.
        name: String,
    },
    /// This service has no pipeline.
    #[error("service '{service}' has no pipeline")]
    PipelineNotFound {
        /// The service that was looked up.
        service: String,
    },
    /// This service has no applied manifest (or not that version of one).
    #[error("service '{service}' has no manifest{}", .version.map(|v| format!(" version {v}")).unwrap_or_default())]
    ManifestNotFound {
        /// The service that was looked up.
        service: String,
        /// The version asked for; absent when the newest was.
        version: Option<u32>,
    },
    /// The deployment has no pending scheduled start.
    #[error("deployment '{id}' has no pending scheduled start")]
    ScheduleNotFound {
        /// The deployment.
        id: String,
    },
    /// No reviewer group has this name.
    #[error("reviewer group '{name}' does not exist")]
    GroupNotFound {
        /// The name that was looked up.
        name: String,
    },
    /// No approval gate is set on this environment (for this service, when one is named).
    #[error("environment '{environment}' has no approval gate{}", .service.as_ref().map_or(String::new(), |s| format!(" of service '{s}'")))]
    GateNotFound {
        /// The environment that was looked up.
        environment: String,
        /// The service whose own gate was looked up; absent: the environment-wide gate.
        service: Option<String>,
    },
    /// No deployment holds the deploy lock of this service and environment.
    #[error("no deployment of service '{service}' holds the deploy lock of '{environment}'")]
    LockNotFound {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
    },
    /// No platform of this name is configured.
    #[error("platform '{name}' is not configured")]
    PlatformNotFound {
        /// The name that was looked up.
        name: String,
    },
    /// The rollout is not paused, so there is nothing to override.
    #[error("the rollout of deployment '{id}' is {state}, not paused; only a paused rollout can be overridden")]
    RolloutNotPaused {
        /// The deployment.
        id: String,
        /// The rollout's state.
        state: RolloutState,
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
    /// No valid credentials: a missing, malformed, unknown, expired or revoked token.
    #[error("not authenticated: {reason}")]
    Unauthenticated {
        /// What was wrong with the credentials (never the token itself).
        reason: String,
    },
    /// The identity lacks the role the operation needs.
    #[error("'{subject}' may not do this: it needs the role {role}{}", .environment.as_ref().map_or(String::new(), |e| format!(" for environment '{e}'")))]
    PermissionDenied {
        /// Who asked.
        subject: String,
        /// The missing role.
        role: Role,
        /// The environment the role was needed for, if the operation has one.
        environment: Option<String>,
        /// One entry naming the missing role (field `role`).
        details: Vec<FieldError>,
    },
    /// A request body was not declared as JSON (`Content-Type: application/json`).
    #[error("a request body must be sent as Content-Type: application/json (got {})", .content_type.as_deref().unwrap_or("none"))]
    UnsupportedMediaType {
        /// The content type the request declared, if any.
        content_type: Option<String>,
    },
    /// Too many requests from one identity (or too many open streams); retry later.
    #[error("too many requests; retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds to wait before retrying.
        retry_after_seconds: u64,
    },
    /// Pre-deployment validation refused the release; nothing was started.
    #[error("validation refused the release of deployment '{id}': {}", .report.describe())]
    ValidationFailed {
        /// The deployment whose start was refused.
        id: String,
        /// The full report.
        report: Box<ValidationReport>,
        /// One entry per blocking finding (`field`: its location).
        details: Vec<FieldError>,
    },
    /// A policy refused the operation: a freeze window is in force, or another deployment holds the
    /// deploy lock. Nothing was written.
    #[error("{}", join_details(.details))]
    PolicyViolation {
        /// The rule: `freeze_window` or `deploy_lock`.
        rule: String,
        /// The window that refused it, or the deployment holding the lock.
        name: String,
        /// The environment it was refused in.
        environment: String,
        /// When the refusal ends, if it ends by itself (RFC 3339).
        until: Option<String>,
        /// One entry, its `field` the rule, its message the whole reason.
        details: Vec<FieldError>,
    },
    /// A start of a deployment still waiting for the approvals its environment's gate requires.
    /// Nothing was written.
    #[error(
        "deployment '{id}' has {approvals} of the {required} approvals environment '{environment}' requires; it may \
         start once it is approved"
    )]
    ApprovalRequired {
        /// The deployment.
        id: String,
        /// Its environment.
        environment: String,
        /// The approvals that count now.
        approvals: u32,
        /// How many the gate requires.
        required: u32,
        /// One entry, its `field` `approvals`, its message the count (so surfaces without the
        /// facts, HTTP bodies, carry it too).
        details: Vec<FieldError>,
    },
}

/// The stable error codes: one per kind of failure, the same string on every surface (HTTP
/// `error.code`, Python `LocoError.code`, Node `error.code`, CLI exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing or invalid input; `details` names every bad field.
    ValidationError,
    /// No deployment (or rollout) has this id.
    NotFound,
    /// The action is not allowed from the deployment's current status.
    InvalidTransition,
    /// The requester tried to review their own deployment.
    SelfApproval,
    /// The idempotency key was used with a different request.
    IdempotencyConflict,
    /// A request body was over the limit.
    PayloadTooLarge,
    /// The database failed; nothing was written.
    StorageError,
    /// Another rollout is active on the same service and environment.
    RolloutConflict,
    /// The deployment's rollout is running; only rollback is allowed.
    RolloutInProgress,
    /// The rollout is not paused.
    RolloutNotPaused,
    /// A platform operation failed.
    PlatformError,
    /// Restoring the previous release failed.
    RollbackFailed,
    /// No valid credentials.
    Unauthenticated,
    /// The identity lacks the role.
    PermissionDenied,
    /// A request body was not declared as JSON.
    UnsupportedMediaType,
    /// Too many requests; retry later.
    RateLimited,
    /// Pre-deployment validation refused the release (the full report attached).
    ValidationFailed,
    /// A policy (a freeze window) refused the operation; `details` names the rule.
    PolicyViolation,
    /// The deployment's environment requires more approvals before it may start.
    ApprovalRequired,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::ValidationError,
        ErrorCode::NotFound,
        ErrorCode::InvalidTransition,
        ErrorCode::SelfApproval,
        ErrorCode::IdempotencyConflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::StorageError,
        ErrorCode::RolloutConflict,
        ErrorCode::RolloutInProgress,
        ErrorCode::RolloutNotPaused,
        ErrorCode::PlatformError,
        ErrorCode::RollbackFailed,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::ValidationFailed,
        ErrorCode::PolicyViolation,
        ErrorCode::ApprovalRequired,
    ];

    /// The code's string.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "validation_error",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::SelfApproval => "self_approval",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::RolloutConflict => "rollout_conflict",
            ErrorCode::RolloutInProgress => "rollout_in_progress",
            ErrorCode::RolloutNotPaused => "rollout_not_paused",
            ErrorCode::PlatformError => "platform_error",
            ErrorCode::RollbackFailed => "rollback_failed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::PolicyViolation => "policy_violation",
            ErrorCode::ApprovalRequired => "approval_required",
        }
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = crate::lifecycle::UnknownName;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| crate::lifecycle::UnknownName(s.to_owned()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Every code [`Error::code`] can return, as strings, in the order of [`ErrorCode::ALL`].
pub const CODES: [&str; ErrorCode::ALL.len()] = {
    let mut codes = [""; ErrorCode::ALL.len()];
    let mut i = 0;
    while i < codes.len() {
        codes[i] = ErrorCode::ALL[i].as_str();
        i += 1;
    }
    codes
};

/// A structured fact an error carries besides its message, named the same on every surface
/// (snake_case in Rust, HTTP and Python; camelCase in Node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact<'a> {
    /// A string fact (an id, a status, an action, a name).
    Text(&'a str),
    /// A numeric fact (a limit).
    Number(u64),
}

impl Error {
    /// The stable code of this error, the same string on every surface.
    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The kind of this error, as the [`ErrorCode`] every surface maps exhaustively.
    pub fn kind(&self) -> ErrorCode {
        match self {
            Error::Validation { .. } => ErrorCode::ValidationError,
            Error::NotFound { .. }
            | Error::RolloutNotFound { .. }
            | Error::TokenNotFound { .. }
            | Error::ServiceNotFound { .. }
            | Error::FreezeWindowNotFound { .. }
            | Error::LockNotFound { .. }
            | Error::GateNotFound { .. }
            | Error::GroupNotFound { .. }
            | Error::ScheduleNotFound { .. }
            | Error::PipelineNotFound { .. }
            | Error::ManifestNotFound { .. }
            | Error::PlatformNotFound { .. } => ErrorCode::NotFound,
            Error::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            Error::SelfApproval { .. } => ErrorCode::SelfApproval,
            Error::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            Error::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Error::Storage { .. } => ErrorCode::StorageError,
            Error::RolloutConflict { .. } => ErrorCode::RolloutConflict,
            Error::RolloutInProgress { .. } => ErrorCode::RolloutInProgress,
            Error::RolloutNotPaused { .. } => ErrorCode::RolloutNotPaused,
            Error::Platform { .. } => ErrorCode::PlatformError,
            Error::RollbackFailed { .. } => ErrorCode::RollbackFailed,
            Error::Unauthenticated { .. } => ErrorCode::Unauthenticated,
            Error::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Error::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::ValidationFailed { .. } => ErrorCode::ValidationFailed,
            Error::PolicyViolation { .. } => ErrorCode::PolicyViolation,
            Error::ApprovalRequired { .. } => ErrorCode::ApprovalRequired,
        }
    }

    /// The structured facts of this error besides its message and details, in a fixed order:
    /// `deployment_id`, `from_status`, `actor`, `action`, `idempotency_key`, `token_id`,
    /// `limit_bytes`, `service`, `environment`, `active_deployment_id`, `state`, `platform`, `subject`, `role`,
    /// `content_type`, `retry_after_seconds`, `blocking_findings`, `rule`, `policy`, `until`, `approvals`, `required`. Surfaces expose each under this name (camelCase in
    /// Node) instead of matching variants themselves.
    pub fn facts(&self) -> Vec<(&'static str, Fact<'_>)> {
        let text = Fact::Text;
        match self {
            Error::Validation { .. } | Error::Storage { .. } | Error::Unauthenticated { .. } => Vec::new(),
            Error::NotFound { id }
            | Error::RolloutNotFound { id }
            | Error::RolloutInProgress { id }
            | Error::RollbackFailed { id, .. }
            | Error::ScheduleNotFound { id } => vec![("deployment_id", text(id))],
            Error::InvalidTransition { id, from, action } => vec![
                ("deployment_id", text(id)),
                ("from_status", text(from.as_str())),
                ("action", text(action.as_str())),
            ],
            Error::SelfApproval { id, actor, action } => {
                vec![("deployment_id", text(id)), ("actor", text(actor)), ("action", text(action.as_str()))]
            }
            Error::IdempotencyConflict { key } => vec![("idempotency_key", text(key))],
            Error::TokenNotFound { id } => vec![("token_id", text(id))],
            Error::ServiceNotFound { name } => vec![("service", text(name))],
            Error::FreezeWindowNotFound { name } => vec![("policy", text(name))],
            Error::LockNotFound { service, environment } => {
                vec![("service", text(service)), ("environment", text(environment))]
            }
            Error::PlatformNotFound { name } => vec![("platform", text(name))],
            Error::GateNotFound { environment, service } => {
                let mut facts = vec![("environment", text(environment))];
                if let Some(service) = service {
                    facts.push(("service", text(service)));
                }
                facts
            }
            Error::GroupNotFound { name } => vec![("group", text(name))],
            Error::PipelineNotFound { service } | Error::ManifestNotFound { service, .. } => {
                vec![("service", text(service))]
            }
            Error::ApprovalRequired { id, environment, approvals, required, .. } => vec![
                ("deployment_id", text(id)),
                ("environment", text(environment)),
                ("approvals", Fact::Number(u64::from(*approvals))),
                ("required", Fact::Number(u64::from(*required))),
            ],
            Error::PayloadTooLarge { limit_bytes } => vec![("limit_bytes", Fact::Number(*limit_bytes as u64))],
            Error::RolloutConflict { service, environment, active } => vec![
                ("service", text(service)),
                ("environment", text(environment)),
                ("active_deployment_id", text(active)),
            ],
            Error::RolloutNotPaused { id, state } => {
                vec![("deployment_id", text(id)), ("state", text(state.as_str()))]
            }
            Error::Platform { platform, .. } => vec![("platform", text(platform))],
            Error::PermissionDenied { subject, role, environment, .. } => {
                let mut facts = vec![("subject", text(subject)), ("role", text(role.as_str()))];
                if let Some(environment) = environment {
                    facts.push(("environment", text(environment)));
                }
                facts
            }
            Error::UnsupportedMediaType { content_type } => {
                content_type.iter().map(|c| ("content_type", text(c))).collect()
            }
            Error::RateLimited { retry_after_seconds } => {
                vec![("retry_after_seconds", Fact::Number(*retry_after_seconds))]
            }
            Error::ValidationFailed { id, details, .. } => {
                vec![("deployment_id", text(id)), ("blocking_findings", Fact::Number(details.len() as u64))]
            }
            Error::PolicyViolation { rule, name, environment, until, .. } => {
                let mut facts = vec![("rule", text(rule)), ("policy", text(name)), ("environment", text(environment))];
                if let Some(until) = until {
                    facts.push(("until", text(until)));
                }
                facts
            }
        }
    }

    /// The per-field details of a validation error (a denial's missing role, a refused
    /// release's blocking findings); empty for every other error.
    pub fn details(&self) -> &[FieldError] {
        match self {
            Error::Validation { details }
            | Error::PermissionDenied { details, .. }
            | Error::ValidationFailed { details, .. }
            | Error::PolicyViolation { details, .. }
            | Error::ApprovalRequired { details, .. } => details,
            _ => &[],
        }
    }

    /// The validation report a `validation_failed` error carries.
    pub fn report(&self) -> Option<&ValidationReport> {
        match self {
            Error::ValidationFailed { report, .. } => Some(report),
            _ => None,
        }
    }

    /// `validation_failed` for deployment `id`, its details one entry per blocking finding.
    pub fn validation_failed(id: &str, report: ValidationReport) -> Self {
        let details = report.blocking().map(|f| FieldError::new(&f.location, &f.message)).collect();
        Error::ValidationFailed { id: id.to_owned(), report: Box::new(report), details }
    }

    /// `permission_denied` for `subject` lacking `role` (in `environment`), its details naming
    /// the role.
    pub fn permission_denied(subject: &str, role: Role, environment: Option<&str>) -> Self {
        let needed = match environment {
            Some(environment) => format!("{role} for environment '{environment}' is needed"),
            None => format!("{role} is needed"),
        };
        Error::PermissionDenied {
            subject: subject.to_owned(),
            role,
            environment: environment.map(str::to_owned),
            details: vec![FieldError::new("role", needed)],
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
            (Error::RolloutNotPaused { id: "d".into(), state: RolloutState::Running }, "rollout_not_paused"),
            (Error::RollbackFailed { id: "d".into(), message: "m".into() }, "rollback_failed"),
            (Error::Unauthenticated { reason: "the token expired".into() }, "unauthenticated"),
            (Error::permission_denied("alice", Role::Approver, Some("production")), "permission_denied"),
            (Error::UnsupportedMediaType { content_type: Some("text/plain".into()) }, "unsupported_media_type"),
            (Error::RateLimited { retry_after_seconds: 1 }, "rate_limited"),
            (Error::validation_failed("d", ValidationReport::default()), "validation_failed"),
        ];
        for (error, code) in &cases {
            assert_eq!(error.code(), *code, "{error}");
            assert!(CODES.contains(code), "{code} is missing from CODES");
        }
    }

    #[test]
    fn every_code_is_reached_by_a_variant_and_parses_back() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
        }
        assert_eq!(CODES.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn a_denial_names_the_missing_role_in_its_details_and_facts() {
        let e = Error::permission_denied("alice", Role::Approver, Some("production"));
        assert_eq!(e.to_string(), "'alice' may not do this: it needs the role approver for environment 'production'");
        assert_eq!(e.details()[0].field, "role");
        let facts: Vec<&str> = e.facts().into_iter().map(|(name, _)| name).collect();
        assert_eq!(facts, ["subject", "role", "environment"]);
        let limited = Error::RateLimited { retry_after_seconds: 3 };
        assert_eq!(limited.facts(), vec![("retry_after_seconds", Fact::Number(3))]);
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
