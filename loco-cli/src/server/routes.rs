//! The JSON handlers of `/api/v1`, `/healthz` and `/openapi.json`: each parses its input, calls
//! one `Engine` method and renders the result. No lifecycle rule lives here.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use loco_core::session::Operation;
use loco_core::{Action, Error};

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, gated, head_params, list_params};
use crate::server::openapi::refs;
use crate::wire::{
    ActionRequest, AuditHead, AuditReport, CreateDeployment, Deployment, DeploymentPage, ErrorBody, EventList,
    HeadParams, Health, ListParams,
};

/// The request header carrying a create's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `{id}` path segment of a deployment route.
#[derive(Debug)]
pub struct DeploymentId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeploymentId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| DeploymentId(id))
            .map_err(|rejection| ApiError::Core(Error::invalid("id", rejection.body_text())))
    }
}

/// Create a deployment in `pending_approval`.
#[utoipa::path(
    post,
    path = "/api/v1/deployments",
    tag = "deployments",
    request_body = refs::CreateDeployment,
    params(("Idempotency-Key" = Option<String>, Header,
            description = "Repeat-safe create: the same key and body return the original deployment")),
    responses(
        (status = 201, description = "Created, or the original deployment of an identical idempotent request",
         body = refs::Deployment),
        (status = 400, description = "`validation_error`: missing, invalid, unknown or mistyped fields",
         body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the key was used with a different body",
         body = ErrorBody),
        (status = 413, description = "`payload_too_large`: body over 1 MiB", body = ErrorBody),
        (status = 503, description = "`storage_error`: nothing was written", body = ErrorBody),
    )
)]
pub async fn create_deployment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<CreateDeployment>, ApiError>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Create, body)?;
    let key =
        match headers.get(IDEMPOTENCY_KEY) {
            Some(value) => Some(value.to_str().map_err(|_| {
                Error::invalid("idempotency_key", "must be printable ASCII in the Idempotency-Key header")
            })?),
            None => None,
        };
    let deployment = session.create(body, key).await?;
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// List deployments, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/deployments",
    tag = "deployments",
    params(ListParams),
    responses(
        (status = 200, description = "One page; follow `next_cursor` for the next", body = refs::DeploymentPage),
        (status = 400, description = "`validation_error`: bad `limit`, `cursor`, `status` or unknown parameter",
         body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn list_deployments(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<DeploymentPage>, ApiError> {
    let query = list_params(query.as_deref())?.into_query()?;
    let page = state.engine.session(caller.0).reader()?.list(&query).await?;
    Ok(Json(page))
}

/// One deployment's current state.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}",
    tag = "deployments",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The deployment", body = refs::Deployment),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn get_deployment(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
) -> Result<Json<Deployment>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.get(&id).await?))
}

/// Every event of one deployment, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/events",
    tag = "events",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 200, description = "The events, oldest first", body = EventList),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn deployment_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    DeploymentId(id): DeploymentId,
) -> Result<Json<EventList>, ApiError> {
    let events = state.engine.session(caller.0).reader()?.events(&id).await?;
    Ok(Json(EventList { items: events }))
}

async fn act(
    state: &AppState,
    caller: Caller,
    id: &str,
    action: Action,
    body: Result<JsonBody<ActionRequest>, ApiError>,
) -> Result<Json<Deployment>, ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Act(action), body)?;
    Ok(Json(session.apply(id, action, body).await?))
}

/// Declares one documented handler per lifecycle action; they differ only in the action.
macro_rules! action_route {
    ($name:ident, $action:expr, $path:tt, $summary:tt, $conflict:tt) => {
        #[doc = concat!("`POST ", $path, "`: one lifecycle action.")]
        #[utoipa::path(
            post,
            path = $path,
            tag = "deployments",
            summary = $summary,
            request_body = refs::ActionRequest,
            params(("id" = String, Path, description = "Deployment id")),
            responses(
                (status = 200, description = "The deployment after the action", body = refs::Deployment),
                (status = 400, description = "`validation_error`: bad `actor`/`note` or body", body = ErrorBody),
                (status = 403, description = "`self_approval` (approve and reject only)", body = ErrorBody),
                (status = 404, description = "`not_found`", body = ErrorBody),
                (status = 409, description = concat!($conflict, "; or `rollout_in_progress`: a running rollout owns the deployment (only rollback is allowed)"), body = ErrorBody),
                (status = 413, description = "`payload_too_large`: body over 1 MiB", body = ErrorBody),
                (status = 500, description = "`rollback_failed` (rollback of a rollout only): restoring the previous \
                                              release failed", body = ErrorBody),
                (status = 503, description = "`storage_error`: nothing was written", body = ErrorBody),
                (status = 502, description = "`platform_error` (rollback of a rollout only)", body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            DeploymentId(id): DeploymentId,
            body: Result<JsonBody<ActionRequest>, ApiError>,
        ) -> Result<Json<Deployment>, ApiError> {
            act(&state, caller, &id, $action, body).await
        }
    };
}

action_route!(
    approve,
    Action::Approve,
    "/api/v1/deployments/{id}/approve",
    "Approve: pending_approval → approved (actor ≠ requester; note optional)",
    "`invalid_transition`: not pending_approval"
);
action_route!(
    reject,
    Action::Reject,
    "/api/v1/deployments/{id}/reject",
    "Reject: pending_approval → rejected (actor ≠ requester; note required)",
    "`invalid_transition`: not pending_approval"
);
action_route!(
    start,
    Action::Start,
    "/api/v1/deployments/{id}/start",
    "Start: approved → started (note optional)",
    "`invalid_transition`: not approved"
);
action_route!(
    succeed,
    Action::Succeed,
    "/api/v1/deployments/{id}/succeed",
    "Succeed: started → succeeded (note optional)",
    "`invalid_transition`: not started"
);
action_route!(
    fail,
    Action::Fail,
    "/api/v1/deployments/{id}/fail",
    "Fail: started → failed (note required)",
    "`invalid_transition`: not started"
);
action_route!(
    rollback,
    Action::Rollback,
    "/api/v1/deployments/{id}/rollback",
    "Roll back: started | succeeded | failed → rolled_back (note required); a running or paused rollout is \
     stopped and the previous release restored at 100 % first, a succeeded one still serving is replaced by the \
     release before it",
    "`invalid_transition`: not started, succeeded or failed"
);

/// Walk the whole audit chain and compare every deployment, field by field, with the state its
/// history establishes; with an exported head's fields as parameters, also check that the chain
/// still contains it.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "operations",
    params(HeadParams),
    responses(
        (status = 200, description = "The verification report (`valid` false names the first broken link)",
         body = refs::AuditReport),
        (status = 400, description = "`validation_error`: a malformed head, or one carrying an `hmac` while the \
                                      server has no `LOCO_AUDIT_KEY`", body = ErrorBody),
        (status = 503, description = "`storage_error`", body = ErrorBody),
    )
)]
pub async fn verify_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditReport>, ApiError> {
    let head = head_params(query.as_deref())?.into_head()?;
    let session = state.engine.session(caller.0);
    let engine = session.reader()?;
    let report = match head {
        Some(head) => engine.verify_audit_against(&head).await?,
        None => engine.verify_audit().await?,
    };
    Ok(Json(report))
}

/// The head of the verified audit chain, signed with the server's `LOCO_AUDIT_KEY` when it has
/// one: keep it outside the server, and pass its fields to `GET /api/v1/audit/verify` later to
/// find events deleted from the end.
#[utoipa::path(
    get,
    path = "/api/v1/audit/head",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"seq\", \"hash\", \"hmac\", \"at\"}` of the last event", body = refs::AuditHead),
        (status = 503, description = "`storage_error`, also when the chain does not verify", body = ErrorBody),
    )
)]
pub async fn audit_head(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<AuditHead>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.audit_head().await?))
}

/// Liveness: answers while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json",
               body = Object))
)]
pub async fn openapi_json(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi.as_str().to_owned())
}
