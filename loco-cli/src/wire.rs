//! The HTTP API's own shapes: the rollout-start body, query parameters, response envelopes
//! (`{"items": [...]}`), the health answer and the error body. Records themselves — deployments,
//! events, rollouts, releases, audit reports, log lines — are the core's types, rendered exactly
//! as the core serializes them, so the server, the HTTP client, the CLI's `--json` output and the
//! OpenAPI document (whose schemas come from `loco_core::schema`) always agree.

use loco_core::ListQuery;
use loco_core::rollout::ValidationReport;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use crate::server::openapi::refs;

pub use loco_core::platform::LogLine;
pub use loco_core::rollout::{Release, Rollout};
pub use loco_core::{
    ActionInput as ActionRequest, AuditHead, AuditReport, Deployment, Event, FieldError,
    NewDeployment as CreateDeployment,
};

/// Largest accepted request body, in bytes (1 MiB).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// One page of `GET /api/v1/deployments`, newest first.
pub type DeploymentPage = loco_core::Page<Deployment>;

/// `GET /api/v1/deployments/{id}/events`: every event of one deployment, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// The events, oldest first.
    #[schema(value_type = Vec<refs::Event>)]
    pub items: Vec<Event>,
}

/// Query parameters of `GET /api/v1/deployments`. Values stay strings until
/// [`ListParams::into_query`], so a bad value is reported by field name, not by a parser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this service (exact match).
    pub service: Option<String>,
    /// Only this environment (exact match).
    pub environment: Option<String>,
    /// Only this status (`pending_approval`, `approved`, `rejected`, `started`, `succeeded`,
    /// `failed`, `rolled_back`).
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<String>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl ListParams {
    /// The names accepted in the query string.
    pub const NAMES: [&'static str; 5] = ["service", "environment", "status", "limit", "cursor"];

    /// Converts to the core query, which names each bad value.
    pub fn into_query(self) -> loco_core::Result<ListQuery> {
        ListQuery::parse(self.service, self.environment, self.status.as_deref(), self.limit.as_deref(), self.cursor)
    }
}

/// Query parameters of `GET /api/v1/audit/verify`: an exported head (the fields of
/// `GET /api/v1/audit/head`) the chain must still contain. Without them, only the chain is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeadParams {
    /// The exported head's `seq` (required with any of the others).
    pub seq: Option<String>,
    /// Its `hash`.
    pub hash: Option<String>,
    /// Its `hmac`; checked with the server's `LOCO_AUDIT_KEY`, and required when that is set.
    pub hmac: Option<String>,
    /// Its `at`.
    pub at: Option<String>,
}

impl HeadParams {
    /// The names accepted in the query string.
    pub const NAMES: [&'static str; 4] = ["seq", "hash", "hmac", "at"];

    /// The parameters of `head`.
    pub fn of(head: &AuditHead) -> Self {
        Self {
            seq: Some(head.seq.to_string()),
            hash: Some(head.hash.clone()),
            hmac: head.hmac.clone(),
            at: head.at.map(|t| t.to_string()),
        }
    }

    /// The head, if any parameter was given; the core names each bad value.
    pub fn into_head(self) -> loco_core::Result<Option<AuditHead>> {
        AuditHead::from_params(self.seq.as_deref(), self.hash.as_deref(), self.hmac.as_deref(), self.at.as_deref())
    }
}

/// Where a stream starts. Without either, it starts with the next committed event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Replay events with `seq` greater than this first (same as the `Last-Event-ID` header, which
    /// wins when both are given). `after=0` replays the whole history.
    pub after: Option<String>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the server answers.
    #[schema(example = "ok")]
    pub status: String,
}

/// Body of `POST /api/v1/deployments/{id}/rollout`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRollout {
    /// Who starts the rollout (required, non-blank).
    #[schema(example = "deploy-bot")]
    pub actor: Option<String>,
    /// Start in spite of a freeze window in force, for this reason (an admin of the
    /// deployment's environment only); recorded as a `policy_override` event before `started`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// The rollout plan, exactly as `RolloutPlan::from_json` accepts it (see docs/rollouts.md):
    /// `platform`, `strategy`, `release`, `instances`, `health`, `analysis`. Kept as raw JSON
    /// text so the core parses and validates it, naming each bad field. Absent: the plan the
    /// deployment's stage sets in the `service.yaml` manifest it was created under
    /// (`GET /api/v1/deployments/{id}/manifest-plan` shows it).
    #[schema(value_type = Object, example = json!({
        "platform": "local",
        "strategy": {"type": "canary", "steps": [10, 50], "interval_seconds": 60},
        "release": {"version": "2.4.0", "command": ["python3", "app.py"]},
        "instances": 2,
        "health": {"probes": [{"type": "http", "path": "/health"}]}
    }))]
    pub plan: Option<Box<RawValue>>,
}

/// `POST /api/v1/validate`: a plan whose pre-deployment checks to run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidatePlan {
    /// The rollout plan, as for starting a rollout.
    #[schema(value_type = Object)]
    pub plan: Option<Box<RawValue>>,
}

impl ValidatePlan {
    /// The plan's JSON text; an absent plan is `null`, which the core reports as field `plan`.
    pub fn plan_json(&self) -> &str {
        self.plan.as_deref().map_or("null", RawValue::get)
    }
}

impl StartRollout {
    /// The core input: an absent actor becomes empty, which the core rejects by name.
    pub fn input(&self) -> ActionRequest {
        let actor = self.actor.clone().unwrap_or_default();
        ActionRequest { override_reason: self.override_reason.clone(), ..ActionRequest::new(actor) }
    }
}

/// Body of `POST /api/v1/releases/rollback`: roll a service and environment back to a retained
/// release.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackTo {
    /// The service.
    #[serde(default)]
    #[schema(example = "checkout")]
    pub service: String,
    /// The environment.
    #[serde(default)]
    #[schema(example = "production")]
    pub environment: String,
    /// The retained release's version (see `GET /api/v1/releases`).
    #[serde(default)]
    #[schema(example = "2.3.9")]
    pub version: String,
    /// Who asks (the token's subject when absent; someone else is refused).
    #[serde(default)]
    pub actor: String,
    /// Why (required).
    #[serde(default)]
    #[schema(example = "2.4.0 leaks memory")]
    pub note: Option<String>,
}

/// `GET /api/v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutList {
    /// The rollouts.
    #[schema(value_type = Vec<refs::Rollout>)]
    pub items: Vec<Rollout>,
}

/// `GET /api/v1/releases`: newest first; the first is current unless retired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseList {
    /// The releases.
    #[schema(value_type = Vec<refs::Release>)]
    pub items: Vec<Release>,
}

/// Query parameters of `GET /api/v1/rollouts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RolloutsParams {
    /// `true`: only active rollouts (running, paused, rolling back); `false` or absent: all.
    pub active: Option<String>,
}

impl RolloutsParams {
    /// Whether only active rollouts are wanted; anything but `true`/`false` names `active`.
    pub fn active_only(&self) -> loco_core::Result<bool> {
        match self.active.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(loco_core::Error::invalid("active", format!("'{other}' is not true or false"))),
        }
    }
}

/// Query parameters of `GET /api/v1/releases`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReleaseParams {
    /// The service (required).
    pub service: Option<String>,
    /// The environment (required).
    pub environment: Option<String>,
    /// How many, newest first (default 50; 1–500).
    pub limit: Option<String>,
}

impl ReleaseParams {
    /// The service, environment and limit; a missing service or environment or a limit that is
    /// not a number is a validation error naming each.
    pub fn parts(&self) -> loco_core::Result<(&str, &str, u32)> {
        let mut details = Vec::new();
        let service = self.service.as_deref().filter(|v| !v.trim().is_empty());
        let environment = self.environment.as_deref().filter(|v| !v.trim().is_empty());
        for (name, value) in [("service", service), ("environment", environment)] {
            if value.is_none() {
                details.push(FieldError::new(name, "is required"));
            }
        }
        let limit = match self.limit.as_deref() {
            None => Some(loco_core::model::DEFAULT_PAGE_LIMIT),
            Some(l) => l.trim().parse::<u32>().ok(),
        };
        if limit.is_none() {
            let l = self.limit.as_deref().unwrap_or_default();
            details.push(FieldError::new("limit", format!("'{l}' is not a count of releases")));
        }
        match (service, environment, limit) {
            (Some(service), Some(environment), Some(limit)) if details.is_empty() => Ok((service, environment, limit)),
            _ => Err(loco_core::Error::Validation { details }),
        }
    }
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for (`ci`, `alice's laptop`).
    #[schema(example = "ci")]
    pub name: String,
    /// Who it acts as: the actor of everything done with it.
    #[schema(example = "ci-bot")]
    pub subject: String,
    /// Roles, each optionally for one environment: `viewer`, `requester`, `approver:production`,
    /// `deployer:staging`, `admin`.
    #[schema(example = json!(["deployer:staging"]))]
    pub grants: Vec<String>,
    /// When it stops working (RFC 3339); absent for never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<loco_core::Timestamp>,
}

impl CreateToken {
    /// The core request; each bad grant is named by its index (`grants[1]`).
    pub fn into_new(self) -> loco_core::Result<loco_core::identity::NewToken> {
        let mut details = Vec::new();
        let mut grants = Vec::new();
        for (i, text) in self.grants.iter().enumerate() {
            match loco_core::identity::Grant::parse(text) {
                Ok(grant) => grants.push(grant),
                Err(e) => {
                    details.extend(e.details().iter().map(|d| FieldError::new(format!("grants[{i}]"), &d.message)));
                }
            }
        }
        if !details.is_empty() {
            return Err(loco_core::Error::Validation { details });
        }
        Ok(loco_core::identity::NewToken {
            name: self.name,
            subject: self.subject,
            grants,
            expires_at: self.expires_at,
        })
    }
}

/// `POST /api/v1/tokens`: the new token and its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token as it is listed from now on.
    #[schema(value_type = refs::Token)]
    pub token: loco_core::identity::Token,
    /// The secret to send as `Authorization: Bearer <secret>`; only its hash is kept.
    pub secret: String,
}

/// `GET /api/v1/tokens`: every token, newest first (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// The tokens.
    #[schema(value_type = Vec<refs::Token>)]
    pub items: Vec<loco_core::identity::Token>,
}

/// `GET /api/v1/services`: every registered service, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceList {
    /// The services.
    #[schema(value_type = Vec<refs::ServiceDefinition>)]
    pub items: Vec<loco_core::service::ServiceDefinition>,
}

/// `GET /api/v1/freezes`: every freeze window, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FreezeList {
    /// The windows.
    #[schema(value_type = Vec<refs::FreezeWindow>)]
    pub items: Vec<loco_core::freeze::FreezeWindow>,
}

/// `GET /api/v1/locks`: every deploy lock held, by service then environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LockList {
    /// The locks.
    #[schema(value_type = Vec<refs::DeployLock>)]
    pub items: Vec<loco_core::lock::DeployLock>,
}

/// The body of `POST /api/v1/locks/{service}/{environment}/release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRelease {
    /// Why the lock is forced free (required, recorded as the `lock_released` event's note).
    pub reason: String,
    /// Who releases it; with authentication on, leave it out (the token's subject is used).
    #[serde(default)]
    pub actor: String,
}

/// `GET /api/v1/pipelines`: every pipeline, by service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PipelineList {
    /// The pipelines.
    #[schema(value_type = Vec<refs::Pipeline>)]
    pub items: Vec<loco_core::pipeline::Pipeline>,
}

/// `GET /api/v1/manifests` and `GET /api/v1/manifests/{service}/versions`: manifest versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ManifestList {
    /// The versions (the newest of each service, or one service's newest first).
    #[schema(value_type = Vec<refs::ManifestRecord>)]
    pub items: Vec<loco_core::manifest::ManifestRecord>,
}

/// The body of `POST /api/v1/validate/manifest`: a `service.yaml` manifest's text (YAML, or
/// JSON), sent as a JSON string so the request stays `application/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestText {
    /// The manifest, exactly as written in the file (at most 256 KiB).
    #[serde(default)]
    pub manifest: String,
}

/// The body of `POST /api/v1/deployments/{id}/promote`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// Who promotes it (the new deployment's requester); with authentication on, leave it out
    /// (the token's subject is used).
    #[serde(default)]
    pub actor: String,
}

/// `GET /api/v1/freezes/active`: the freeze in force for an environment at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FreezeCheck {
    /// The environment asked about.
    pub environment: String,
    /// The instant asked about (now when the query gave none), RFC 3339.
    pub at: String,
    /// The occurrence in force (of the window ending last), or `null`: starts may go ahead.
    #[schema(value_type = Option<refs::ActiveFreeze>)]
    pub active: Option<loco_core::freeze::ActiveFreeze>,
}

/// Query parameters of `GET /api/v1/freezes/active`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FreezeParams {
    /// The environment (required).
    pub environment: Option<String>,
    /// The instant, RFC 3339 (default: now).
    pub at: Option<String>,
}

impl FreezeParams {
    /// The environment and instant; a missing environment or an instant that is not RFC 3339
    /// is a validation error naming it.
    pub fn parts(&self) -> loco_core::Result<(&str, Option<loco_core::Timestamp>)> {
        let environment = self.environment.as_deref().filter(|e| !e.trim().is_empty());
        let at = self.at.as_deref().map(parse_instant).transpose()?;
        Ok((environment.ok_or_else(|| loco_core::Error::invalid("environment", "is required"))?, at))
    }
}

/// `GET /api/v1/gates`: every approval gate, by environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateList {
    /// The gates.
    #[schema(value_type = Vec<refs::ApprovalGate>)]
    pub items: Vec<loco_core::gate::ApprovalGate>,
}

/// `GET /api/v1/schedules`: every deployment's latest scheduled start, soonest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    /// The schedules.
    #[schema(value_type = Vec<refs::ScheduledStart>)]
    pub items: Vec<loco_core::schedule::ScheduledStart>,
}

/// `GET /api/v1/groups`: every reviewer group, by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct GroupList {
    /// The groups.
    #[schema(value_type = Vec<refs::ReviewerGroup>)]
    pub items: Vec<loco_core::gate::ReviewerGroup>,
}

/// Query parameters of `DELETE /api/v1/gates/{environment}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GateParams {
    /// The service whose own gate is removed (default: the environment-wide gate).
    pub service: Option<String>,
}

/// Query parameters of `GET /api/v1/deployments/{id}/approvals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalParams {
    /// The instant the approvals are counted at, RFC 3339 (default: now); approvals that have
    /// expired by then do not count.
    pub at: Option<String>,
}

impl ApprovalParams {
    /// The instant; one that is not RFC 3339 is a validation error naming `at`.
    pub fn at(&self) -> loco_core::Result<Option<loco_core::Timestamp>> {
        self.at.as_deref().map(parse_instant).transpose()
    }
}

/// An RFC 3339 instant given as the `at` parameter.
pub fn parse_instant(text: &str) -> loco_core::Result<loco_core::Timestamp> {
    loco_core::Timestamp::parse(text.trim()).map_err(|_| {
        loco_core::Error::invalid("at", format!("'{text}' is not an RFC 3339 time such as 2026-12-24T18:00:00+01:00"))
    })
}

/// `GET /api/v1/platforms`: every configured platform, by name, tokens `***`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlatformList {
    /// The platforms.
    #[schema(value_type = Vec<refs::PlatformConfig>)]
    pub items: Vec<loco_core::platform_config::PlatformConfig>,
}

/// `POST /api/v1/platforms/{name}/test`: the provider accepted the token and knows the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformTest {
    /// The platform tested.
    pub name: String,
    /// Always `true` (a failed test is a `platform_error`).
    pub ok: bool,
}

/// `GET /api/v1/whoami`: who the request's token acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The token's subject; null when the server runs without authentication.
    pub subject: Option<String>,
    /// Its grants (`approver:production`); empty without authentication.
    pub grants: Vec<String>,
    /// The token's id; null without authentication.
    pub token_id: Option<String>,
}

/// Every error response: `{"error": {"code", "message", "details"}}` (and `report` for
/// `validation_failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable machine-readable code: one of the core's `ErrorCode`s, or from the HTTP layer
    /// itself `not_found` for unknown paths, `method_not_allowed` and `internal_error`.
    #[schema(example = "invalid_transition")]
    pub code: String,
    /// A sentence for people; do not parse it.
    pub message: String,
    /// One entry per invalid field (validation errors only; otherwise empty).
    #[schema(value_type = Vec<refs::FieldError>)]
    pub details: Vec<FieldError>,
    /// The full pre-deployment validation report (`validation_failed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<refs::ValidationReport>)]
    pub report: Option<Box<ValidationReport>>,
}

impl From<&loco_core::Error> for ErrorBody {
    fn from(e: &loco_core::Error) -> Self {
        ErrorBody {
            error: ErrorInfo {
                code: e.code().to_owned(),
                message: e.to_string(),
                details: e.details().to_vec(),
                report: e.report().cloned().map(Box::new),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use loco_core::Status;

    use super::*;

    #[test]
    fn list_params_name_the_bad_field() {
        let bad = |p: ListParams| p.into_query().unwrap_err().details()[0].field.clone();
        assert_eq!(bad(ListParams { limit: Some("ten".into()), ..ListParams::default() }), "limit");
        assert_eq!(bad(ListParams { limit: Some("-1".into()), ..ListParams::default() }), "limit");
        assert_eq!(bad(ListParams { status: Some("done".into()), ..ListParams::default() }), "status");
        let q = ListParams { status: Some("approved".into()), limit: Some("7".into()), ..ListParams::default() }
            .into_query()
            .unwrap();
        assert_eq!((q.status, q.limit), (Some(Status::Approved), Some(7)));
    }

    #[test]
    fn missing_or_null_create_fields_read_as_empty_for_the_core_to_name() {
        let new: CreateDeployment = serde_json::from_str(r#"{"service": "api", "environment": null}"#).unwrap();
        assert_eq!((new.service.as_str(), new.environment.as_str(), new.risk), ("api", "", None));
        assert!(new.work_refs.is_empty());
        assert!(serde_json::from_str::<CreateDeployment>(r#"{"colour": "red"}"#).is_err());
        let input: ActionRequest = serde_json::from_str(r#"{"actor": null}"#).unwrap();
        assert_eq!((input.actor.as_str(), input.note), ("", None));
    }
}
