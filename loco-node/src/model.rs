//! The records the package returns (deployments, events, pages) as plain JavaScript objects with
//! the HTTP JSON field names in camelCase, and the reading of create and list arguments.

use loco_core::{ListQuery, NewDeployment};
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::args::Args;

/// One deployment's current state.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Deployment {
    /// Generated id, `dep_` followed by a ULID.
    pub id: String,
    /// The service being deployed.
    pub service: String,
    /// The target environment.
    pub environment: String,
    /// The version or build being deployed.
    pub version: String,
    /// Who asked for the deployment.
    pub requester: String,
    /// Issues, pull requests or other planned work the deployment delivers.
    pub work_refs: Vec<String>,
    /// How to recover if the deployment goes wrong.
    pub rollback_plan: String,
    /// Accepted risk; `null` when none was stated.
    pub risk: Option<String>,
    /// Where the deployment is in its lifecycle.
    #[napi(ts_type = "Status")]
    pub status: String,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// When it was approved or rejected (RFC 3339, UTC, microseconds).
    pub reviewed_at: Option<String>,
    /// When it was created (RFC 3339, UTC, microseconds).
    pub created_at: String,
    /// When its status last changed (RFC 3339, UTC, microseconds).
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
            status: d.status.as_str().to_owned(),
            reviewed_by: d.reviewed_by,
            reviewed_at: d.reviewed_at.map(|t| t.to_string()),
            created_at: d.created_at.to_string(),
            updated_at: d.updated_at.to_string(),
        }
    }
}

/// One append-only history entry.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Event {
    /// Position in the store-wide event order: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Generated id, `evt_` followed by a ULID.
    pub id: String,
    /// The deployment this event belongs to.
    pub deployment_id: String,
    /// What happened.
    #[napi(ts_type = "EventKind")]
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Why, if given.
    pub note: Option<String>,
    /// Status before the event; `null` on `created`.
    #[napi(ts_type = "Status")]
    pub from_status: Option<String>,
    /// Status after the event.
    #[napi(ts_type = "Status")]
    pub to_status: Option<String>,
    /// When it was recorded (RFC 3339, UTC, microseconds).
    pub at: String,
    /// Structured facts of rollout events (`step_progress`, `health_check`); `null` on lifecycle
    /// events.
    #[napi(ts_type = "Record<string, unknown>")]
    pub data: Option<serde_json::Value>,
    /// `sha256(previous event's hash ‖ canonical bytes of this event)`, lowercase hex.
    pub hash: String,
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
            from_status: e.from_status.map(|s| s.as_str().to_owned()),
            to_status: e.to_status.map(|s| s.as_str().to_owned()),
            at: e.at.to_string(),
            data: e.data,
            hash: e.hash,
        }
    }
}

/// One page of deployments, newest first.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct DeploymentPage {
    /// The deployments on this page.
    pub items: Vec<Deployment>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<loco_core::Page<loco_core::Deployment>> for DeploymentPage {
    fn from(page: loco_core::Page<loco_core::Deployment>) -> Self {
        Self { items: page.items.into_iter().map(Deployment::from).collect(), next_cursor: page.next_cursor }
    }
}

/// The name the core gives a unit enum variant in its JSON (`"pass"`, `"stdout"`), from
/// `serde_json::to_value(variant)`, so every name a JavaScript caller sees comes from loco-core.
pub(crate) fn wire_name(json: serde_json::Result<serde_json::Value>) -> String {
    // Unit variants always serialize to a JSON string.
    json.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The properties of `Engine.create`'s request (`NewDeployment` in `dts-header.d.ts`).
const NEW_DEPLOYMENT_FIELDS: [&str; 7] =
    ["service", "environment", "version", "requester", "workRefs", "rollbackPlan", "risk"];
/// The properties of `Engine.list`'s query (`ListQuery` in `dts-header.d.ts`).
const LIST_QUERY_FIELDS: [&str; 5] = ["service", "environment", "status", "limit", "cursor"];

/// Reads `Engine.create`'s request object; absent properties read as empty for the core to report.
pub(crate) fn new_deployment(args: &mut Args, value: Unknown) -> NewDeployment {
    let mut new = NewDeployment {
        service: String::new(),
        environment: String::new(),
        version: String::new(),
        requester: String::new(),
        work_refs: Vec::new(),
        rollback_plan: String::new(),
        risk: None,
    };
    let Some(object) = args.object(value, "request", &NEW_DEPLOYMENT_FIELDS) else {
        return new;
    };
    for name in NEW_DEPLOYMENT_FIELDS {
        let Some(value) = args.property(&object, name) else { continue };
        match name {
            "service" => new.service = args.text(value, name),
            "environment" => new.environment = args.text(value, name),
            "version" => new.version = args.text(value, name),
            "requester" => new.requester = args.text(value, name),
            "workRefs" => new.work_refs = args.text_list(value, name),
            "rollbackPlan" => new.rollback_plan = args.text(value, name),
            _ => new.risk = args.optional_text(value, name),
        }
    }
    new
}

/// Reads `Engine.list`'s optional query object. The status name is returned apart: parsing it is
/// the core's job (an unknown status is a core `validation_error`, not a type error).
pub(crate) fn list_query(args: &mut Args, value: Unknown) -> (ListQuery, Option<String>) {
    let mut query = ListQuery::default();
    let mut status = None;
    let Some(object) = args.object(value, "query", &LIST_QUERY_FIELDS) else {
        return (query, status);
    };
    for name in LIST_QUERY_FIELDS {
        let Some(value) = args.property(&object, name) else { continue };
        match name {
            "service" => query.service = args.optional_text(value, name),
            "environment" => query.environment = args.optional_text(value, name),
            "status" => status = args.optional_text(value, name),
            "limit" => query.limit = args.optional_u32(value, name),
            _ => query.cursor = args.optional_text(value, name),
        }
    }
    (query, status)
}
