//! The administration handlers: API tokens (create, list, revoke), the service registry
//! (register, list, remove) and `whoami`. Each needs an unscoped `admin` grant, except `whoami`,
//! which any valid token may call.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use loco_core::Error;
use loco_core::service::ServiceDefinition;
use loco_core::session::Operation;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, gated};
use crate::server::openapi::refs;
use crate::wire::{CreateToken, CreatedToken, ErrorBody, ServiceList, TokenList, WhoAmI};

/// Create an API token; its secret is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "access",
    request_body = CreateToken,
    responses(
        (status = 201, description = "The token and its secret (shown this once)", body = CreatedToken),
        (status = 400, description = "`validation_error`: a bad name, subject, grant or expiry", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<JsonBody<CreateToken>, ApiError>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let session = state.engine.session(caller.0);
    let body = gated(&session, Operation::Administer, body)?;
    let engine = session.admin()?;
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    let (token, secret) = engine.create_token(body.into_new()?, &by).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Every API token (never a secret), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "access",
    responses(
        (status = 200, description = "The tokens", body = TokenList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn list_tokens(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList { items: state.engine.session(caller.0).admin()?.tokens().await? }))
}

/// Revoke an API token: it authenticates nothing from now on.
#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/revoke",
    tag = "access",
    params(("id" = String, Path, description = "Token id (`tok_…`)")),
    responses(
        (status = 200, description = "The revoked token", body = refs::Token),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<loco_core::identity::Token>, ApiError> {
    Ok(Json(state.engine.session(caller.0).admin()?.revoke_token(&id).await?))
}

/// Every registered service, by name.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "access",
    responses(
        (status = 200, description = "The services", body = ServiceList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn list_services(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<ServiceList>, ApiError> {
    Ok(Json(ServiceList { items: state.engine.session(caller.0).admin()?.services().await? }))
}

/// Register (or replace) a service rollouts may run by name.
#[utoipa::path(
    put,
    path = "/api/v1/services/{name}",
    tag = "access",
    params(("name" = String, Path, description = "The service's name (must match the body's)")),
    request_body = refs::ServiceDefinition,
    responses(
        (status = 200, description = "The registered service", body = refs::ServiceDefinition),
        (status = 400, description = "`validation_error`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn put_service(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    definition: Result<JsonBody<ServiceDefinition>, ApiError>,
) -> Result<Json<ServiceDefinition>, ApiError> {
    let session = state.engine.session(caller.0);
    let definition = gated(&session, Operation::Administer, definition)?;
    let engine = session.admin()?;
    if definition.name != name {
        return Err(Error::invalid("name", format!("is '{}' but the path names '{name}'", definition.name)).into());
    }
    let by = session.identity().map_or("anonymous", |i| i.subject.as_str()).to_owned();
    Ok(Json(engine.register_service(definition, &by).await?))
}

/// Remove a registered service (rollouts already started keep running it).
#[utoipa::path(
    delete,
    path = "/api/v1/services/{name}",
    tag = "access",
    params(("name" = String, Path, description = "The service's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub async fn remove_service(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.session(caller.0).admin()?.remove_service(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the request's token acts as, and its grants.
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    tag = "access",
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(match caller.0 {
        Some(identity) => WhoAmI {
            subject: Some(identity.subject),
            grants: identity.grants.iter().map(ToString::to_string).collect(),
            token_id: identity.token_id,
        },
        None => WhoAmI { subject: None, grants: Vec::new(), token_id: None },
    })
}
