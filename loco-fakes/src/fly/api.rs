//! The fake's HTTP surface: auth, routes and handlers of the Machines API and the logs endpoint.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::machine::{Lease, Machine, MachineState, Written, rfc3339};
use super::{CreateRefusal, Shared, World, lock};
use crate::common::ids::lower_ulid;
use crate::common::{Instruments, json_response, record};

/// The lease nonce header.
const NONCE: &str = "fly-machine-lease-nonce";

type Params = Query<Vec<(String, String)>>;
type Answer = Result<Response, Reject>;

/// An error answer: a status and Fly's error body.
struct Reject(u16, Value);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        json_response(self.0, &self.1, &[])
    }
}

pub(super) fn router(world: Shared, instruments: Instruments) -> Router {
    Router::new()
        .route("/v1/apps", get(list_apps))
        .route("/v1/apps/{app}", get(get_app))
        .route("/v1/platform/regions", get(regions))
        .route("/v1/apps/{app}/machines", get(list_machines).post(create_machine))
        .route("/v1/apps/{app}/machines/{id}", get(get_machine).post(update_machine).delete(destroy_machine))
        .route("/v1/apps/{app}/machines/{id}/wait", get(wait))
        .route("/v1/apps/{app}/machines/{id}/lease", get(get_lease).post(acquire_lease).delete(release_lease))
        .route("/v1/apps/{app}/machines/{id}/metadata", get(get_metadata))
        .route("/v1/apps/{app}/machines/{id}/metadata/{key}", post(set_metadata).delete(delete_metadata))
        .route("/v1/apps/{app}/machines/{id}/{action}", post(act))
        .route("/api/v1/apps/{app}/logs", get(logs))
        .fallback(|| async { error(404, "not found").into_response() })
        .layer(middleware::from_fn_with_state(world.clone(), auth))
        .layer(middleware::from_fn_with_state(instruments, record))
        .layer(middleware::map_response(request_id))
        .with_state(world)
}

fn ok(value: &Value) -> Response {
    json_response(200, value, &[])
}

fn error(status: u16, message: &str) -> Reject {
    Reject(status, json!({ "error": message }))
}

fn coded(status: u16, message: &str, code: &str) -> Reject {
    Reject(status, json!({ "error": message, "status": code }))
}

pub(super) fn new_nonce() -> String {
    format!("{:012x}", ulid::Ulid::new().random() & 0xffff_ffff_ffff)
}

fn new_machine_id() -> String {
    format!("{:014x}", ulid::Ulid::new().random() & 0xff_ffff_ffff_ffff)
}

async fn request_id(mut response: Response) -> Response {
    let id = lower_ulid();
    if let Ok(value) = HeaderValue::try_from(format!("{id}-ord")) {
        response.headers_mut().insert("fly-request-id", value);
    }
    response
}

/// Accepts `Bearer <token>` and `FlyV1 <token>`; anything else is Fly's 401.
async fn auth(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let token = lock(&world).options.token.clone();
    let token = token.strip_prefix("FlyV1 ").unwrap_or(&token).trim().to_owned();
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("FlyV1 ")))
        .map(str::trim);
    if !token.is_empty() && presented == Some(token.as_str()) {
        next.run(request).await
    } else {
        error(401, "Authenticate: token validation error").into_response()
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn flag(params: &[(String, String)], name: &str) -> bool {
    param(params, name).is_some_and(|v| v == "true" || v == "1")
}

fn body_json(body: &Bytes) -> Result<Value, Reject> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| error(400, &format!("invalid request body: {e}")))
}

/// The app must be the one the token may use.
fn check_app(world: &World, app: &str) -> Result<(), Reject> {
    if app == world.options.app {
        Ok(())
    } else if world.options.other_org_apps.iter().any(|a| a == app) {
        Err(error(403, "unauthorized: app belongs to another organization"))
    } else {
        Err(error(404, &format!("Could not find App \"{app}\"")))
    }
}

fn app_json(world: &World) -> Value {
    let live = world.machines.values().filter(|m| m.state.exists()).count();
    json!({
        "id": world.options.app,
        "name": world.options.app,
        "internal_numeric_id": 4242,
        "network": "default",
        "status": if live > 0 { "deployed" } else { "pending" },
        "machine_count": live,
        "volume_count": 0,
        "organization": { "name": world.options.org_slug, "slug": world.options.org_slug, "internal_numeric_id": 7 },
        "cname_target": format!("{}.fly.dev", world.options.app),
        "app_role": "",
    })
}

async fn list_apps(State(world): State<Shared>, Query(params): Params) -> Response {
    let world = lock(&world);
    match param(&params, "org_slug") {
        Some(slug) if slug != world.options.org_slug => ok(&json!({ "total_apps": 0, "apps": [] })),
        _ => ok(&json!({ "total_apps": 1, "apps": [app_json(&world)] })),
    }
}

async fn get_app(State(world): State<Shared>, Path(app): Path<String>) -> Response {
    let world = lock(&world);
    match check_app(&world, &app) {
        Ok(()) => ok(&app_json(&world)),
        Err(reject) => reject.into_response(),
    }
}

async fn regions(State(world): State<Shared>) -> Response {
    let nearest = lock(&world).options.region.clone();
    let regions =
        [("ams", "Amsterdam, Netherlands"), ("iad", "Ashburn, Virginia (US)"), ("ord", "Chicago, Illinois (US)")];
    let regions: Vec<Value> =
        regions.iter().map(|(code, name)| json!({ "code": code, "name": name, "gateway_available": true })).collect();
    ok(&json!({ "Regions": regions, "Nearest": nearest }))
}

fn machine_of<'a>(world: &'a mut World, id: &str) -> Result<&'a mut Machine, Reject> {
    world
        .machines
        .get_mut(id)
        .filter(|m| m.state != MachineState::Destroyed)
        .ok_or_else(|| error(404, "machine not found"))
}

/// A mutation of a leased machine must carry the lease's nonce.
fn lease_guard(machine: &mut Machine, headers: &HeaderMap, now_ms: u64) -> Result<(), Reject> {
    machine.expire_lease(now_ms);
    let Some(lease) = &machine.lease else { return Ok(()) };
    let presented = headers.get(NONCE).and_then(|v| v.to_str().ok());
    if presented == Some(lease.nonce.as_str()) { Ok(()) } else { Err(lease_conflict(&machine.id, lease)) }
}

fn lease_conflict(id: &str, lease: &Lease) -> Reject {
    let message =
        format!("machine ID {id} lease currently held by {}, expires at {}", lease.owner, rfc3339(lease.expires_at_ms));
    Reject(409, json!({ "status": "error", "message": message, "code": "invalid" }))
}

async fn list_machines(State(world): State<Shared>, Path(app): Path<String>, Query(params): Params) -> Response {
    let world = lock(&world);
    if let Err(reject) = check_app(&world, &app) {
        return reject.into_response();
    }
    let include_deleted = flag(&params, "include_deleted");
    let states: Vec<&str> =
        params.iter().filter(|(k, _)| k == "state").flat_map(|(_, v)| v.split(',')).map(str::trim).collect();
    let wanted: Vec<(&str, &str)> =
        params.iter().filter_map(|(k, v)| k.strip_prefix("metadata.").map(|k| (k, v.as_str()))).collect();
    let region = param(&params, "region");
    let listed: Vec<Value> = world
        .machines
        .values()
        .filter(|m| include_deleted || m.state.exists())
        .filter(|m| states.is_empty() || states.contains(&m.state.as_str()))
        .filter(|m| region.is_none_or(|r| r == m.region))
        .filter(|m| {
            let metadata = m.metadata();
            wanted.iter().all(|(k, v)| metadata.get(*k).is_some_and(|have| have == v))
        })
        .map(|m| m.to_json(None))
        .collect();
    ok(&Value::Array(listed))
}

/// The config of a create or an update: an object with a non-empty `image` (a full config; Fly
/// has no partial updates).
fn full_config(body: &Value) -> Result<Value, Reject> {
    let config = body
        .get("config")
        .filter(|c| c.is_object())
        .ok_or_else(|| error(400, "invalid request: config is required (updates replace the whole config)"))?;
    if config.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(error(400, "invalid config: image is required"));
    }
    Ok(config.clone())
}

async fn create_machine(State(world): State<Shared>, Path(app): Path<String>, body: Bytes) -> Response {
    let mut world = lock(&world);
    create(&mut world, &app, &body).unwrap_or_else(IntoResponse::into_response)
}

fn create(world: &mut World, app: &str, body: &Bytes) -> Answer {
    check_app(world, app)?;
    let body = body_json(body)?;
    let config = full_config(&body)?;
    let region = body.get("region").and_then(Value::as_str).unwrap_or(&world.options.region).to_owned();
    if let Some(refusal) = world.refusals.pop_front() {
        return Err(match refusal {
            CreateRefusal::NameTaken => coded(422, "a machine with this name already exists", "name_taken"),
            CreateRefusal::InsufficientCapacity => coded(
                422,
                &format!(
                    "insufficient resources available to fulfill request: could not reserve resource for machine \
                     in region {region}"
                ),
                "insufficient_capacity",
            ),
        });
    }
    let id = new_machine_id();
    let name = match body.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        Some(name) => {
            if world.machines.values().any(|m| m.state.exists() && m.name == name) {
                return Err(coded(422, &format!("a machine with name \"{name}\" already exists"), "name_taken"));
            }
            name.to_owned()
        }
        None => format!("machine-{}", &id[..8]),
    };
    let now = world.now_ms();
    let mut machine = Machine {
        id: id.clone(),
        name,
        region,
        state: MachineState::Created,
        after_update: MachineState::Created,
        launch_pending: body.get("skip_launch").and_then(Value::as_bool) != Some(true),
        instance_id: ulid::Ulid::new().to_string(),
        past_versions: Vec::new(),
        config,
        cordoned: body.get("skip_service_registration").and_then(Value::as_bool) == Some(true),
        events: Vec::new(),
        started_ticks: None,
        ever_started: false,
        restart_count: 0,
        lease: None,
        created_at_ms: now,
        updated_at_ms: now,
        private_ip: format!("fdaa:0:1:a7b:{}:{}::2", &id[..4], &id[4..8]),
    };
    machine.event("launch", "created", "user", None, now);
    if let Some(ttl) = body.get("lease_ttl").and_then(Value::as_u64).filter(|t| *t > 0) {
        machine.lease = Some(Lease {
            nonce: new_nonce(),
            owner: world.options.owner.clone(),
            description: String::new(),
            expires_at_ms: now + ttl * 1000,
            version: machine.instance_id.clone(),
        });
    }
    let shown = machine.to_json(machine.lease.as_ref().map(|l| l.nonce.as_str()));
    world.machines.insert(id, machine);
    if world.lost_create_responses > 0 {
        world.lost_create_responses -= 1;
        return Err(error(504, "upstream request timeout"));
    }
    Ok(ok(&shown))
}

async fn get_machine(State(world): State<Shared>, Path((app, id)): Path<(String, String)>) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        machine_of(&mut world, &id)?;
        let ticks = world.options.ticks_per_poll;
        world.tick(&id, ticks);
        // A machine destroyed by this very tick is gone.
        Ok(ok(&machine_of(&mut world, &id)?.to_json(None)))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn update_machine(
    State(world): State<Shared>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let body = body_json(&body)?;
        let now = world.now_ms();
        let machine = machine_of(&mut world, &id)?;
        let config = full_config(&body)?;
        for field in ["name", "region"] {
            let current = if field == "name" { &machine.name } else { &machine.region };
            if let Some(asked) = body.get(field).and_then(Value::as_str).filter(|v| !v.is_empty() && *v != current) {
                return Err(error(
                    400,
                    &format!("invalid request: {field} cannot be changed (is {current}, asked {asked})"),
                ));
            }
        }
        if let Some(version) = body.get("current_version").and_then(Value::as_str)
            && version != machine.instance_id
        {
            return Err(error(412, "failed_precondition: current_version does not match the machine's version"));
        }
        lease_guard(machine, &headers, now)?;
        if machine.state == MachineState::Destroying {
            return Err(error(412, "failed_precondition: machine is being destroyed"));
        }
        let skip_launch = body.get("skip_launch").and_then(Value::as_bool) == Some(true);
        let running = matches!(machine.state, MachineState::Started | MachineState::Starting | MachineState::Replacing);
        let old = std::mem::replace(&mut machine.instance_id, ulid::Ulid::new().to_string());
        machine.past_versions.push(old);
        machine.config = config;
        machine.restart_count = 0;
        if running || !skip_launch {
            machine.set(MachineState::Replacing, now);
            machine.event("update", "replacing", "user", None, now);
        } else {
            machine.after_update = machine.state;
            machine.set(MachineState::Updating, now);
            machine.event("update", "updating", "user", None, now);
        }
        let nonce = machine.lease.as_ref().map(|l| l.nonce.clone());
        Ok(ok(&machine.to_json(nonce.as_deref())))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn destroy_machine(
    State(world): State<Shared>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let now = world.now_ms();
        let machine = machine_of(&mut world, &id)?;
        lease_guard(machine, &headers, now)?;
        let forced = flag(&params, "force") || flag(&params, "kill");
        let quiet = matches!(
            machine.state,
            MachineState::Stopped | MachineState::Created | MachineState::Failed | MachineState::Suspended
        );
        if machine.state != MachineState::Destroying {
            if !forced && !quiet {
                return Err(error(
                    412,
                    "failed_precondition: unable to destroy machine, not currently stopped or suspended",
                ));
            }
            machine.set(MachineState::Destroying, now);
            machine.cordoned = true;
            machine.event("destroy", "destroying", "user", None, now);
        }
        world.note_routing();
        Ok(ok(&json!({ "ok": true })))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `start`, `stop`, `restart`, `suspend`, `cordon`, `uncordon`.
async fn act(
    State(world): State<Shared>,
    Path((app, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        if !matches!(action.as_str(), "start" | "stop" | "restart" | "suspend" | "cordon" | "uncordon") {
            return Err(error(404, "not found"));
        }
        let body = body_json(&body)?;
        let now = world.now_ms();
        let machine = machine_of(&mut world, &id)?;
        lease_guard(machine, &headers, now)?;
        if machine.state == MachineState::Destroying {
            return Err(error(412, "failed_precondition: machine is being destroyed"));
        }
        let previous = machine.state.as_str();
        let refuse = |what: &str| {
            error(412, &format!("failed_precondition: unable to {what} machine from current state: '{previous}'"))
        };
        match action.as_str() {
            "cordon" | "uncordon" => machine.cordoned = action == "cordon",
            "start" => match machine.state {
                MachineState::Stopped | MachineState::Created | MachineState::Failed | MachineState::Suspended => {
                    machine.launch_pending = false;
                    machine.restart_count = 0;
                    machine.set(MachineState::Starting, now);
                    machine.event("start", "starting", "user", None, now);
                    return Ok(ok(&json!({ "previous_state": previous, "migrated": false, "new_host": "" })));
                }
                _ => return Err(refuse("start")),
            },
            "stop" => {
                let signal = body.get("signal").and_then(Value::as_str).unwrap_or("SIGINT").to_owned();
                match machine.state {
                    MachineState::Started | MachineState::Starting | MachineState::Replacing => {
                        machine.set(MachineState::Stopping, now);
                        machine.event("stop", "stopping", "user", None, now);
                        let (machine_id, region) = (machine.id.clone(), machine.region.clone());
                        let line = format!("Sending signal {signal} to main child process w/ PID 313");
                        world.write(&machine_id, &region, Written { level: "info", message: line }, now);
                    }
                    MachineState::Created | MachineState::Failed | MachineState::Updating => {
                        machine.launch_pending = false;
                        machine.set(MachineState::Stopped, now);
                    }
                    _ => {}
                }
            }
            "restart" => match machine.state {
                MachineState::Started | MachineState::Starting => {
                    machine.set(MachineState::Starting, now);
                    machine.event("restart", "starting", "user", None, now);
                }
                _ => return Err(refuse("restart")),
            },
            _ => match machine.state {
                MachineState::Started => {
                    machine.set(MachineState::Suspended, now);
                    machine.event("suspend", "suspended", "user", None, now);
                }
                _ => return Err(refuse("suspend")),
            },
        }
        if matches!(action.as_str(), "cordon" | "uncordon" | "stop") {
            world.note_routing();
        }
        Ok(ok(&json!({ "ok": true })))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `timeout` as whole seconds (`60` or `60s`), default 60.
fn timeout_seconds(params: &[(String, String)]) -> Result<u32, Reject> {
    match param(params, "timeout") {
        None => Ok(60),
        Some(raw) => raw
            .trim_end_matches('s')
            .parse::<u32>()
            .map_err(|_| error(400, &format!("invalid timeout {raw:?}: expected seconds"))),
    }
}

async fn wait(State(world): State<Shared>, Path((app, id)): Path<(String, String)>, Query(params): Params) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let mut wanted: Vec<MachineState> = Vec::new();
        for raw in params.iter().filter(|(k, _)| k == "state").flat_map(|(_, v)| v.split(',')) {
            let state = match raw.trim() {
                "started" => MachineState::Started,
                "stopped" => MachineState::Stopped,
                "suspended" => MachineState::Suspended,
                "destroyed" => MachineState::Destroyed,
                other => {
                    return Err(error(
                        400,
                        &format!("invalid state {other:?}: expected started, stopped, suspended or destroyed"),
                    ));
                }
            };
            wanted.push(state);
        }
        if wanted.is_empty() {
            wanted.push(MachineState::Started);
        }
        let version = param(&params, "version").or_else(|| param(&params, "instance_id")).map(str::to_owned);
        if wanted.contains(&MachineState::Stopped) && version.is_none() {
            return Err(error(400, "instance_id (or version) is required when waiting for the stopped state"));
        }
        let timeout = timeout_seconds(&params)?;
        let machine = world.machines.get(&id).ok_or_else(|| error(404, "machine not found"))?;
        if let Some(version) = &version
            && *version != machine.instance_id
            && !wanted.contains(&MachineState::Destroyed)
        {
            return Err(error(400, &format!("machine version {version} is not the current one")));
        }
        for tick in 0..=timeout {
            let state = world.machines.get(&id).map_or(MachineState::Destroyed, |m| m.state);
            if wanted.contains(&state) {
                return Ok(ok(&json!({ "ok": true })));
            }
            if tick < timeout {
                world.tick(&id, 1);
            }
        }
        Err(error(408, "deadline_exceeded: machine failed to reach desired state before the timeout"))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn get_lease(State(world): State<Shared>, Path((app, id)): Path<(String, String)>) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let now = world.now_ms();
        let machine = machine_of(&mut world, &id)?;
        machine.expire_lease(now);
        let lease = machine.lease.as_ref().ok_or_else(|| error(404, "lease not found"))?;
        Ok(ok(&lease.to_json()))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn acquire_lease(
    State(world): State<Shared>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let body = body_json(&body)?;
        let ttl = match param(&params, "ttl") {
            Some(raw) => raw.parse::<u64>().map_err(|_| error(400, &format!("invalid ttl {raw:?}")))?,
            None => body.get("ttl").and_then(Value::as_u64).unwrap_or(30),
        };
        let description = body.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        let now = world.now_ms();
        let owner = world.options.owner.clone();
        let machine = machine_of(&mut world, &id)?;
        if machine.state == MachineState::Destroying {
            return Err(error(404, "machine not found"));
        }
        machine.expire_lease(now);
        let presented = headers.get(NONCE).and_then(|v| v.to_str().ok());
        let expires_at_ms = now + ttl.max(1) * 1000;
        match &mut machine.lease {
            Some(lease) if presented == Some(lease.nonce.as_str()) => lease.expires_at_ms = expires_at_ms,
            Some(lease) => return Err(lease_conflict(&id, lease)),
            None => {
                machine.lease = Some(Lease {
                    nonce: new_nonce(),
                    owner,
                    description,
                    expires_at_ms,
                    version: machine.instance_id.clone(),
                });
            }
        }
        let lease = machine.lease.as_ref().map(Lease::to_json).unwrap_or_default();
        Ok(json_response(201, &lease, &[]))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn release_lease(
    State(world): State<Shared>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let now = world.now_ms();
        let machine = machine_of(&mut world, &id)?;
        machine.expire_lease(now);
        let lease = machine.lease.as_ref().ok_or_else(|| error(404, "lease not found"))?;
        if headers.get(NONCE).and_then(|v| v.to_str().ok()) != Some(lease.nonce.as_str()) {
            return Err(lease_conflict(&id, lease));
        }
        machine.lease = None;
        Ok(ok(&json!({ "status": "success", "data": { "ok": true } })))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn get_metadata(State(world): State<Shared>, Path((app, id)): Path<(String, String)>) -> Response {
    let mut world = lock(&world);
    let answer = (|| -> Answer {
        check_app(&world, &app)?;
        let metadata: BTreeMap<String, String> = machine_of(&mut world, &id)?.metadata();
        Ok(ok(&json!(metadata)))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn set_metadata(
    State(world): State<Shared>,
    Path((app, id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change_metadata(&world, &app, &id, &key, &headers, Some(&body))
}

async fn delete_metadata(
    State(world): State<Shared>,
    Path((app, id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    change_metadata(&world, &app, &id, &key, &headers, None)
}

fn change_metadata(
    world: &Shared,
    app: &str,
    id: &str,
    key: &str,
    headers: &HeaderMap,
    body: Option<&Bytes>,
) -> Response {
    let mut world = lock(world);
    let answer = (|| -> Answer {
        check_app(&world, app)?;
        let value = match body {
            Some(body) => {
                let body = body_json(body)?;
                let value = body.get("value").and_then(Value::as_str).ok_or_else(|| error(400, "value is required"))?;
                Some(value.to_owned())
            }
            None => None,
        };
        let now = world.now_ms();
        let machine = machine_of(&mut world, id)?;
        lease_guard(machine, headers, now)?;
        if !machine.config.get("metadata").is_some_and(Value::is_object) {
            machine.config["metadata"] = json!({});
        }
        if let Some(metadata) = machine.config.get_mut("metadata").and_then(Value::as_object_mut) {
            match value {
                Some(value) => metadata.insert(key.to_owned(), Value::String(value)),
                None => metadata.remove(key),
            };
        }
        machine.updated_at_ms = now;
        Ok(axum::http::StatusCode::NO_CONTENT.into_response())
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/apps/{app}/logs?instance=&region=&next_token=`: up to 100 lines after the token.
async fn logs(State(world): State<Shared>, Path(app): Path<String>, Query(params): Params) -> Response {
    let world = lock(&world);
    if let Err(reject) = check_app(&world, &app) {
        return reject.into_response();
    }
    let after: u64 = param(&params, "next_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let instance = param(&params, "instance").filter(|i| !i.is_empty());
    let region = param(&params, "region").filter(|r| !r.is_empty());
    let page: Vec<&super::LogEntry> = world
        .logs
        .iter()
        .filter(|l| l.seq > after)
        .filter(|l| instance.is_none_or(|i| i == l.machine_id))
        .filter(|l| region.is_none_or(|r| r == l.region))
        .take(100)
        .collect();
    let next = page.last().map_or(after, |l| l.seq);
    let data: Vec<Value> = page
        .iter()
        .map(|l| {
            json!({
                "id": format!("log-{}", l.seq),
                "type": "logs",
                "attributes": {
                    "timestamp": rfc3339(l.at_ms),
                    "message": l.message,
                    "level": l.level,
                    "instance": l.machine_id,
                    "region": l.region,
                    "meta": { "instance": l.machine_id, "region": l.region, "event": { "provider": "app" } },
                }
            })
        })
        .collect();
    let token = if next == 0 { String::new() } else { next.to_string() };
    ok(&json!({ "data": data, "meta": { "next_token": token } }))
}
