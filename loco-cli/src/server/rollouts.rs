//! The rollout handlers of `/api/v1`: start a rollout, read it, override a pause, list rollouts
//! and releases, and follow an instance's output as server-sent events. Each parses its input,
//! calls one `Engine` method and renders the result; the plan is parsed by
//! `RolloutPlan::from_json` alone.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::{Event as SseEvent, Sse};
use futures_util::{Stream, StreamExt, stream};
use loco_core::Error;
use loco_core::rollout::{RolloutPlan, ValidationReport};
use loco_core::session::Operation;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, gated, release_params, rollouts_params};
use crate::server::openapi::refs;
use crate::server::routes::DeploymentId;
use crate::server::sse::{guarded, keep_alive, stream_slot, to_json};
use crate::wire::{
    ActionRequest, ErrorBody, ReleaseList, ReleaseParams, RollbackTo, Rollout, RolloutList, RolloutsParams,
    StartRollout, ValidatePlan,
};

/// The `{id}` and `{instance_id}` path segments of the instance log route.
#[derive(Debug)]
pub struct InstancePath {
    /// The deployment id.
    pub id: String,
    /// The instance id.
    pub instance_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for InstancePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((id, instance_id))| InstancePath { id, instance_id })
            .map_err(|rejection| ApiError::Core(Error::invalid("id", rejection.body_text())))
    }
}

/// Start rolling out an approved deployment; it runs in the background in the server process.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/rollout",
    tag = "rollouts",
    request_body = StartRollout,
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 202, description = "Started (`approved → started`); follow it with GET …/rollout or the event stream",
         body = refs::Rollout),
        (status = 400, description = "`validation_error`: bad body, unknown field, or a plan problem named by the \
                                      core (`strategy.steps[1]`, `platform`, …)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs the deployer role (admin with `override_reason`)",
         body = ErrorBody),
        (status = 409, description = "`invalid_transition`: not approved; `rollout_conflict`: another rollout is \
                                      active on the same service and environment; or `policy_violation`: a freeze \
                                      window is in force (`error.details[0].field` is `freeze_window`)",
         body = ErrorBody),
        (status = 413, description = "`payload_too_large`: body over 1 MiB", body = ErrorBody),
        (status = 422, description = "`validation_failed`: the plan's pre-deployment checks refused the release; \
                                      `error.report` is the full report, `error.details` the blocking findings, and \
                                      the deployment stays `approved` with a `validation` event", body = ErrorBody),
        (status = 503, description = "`storage_error`: nothing was written", body = ErrorBody),
    )
)]
pub async fn start_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
    body: Result<JsonBody<StartRollout>, ApiError>,
) -> Result<(StatusCode, Json<Rollout>), ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::StartRollout, body)?;
    let plan = body.plan.as_deref().map(|plan| RolloutPlan::from_json(plan.get())).transpose()?;
    let rollout = session.start_rollout(&id, plan, body.input()).await?;
    Ok((StatusCode::ACCEPTED, Json(rollout)))
}

/// Run a plan's pre-deployment checks alone (config and secrets checks; checks that read files
/// or run programs come from a registered service): nothing is recorded, nothing starts.
#[utoipa::path(
    post,
    path = "/api/v1/validate",
    tag = "rollouts",
    request_body = ValidatePlan,
    responses(
        (status = 200, description = "The report, passed or not (`passed` says which)", body = refs::ValidationReport),
        (status = 400, description = "`validation_error`: bad body, unknown field, a plan problem, or a check the \
                                      network may not ask for (`validation.artifact`, `validation.dependencies`, \
                                      `validation.smoke_tests`)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs the deployer role", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn validate_plan(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<JsonBody<ValidatePlan>, ApiError>,
) -> Result<Json<ValidationReport>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::StartRollout, body)?;
    let plan = RolloutPlan::from_json(body.plan_json())?;
    Ok(Json(session.validate_plan(plan).await?))
}

/// The rollout of one deployment: state, progress, latest analysis, failure.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/rollout",
    tag = "rollouts",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The rollout record", body = refs::Rollout),
        (status = 404, description = "`not_found`: no such deployment, or it has no rollout", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn get_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
) -> Result<Json<Rollout>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.rollout(&id).await?))
}

/// Continue a rollout paused by its analysis (actor and note required).
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/rollout/override",
    tag = "rollouts",
    request_body = refs::ActionRequest,
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The rollout after the override was recorded", body = refs::Rollout),
        (status = 400, description = "`validation_error`: bad `actor`/`note` or body", body = ErrorBody),
        (status = 404, description = "`not_found`: no such deployment, or it has no rollout", body = ErrorBody),
        (status = 409, description = "`rollout_not_paused`: only a paused rollout can be overridden", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: body over 1 MiB", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn override_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
    body: Result<JsonBody<ActionRequest>, ApiError>,
) -> Result<Json<Rollout>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::OverrideRollout, body)?;
    Ok(Json(session.override_rollout(&id, body).await?))
}

/// Every rollout, or only the active ones.
#[utoipa::path(
    get,
    path = "/api/v1/rollouts",
    tag = "rollouts",
    params(RolloutsParams),
    responses(
        (status = 200, description = "The rollouts", body = RolloutList),
        (status = 400, description = "`validation_error`: bad `active` or unknown parameter", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn list_rollouts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<RolloutList>, ApiError> {
    let active_only = rollouts_params(query.as_deref())?.active_only()?;
    let rollouts = state.engine.session(caller.0).reader()?.rollouts(active_only).await?;
    Ok(Json(RolloutList { items: rollouts }))
}

/// Roll a service and environment back to a retained release (deployer of that environment).
#[utoipa::path(
    post,
    path = "/api/v1/releases/rollback",
    tag = "rollouts",
    request_body = RollbackTo,
    responses(
        (status = 200, description = "The current release's rollout, rolled back to the named release",
         body = refs::Rollout),
        (status = 400, description = "`validation_error`: missing fields, the version already serving or not \
                                      retained, no note", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs deployer for the environment", body = ErrorBody),
        (status = 409, description = "`rollout_conflict`: a rollout is active on the target", body = ErrorBody),
        (status = 500, description = "`rollback_failed`: the release did not come back healthy", body = ErrorBody),
        (status = 502, description = "`platform_error`", body = ErrorBody),
    )
)]
pub async fn rollback_to(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<JsonBody<RollbackTo>, ApiError>,
) -> Result<Json<Rollout>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Act(loco_core::Action::Rollback), body)?;
    let input = loco_core::ActionInput { note: body.note, ..loco_core::ActionInput::new(body.actor) };
    Ok(Json(session.rollback_to(&body.service, &body.environment, &body.version, input).await?))
}

/// The releases that served a service+environment, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/releases",
    tag = "rollouts",
    params(ReleaseParams),
    responses(
        (status = 200, description = "The releases, newest first; the first is current unless retired",
         body = ReleaseList),
        (status = 400, description = "`validation_error`: missing `service`/`environment`, bad `limit` or unknown \
                                      parameter", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn list_releases(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<ReleaseList>, ApiError> {
    let params = release_params(query.as_deref())?;
    let (service, environment, limit) = params.parts()?;
    let releases = state.engine.session(caller.0).reader()?.releases(service, environment, limit).await?;
    Ok(Json(ReleaseList { items: releases }))
}

/// Follow one instance's output — or a deployment script's, named `script:<hook>:<name>` — its
/// recent lines, then new ones until it stops.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/rollout/instances/{instance_id}/logs",
    tag = "rollouts",
    params(
        ("id" = String, Path, description = "Deployment id"),
        ("instance_id" = String, Path, description = "Instance id (`progress.instances[].id`), or \
                                                     `script:<hook>:<name>` for a script this server ran"),
    ),
    responses(
        (status = 200, description = "An SSE stream; each `data:` is a LogLine", body = refs::LogLine,
         content_type = "text/event-stream"),
        (status = 404, description = "`not_found`: no such deployment, or it has no rollout", body = ErrorBody),
        (status = 502, description = "`platform_error`: the platform does not run this instance here",
         body = ErrorBody),
    )
)]
pub async fn instance_logs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: InstancePath,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    state.engine.session(caller.0.clone()).reader()?;
    let slot = stream_slot(&state)?;
    let lines = state.engine.follow_logs(&path.id, &path.instance_id).await?;
    let frames = stream::unfold(lines, |mut lines| async move { lines.next().await.map(|line| (line, lines)) })
        .map(|line| Ok(SseEvent::default().data(to_json(&line))));
    Ok(Sse::new(guarded(&state, &caller, slot, frames)).keep_alive(keep_alive(&state)))
}
