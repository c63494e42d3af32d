//! Policy: deploy locks, freeze windows and approval gates. Anyone with a token lists the locks; an admin of an
//! environment forces a stuck one free with a reason. Anyone with a token reads them and asks whether an environment is
//! frozen; an admin sets and removes them. Starts (`…/start`, `…/rollout`) during a window in
//! force are refused by the core with `policy_violation`, unless an admin of the environment
//! gives `override_reason`. Anyone with a token reads the approval gates and where a
//! deployment stands with its review; an admin sets and removes gates. Reviews under a gate are
//! counted by the core (`…/approve` answers the deployment still `pending_approval` until the
//! last approval the gate needs). Anyone with a token reads pipelines and where a version stands
//! along one; an admin sets and removes them; a requester in the next stage's environment
//! promotes a succeeded deployment to it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use loco_core::Error;
use loco_core::freeze::FreezeWindow;
use loco_core::gate::{ApprovalGate, ApprovalStatus, ReviewerGroup, group_key};
use loco_core::manifest::ManifestRecord;
use loco_core::model::Deployment;
use loco_core::pipeline::{Pipeline, PipelineView};
use loco_core::rollout::RolloutPlan;
use loco_core::schedule::{ScheduleRequest, ScheduledStart};
use loco_core::session::Operation;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, approval_params, freeze_params, gate_params, gated};
use crate::server::openapi::refs;
use crate::server::routes::DeploymentId;
use crate::wire::{
    ApprovalParams, ErrorBody, FreezeCheck, FreezeList, FreezeParams, GateList, GateParams, GroupList, LockList,
    LockRelease, ManifestList, ManifestText, PipelineList, PromoteRequest, ScheduleList,
};

/// Every deploy lock held: the started deployment of each service and environment.
#[utoipa::path(
    get,
    path = "/api/v1/locks",
    tag = "policy",
    responses(
        (status = 200, description = "The locks, by service then environment", body = LockList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_locks(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<LockList>, ApiError> {
    Ok(Json(LockList { items: state.engine.session(caller.0).reader()?.locks().await? }))
}

/// Force the deploy lock of a service in an environment free (an admin of the environment); a
/// `lock_released` event on the holding deployment records who and why.
#[utoipa::path(
    post,
    path = "/api/v1/locks/{service}/{environment}/release",
    tag = "policy",
    params(
        ("service" = String, Path, description = "The service"),
        ("environment" = String, Path, description = "The environment"),
    ),
    request_body = LockRelease,
    responses(
        (status = 200, description = "The lock that was released", body = refs::DeployLock),
        (status = 400, description = "`validation_error`: a blank `reason`, an unknown field", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin of the environment", body = ErrorBody),
        (status = 404, description = "`not_found`: no lock is held there", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn release_lock(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((service, environment)): Path<(String, String)>,
    body: Result<JsonBody<LockRelease>, ApiError>,
) -> Result<Json<loco_core::lock::DeployLock>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::ReleaseLock, body)?;
    Ok(Json(session.release_lock(&service, &environment, body.actor, &body.reason).await?))
}

/// Every freeze window, by name.
#[utoipa::path(
    get,
    path = "/api/v1/freezes",
    tag = "policy",
    responses(
        (status = 200, description = "The windows", body = FreezeList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_freezes(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<FreezeList>, ApiError> {
    Ok(Json(FreezeList { items: state.engine.session(caller.0).reader()?.freeze_windows().await? }))
}

/// Whether an environment is frozen at an instant (now by default), and by which window.
#[utoipa::path(
    get,
    path = "/api/v1/freezes/active",
    tag = "policy",
    params(FreezeParams),
    responses(
        (status = 200, description = "The occurrence in force, or `active: null`", body = FreezeCheck),
        (status = 400, description = "`validation_error`: missing `environment`, a bad `at` or an unknown parameter",
         body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn active_freeze(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<FreezeCheck>, ApiError> {
    let engine = state.engine.session(caller.0).reader()?.clone();
    let params = freeze_params(query.as_deref())?;
    let (environment, at) = params.parts()?;
    let at = at.unwrap_or_else(loco_core::Timestamp::now);
    let active = engine.active_freeze(environment, Some(at)).await?;
    Ok(Json(FreezeCheck { environment: environment.to_owned(), at: at.to_string(), active }))
}

/// Set (or replace) a freeze window (admin).
#[utoipa::path(
    put,
    path = "/api/v1/freezes/{name}",
    tag = "policy",
    params(("name" = String, Path, description = "The window's name (must match the body's)")),
    request_body = refs::FreezeWindow,
    responses(
        (status = 200, description = "The window as stored", body = refs::FreezeWindow),
        (status = 400, description = "`validation_error`: every bad field named (`schedule.cron`, \
                                      `schedule.time_zone`, …)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn put_freeze(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<JsonBody<serde_json::Value>, ApiError>,
) -> Result<Json<FreezeWindow>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    // The core parses the window, so every surface names the same fields (`schedule.type`).
    let window = FreezeWindow::from_json(&body.to_string())?;
    if window.name != name {
        return Err(Error::invalid("name", format!("is '{}' but the path names '{name}'", window.name)).into());
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.set_freeze_window(window, &by).await?))
}

/// Remove a freeze window (admin).
#[utoipa::path(
    delete,
    path = "/api/v1/freezes/{name}",
    tag = "policy",
    params(("name" = String, Path, description = "The window's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub async fn remove_freeze(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.session(caller.0).admin()?.remove_freeze_window(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every approval gate, by environment.
#[utoipa::path(
    get,
    path = "/api/v1/gates",
    tag = "policy",
    responses(
        (status = 200, description = "The gates", body = GateList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_gates(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<GateList>, ApiError> {
    Ok(Json(GateList { items: state.engine.session(caller.0).reader()?.gates().await? }))
}

/// Set (or replace) the approval gate of an environment (admin).
#[utoipa::path(
    put,
    path = "/api/v1/gates/{environment}",
    tag = "policy",
    params(("environment" = String, Path, description = "The environment (must match the body's, ignoring case); \
                                                        the body's `service`, if any, scopes the gate to it")),
    request_body = refs::ApprovalGate,
    responses(
        (status = 200, description = "The gate as stored", body = refs::ApprovalGate),
        (status = 400, description = "`validation_error`: every bad field named (`required_approvals`, \
                                      `approvers[1]`, …), an unknown field", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_gate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(environment): Path<String>,
    body: Result<JsonBody<serde_json::Value>, ApiError>,
) -> Result<Json<ApprovalGate>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    // The core parses the gate, so every surface names the same fields.
    let gate = ApprovalGate::from_json(&body.to_string())?;
    if !gate.is_on(&environment) {
        return Err(Error::invalid(
            "environment",
            format!("is '{}' but the path names '{environment}'", gate.environment),
        )
        .into());
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.set_gate(gate, &by).await?))
}

/// Remove the approval gate of an environment, or a service's own gate there with `?service=`
/// (admin); its deployments fall back to the environment's gate, or to the single review.
#[utoipa::path(
    delete,
    path = "/api/v1/gates/{environment}",
    tag = "policy",
    params(("environment" = String, Path, description = "The environment"), GateParams),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`validation_error`: a blank `service` or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`: no such gate", body = ErrorBody),
    )
)]
pub async fn remove_gate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(environment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let session = state.engine.session(caller.0);
    let engine = session.admin()?;
    let params = gate_params(query.as_deref())?;
    engine.remove_gate(&environment, params.service.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every deployment's latest scheduled start (pending, or how it ended), soonest first.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    tag = "policy",
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_schedules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<ScheduleList>, ApiError> {
    Ok(Json(ScheduleList { items: state.engine.session(caller.0).reader()?.scheduled_starts().await? }))
}

/// Schedule a deployment's start (a deployer of its environment; an admin there with
/// `override_reason`): the server starts it when it falls due, as a caller would then. Scheduling
/// again replaces the schedule.
#[utoipa::path(
    put,
    path = "/api/v1/deployments/{id}/schedule",
    tag = "policy",
    params(("id" = String, Path, description = "Deployment id")),
    request_body = refs::ScheduleRequest,
    responses(
        (status = 200, description = "The pending schedule", body = refs::ScheduledStart),
        (status = 400, description = "`validation_error`: a past or far `at`, a bad `actor`, an unknown field, or \
                                      (`rollout: true`) no manifest plan, or one that runs a command", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs the deployer role there (admin with \
                                      `override_reason`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: it can no longer start; `policy_violation`: a freeze \
                                      window is in force at that time", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
    body: Result<JsonBody<serde_json::Value>, ApiError>,
) -> Result<Json<ScheduledStart>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Act(loco_core::Action::Start), body)?;
    let request = ScheduleRequest::from_json(&body.to_string())?;
    Ok(Json(session.schedule_start(&id, request).await?))
}

/// Cancel a deployment's pending scheduled start (a deployer of its environment).
#[utoipa::path(
    delete,
    path = "/api/v1/deployments/{id}/schedule",
    tag = "policy",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The cancelled schedule", body = refs::ScheduledStart),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs the deployer role there", body = ErrorBody),
        (status = 404, description = "`not_found`: no such deployment, or no pending schedule", body = ErrorBody),
    )
)]
pub async fn cancel_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
) -> Result<Json<ScheduledStart>, ApiError> {
    Ok(Json(state.engine.session(caller.0).cancel_scheduled_start(&id).await?))
}

/// Every reviewer group, by name.
#[utoipa::path(
    get,
    path = "/api/v1/groups",
    tag = "policy",
    responses(
        (status = 200, description = "The groups", body = GroupList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_groups(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<GroupList>, ApiError> {
    Ok(Json(GroupList { items: state.engine.session(caller.0).reader()?.groups().await? }))
}

/// Set (or replace) a reviewer group (admin): approval gates naming it in `groups` admit its
/// members from the next review on.
#[utoipa::path(
    put,
    path = "/api/v1/groups/{name}",
    tag = "policy",
    params(("name" = String, Path, description = "The group (must match the body's, ignoring case)")),
    request_body = refs::ReviewerGroup,
    responses(
        (status = 200, description = "The group as stored", body = refs::ReviewerGroup),
        (status = 400, description = "`validation_error`: every bad field named (`name`, `members[1]`), an \
                                      unknown field, or a `name` other than the path's", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_group(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<JsonBody<serde_json::Value>, ApiError>,
) -> Result<Json<ReviewerGroup>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    let group = ReviewerGroup::from_json(&body.to_string())?;
    if group_key(&group.name) != group_key(&name) {
        return Err(Error::invalid("name", format!("is '{}' but the path names '{name}'", group.name)).into());
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.set_group(group, &by).await?))
}

/// Remove a reviewer group (admin); refused while a gate names it.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{name}",
    tag = "policy",
    params(("name" = String, Path, description = "The group")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`validation_error` on `name`: a gate names it (the message says which)",
         body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`: there is no such group", body = ErrorBody),
    )
)]
pub async fn remove_group(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.session(caller.0).admin()?.remove_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a deployment stands with its environment's review: the approvals required and those
/// that count (at `at`, now by default), whether it was rejected, and when it may start.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/approvals",
    tag = "policy",
    params(("id" = String, Path, description = "The deployment"), ApprovalParams),
    responses(
        (status = 200, description = "The review's state", body = refs::ApprovalStatus),
        (status = 400, description = "`validation_error`: a bad `at` or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub async fn approval_status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ApprovalStatus>, ApiError> {
    let engine = state.engine.session(caller.0).reader()?.clone();
    let at = approval_params(query.as_deref())?;
    Ok(Json(engine.approval_status(&id, at).await?))
}

/// Every pipeline, by service.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines",
    tag = "policy",
    responses(
        (status = 200, description = "The pipelines", body = PipelineList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_pipelines(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<PipelineList>, ApiError> {
    Ok(Json(PipelineList { items: state.engine.session(caller.0).reader()?.pipelines().await? }))
}

/// Set (or replace) the pipeline of a service (admin): its stages in order.
#[utoipa::path(
    put,
    path = "/api/v1/pipelines/{service}",
    tag = "policy",
    params(("service" = String, Path, description = "The service (must match the body's)")),
    request_body = refs::Pipeline,
    responses(
        (status = 200, description = "The pipeline as stored", body = refs::Pipeline),
        (status = 400, description = "`validation_error`: every bad field named (`stages`, `stages[2]`, …), \
                                      an unknown field", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_pipeline(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(service): Path<String>,
    body: Result<JsonBody<serde_json::Value>, ApiError>,
) -> Result<Json<Pipeline>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    // The core parses the pipeline, so every surface names the same fields.
    let pipeline = Pipeline::from_json(&body.to_string())?;
    if pipeline.service != service {
        return Err(
            Error::invalid("service", format!("is '{}' but the path names '{service}'", pipeline.service)).into()
        );
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.set_pipeline(pipeline, &by).await?))
}

/// Remove the pipeline of a service (admin); creates then follow no order.
#[utoipa::path(
    delete,
    path = "/api/v1/pipelines/{service}",
    tag = "policy",
    params(("service" = String, Path, description = "The service")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`: the service has no pipeline", body = ErrorBody),
    )
)]
pub async fn remove_pipeline(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(service): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.session(caller.0).admin()?.remove_pipeline(&service).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a version of a service stands along its pipeline: the newest deployment of it in each
/// stage, and the stage it goes to next.
#[utoipa::path(
    get,
    path = "/api/v1/pipelines/{service}/versions/{version}",
    tag = "policy",
    params(
        ("service" = String, Path, description = "The service"),
        ("version" = String, Path, description = "The version"),
    ),
    responses(
        (status = 200, description = "The version's stages", body = refs::PipelineView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: the service has no pipeline", body = ErrorBody),
    )
)]
pub async fn pipeline_view(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((service, version)): Path<(String, String)>,
) -> Result<Json<PipelineView>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.pipeline_view(&service, &version).await?))
}

/// Promote a succeeded deployment to the next stage of its service's pipeline: the same version,
/// commit, work references, rollback plan and risk, requested by the caller (a requester in that
/// stage's environment), with a `promoted` event naming the source.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/promote",
    tag = "policy",
    params(("id" = String, Path, description = "The succeeded deployment")),
    request_body = PromoteRequest,
    responses(
        (status = 201, description = "The new deployment in the next stage (or the open one of the same commit)",
         body = refs::Deployment),
        (status = 400, description = "`validation_error`: no pipeline, or the last stage", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs requester in the next stage", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`policy_violation` (`promotion_order`): the deployment has not succeeded",
         body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn promote(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonBody<PromoteRequest>, ApiError>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Create, body)?;
    Ok((StatusCode::CREATED, Json(session.promote(&id, body.actor).await?)))
}

/// Read a `service.yaml` manifest and report every problem in it at once, each with its path
/// (`stages[2].rollout.strategy.steps[1]`), line and column. Nothing is stored.
#[utoipa::path(
    post,
    path = "/api/v1/validate/manifest",
    tag = "policy",
    request_body = ManifestText,
    responses(
        (status = 200, description = "The manifest as read, every default filled in", body = refs::Manifest),
        (status = 400, description = "`validation_error`: every problem, each with `field` (its path), `line` and \
                                      `column` (1-based)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send the text as a JSON string", body = ErrorBody),
    )
)]
pub async fn validate_manifest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<JsonBody<ManifestText>, ApiError>,
) -> Result<Json<loco_core::manifest::Manifest>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Read, body)?;
    Ok(Json(loco_core::manifest::parse(&body.manifest)?))
}

/// The newest manifest of every service that has one.
#[utoipa::path(
    get,
    path = "/api/v1/manifests",
    tag = "policy",
    responses(
        (status = 200, description = "The newest version of each service's manifest, by service", body = ManifestList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_manifests(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<ManifestList>, ApiError> {
    Ok(Json(ManifestList { items: state.engine.session(caller.0).reader()?.manifests().await? }))
}

/// Apply a `service.yaml` manifest (admin): in one transaction, its pipeline, its stages'
/// approval gates and its freeze windows are set, the gates and windows the service's previous
/// manifest set and this one does not are removed, and it is stored as the service's next version.
/// The same text as the newest version changes nothing (200); a new version is 201.
#[utoipa::path(
    put,
    path = "/api/v1/manifests/{service}",
    tag = "policy",
    params(("service" = String, Path, description = "The service (must match the manifest's)")),
    request_body = ManifestText,
    responses(
        (status = 201, description = "Stored as the service's next version, and applied", body = refs::ManifestRecord),
        (status = 200, description = "The same text as the newest version: nothing changed", body = refs::ManifestRecord),
        (status = 400, description = "`validation_error`: every problem with its path, line and column; or a \
                                      `service` other than the path's", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_manifest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(service): Path<String>,
    body: Result<JsonBody<ManifestText>, ApiError>,
) -> Result<(StatusCode, Json<ManifestRecord>), ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    let (record, wrote) = engine.apply_service_manifest(&service, &body.manifest, &by).await?;
    Ok((if wrote { StatusCode::CREATED } else { StatusCode::OK }, Json(record)))
}

/// The newest manifest of a service.
#[utoipa::path(
    get,
    path = "/api/v1/manifests/{service}",
    tag = "policy",
    params(("service" = String, Path, description = "The service")),
    responses(
        (status = 200, description = "Its newest version", body = refs::ManifestRecord),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: the service has no manifest", body = ErrorBody),
    )
)]
pub async fn get_manifest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(service): Path<String>,
) -> Result<Json<ManifestRecord>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.manifest(&service, None).await?))
}

/// Every applied version of a service's manifest, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/manifests/{service}/versions",
    tag = "policy",
    params(("service" = String, Path, description = "The service")),
    responses(
        (status = 200, description = "Its versions, newest first", body = ManifestList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: the service has no manifest", body = ErrorBody),
    )
)]
pub async fn manifest_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(service): Path<String>,
) -> Result<Json<ManifestList>, ApiError> {
    Ok(Json(ManifestList { items: state.engine.session(caller.0).reader()?.manifest_history(&service).await? }))
}

/// One version of a service's manifest.
#[utoipa::path(
    get,
    path = "/api/v1/manifests/{service}/versions/{version}",
    tag = "policy",
    params(
        ("service" = String, Path, description = "The service"),
        ("version" = u32, Path, description = "The version, from 1"),
    ),
    responses(
        (status = 200, description = "That version", body = refs::ManifestRecord),
        (status = 400, description = "`validation_error`: `version` is not a whole number", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such version", body = ErrorBody),
    )
)]
pub async fn manifest_version(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((service, version)): Path<(String, String)>,
) -> Result<Json<ManifestRecord>, ApiError> {
    let version = version
        .parse::<u32>()
        .map_err(|_| Error::invalid("version", format!("must be a whole number from 1; got '{version}'")))?;
    Ok(Json(state.engine.session(caller.0).reader()?.manifest(&service, Some(version)).await?))
}

/// The rollout plan a start of this deployment without a plan uses: the one its stage sets in
/// the version of its service's manifest it was created under.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/manifest-plan",
    tag = "policy",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The stage's plan (`release.version` empty: the deployment's is used)",
         body = refs::RolloutPlan),
        (status = 400, description = "`validation_error` on `plan`: the deployment was created without a manifest, \
                                      or its stage sets no rollout", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such deployment", body = ErrorBody),
    )
)]
pub async fn manifest_plan(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
) -> Result<Json<RolloutPlan>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.manifest_plan(&id).await?))
}
