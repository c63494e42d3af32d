//! The Vercel fake's HTTP surface: the bearer and team checks and the deploy rate limit in front
//! of every route, and one handler per REST endpoint the adapter uses.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Map, Value, json};

use super::model::{Deployment, NewDeployment, World};
use super::rolling_routes::{rr_approve, rr_complete, rr_config, rr_configure, rr_disable, rr_start, rr_state};
use super::wire::{ApiError, Query, error, error_body, rate_limit_headers, rate_limited_body};
use crate::common::{Instruments, json_response, record};

/// The fake's state, shared by every handler.
pub(super) type Shared = crate::common::server::Shared<World>;

pub(super) use crate::common::server::lock;

/// The routes, behind the auth gate, behind the recorder (outermost, so refused requests and
/// injected faults are recorded too).
pub(super) fn router(shared: Shared, instruments: Instruments) -> Router {
    let rr = "/v1/projects/{project}/rolling-release";
    Router::new()
        .route("/v2/user", get(user))
        .route("/v9/projects/{project}", get(project))
        .route("/v8/projects/{project}", get(project))
        .route("/v13/deployments", post(create_deployment))
        .route("/v13/deployments/{id}", get(deployment))
        .route("/v6/deployments", get(list_deployments))
        .route("/v7/deployments", get(list_deployments))
        .route("/v12/deployments/{id}/cancel", patch(cancel))
        .route("/v3/deployments/{id}/events", get(events))
        .route("/v10/projects/{project}/promote/{id}", post(promote))
        .route("/v1/projects/{project}/rollback/{id}", post(rollback))
        .route("/v9/projects/{project}/rollback/{id}", post(rollback))
        .route(&format!("{rr}/config"), get(rr_config).patch(rr_configure).delete(rr_disable))
        .route(rr, get(rr_state))
        .route(&format!("{rr}/start"), post(rr_start))
        .route(&format!("{rr}/approve-stage"), post(rr_approve))
        .route(&format!("{rr}/complete"), post(rr_complete))
        .fallback(|| async { error(404, "not_found", "The requested API endpoint was not found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(instruments, record))
        .with_state(shared)
}

/// `Authorization: Bearer <token>` (401 without one, 403 with another), a team the token belongs
/// to (403 otherwise), then the deploy rate limit on `POST /v13/deployments`.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    {
        let mut world = lock(&shared);
        let given = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        let Some(given) = given else {
            let body = json!({ "error": {
                "code": "unauthorized", "message": "The request is missing an authentication token", "missingToken": true
            }});
            return json_response(401, &body, &[]);
        };
        if given != format!("Bearer {}", world.options.token) {
            return json_response(403, &error_body("forbidden", "Not authorized"), &[]);
        }
        let query = Query::parse(request.uri().query());
        if let Some(team) = query.team()
            && resolve_team(&world, team).is_none()
        {
            return json_response(403, &error_body("forbidden", "Not authorized"), &[]);
        }
        if request.method() == Method::POST
            && request.uri().path() == "/v13/deployments"
            && let Err((after, total)) = world.admit_deploy()
        {
            {
                let mut headers = rate_limit_headers(after, total);
                headers.push(("retry-after".to_owned(), after.to_string()));
                return json_response(429, &rate_limited_body(after, total), &headers);
            }
        }
    }
    next.run(request).await
}

/// A team id or slug → the team id, when the token belongs to that team.
fn resolve_team(world: &World, team: &str) -> Option<String> {
    world.options.teams.iter().find(|(id, slug)| id == team || slug == team).map(|(id, _)| id.clone())
}

pub(super) fn team_of(world: &World, query: &Query) -> Option<String> {
    query.team().and_then(|t| resolve_team(world, t))
}

/// Deployment `id` (or url) of the project at `index`, as `team` sees it (not found when it
/// belongs to another project).
fn project_deployment<'w>(
    world: &'w World,
    index: usize,
    id: &str,
    team: Option<&str>,
) -> Result<&'w Deployment, ApiError> {
    let d = world.deployment(id, team)?;
    if d.project_id != world.projects[index].id {
        return Err(error(404, "not_found", "Deployment not found"));
    }
    Ok(d)
}

/// The project named by id or name as the query's team sees it: its index, and that team.
pub(super) fn scoped_project(world: &World, project: &str, query: &Query) -> Result<(usize, Option<String>), ApiError> {
    let team = team_of(world, query);
    let index = world.project_index(project, team.as_deref())?;
    Ok((index, team))
}

pub(super) type Answer = Result<Response, ApiError>;

pub(super) fn ok(body: &Value) -> Response {
    json_response(200, body, &[])
}

/// A request body as a JSON object (an empty body is `{}`); 400 otherwise.
pub(super) fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(400, "bad_request", "Invalid request: the body must be a JSON object")),
    }
}

async fn user(State(shared): State<Shared>) -> Answer {
    let world = lock(&shared);
    let o = &world.options;
    Ok(ok(&json!({ "user": {
        "id": o.user_id, "email": o.email, "name": o.username, "username": o.username,
        "defaultTeamId": o.teams.first().map(|(id, _)| id.clone()), "version": "northstar",
    }})))
}

async fn project(State(shared): State<Shared>, Path(project): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let (index, _) = scoped_project(&world, &project, &query)?;
    let ticks = world.ticks_per_poll;
    world.tick_project(index, ticks);
    Ok(ok(&world.project_json(&world.projects[index])))
}

pub(super) fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(error(400, "bad_request", &format!("Invalid request: `{name}` should be string"))),
    }
}

/// `POST /v13/deployments`: validates the body as Vercel does and answers **200** with the
/// new deployment (`QUEUED`).
async fn create_deployment(State(shared): State<Shared>, RawQuery(raw): RawQuery, body: Bytes) -> Answer {
    let query = Query::parse(raw.as_deref());
    let body = object(&body)?;
    let bad = |message: &str| error(400, "bad_request", message);
    let name = text(&body, "name")?;
    let project = text(&body, "project")?;
    let Some(which) = project.or(name) else {
        return Err(bad("Invalid request: missing required property `name`"));
    };
    let target = text(&body, "target")?.map(str::to_owned);
    if target.as_deref().is_some_and(|t| !matches!(t, "production" | "staging" | "preview")) {
        return Err(bad("Invalid request: `target` should be one of production, staging, preview"));
    }
    let target = target.filter(|t| t != "preview");
    if body.contains_key("files") {
        return Err(bad("This fake builds from git only: send gitSource or deploymentId, not files"));
    }
    let meta = match body.get("meta") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) if m.values().all(Value::is_string) && m.len() <= 100 => m.clone(),
        Some(_) => return Err(bad("Invalid request: `meta` should be an object of at most 100 strings")),
    };
    let skip_domains = body.get("autoAssignCustomDomains").and_then(Value::as_bool) == Some(false);
    let mut world = lock(&shared);
    let team = team_of(&world, &query);
    let index = world.project_index(which, team.as_deref())?;
    let seed = world.projects[index].seed.clone();
    let (sha, git_source) = if let Some(redeploy) = text(&body, "deploymentId")? {
        let from = world.deployment(redeploy, team.as_deref())?;
        let latest = body.get("withLatestCommit").and_then(Value::as_bool) == Some(true);
        let sha = if latest { seed.head_sha.clone() } else { from.sha.clone() };
        let mut source = from.git_source.clone();
        source["sha"] = json!(sha);
        (sha, source)
    } else {
        let source = body
            .get("gitSource")
            .and_then(Value::as_object)
            .ok_or_else(|| error(400, "missing_files", "Missing files: send gitSource, deploymentId or files"))?;
        git_source(source, &seed)?
    };
    let new = NewDeployment { target, sha, git_source, meta, skip_domains };
    let created = world.create_deployment(index, new);
    let json = created.json(&world.projects[index]);
    if world.fail_after_acting > 0 {
        world.fail_after_acting -= 1;
        return Err(error(500, "internal_server_error", "An unexpected internal error occurred"));
    }
    Ok(ok(&json))
}

/// Validates a `gitSource` variant against the project's linked repository; the sha built
/// (the production branch's head when none is given) and the source as the deployment shows it.
fn git_source(source: &Map<String, Value>, seed: &super::ProjectSeed) -> Result<(String, Value), ApiError> {
    let bad = |message: &str| error(400, "bad_request", message);
    let field = |name: &str| source.get(name).and_then(Value::as_str);
    let kind = field("type").ok_or_else(|| bad("Invalid request: `gitSource.type` is required"))?;
    let (org, repo) = seed.repo.split_once('/').unwrap_or(("", seed.repo.as_str()));
    match kind {
        "github" | "github-limited" => {
            let named = match (field("org"), field("repo"), source.get("repoId")) {
                (Some(o), Some(r), _) => o == org && r == repo,
                (_, _, Some(id)) => id.as_u64() == Some(123_456_789) || id.as_str() == Some("123456789"),
                _ => return Err(bad("Invalid request: `gitSource` needs org and repo, or repoId")),
            };
            if !named {
                return Err(error(400, "incorrect_git_source_info", "The repository is not linked to this project"));
            }
        }
        "gitlab" | "bitbucket" => {
            return Err(error(
                400,
                "incorrect_git_source_info",
                &format!("The project is linked to GitHub, not {kind}"),
            ));
        }
        "vercel" => {}
        other => return Err(bad(&format!("Invalid request: unknown gitSource.type `{other}`"))),
    }
    if kind != "vercel" && field("ref").is_none() {
        return Err(bad("Invalid request: `gitSource.ref` is required"));
    }
    let sha = field("sha").filter(|s| !s.is_empty()).unwrap_or(&seed.head_sha).to_owned();
    let shown = json!({
        "type": kind, "org": org, "repo": repo, "repoId": 123_456_789,
        "ref": field("ref").unwrap_or(&seed.production_branch), "sha": sha,
    });
    Ok((sha, shown))
}

async fn deployment(State(shared): State<Shared>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let team = team_of(&world, &query);
    let id = world.deployment(&id, team.as_deref())?.id.clone();
    let ticks = world.ticks_per_poll;
    world.tick_deployment(&id, ticks);
    let d = world.deployment(&id, team.as_deref())?;
    let project = world.project_by_id(&d.project_id).ok_or_else(|| error(404, "not_found", "Project not found"))?;
    Ok(ok(&d.json(project)))
}

/// `GET /v6|v7/deployments`: newest first, filtered by `projectId`, `target`, `state` (comma
/// separated), `sha`, `until` (created before, ms); `limit` 1–100 (20).
async fn list_deployments(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let world = lock(&shared);
    let team = team_of(&world, &query);
    let limit = match query.get("limit") {
        None => 20,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| error(400, "bad_request", "Invalid request: `limit` should be between 1 and 100"))?,
    };
    let project = match query.get("projectId") {
        Some(p) => Some(world.project(p, team.as_deref())?.id.clone()),
        None => None,
    };
    let states: Vec<&str> = query.get("state").map(|s| s.split(',').collect()).unwrap_or_default();
    let until = query.get("until").and_then(|u| u.parse::<i64>().ok());
    let mut matching: Vec<&Deployment> = world
        .deployments
        .iter()
        .rev()
        .filter(|d| world.project_by_id(&d.project_id).is_some_and(|p| p.seed.team_id == team))
        .filter(|d| project.as_ref().is_none_or(|p| *p == d.project_id))
        .filter(|d| query.get("target").is_none_or(|t| d.target.as_deref() == Some(t)))
        .filter(|d| states.is_empty() || states.contains(&d.state))
        .filter(|d| query.get("sha").is_none_or(|s| d.sha == s))
        .filter(|d| until.is_none_or(|u| d.created_at < u))
        .collect();
    let more = matching.len() > limit;
    matching.truncate(limit);
    let next = if more { matching.last().map(|d| json!(d.created_at)) } else { None };
    let items: Vec<Value> = matching.iter().map(|d| d.list_item()).collect();
    Ok(ok(&json!({ "deployments": items, "pagination": { "count": items.len(), "next": next, "prev": null } })))
}

/// `PATCH /v12/deployments/{id}/cancel`: a deployment still building becomes `CANCELED`.
async fn cancel(State(shared): State<Shared>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let team = team_of(&world, &query);
    let d = world.deployment(&id, team.as_deref())?;
    if d.is_final() {
        return Err(error(400, "bad_request", &format!("The deployment is {} and cannot be canceled", d.state)));
    }
    let id = d.id.clone();
    world.cancel_deployment(&id);
    let d = world.deployment(&id, team.as_deref())?;
    let project = world.project_by_id(&d.project_id).ok_or_else(|| error(404, "not_found", "Project not found"))?;
    Ok(ok(&d.json(project)))
}

/// `GET /v3/deployments/{id}/events`: the build events as a JSON array, oldest first
/// (`direction=backward` reverses), after `since` (ms) and up to `limit` (-1: all).
async fn events(State(shared): State<Shared>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw.as_deref());
    let world = lock(&shared);
    let team = team_of(&world, &query);
    let d = world.deployment(&id, team.as_deref())?;
    let since = query.get("since").and_then(|s| s.parse::<i64>().ok()).unwrap_or(i64::MIN);
    let mut events: Vec<Value> = d
        .events
        .iter()
        .filter(|e| e.created > since)
        .map(|e| {
            json!({
                "type": e.kind,
                "created": e.created,
                "payload": {
                    "deploymentId": d.id, "id": format!("{}-{}", d.id, e.serial), "date": e.created,
                    "serial": e.serial.to_string(), "text": e.text,
                    "info": { "type": "build", "name": "bld_fake", "readyState": e.state },
                },
            })
        })
        .collect();
    if query.get("direction") == Some("backward") {
        events.reverse();
    }
    if let Some(limit) = query.get("limit").and_then(|l| l.parse::<i64>().ok()).filter(|l| *l >= 0) {
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(ok(&Value::Array(events)))
}

/// `POST /v10/projects/{id}/promote/{dpl}` → 201 empty when it starts a rolling release (one
/// is enabled and something serves), else 202 empty and an asynchronous `promote` alias job.
async fn promote(
    State(shared): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let (index, team) = scoped_project(&world, &project, &query)?;
    let d = project_deployment(&world, index, &id, team.as_deref())?;
    if d.state != "READY" || !d.is_production() {
        return Err(error(400, "bad_request", "Only a READY production deployment can be promoted"));
    }
    let id = d.id.clone();
    let p = &world.projects[index];
    let rolling = p.rolling_config.as_ref().is_some_and(|c| c.enabled) && p.production.is_some();
    if rolling && p.production.as_deref() != Some(id.as_str()) {
        let now = world.now();
        world.start_release(index, &id, now)?;
        return Ok(StatusCode::CREATED.into_response());
    }
    world.start_alias_job(index, &id, "promote");
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /v1|v9/projects/{id}/rollback/{dpl}` → 201 empty: aborts an active rolling release and
/// starts an asynchronous `rollback` alias job to a deployment that served production before.
async fn rollback(
    State(shared): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw.as_deref());
    let mut world = lock(&shared);
    let (index, team) = scoped_project(&world, &project, &query)?;
    let d = project_deployment(&world, index, &id, team.as_deref())?;
    if d.state != "READY" || !d.was_production {
        return Err(error(400, "bad_request", "Only a deployment that served production can be rolled back to"));
    }
    let (id, summary) = (d.id.clone(), d.summary());
    let now = world.now();
    world.abort_release(index, now);
    world.projects[index].last_rollback_target =
        Some(json!({ "toDeploymentId": id, "requestedAt": now, "deployment": summary }));
    world.start_alias_job(index, &id, "rollback");
    Ok(StatusCode::CREATED.into_response())
}
