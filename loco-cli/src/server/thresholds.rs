//! Canary-analysis thresholds per environment: read by anyone with a token, set by an admin.
//! Thresholds set here are saved: every engine opened on this database later uses them too.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use loco_core::analysis::Thresholds;
use loco_core::session::Operation;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, gated};
use crate::server::openapi::refs;
use crate::wire::ErrorBody;

/// The thresholds each environment uses when a plan sets none.
#[utoipa::path(
    get,
    path = "/api/v1/thresholds",
    tag = "rollouts",
    responses(
        (status = 200, description = "Thresholds by environment name (lower case)", body = BTreeMap<String, refs::Thresholds>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn list_thresholds(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<BTreeMap<String, Thresholds>>, ApiError> {
    Ok(Json(state.engine.session(caller.0).reader()?.thresholds()))
}

/// Set (and save) the thresholds of one environment (admin).
#[utoipa::path(
    put,
    path = "/api/v1/thresholds/{environment}",
    tag = "rollouts",
    params(("environment" = String, Path, description = "The environment (compared case-insensitively)")),
    request_body = refs::Thresholds,
    responses(
        (status = 200, description = "The thresholds now in force for the environment", body = refs::Thresholds),
        (status = 400, description = "`validation_error`: a field named `thresholds.<environment>.<field>`",
         body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`permission_denied`: needs admin", body = ErrorBody),
    )
)]
pub async fn put_thresholds(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(environment): Path<String>,
    body: Result<JsonBody<Thresholds>, ApiError>,
) -> Result<Json<Thresholds>, ApiError> {
    let session = state.engine.session(caller.0);
    let thresholds = gated(&session, Operation::Administer, body)?;
    session.admin()?.save_thresholds(&environment, thresholds.clone()).await?;
    Ok(Json(thresholds))
}
