//! CLI failures and their exit codes: one distinct, documented code per error class, so scripts
//! can branch on `$?` without parsing text.

use std::process::ExitCode;

use loco_core::rollout::RolloutState;

use crate::client::ClientError;
use loco_core::ErrorCode;
use loco_core::rollout::RolloutFailure;

use crate::wire::ErrorBody;

/// Exit codes of the `loco` binary (also listed in `docs/cli.md`).
pub mod code {
    /// Success.
    pub const OK: u8 = 0;
    /// An unexpected failure: a bad server response, an I/O error, a bug.
    pub const INTERNAL: u8 = 1;
    /// Bad command line (unknown flag, missing argument, no `--server`/`--db`). Clap uses 2 too.
    pub const USAGE: u8 = 2;
    /// `validation_error`: missing or invalid input.
    pub const VALIDATION: u8 = 3;
    /// `not_found`: no such deployment.
    pub const NOT_FOUND: u8 = 4;
    /// `invalid_transition`: the action is not allowed from the current status.
    pub const INVALID_TRANSITION: u8 = 5;
    /// `self_approval`: the requester tried to review their own deployment.
    pub const SELF_APPROVAL: u8 = 6;
    /// `idempotency_conflict`: the key was used with a different request.
    pub const IDEMPOTENCY_CONFLICT: u8 = 7;
    /// `payload_too_large`: the request body was over 1 MiB.
    pub const PAYLOAD_TOO_LARGE: u8 = 8;
    /// `storage_error`: the database failed; nothing was written.
    pub const STORAGE: u8 = 9;
    /// The server could not be reached.
    pub const UNREACHABLE: u8 = 10;
    /// `loco verify` found a broken audit chain.
    pub const AUDIT_BROKEN: u8 = 11;
    /// `rollout_conflict`: another rollout is active on the same service and environment.
    pub const ROLLOUT_CONFLICT: u8 = 12;
    /// `rollout_in_progress`: the deployment's rollout is running; only rollback is allowed.
    pub const ROLLOUT_IN_PROGRESS: u8 = 13;
    /// `platform_error`: the deployment platform failed.
    pub const PLATFORM: u8 = 14;
    /// `rollback_failed`: restoring the previous release failed.
    pub const ROLLBACK_FAILED: u8 = 15;
    /// `rollout_not_paused`: the rollout must be paused for this (resume, promote).
    pub const ROLLOUT_NOT_PAUSED: u8 = 16;
    /// A rollout waited for (`rollout wait`, `rollout start --wait`) ended `rolled_back`.
    pub const ROLLOUT_ROLLED_BACK: u8 = 17;
    /// A rollout waited for ended `rollback_failed`: the previous release may not be serving.
    pub const ROLLOUT_ROLLBACK_FAILED: u8 = 18;
    /// Interrupted (Ctrl-C or SIGTERM) while running a rollout in this process: the engine was
    /// closed, and the rollout is suspended until the next engine on the database recovers it.
    pub const INTERRUPTED: u8 = 19;
    /// `unauthenticated`: no token, or a bad, expired or revoked one.
    pub const UNAUTHENTICATED: u8 = 20;
    /// `permission_denied`: the token lacks the role.
    pub const PERMISSION_DENIED: u8 = 21;
    /// `unsupported_media_type`: a request body not sent as JSON.
    pub const UNSUPPORTED_MEDIA_TYPE: u8 = 22;
    /// `rate_limited`: too many requests; retry later.
    pub const RATE_LIMITED: u8 = 23;
    /// `validation_failed`: pre-deployment validation refused the release (or `loco validate`
    /// found blocking problems).
    pub const VALIDATION_FAILED: u8 = 24;
    /// `policy_violation`: a policy (a freeze window, the deploy lock, an approval gate's rule or
    /// wait) refused the operation.
    pub const POLICY_VIOLATION: u8 = 25;
    /// `approval_required`: the environment's approval gate needs more approvals first.
    pub const APPROVAL_REQUIRED: u8 = 26;
}

/// Everything a CLI command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// An API error, from the server or from the local engine (same body either way).
    Api(ErrorBody),
    /// The server could not be reached.
    Unreachable(String),
    /// The command line is unusable.
    Usage(String),
    /// Anything unexpected.
    Internal(String),
    /// The audit chain did not verify (the report was already printed).
    AuditBroken,
    /// `loco validate` found blocking problems (the report was already printed).
    ValidationRefused,
    /// A rollout that was waited for ended `rolled_back` or `rollback_failed` (the rollout was
    /// already printed).
    RolloutEnded {
        /// The deployment.
        deployment_id: String,
        /// `rolled_back` or `rollback_failed`.
        state: RolloutState,
        /// Why, as the rollout recorded it.
        failure: Option<RolloutFailure>,
    },
    /// A signal stopped a rollout running in this process; the engine was closed.
    Interrupted(String),
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            // Codes of the HTTP layer itself (`method_not_allowed`, `internal_error`) are no
            // core error: unexpected for this client.
            CliError::Api(body) => body.error.code.parse().map_or(code::INTERNAL, exit_code_of),
            CliError::Unreachable(_) => code::UNREACHABLE,
            CliError::Usage(_) => code::USAGE,
            CliError::Internal(_) => code::INTERNAL,
            CliError::AuditBroken => code::AUDIT_BROKEN,
            CliError::ValidationRefused => code::VALIDATION_FAILED,
            CliError::RolloutEnded { state: RolloutState::RollbackFailed, .. } => code::ROLLOUT_ROLLBACK_FAILED,
            CliError::RolloutEnded { .. } => code::ROLLOUT_ROLLED_BACK,
            CliError::Interrupted(_) => code::INTERRUPTED,
        }
    }

    /// The JSON error body printed on stderr in `--json` mode.
    pub fn body(&self) -> ErrorBody {
        let plain = |code: &str, message: &str| ErrorBody {
            error: crate::wire::ErrorInfo {
                code: code.to_owned(),
                message: message.to_owned(),
                details: Vec::new(),
                report: None,
            },
        };
        match self {
            CliError::Api(body) => body.clone(),
            CliError::Unreachable(m) => plain("unreachable", m),
            CliError::Usage(m) => plain("usage", m),
            CliError::Internal(m) => plain("internal_error", m),
            CliError::AuditBroken => plain("audit_broken", "the audit chain did not verify"),
            CliError::ValidationRefused => {
                plain("validation_failed", "the pre-deployment checks would refuse the release")
            }
            CliError::RolloutEnded { deployment_id, state, failure } => {
                let why = failure.as_ref().map_or_else(String::new, |f| {
                    let step = f.step.map_or_else(String::new, |s| format!(" at step {s}"));
                    format!(": {}{step}: {}", f.code, f.message)
                });
                let code = if *state == RolloutState::RollbackFailed {
                    "rollout_rollback_failed"
                } else {
                    "rollout_rolled_back"
                };
                plain(code, &format!("the rollout of deployment '{deployment_id}' ended {state}{why}"))
            }
            CliError::Interrupted(m) => plain("interrupted", m),
        }
    }

    /// The process exit code as an [`ExitCode`].
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

/// The exit code of each core error code.
fn exit_code_of(error: ErrorCode) -> u8 {
    match error {
        ErrorCode::ValidationError => code::VALIDATION,
        ErrorCode::NotFound => code::NOT_FOUND,
        ErrorCode::InvalidTransition => code::INVALID_TRANSITION,
        ErrorCode::SelfApproval => code::SELF_APPROVAL,
        ErrorCode::IdempotencyConflict => code::IDEMPOTENCY_CONFLICT,
        ErrorCode::PayloadTooLarge => code::PAYLOAD_TOO_LARGE,
        ErrorCode::StorageError => code::STORAGE,
        ErrorCode::RolloutConflict => code::ROLLOUT_CONFLICT,
        ErrorCode::RolloutInProgress => code::ROLLOUT_IN_PROGRESS,
        ErrorCode::PlatformError => code::PLATFORM,
        ErrorCode::RollbackFailed => code::ROLLBACK_FAILED,
        ErrorCode::RolloutNotPaused => code::ROLLOUT_NOT_PAUSED,
        ErrorCode::Unauthenticated => code::UNAUTHENTICATED,
        ErrorCode::PermissionDenied => code::PERMISSION_DENIED,
        ErrorCode::UnsupportedMediaType => code::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RateLimited => code::RATE_LIMITED,
        ErrorCode::ValidationFailed => code::VALIDATION_FAILED,
        ErrorCode::PolicyViolation => code::POLICY_VIOLATION,
        ErrorCode::ApprovalRequired => code::APPROVAL_REQUIRED,
    }
}

impl From<loco_core::Error> for CliError {
    fn from(e: loco_core::Error) -> Self {
        CliError::Api(ErrorBody::from(&e))
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Api { body, .. } => CliError::Api(body),
            ClientError::Unreachable { .. } => CliError::Unreachable(e.to_string()),
            ClientError::BadUrl { .. } => CliError::Usage(e.to_string()),
            ClientError::Unexpected { .. } => CliError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use loco_core::rollout::FailureCode;

    use super::*;

    #[test]
    fn every_core_code_has_its_own_exit_code() {
        let mut seen: Vec<u8> = ErrorCode::ALL
            .iter()
            .map(|c| {
                let body = ErrorBody {
                    error: crate::wire::ErrorInfo {
                        code: c.as_str().into(),
                        message: String::new(),
                        details: vec![],
                        report: None,
                    },
                };
                CliError::Api(body).exit_code()
            })
            .collect();
        seen.extend([
            CliError::Unreachable(String::new()).exit_code(),
            CliError::Usage(String::new()).exit_code(),
            CliError::Internal(String::new()).exit_code(),
            CliError::AuditBroken.exit_code(),
            CliError::RolloutEnded { deployment_id: String::new(), state: RolloutState::RolledBack, failure: None }
                .exit_code(),
            CliError::RolloutEnded { deployment_id: String::new(), state: RolloutState::RollbackFailed, failure: None }
                .exit_code(),
            CliError::Interrupted(String::new()).exit_code(),
        ]);
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{seen:?}");
        assert!(!seen.contains(&code::OK));
        assert_eq!(*unique.last().unwrap(), code::APPROVAL_REQUIRED, "new codes go at the end of the table");
        // `loco validate` refusing a release means what the API's `validation_failed` means.
        assert_eq!(CliError::ValidationRefused.exit_code(), code::VALIDATION_FAILED);
    }

    #[test]
    fn an_ended_rollout_says_why() {
        let failure =
            RolloutFailure { code: FailureCode::AnalysisCritical, message: "error rate 60%".into(), step: Some(4) };
        let error = CliError::RolloutEnded {
            deployment_id: "dep_1".into(),
            state: RolloutState::RolledBack,
            failure: Some(failure),
        };
        assert_eq!(error.exit_code(), 17);
        let body = error.body();
        assert_eq!(body.error.code, "rollout_rolled_back");
        assert_eq!(
            body.error.message,
            "the rollout of deployment 'dep_1' ended rolled_back: analysis_critical at step 4: error rate 60%"
        );
    }
}
