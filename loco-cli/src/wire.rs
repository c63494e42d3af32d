//! The JSON shapes of the HTTP API (requests, responses, errors), shared by the server, the HTTP
//! client, the CLI's `--json` output and the OpenAPI document, so all four always agree.
//!
//! These types carry no lifecycle rules: request fields are optional here so that a missing field
//! reaches `loco_core::lifecycle` as an empty value and the core names it.

use loco_core::lifecycle::Status;
use loco_core::{AuditReport as CoreAuditReport, ListQuery, NewDeployment};
use serde::{Deserialize, Serialize};
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
