//! The Render fake's HTTP surface: the bearer check and rate limits in front of every route, and
//! one handler per REST API v1 endpoint the adapter uses.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::model::{Limit, STATUSES, Source, World, image_repository};
use super::wire::{ApiError, Query, error, error_body};
use super::{ServiceSource, TRIGGER_API, TRIGGER_ROLLBACK};
use crate::common::time::rfc3339_micros;
use crate::common::{Instruments, json_response, record};

/// The fake's state, shared by every handler.
pub(super) type Shared = crate::common::server::Shared<World>;

pub(super) use crate::common::server::lock;

/// The routes, behind the bearer check and rate limits, behind the recorder (outermost, so
/// refused requests and injected faults are recorded too).
pub(super) fn router(shared: Shared, instruments: Instruments) -> Router {
    Router::new()
        .route("/v1/users", get(user))
        .route("/v1/owners", get(owners))
        .route("/v1/services", get(services))
        .route("/v1/services/{service}", get(service))
        .route("/v1/services/{service}/deploys", get(deploys).post(create_deploy))
        .route("/v1/services/{service}/deploys/{deploy}", get(deploy))
        .route("/v1/services/{service}/deploys/{deploy}/cancel", post(cancel))
        .route("/v1/services/{service}/rollback", post(rollback))
        .route("/v1/services/{service}/scale", post(scale))
        .route("/v1/services/{service}/suspend", post(suspend))
        .route("/v1/services/{service}/resume", post(resume))
        .route("/v1/logs", get(logs))
        .fallback(|| async { error(404, "not found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(instruments, record))
        .with_state(shared)
}

/// Which limit a request counts against: deploy-creating POSTs per service, other writes, reads.
fn limit_of(method: &Method, path: &str) -> Limit {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, _) => Limit::Reads,
        (&Method::POST, ["v1", "services", service, "deploys" | "rollback" | "suspend" | "resume"]) => {
            Limit::Deploys((*service).to_owned())
        }
        _ => Limit::Writes,
    }
}

/// `Authorization: Bearer <key>` or 401; then the rate limit (429 with `Retry-After` when used
/// up); `Ratelimit-*` headers on every answer.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let limit = limit_of(request.method(), request.uri().path());
    let verdict = {
        let mut world = lock(&shared);
        let expected = format!("Bearer {}", world.token);
        let given = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let authorized = !world.token.is_empty() && given == expected;
        let verdict = world.admit(limit, authorized);
        if !authorized {
            return json_response(401, &error_body("unauthorized"), &verdict.headers);
        }
        verdict
    };
    if let Some(after) = verdict.retry_after {
        let mut headers = verdict.headers;
        headers.push(("retry-after".to_owned(), after.to_string()));
        return json_response(429, &error_body("rate limit exceeded, please retry later"), &headers);
    }
    let mut response = next.run(request).await;
    for (name, value) in verdict.headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A handler's answer: the response, or Render's error body.
type Answer = Result<Response, ApiError>;

/// A request body as a JSON object (an empty body is `{}`); 400 otherwise.
fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(400, "request body must be a JSON object")),
        Err(e) => Err(error(400, &format!("invalid JSON body: {e}"))),
    }
}

/// A string field, `None` when absent; 400 naming it when it is not a string.
fn text_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(error(400, &format!("{name} must be a string"))),
    }
}

/// A cursor-wrapped list page: items after `cursor`, at most `limit`, each `{cursor, <key>}`.
fn page(items: Vec<(String, Value)>, key: &str, query: &Query) -> Answer {
    let limit = query.limit(20)?;
    let start = match query.first("cursor") {
        None | Some("") => 0,
        Some(cursor) => items.iter().position(|(c, _)| c == cursor).ok_or_else(|| error(400, "invalid cursor"))? + 1,
    };
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|(cursor, item)| json!({ "cursor": cursor, key: item }))
        .collect();
    Ok(json_response(200, &Value::Array(page), &[]))
}

fn service_not_found(id: &str) -> ApiError {
    error(404, &format!("service {id} not found"))
}

fn deploy_not_found(id: &str) -> ApiError {
    error(404, &format!("deploy {id} not found"))
}

async fn user(State(shared): State<Shared>) -> Response {
    let world = lock(&shared);
    json_response(200, &json!({ "email": world.email, "name": world.owner_name }), &[])
}

async fn owners(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let world = lock(&shared);
    let owner = json!({ "id": world.owner_id, "name": world.owner_name, "email": world.email, "type": "team" });
    page(vec![(world.owner_id.clone(), owner)], "owner", &Query::parse(raw.as_deref()))
}

async fn services(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let world = lock(&shared);
    let matches = |filter: &str, value: &str| {
        let wanted = query.all(filter);
        wanted.is_empty() || wanted.contains(&value)
    };
    let items = world
        .services
        .iter()
        .filter(|s| matches("name", &s.seed.name) && matches("type", "web_service"))
        .filter(|_| matches("ownerId", &world.owner_id))
        .filter(|s| matches("suspended", if s.suspended { "suspended" } else { "not_suspended" }))
        .map(|s| (s.seed.id.clone(), s.json(&world.owner_id)))
        .collect();
    page(items, "service", &query)
}

async fn service(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    let world = lock(&shared);
    let service = world.service(&id).ok_or_else(|| service_not_found(&id))?;
    Ok(json_response(200, &service.json(&world.owner_id), &[]))
}

/// `POST /v1/services/{id}/deploys`: validates the body as Render does, creates the deploy
/// (`created`, or `queued` behind one in progress) and answers 201 with it.
async fn create_deploy(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = object(&body)?;
    let commit = text_field(&body, "commitId")?;
    let image = text_field(&body, "imageUrl")?;
    let clear_cache = text_field(&body, "clearCache")?;
    let mode = text_field(&body, "deployMode")?;
    let artifact = text_field(&body, "artifactId")?;
    if clear_cache.as_deref().is_some_and(|c| !matches!(c, "clear" | "do_not_clear")) {
        return Err(error(400, "clearCache must be one of: clear, do_not_clear"));
    }
    if mode.as_deref().is_some_and(|m| !matches!(m, "build_and_deploy" | "deploy_only")) {
        return Err(error(400, "deployMode must be one of: build_and_deploy, deploy_only"));
    }
    let deploy_only = mode.as_deref() == Some("deploy_only");
    if deploy_only && (commit.is_some() || image.is_some() || clear_cache.is_some()) {
        return Err(error(400, "deployMode deploy_only cannot be combined with commitId, imageUrl or clearCache"));
    }
    if artifact.is_some() && (commit.is_some() || image.is_some() || mode.is_some()) {
        return Err(error(400, "artifactId cannot be combined with commitId, imageUrl or deployMode"));
    }
    let mut world = lock(&shared);
    let service = world.service(&id).ok_or_else(|| service_not_found(&id))?;
    if let Some(artifact) = artifact {
        return Err(error(400, &format!("artifact {artifact} not found")));
    }
    let (source, build) = if deploy_only {
        let last = service.deploys.iter().rev().find(|d| d.went_live);
        (last.map(|d| d.source.clone()).ok_or_else(|| error(400, "no previous build to deploy"))?, false)
    } else {
        match &service.seed.source {
            ServiceSource::Git { head_commit, .. } => {
                if image.is_some() {
                    return Err(error(400, "imageUrl can only be used with services deployed from an image"));
                }
                (Source::Commit(commit.unwrap_or_else(|| head_commit.clone())), true)
            }
            ServiceSource::Image { .. } => {
                if commit.is_some() {
                    return Err(error(400, "commitId can only be used with services deployed from a git repository"));
                }
                let configured = service.image.clone().unwrap_or_default();
                let image = image.unwrap_or_else(|| configured.clone());
                let repository = image_repository(&configured);
                if image_repository(&image) != repository {
                    let message = format!(
                        "imageUrl must match the host, repository and image name of the service's image \
                         ({repository}); only the tag or digest can change"
                    );
                    return Err(error(400, &message));
                }
                (Source::Image(image), false)
            }
        }
    };
    let deploy = world.create_deploy(&id, source, TRIGGER_API, build).ok_or_else(|| service_not_found(&id))?;
    created(&mut world, &deploy.json())
}

/// 201 with the deploy, or — when a fault asks for it — 500 although the deploy was created.
fn created(world: &mut World, deploy: &Value) -> Answer {
    if world.fail_after_acting > 0 {
        world.fail_after_acting -= 1;
        return Err(error(500, "internal server error"));
    }
    Ok(json_response(201, deploy, &[]))
}

async fn deploys(State(shared): State<Shared>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let statuses = query.all("status");
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(s)) {
        return Err(error(400, &format!("invalid status: {bad}")));
    }
    let (after, before) = (query.time("createdAfter")?, query.time("createdBefore")?);
    let mut world = lock(&shared);
    let ticks = world.ticks_per_poll;
    world.tick(&id, ticks);
    let service = world.service(&id).ok_or_else(|| service_not_found(&id))?;
    let items = service
        .deploys
        .iter()
        .rev()
        .filter(|d| statuses.is_empty() || statuses.contains(&d.status))
        .filter(|d| after.is_none_or(|t| d.created_at >= t) && before.is_none_or(|t| d.created_at <= t))
        .map(|d| (d.id.clone(), d.json()))
        .collect();
    page(items, "deploy", &query)
}

async fn deploy(State(shared): State<Shared>, Path((id, deploy)): Path<(String, String)>) -> Answer {
    let mut world = lock(&shared);
    let ticks = world.ticks_per_poll;
    world.tick(&id, ticks);
    let service = world.service(&id).ok_or_else(|| service_not_found(&id))?;
    let found = service.deploys.iter().find(|d| d.id == deploy).ok_or_else(|| deploy_not_found(&deploy))?;
    Ok(json_response(200, &found.json(), &[]))
}

async fn cancel(State(shared): State<Shared>, Path((id, deploy)): Path<(String, String)>) -> Answer {
    let mut world = lock(&shared);
    if world.service(&id).is_none() {
        return Err(service_not_found(&id));
    }
    match world.cancel(&id, &deploy).ok_or_else(|| deploy_not_found(&deploy))? {
        Ok(d) => Ok(json_response(200, &d.json(), &[])),
        Err(status) => {
            Err(error(409, &format!("deploy {deploy} is {status}; only a deploy in progress can be canceled")))
        }
    }
}

/// `POST /v1/services/{id}/rollback {"deployId"}`: a new deploy (`trigger: rollback`) of a
/// retained deploy that was live, without a build.
async fn rollback(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = object(&body)?;
    let target = text_field(&body, "deployId")?.ok_or_else(|| error(400, "deployId is required"))?;
    let mut world = lock(&shared);
    let service = world.service(&id).ok_or_else(|| service_not_found(&id))?;
    let deploy = service.deploys.iter().find(|d| d.id == target).ok_or_else(|| deploy_not_found(&target))?;
    if !deploy.went_live {
        let message = format!("deploy {target} was never live; only a deploy that was live can be rolled back to");
        return Err(error(400, &message));
    }
    if !world.is_retained(service, deploy) {
        let message = format!("deploy {target} is no longer retained (the last {} live deploys are)", world.retained);
        return Err(error(400, &message));
    }
    let source = deploy.source.clone();
    let deploy = world.create_deploy(&id, source, TRIGGER_ROLLBACK, false).ok_or_else(|| service_not_found(&id))?;
    created(&mut world, &deploy.json())
}

async fn scale(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = object(&body)?;
    let count = body
        .get("numInstances")
        .and_then(Value::as_u64)
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| error(400, "numInstances must be an integer between 1 and 100"))?;
    let mut world = lock(&shared);
    let now = world.now();
    let service = world.service_mut(&id).ok_or_else(|| service_not_found(&id))?;
    service.num_instances = count as u32;
    service.updated_at = now;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn suspend(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    set_suspended(&shared, &id, true)
}

async fn resume(State(shared): State<Shared>, Path(id): Path<String>) -> Answer {
    set_suspended(&shared, &id, false)
}

fn set_suspended(shared: &Shared, id: &str, suspended: bool) -> Answer {
    let mut world = lock(shared);
    let now = world.now();
    let service = world.service_mut(id).ok_or_else(|| service_not_found(id))?;
    service.suspended = suspended;
    service.updated_at = now;
    let line = if suspended { "==> Service suspended" } else { "==> Service resumed" };
    world.log(id, "app", "info", id, line.to_owned());
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /v1/logs`: the lines of the `resource`s within `[startTime, endTime]`, oldest first in
/// each page. `direction=forward` pages from the start (`nextStartTime` = just after the last
/// line), `backward` (the default) from the end (`nextEndTime` = just before the first line).
async fn logs(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let owner = query.first("ownerId").ok_or_else(|| error(400, "ownerId is required"))?;
    if owner != world.owner_id {
        return Err(error(403, &format!("not authorized to read the logs of owner {owner}")));
    }
    let resources = query.all("resource");
    if resources.is_empty() {
        return Err(error(400, "resource is required"));
    }
    let direction = query.first("direction").unwrap_or("backward");
    if !matches!(direction, "forward" | "backward") {
        return Err(error(400, "direction must be one of: forward, backward"));
    }
    let limit = query.limit(20)?;
    let (start, end) = (query.time("startTime")?, query.time("endTime")?);
    let end = end.unwrap_or_else(|| world.now());
    let start = start.unwrap_or(end - 3_600_000_000);
    let wanted = |filter: &str, value: &str| {
        let values = query.all(filter);
        values.is_empty() || values.contains(&value)
    };
    let texts = query.all("text");
    let mut lines: Vec<(i64, Value)> = world
        .services
        .iter()
        .filter(|s| resources.contains(&s.seed.id.as_str()))
        .flat_map(|s| s.logs.iter().map(move |l| (s.seed.id.as_str(), l)))
        .filter(|(_, l)| (start..=end).contains(&l.at))
        .filter(|(_, l)| wanted("type", l.kind) && wanted("level", l.level) && wanted("instance", &l.instance))
        .filter(|(_, l)| texts.is_empty() || texts.iter().any(|t| l.message.contains(t)))
        .map(|(resource, l)| (l.at, l.json(resource)))
        .collect();
    lines.sort_by_key(|(at, _)| *at);
    let has_more = lines.len() > limit;
    let (page, next_start, next_end) = if direction == "forward" {
        lines.truncate(limit);
        let next_start = lines.last().map_or(start, |(at, _)| at + 1);
        (lines, next_start, end)
    } else {
        let page = lines.split_off(lines.len().saturating_sub(limit));
        let next_end = page.first().map_or(end, |(at, _)| at - 1);
        (page, start, next_end)
    };
    let body = json!({
        "hasMore": has_more,
        "nextStartTime": rfc3339_micros(next_start),
        "nextEndTime": rfc3339_micros(next_end),
        "logs": page.into_iter().map(|(_, line)| line).collect::<Vec<_>>(),
    });
    Ok(json_response(200, &body, &[]))
}
