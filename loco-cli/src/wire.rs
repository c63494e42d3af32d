//! The JSON shapes of the HTTP API (requests, responses, errors), shared by the server, the HTTP
//! client, the CLI's `--json` output and the OpenAPI document, so all four always agree.
//!
//! These types carry no lifecycle rules: request fields are optional here so that a missing field
//! reaches `loco_core::lifecycle` as an empty value and the core names it. Rollout shapes mirror
//! `loco_core::rollout` field for field (the rollout plan and the analysis judgement are kept as
//! the core's JSON), so the API renders exactly what the core serializes.

use std::collections::BTreeMap;

use loco_core::lifecycle::Status;
use loco_core::platform::{InstanceState, LogStream};
use loco_core::rollout::RolloutState;
use loco_core::{AuditReport as CoreAuditReport, ListQuery, NewDeployment};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

/// Largest accepted request body, in bytes (1 MiB).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Body of `POST /api/v1/deployments`. Every field is optional on the wire; the core reports the
/// missing ones as `validation_error` details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    /// The service being deployed (required, non-blank, ≤ 256 characters).
    #[schema(example = "checkout")]
    pub service: Option<String>,
    /// The target environment; `production`/`prod` (any case) require `risk`.
    #[schema(example = "staging")]
    pub environment: Option<String>,
    /// The version or build being deployed.
    #[schema(example = "2.4.0")]
    pub version: Option<String>,
    /// Who asks for the deployment; may not approve or reject it.
    #[schema(example = "alice@example.com")]
    pub requester: Option<String>,
    /// Issues, pull requests or other planned work (1–100 non-blank entries).
    #[schema(example = json!(["PAY-142"]))]
    pub work_refs: Option<Vec<String>>,
    /// How to recover if the deployment goes wrong (required, ≤ 64 KiB).
    #[schema(example = "redeploy 2.3.9")]
    pub rollback_plan: Option<String>,
    /// Accepted risk; required for production, optional otherwise.
    pub risk: Option<String>,
}

impl CreateDeployment {
    /// The core request: an absent field becomes the empty value, which the core rejects by name.
    pub fn into_new(self) -> NewDeployment {
        NewDeployment {
            service: self.service.unwrap_or_default(),
            environment: self.environment.unwrap_or_default(),
            version: self.version.unwrap_or_default(),
            requester: self.requester.unwrap_or_default(),
            work_refs: self.work_refs.unwrap_or_default(),
            rollback_plan: self.rollback_plan.unwrap_or_default(),
            risk: self.risk,
        }
    }
}

/// Body of `POST /api/v1/deployments/{id}/{action}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Who performs the action (required, non-blank).
    #[schema(example = "bob@example.com")]
    pub actor: Option<String>,
    /// Why; required (non-blank) for reject, fail and rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ActionRequest {
    /// The core input: an absent actor becomes the empty string, which the core rejects by name.
    pub fn into_input(self) -> loco_core::ActionInput {
        loco_core::ActionInput { actor: self.actor.unwrap_or_default(), note: self.note }
    }
}

/// A deployment as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    /// `dep_` followed by a ULID.
    #[schema(example = "dep_01JDQ7Z6W3K8V9X2Y4B5C6D7E8")]
    pub id: String,
    /// The service being deployed.
    pub service: String,
    /// The target environment.
    pub environment: String,
    /// The version or build being deployed.
    pub version: String,
    /// Who asked for the deployment.
    pub requester: String,
    /// Planned work the deployment delivers.
    pub work_refs: Vec<String>,
    /// How to recover if the deployment goes wrong.
    pub rollback_plan: String,
    /// Accepted risk, or null.
    pub risk: Option<String>,
    /// Where the deployment is in its lifecycle.
    #[schema(schema_with = status_schema)]
    pub status: Status,
    /// Who approved or rejected it, or null.
    pub reviewed_by: Option<String>,
    /// When it was approved or rejected (RFC 3339 UTC), or null.
    #[schema(format = DateTime)]
    pub reviewed_at: Option<String>,
    /// When it was created (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its status last changed (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<loco_core::Deployment> for Deployment {
    fn from(d: loco_core::Deployment) -> Self {
        Self {
            id: d.id,
            service: d.service,
            environment: d.environment,
            version: d.version,
            requester: d.requester,
            work_refs: d.work_refs,
            rollback_plan: d.rollback_plan,
            risk: d.risk,
            status: d.status,
            reviewed_by: d.reviewed_by,
            reviewed_at: d.reviewed_at.map(|t| t.to_string()),
            created_at: d.created_at.to_string(),
            updated_at: d.updated_at.to_string(),
        }
    }
}

/// One history entry as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Position in the store-wide event order (1, 2, 3, …); also the SSE event id.
    pub seq: i64,
    /// `evt_` followed by a ULID.
    pub id: String,
    /// The deployment this event belongs to.
    pub deployment_id: String,
    /// What happened. Kept as a string so clients accept kinds added later.
    #[schema(schema_with = event_kind_schema)]
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Why, or null.
    pub note: Option<String>,
    /// Status before the event; null on `created`.
    #[schema(schema_with = nullable_status_schema)]
    pub from_status: Option<Status>,
    /// Status after the event.
    #[schema(schema_with = nullable_status_schema)]
    pub to_status: Option<Status>,
    /// When it was recorded (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub at: String,
    /// `sha256(previous hash ‖ canonical bytes of this event)`, lowercase hex.
    pub hash: String,
    /// Structured facts of rollout events (step, traffic, instances, probe results); null on
    /// lifecycle events.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

impl From<loco_core::Event> for Event {
    fn from(e: loco_core::Event) -> Self {
        Self {
            seq: e.seq,
            id: e.id,
            deployment_id: e.deployment_id,
            kind: e.kind.as_str().to_owned(),
            actor: e.actor,
            note: e.note,
            from_status: e.from_status,
            to_status: e.to_status,
            at: e.at.to_string(),
            hash: e.hash,
            data: e.data,
        }
    }
}

/// One page of `GET /api/v1/deployments`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentPage {
    /// The deployments on this page.
    pub items: Vec<Deployment>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/deployments/{id}/events`: every event of one deployment, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// The events, oldest first.
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

    /// Converts to the core query. Only the syntax of `limit` is checked here; its range, the
    /// status names and the cursor are checked by the core.
    pub fn into_query(self) -> loco_core::Result<ListQuery> {
        let status = self.status.map(|s| Status::parse_field(&s, "status")).transpose()?;
        let limit = self
            .limit
            .map(|l| {
                l.trim().parse::<u32>().map_err(|_| {
                    loco_core::Error::invalid(
                        "limit",
                        format!("'{l}' is not a page size; expected an integer between 1 and 500"),
                    )
                })
            })
            .transpose()?;
        Ok(ListQuery { service: self.service, environment: self.environment, status, limit, cursor: self.cursor })
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

/// `GET /api/v1/audit/verify`: the result of walking the whole audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditReport {
    /// True when every link and every deployment's state matched.
    pub valid: bool,
    /// How many events were checked.
    pub events_checked: u64,
    /// The hash of the last event checked; null when there are no events or the chain is broken.
    pub head_hash: Option<String>,
    /// The first problem found, or null.
    pub first_broken: Option<BrokenLink>,
}

/// Where the audit chain first failed to verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BrokenLink {
    /// The offending event's seq.
    pub seq: i64,
    /// The offending event's id.
    pub event_id: String,
    /// The deployment it belongs to.
    pub deployment_id: String,
    /// What is wrong, in one sentence.
    pub reason: String,
}

impl From<CoreAuditReport> for AuditReport {
    fn from(r: CoreAuditReport) -> Self {
        Self {
            valid: r.valid,
            events_checked: r.events_checked,
            head_hash: r.head_hash,
            first_broken: r.first_broken.map(|b| BrokenLink {
                seq: b.seq,
                event_id: b.event_id,
                deployment_id: b.deployment_id,
                reason: b.reason,
            }),
        }
    }
}

/// Body of `POST /api/v1/deployments/{id}/rollout`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRollout {
    /// Who starts the rollout (required, non-blank).
    #[schema(example = "deploy-bot")]
    pub actor: Option<String>,
    /// The rollout plan, exactly as `RolloutPlan::from_json` accepts it (see docs/rollouts.md):
    /// `platform`, `strategy`, `release`, `instances`, `health`, `analysis`. Kept as raw JSON
    /// text so the core parses and validates it, naming each bad field.
    #[schema(value_type = Object, example = json!({
        "platform": "local",
        "strategy": {"type": "canary", "steps": [10, 50], "interval_seconds": 60},
        "release": {"version": "2.4.0", "command": ["python3", "app.py"]},
        "instances": 2,
        "health": {"probes": [{"type": "http", "path": "/health"}]}
    }))]
    pub plan: Option<Box<RawValue>>,
}

impl StartRollout {
    /// The plan's JSON text for `RolloutPlan::from_json`; an absent plan is `null`, which the
    /// core reports as field `plan`.
    pub fn plan_json(&self) -> &str {
        self.plan.as_deref().map_or("null", RawValue::get)
    }

    /// The core actor: absent becomes empty, which the core rejects by name.
    pub fn actor(&self) -> &str {
        self.actor.as_deref().unwrap_or_default()
    }
}

/// The durable record of one deployment's rollout, as the core serializes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rollout {
    /// The deployment being rolled out.
    #[schema(example = "dep_01JDQ7Z6W3K8V9X2Y4B5C6D7E8")]
    pub deployment_id: String,
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
    /// The platform running it (`local`, …).
    pub platform: String,
    /// The plan being executed, with every default filled in (see `StartRollout.plan`).
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
    /// Where it is: `running`, `paused`, `succeeded`, `rolling_back`, `rolled_back`,
    /// `rollback_failed` (the first three hold the service+environment).
    #[schema(schema_with = rollout_state_schema)]
    pub state: RolloutState,
    /// Its steps, traffic, instances and latest analysis.
    pub progress: RolloutProgress,
    /// The release it restores on rollback (null for a service's first release).
    pub previous: Option<Release>,
    /// Why it did not succeed, when it did not.
    pub failure: Option<RolloutFailure>,
    /// Who started it.
    pub actor: String,
    /// The engine process executing it (`host/pid/process start time`).
    pub owner: String,
    /// When its owner last showed it was alive (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub heartbeat_at: String,
    /// When it started (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub started_at: String,
    /// When it last changed (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// When it reached a final state (RFC 3339 UTC), or null.
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

/// Where a rollout's steps stand, recorded after every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutProgress {
    /// Steps completed so far.
    pub completed_steps: u32,
    /// Steps in the plan.
    pub total_steps: u32,
    /// What the current (or last) step does, e.g. `shift 10% of traffic to the new release`.
    pub step: String,
    /// The traffic split last applied.
    pub traffic: Vec<TrafficWeight>,
    /// Every instance of the new release, and the old release's instances this rollout retired.
    pub instances: Vec<Instance>,
    /// Where clients reach the service (`host:port` of the local proxy), when the platform says.
    pub endpoint: Option<String>,
    /// The latest canary-analysis judgement (`verdict` pass/fail/inconclusive, `severity`,
    /// `reasons`, `canary` and `baseline` windows, `error_rate_test`, `latency_test`), or null.
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
}

/// A share of traffic for one release version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrafficWeight {
    /// The release version.
    pub version: String,
    /// Its share, 0–100; the shares of one split add up to 100.
    pub percent: u8,
}

/// One running copy of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    /// `ins_` followed by a ULID, chosen before the platform starts it.
    pub id: String,
    /// The release version it runs.
    pub version: String,
    /// Where it listens (`host:port`), when the platform exposes it.
    pub address: Option<String>,
    /// Its process id, for platforms that run local processes.
    pub pid: Option<u32>,
    /// `starting`, `running` or `stopped`.
    #[schema(schema_with = instance_state_schema)]
    pub state: InstanceState,
}

/// Why a rollout did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutFailure {
    /// `health_check_failed`, `analysis_critical`, `pause_timeout`, `step_failed`,
    /// `rollback_requested`, `engine_restarted` or `rollback_failed`.
    #[schema(example = "analysis_critical")]
    pub code: String,
    /// What happened, in one or two sentences.
    pub message: String,
    /// The step (1-based) during which it happened, or null.
    pub step: Option<u32>,
}

/// A release that served (or serves) a service+environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Release {
    /// The version label.
    pub version: String,
    /// The deployment that brought it.
    pub deployment_id: String,
    /// The platform it runs on.
    pub platform: String,
    /// How to run it again.
    pub spec: ReleaseSpec,
    /// Its instances when it was last recorded.
    pub instances: Vec<Instance>,
    /// When it started serving all traffic (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub activated_at: String,
    /// When another release replaced it (RFC 3339 UTC); null while current.
    #[schema(format = DateTime)]
    pub retired_at: Option<String>,
}

/// How a release is run (the plan's `release`, with the version filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseSpec {
    /// The version label.
    pub version: String,
    /// For the local platform: the program and its arguments.
    pub command: Vec<String>,
    /// Extra environment variables of every instance.
    pub env: BTreeMap<String, String>,
    /// For cloud platforms: the image or source reference, or null.
    pub image: Option<String>,
}

/// `GET /api/v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutList {
    /// The rollouts.
    pub items: Vec<Rollout>,
}

/// `GET /api/v1/releases`: newest first; the first is current unless retired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseList {
    /// The releases.
    pub items: Vec<Release>,
}

/// One line of an instance's output (`GET …/rollout/instances/{instance_id}/logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// The instance that wrote it.
    pub instance_id: String,
    /// `stdout` or `stderr`.
    #[schema(schema_with = log_stream_schema)]
    pub stream: LogStream,
    /// The text, without the trailing newline.
    pub line: String,
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
    /// How many, newest first (default 50; the core keeps it within 1–500).
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
                details.push(loco_core::FieldError::new(name, "is required"));
            }
        }
        let limit = match self.limit.as_deref() {
            None => Some(loco_core::model::DEFAULT_PAGE_LIMIT),
            Some(l) => l.trim().parse::<u32>().ok(),
        };
        if limit.is_none() {
            let l = self.limit.as_deref().unwrap_or_default();
            details.push(loco_core::FieldError::new("limit", format!("'{l}' is not a count of releases")));
        }
        match (service, environment, limit) {
            (Some(service), Some(environment), Some(limit)) if details.is_empty() => Ok((service, environment, limit)),
            _ => Err(loco_core::Error::Validation { details }),
        }
    }
}

fn timestamp(t: loco_core::Timestamp) -> String {
    t.to_string()
}

/// The core's JSON of plain data (string keys, no custom serializers that fail).
fn json_of<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl From<loco_core::rollout::Rollout> for Rollout {
    fn from(r: loco_core::rollout::Rollout) -> Self {
        Self {
            deployment_id: r.deployment_id,
            service: r.service,
            environment: r.environment,
            platform: r.platform,
            plan: json_of(&r.plan),
            state: r.state,
            progress: r.progress.into(),
            previous: r.previous.map(Into::into),
            failure: r.failure.map(Into::into),
            actor: r.actor,
            owner: r.owner,
            heartbeat_at: timestamp(r.heartbeat_at),
            started_at: timestamp(r.started_at),
            updated_at: timestamp(r.updated_at),
            finished_at: r.finished_at.map(timestamp),
        }
    }
}

impl From<loco_core::rollout::RolloutProgress> for RolloutProgress {
    fn from(p: loco_core::rollout::RolloutProgress) -> Self {
        Self {
            completed_steps: p.completed_steps,
            total_steps: p.total_steps,
            step: p.step,
            traffic: p.traffic.into_iter().map(Into::into).collect(),
            instances: p.instances.into_iter().map(Into::into).collect(),
            endpoint: p.endpoint,
            analysis: p.analysis.as_ref().map(json_of),
        }
    }
}

impl From<loco_core::platform::TrafficWeight> for TrafficWeight {
    fn from(w: loco_core::platform::TrafficWeight) -> Self {
        Self { version: w.version, percent: w.percent }
    }
}

impl From<loco_core::platform::Instance> for Instance {
    fn from(i: loco_core::platform::Instance) -> Self {
        Self { id: i.id, version: i.version, address: i.address, pid: i.pid, state: i.state }
    }
}

impl From<loco_core::rollout::RolloutFailure> for RolloutFailure {
    fn from(f: loco_core::rollout::RolloutFailure) -> Self {
        Self { code: f.code.as_str().to_owned(), message: f.message, step: f.step }
    }
}

impl From<loco_core::rollout::Release> for Release {
    fn from(r: loco_core::rollout::Release) -> Self {
        Self {
            version: r.version,
            deployment_id: r.deployment_id,
            platform: r.platform,
            spec: ReleaseSpec {
                version: r.spec.version,
                command: r.spec.command,
                env: r.spec.env,
                image: r.spec.image,
            },
            instances: r.instances.into_iter().map(Into::into).collect(),
            activated_at: timestamp(r.activated_at),
            retired_at: r.retired_at.map(timestamp),
        }
    }
}

impl From<loco_core::platform::LogLine> for LogLine {
    fn from(l: loco_core::platform::LogLine) -> Self {
        Self { instance_id: l.instance_id, stream: l.stream, line: l.line }
    }
}

/// Every error response: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable machine-readable code (`validation_error`, `not_found`, `invalid_transition`,
    /// `self_approval`, `idempotency_conflict`, `payload_too_large`, `storage_error`,
    /// `rollout_conflict`, `rollout_in_progress`, `rollout_not_paused`, `platform_error`,
    /// `rollback_failed`; from the HTTP layer itself also `not_found` for unknown paths,
    /// `method_not_allowed` and `internal_error`).
    #[schema(example = "invalid_transition")]
    pub code: String,
    /// A sentence for people; do not parse it.
    pub message: String,
    /// One entry per invalid field (validation errors only; otherwise empty).
    pub details: Vec<FieldError>,
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the JSON body or query (`work_refs[1]`, `limit`, `body`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<&loco_core::Error> for ErrorBody {
    fn from(e: &loco_core::Error) -> Self {
        ErrorBody {
            error: ErrorInfo {
                code: e.code().to_owned(),
                message: e.to_string(),
                details: e
                    .details()
                    .iter()
                    .map(|d| FieldError { field: d.field.clone(), message: d.message.clone() })
                    .collect(),
            },
        }
    }
}

fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(Status::ALL.map(Status::as_str)))
}

fn nullable_status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(Status::ALL.map(|s| Some(s.as_str())).into_iter().chain([None])))
}

fn rollout_state_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(RolloutState::ALL.map(RolloutState::as_str)))
}

/// The JSON names of every variant of a core enum that serializes to a plain string.
fn names<T: Serialize>(all: &[T]) -> Vec<String> {
    all.iter().filter_map(|v| json_of(v).as_str().map(str::to_owned)).collect()
}

fn instance_state_schema() -> ObjectBuilder {
    // The match makes a new core variant a compile error here until it is listed.
    let all = [InstanceState::Starting, InstanceState::Running, InstanceState::Stopped];
    for state in all {
        match state {
            InstanceState::Starting | InstanceState::Running | InstanceState::Stopped => {}
        }
    }
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names(&all)))
}

fn log_stream_schema() -> ObjectBuilder {
    let all = [LogStream::Stdout, LogStream::Stderr];
    for stream in all {
        match stream {
            LogStream::Stdout | LogStream::Stderr => {}
        }
    }
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names(&all)))
}

fn event_kind_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(loco_core::EventKind::ALL.map(loco_core::EventKind::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_create_fields_become_empty_values_for_the_core() {
        let new = CreateDeployment { service: Some("api".into()), ..CreateDeployment::default() }.into_new();
        assert_eq!(new.service, "api");
        assert_eq!(new.environment, "");
        assert!(new.work_refs.is_empty());
        assert_eq!(new.risk, None);
    }

    /// The wire types must render exactly what the core's own `Serialize` renders.
    #[tokio::test]
    async fn wire_json_equals_core_json() {
        let engine = loco_core::Engine::open_in_memory().await.unwrap();
        let new = CreateDeployment {
            service: Some("api".into()),
            environment: Some("prod".into()),
            version: Some("1".into()),
            requester: Some("alice".into()),
            work_refs: Some(vec!["W-1".into()]),
            rollback_plan: Some("redo".into()),
            risk: Some("low".into()),
        };
        let d = engine.create(new.into_new(), None).await.unwrap();
        let d = engine.approve(&d.id, "bob", Some("ok")).await.unwrap();
        let core = serde_json::to_value(&d).unwrap();
        assert_eq!(serde_json::to_value(Deployment::from(d.clone())).unwrap(), core);
        for event in engine.events(&d.id).await.unwrap() {
            let core = serde_json::to_value(&event).unwrap();
            assert_eq!(serde_json::to_value(Event::from(event)).unwrap(), core);
        }
        let report = engine.verify_audit().await.unwrap();
        assert_eq!(
            serde_json::to_value(AuditReport::from(report.clone())).unwrap(),
            serde_json::to_value(report).unwrap()
        );
    }

    /// Rollouts and releases render exactly what the core serializes, through a real rollout on
    /// the in-memory platform: two releases, then a third one rolled back by a crash.
    #[tokio::test]
    async fn rollout_wire_json_equals_core_json() {
        use loco_core::platform::memory::MemoryPlatform;
        use loco_core::rollout::RolloutPlan;

        let sim = std::sync::Arc::new(MemoryPlatform::new("sim"));
        let engine = loco_core::Engine::builder().platform(sim.clone()).open().await.unwrap();
        let plan = |version: &str| {
            RolloutPlan::from_json(&format!(
                r#"{{"platform": "sim", "strategy": {{"type": "canary", "steps": [50], "interval_seconds": 0}},
                    "release": {{"version": "{version}", "env": {{"A": "1"}}}}, "instances": 2,
                    "health": {{"retries": 0, "interval_seconds": 0.01}}}}"#
            ))
            .unwrap()
        };
        let mut ids = Vec::new();
        for version in ["v1", "v2", "v3"] {
            let new = CreateDeployment {
                service: Some("api".into()),
                environment: Some("dev".into()),
                version: Some(version.into()),
                requester: Some("alice".into()),
                work_refs: Some(vec!["W-1".into()]),
                rollback_plan: Some("redo".into()),
                risk: None,
            };
            let d = engine.create(new.into_new(), None).await.unwrap();
            engine.approve(&d.id, "bob", None).await.unwrap();
            if version == "v3" {
                sim.crash_version("v3");
            }
            engine.run_rollout(&d.id, plan(version), "ops").await.unwrap();
            ids.push(d.id);
        }
        for id in &ids {
            let core = engine.rollout(id).await.unwrap();
            assert_eq!(
                serde_json::to_value(Rollout::from(core.clone())).unwrap(),
                serde_json::to_value(&core).unwrap()
            );
        }
        let v3 = engine.rollout(&ids[2]).await.unwrap();
        assert_eq!(v3.state, RolloutState::RolledBack);
        assert!(v3.previous.is_some() && v3.failure.is_some() && v3.finished_at.is_some());
        let releases = engine.releases("api", "dev", 10).await.unwrap();
        assert_eq!(releases.len(), 2, "v2 serving, v1 retired");
        assert!(releases[0].retired_at.is_none() && releases[1].retired_at.is_some());
        for release in releases {
            let core = serde_json::to_value(&release).unwrap();
            assert_eq!(serde_json::to_value(Release::from(release)).unwrap(), core);
        }
        // The analysis judgement travels as the core's JSON too.
        let mut progress = v3.progress.clone();
        let canary = loco_core::analysis::WindowStats { requests: 10, errors: 6, ..Default::default() };
        progress.analysis =
            Some(loco_core::analysis::judge(&canary, None, &loco_core::analysis::Thresholds::default()));
        let core = serde_json::to_value(&progress).unwrap();
        assert_eq!(serde_json::to_value(RolloutProgress::from(progress)).unwrap(), core);
        let line = loco_core::platform::LogLine {
            instance_id: "ins_1".into(),
            stream: LogStream::Stderr,
            line: "boom".into(),
        };
        assert_eq!(serde_json::to_value(LogLine::from(line.clone())).unwrap(), serde_json::to_value(line).unwrap());
        engine.close().await.unwrap();
    }

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
}
