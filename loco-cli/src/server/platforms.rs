//! Configured cloud platforms: add (or replace), list, test and remove. Every route needs an
//! unscoped `admin` grant; tokens go in and never come out (`"***"`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use loco_core::Error;
use loco_core::platform_config::{NewPlatform, PlatformConfig};
use loco_core::session::Operation;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, gated};
use crate::server::openapi::refs;
use crate::wire::{ErrorBody, PlatformList, PlatformTest};

/// Every configured platform, by name (tokens shown as `"***"`).
#[utoipa::path(
    get,
    path = "/api/v1/platforms",
    tag = "platforms",
    responses(
        (status = 200, description = "The configured platforms", body = PlatformList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn list_platforms(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<PlatformList>, ApiError> {
    Ok(Json(PlatformList { items: state.engine.session(caller.0).admin()?.platform_configs().await? }))
}

/// Configure (or replace) a cloud platform plans may name; the token is sealed and never shown.
#[utoipa::path(
    put,
    path = "/api/v1/platforms/{name}",
    tag = "platforms",
    params(("name" = String, Path, description = "The platform's name (must match the body's)")),
    request_body = refs::NewPlatform,
    responses(
        (status = 200, description = "The configuration as stored, token `***`", body = refs::PlatformConfig),
        (status = 400, description = "`validation_error`: a bad name, setting or empty token", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn put_platform(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<JsonBody<NewPlatform>, ApiError>,
) -> Result<Json<PlatformConfig>, ApiError> {
    let session = state.engine.session(caller.0);
    let new = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    if new.name != name {
        return Err(Error::invalid("name", format!("is '{}' but the path names '{name}'", new.name)).into());
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.add_platform(&new.name, new.settings, &new.token, &by).await?))
}

/// Test a configured platform: the token is accepted and the app or service exists.
#[utoipa::path(
    post,
    path = "/api/v1/platforms/{name}/test",
    tag = "platforms",
    params(("name" = String, Path, description = "The platform's name")),
    responses(
        (status = 200, description = "The provider accepted the token and knows the app or service", body = PlatformTest),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`: no platform of this name is configured", body = ErrorBody),
        (status = 502, description = "`platform_error`: the provider refused (the message says why)", body = ErrorBody),
    )
)]
pub async fn test_platform(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PlatformTest>, ApiError> {
    state.engine.session(caller.0).admin()?.test_platform(&name).await?;
    Ok(Json(PlatformTest { name, ok: true }))
}

/// Remove a configured platform (refused while a rollout on it is active).
#[utoipa::path(
    delete,
    path = "/api/v1/platforms/{name}",
    tag = "platforms",
    params(("name" = String, Path, description = "The platform's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`validation_error`: a rollout on it is active", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub async fn remove_platform(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.session(caller.0).admin()?.remove_platform(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
