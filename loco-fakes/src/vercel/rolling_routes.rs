//! The Vercel fake's Rolling Releases endpoints: the configuration, the release's state, and
//! start, approve-stage and complete.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value, json};

use super::model::World;
use super::rolling::RollingConfig;
use super::routes::{Answer, Shared, lock, object, ok, scoped_project, text};
use super::wire::{ApiError, Query, error};

pub(super) async fn rr_config(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let world = lock(&shared);
    let (index, _) = scoped_project(&world, &project, &query)?;
    let p = &world.projects[index];
    Ok(ok(&json!({ "rollingRelease": p.rolling_config.as_ref().filter(|c| c.enabled).map(RollingConfig::json) })))
}

/// `PATCH …/rolling-release/config`: replaces the configuration (the next release uses it; an
/// active one keeps its stages).
pub(super) async fn rr_configure(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let body = Value::Object(object(&body)?);
    let config = RollingConfig::parse(&body)?;
    let mut world = lock(&shared);
    let (index, _) = scoped_project(&world, &project, &query)?;
    let shown = config.enabled.then(|| config.json());
    world.projects[index].rolling_config = Some(config);
    Ok(ok(&json!({ "rollingRelease": shown })))
}

pub(super) async fn rr_disable(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let (index, _) = scoped_project(&world, &project, &query)?;
    world.projects[index].rolling_config = None;
    Ok(ok(&json!({ "rollingRelease": null })))
}

/// `GET …/rolling-release[?state=]`: the active release (or the last in `state`), else null.
pub(super) async fn rr_state(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let (index, _) = scoped_project(&world, &project, &query)?;
    let now = world.now();
    world.advance_automatic(index, now);
    let wanted = query.get("state").unwrap_or("ACTIVE");
    if !matches!(wanted, "ACTIVE" | "COMPLETE" | "ABORTED") {
        return Err(error(400, "bad_request", "Invalid request: `state` should be one of ACTIVE, COMPLETE, ABORTED"));
    }
    let release = world.projects[index].releases.iter().rev().find(|r| r.state == wanted);
    Ok(ok(&json!({ "rollingRelease": release.map(|r| r.json(&world)) })))
}

fn canary_of(body: &Map<String, Value>) -> Result<String, ApiError> {
    text(body, "canaryDeploymentId")?
        .map(str::to_owned)
        .ok_or_else(|| error(400, "bad_request", "Invalid request: missing required property `canaryDeploymentId`"))
}

/// The answer of the rolling-release actions: the release as it now is.
/// Applies `act` (given the project's index and the time) to the project the path and query
/// name, then answers with its latest release.
fn on_release(
    shared: &Shared,
    project: &str,
    raw: Option<&str>,
    act: impl FnOnce(&mut World, usize, i64) -> Result<(), ApiError>,
) -> Answer {
    let query = Query::parse(raw);
    let mut world = lock(shared);
    let (index, _) = scoped_project(&world, project, &query)?;
    let now = world.now();
    act(&mut world, index, now)?;
    let release = world.projects[index].releases.last();
    Ok(ok(&json!({ "rollingRelease": release.map(|r| r.json(&world)) })))
}

pub(super) async fn rr_start(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let canary = canary_of(&object(&body)?)?;
    on_release(&shared, &project, raw.as_deref(), |world, index, now| world.start_release(index, &canary, now))
}

pub(super) async fn rr_approve(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let canary = canary_of(&body)?;
    let next = body
        .get("nextStageIndex")
        .and_then(Value::as_u64)
        .ok_or_else(|| error(400, "bad_request", "Invalid request: missing required property `nextStageIndex`"))?;
    let next = usize::try_from(next).unwrap_or(usize::MAX);
    on_release(&shared, &project, raw.as_deref(), |world, index, now| world.approve_stage(index, &canary, next, now))
}

pub(super) async fn rr_complete(
    State(shared): State<Shared>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let canary = canary_of(&object(&body)?)?;
    on_release(&shared, &project, raw.as_deref(), |world, index, now| world.complete_release(index, &canary, now))
}
