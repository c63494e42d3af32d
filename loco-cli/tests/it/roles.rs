//! Role checks of every route, allowed and denied: a secured `loco serve` answers every route of
//! its own `/openapi.json` to each role exactly as one table says; grants scoped to an
//! environment, self-approval, expired, revoked, wrong and malformed credentials, denied writes
//! that leave nothing behind (but are counted), and the per-token rate limit.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{LocoProcess, PATIENCE};
use crate::rollout_support::{Api, ServiceGuard, demo_service_json, immediate, plan, service_processes};

/// The admin token the servers start with (`LOCO_ADMIN_TOKEN`; its subject is `admin`).
const ADMIN: &str = "loco_roles-admin-token-0123456789abcdefghijklmnop";

/// The service every deployment here is of (its demo-service processes carry the name).
const SERVICE: &str = "roles-shop";

/// The callers of the matrix, in the order of [`Route::who`]: no token, then one token per role
/// whose subject is the role's name.
const CALLERS: [&str; 6] = ["anonymous", "viewer", "requester", "approver", "deployer", "admin"];

/// What a matrix call acts on; made fresh for every call that changes it.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Nothing: the path has no ids.
    Plain,
    /// A new deployment (the body).
    NewDeployment,
    /// One deployment every call reads.
    Deployment,
    /// A fresh deployment in this status, and a note.
    Fresh(&'static str),
    /// A fresh approved deployment in an environment of its own, and a plan.
    Rollout,
    /// The deployment whose rollout succeeded, and its running instance.
    RolledOut,
    /// A new token (the body).
    NewToken,
    /// A fresh token.
    Token,
    /// A service name not registered yet, and its definition.
    NewService,
    /// A fresh registered service.
    Service,
    /// A target without releases to roll back (the answer, past every role check, is 400).
    NothingToRollBack,
    /// Thresholds for the staging environment (the body).
    NewThresholds,
    /// A platform name not configured yet, and its configuration.
    NewPlatform,
    /// A fresh configured platform (whose API nothing answers).
    Platform,
    /// A rollout plan to validate (the body).
    PlanToValidate,
    /// A freeze window name not set yet, and its definition (it freezes an environment nothing
    /// else here uses).
    NewFreeze,
    /// A fresh freeze window.
    Freeze,
    /// The deploy lock a fresh started deployment holds, and a reason to release it.
    Lock,
    /// An environment without an approval gate, and a gate for it (no deployment here uses it).
    NewGate,
    /// An environment with a fresh approval gate.
    Gate,
    /// A service without a pipeline, and a pipeline for it.
    NewPipeline,
    /// A service with a fresh pipeline (the view asks about a version of it).
    Pipeline,
    /// A deployment that succeeded in the first stage of its service's fresh pipeline.
    Promotable,
    /// A manifest to read.
    Manifest,
    /// A service without a manifest, and a manifest for it.
    NewManifest,
    /// A service with a freshly applied manifest (version 1).
    Manifested,
    /// A deployment created under a fresh manifest whose first stage sets a rollout plan.
    ManifestPlanned,
    /// A reviewer group name not set yet, and its definition.
    NewGroup,
    /// A fresh reviewer group.
    Group,
    /// An approved deployment, and a schedule for it (the body).
    Schedulable,
    /// An approved deployment with a fresh schedule.
    Scheduled,
}

/// A two-stage manifest of `service` (its own environments, so no other route's gate applies).
fn manifest(service: &str) -> String {
    format!(
        "apiVersion: loco/v1\nservice: {service}\nstages: [{{environment: {service}-a}}, {{environment: {service}-b}}]\n"
    )
}

/// [`manifest`] whose first stage rolls release v1 of the registered demo service out at once.
fn planned_manifest(service: &str) -> String {
    format!(
        "apiVersion: loco/v1\nservice: {service}\nstages:\n  - environment: {service}-a\n    rollout: {{platform: local, \
         strategy: {{type: immediate}}, release: {{service: {SERVICE}}}}}\n  - environment: {service}-b\n"
    )
}

/// A deployment of a fresh service created under its [`planned_manifest`], applied by the admin.
async fn manifest_planned(server: &Secured, n: usize) -> String {
    let service = format!("man-{n}");
    let put = format!("/api/v1/manifests/{service}");
    expect(&server.by("admin", "PUT", &put, Some(&json!({ "manifest": planned_manifest(&service) }))).await, 201);
    let mut new = new_deployment(&format!("{service}-a"));
    new["service"] = json!(service);
    text(&expect(&server.by("requester", "POST", "/api/v1/deployments", Some(&new)).await, 201)["id"])
}

/// The path of `route` at an approved deployment, and a schedule an hour ahead for it: the body,
/// or (`Scheduled`) set by the admin already.
async fn schedulable(server: &Secured, route: &Route) -> (String, Option<Value>) {
    let id = server.deployment("staging", "approved").await;
    let body = json!({"at": loco_core::Timestamp::now().after(Duration::from_secs(3600))});
    let path = route.path.replace("{id}", &id);
    if matches!(route.target, T::Schedulable) {
        return (path, Some(body));
    }
    expect(&server.by("admin", "PUT", &format!("/api/v1/deployments/{id}/schedule"), Some(&body)).await, 200);
    (path, None)
}

/// One route of `loco serve` and who may call it.
struct Route {
    method: &'static str,
    /// The path template as `/openapi.json` names it (plus a query where the route needs one).
    path: &'static str,
    target: Target,
    /// One character per caller of [`CALLERS`]: its initial (`-` for no token) where the call is
    /// allowed, `.` where it is refused (401 without a token, otherwise 403 naming the role).
    who: &'static str,
    /// The status of an allowed call.
    ok: u16,
}

const fn route(method: &'static str, path: &'static str, target: Target, who: &'static str, ok: u16) -> Route {
    Route { method, path, target, who, ok }
}

use Target as T;

/// Every route and who may call it.
const ROUTES: [Route; 66] = [
    route("POST", "/api/v1/deployments", T::NewDeployment, "..r..m", 201),
    route("GET", "/api/v1/deployments", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/deployments/{id}", T::Deployment, ".vradm", 200),
    route("GET", "/api/v1/deployments/{id}/events", T::Deployment, ".vradm", 200),
    route("GET", "/api/v1/deployments/{id}/events/stream", T::Deployment, ".vradm", 200),
    route("POST", "/api/v1/deployments/{id}/approve", T::Fresh("pending_approval"), "...a.m", 200),
    route("POST", "/api/v1/deployments/{id}/reject", T::Fresh("pending_approval"), "...a.m", 200),
    route("POST", "/api/v1/deployments/{id}/start", T::Fresh("approved"), "....dm", 200),
    route("POST", "/api/v1/deployments/{id}/succeed", T::Fresh("started"), "....dm", 200),
    route("POST", "/api/v1/deployments/{id}/fail", T::Fresh("started"), "....dm", 200),
    route("POST", "/api/v1/deployments/{id}/rollback", T::Fresh("started"), "....dm", 200),
    route("POST", "/api/v1/deployments/{id}/rollout", T::Rollout, "....dm", 202),
    route("GET", "/api/v1/deployments/{id}/rollout", T::RolledOut, ".vradm", 200),
    route("POST", "/api/v1/validate", T::PlanToValidate, "....dm", 200),
    // The rollout is not paused: 409 `rollout_not_paused` is only reached past every role check.
    route("POST", "/api/v1/deployments/{id}/rollout/override", T::RolledOut, "....dm", 409),
    route("GET", "/api/v1/deployments/{id}/rollout/instances/{instance_id}/logs", T::RolledOut, ".vradm", 200),
    route("GET", "/api/v1/rollouts", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/releases?service=roles-shop&environment=rollout", T::Plain, ".vradm", 200),
    // Nothing serves that target: 400 `validation_error` is only reached past every role check.
    route("POST", "/api/v1/releases/rollback", T::NothingToRollBack, "....dm", 400),
    route("GET", "/api/v1/thresholds", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/thresholds/{environment}", T::NewThresholds, ".....m", 200),
    route("GET", "/api/v1/locks", T::Plain, ".vradm", 200),
    route("POST", "/api/v1/locks/{service}/{environment}/release", T::Lock, ".....m", 200),
    route("GET", "/api/v1/freezes", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/freezes/active?environment=frozen", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/freezes/{name}", T::NewFreeze, ".....m", 200),
    route("DELETE", "/api/v1/freezes/{name}", T::Freeze, ".....m", 204),
    route("GET", "/api/v1/gates", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/gates/{environment}", T::NewGate, ".....m", 200),
    route("DELETE", "/api/v1/gates/{environment}", T::Gate, ".....m", 204),
    route("GET", "/api/v1/deployments/{id}/approvals", T::Deployment, ".vradm", 200),
    route("GET", "/api/v1/groups", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/groups/{name}", T::NewGroup, ".....m", 200),
    route("DELETE", "/api/v1/groups/{name}", T::Group, ".....m", 204),
    route("GET", "/api/v1/schedules", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/deployments/{id}/schedule", T::Schedulable, "....dm", 200),
    route("DELETE", "/api/v1/deployments/{id}/schedule", T::Scheduled, "....dm", 200),
    route("GET", "/api/v1/pipelines", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/pipelines/{service}", T::NewPipeline, ".....m", 200),
    route("DELETE", "/api/v1/pipelines/{service}", T::Pipeline, ".....m", 204),
    route("GET", "/api/v1/pipelines/{service}/versions/{version}", T::Pipeline, ".vradm", 200),
    route("POST", "/api/v1/validate/manifest", T::Manifest, ".vradm", 200),
    route("GET", "/api/v1/manifests", T::Plain, ".vradm", 200),
    route("PUT", "/api/v1/manifests/{service}", T::NewManifest, ".....m", 201),
    route("GET", "/api/v1/manifests/{service}", T::Manifested, ".vradm", 200),
    route("GET", "/api/v1/manifests/{service}/versions", T::Manifested, ".vradm", 200),
    route("GET", "/api/v1/manifests/{service}/versions/{version}", T::Manifested, ".vradm", 200),
    route("GET", "/api/v1/deployments/{id}/manifest-plan", T::ManifestPlanned, ".vradm", 200),
    route("POST", "/api/v1/deployments/{id}/promote", T::Promotable, "..r..m", 201),
    route("GET", "/api/v1/events", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/audit/verify", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/audit/head", T::Plain, ".vradm", 200),
    route("GET", "/healthz", T::Plain, "-vradm", 200),
    route("GET", "/metrics", T::Plain, ".vradm", 200),
    route("GET", "/openapi.json", T::Plain, "-vradm", 200),
    route("POST", "/api/v1/tokens", T::NewToken, ".....m", 201),
    route("GET", "/api/v1/tokens", T::Plain, ".....m", 200),
    route("POST", "/api/v1/tokens/{id}/revoke", T::Token, ".....m", 200),
    route("GET", "/api/v1/services", T::Plain, ".....m", 200),
    route("PUT", "/api/v1/services/{name}", T::NewService, ".....m", 200),
    route("DELETE", "/api/v1/services/{name}", T::Service, ".....m", 204),
    route("GET", "/api/v1/whoami", T::Plain, ".vradm", 200),
    route("GET", "/api/v1/platforms", T::Plain, ".....m", 200),
    route("PUT", "/api/v1/platforms/{name}", T::NewPlatform, ".....m", 200),
    route("DELETE", "/api/v1/platforms/{name}", T::Platform, ".....m", 204),
    // Nothing answers the platform's API: 502 `platform_error` is only reached past every role check.
    route("POST", "/api/v1/platforms/{name}/test", T::Platform, ".....m", 502),
];

impl Route {
    /// The method and path template, as `/openapi.json` lists them.
    fn key(&self) -> (String, String) {
        (self.method.to_owned(), self.path.split('?').next().unwrap_or_default().to_owned())
    }

    /// The role a refusal names: the least one allowed.
    fn role(&self) -> &'static str {
        CALLERS.iter().zip(self.who.chars()).skip(1).find(|(_, c)| *c != '.').map_or("admin", |(role, _)| role)
    }

    /// What is wrong with `reply` to caller number `caller`, if anything.
    fn mismatch(&self, caller: usize, reply: &Reply) -> Option<String> {
        let right = match self.who.as_bytes()[caller] {
            b'.' if caller == 0 => reply.is_unauthenticated(),
            b'.' => reply.is_denied(self.role()),
            _ => reply.status.as_u16() == self.ok,
        };
        let expected = if self.who.as_bytes()[caller] == b'.' { "refused" } else { "allowed" };
        let (method, path, who) = (self.method, self.path, CALLERS[caller]);
        (!right).then(|| format!("{method} {path} as {who}: expected {expected}, got {} {}", reply.status, reply.text))
    }
}

/// A response: status, headers, body text and its JSON (`Null` if it is not JSON). The body of an
/// event stream is not read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let (status, headers) = (response.status(), response.headers().clone());
        let stream = headers.get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
        let text = if stream { String::new() } else { response.text().await.expect("body") };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self { status, headers, text, body }
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// 401 `unauthenticated` with a Bearer challenge.
    fn is_unauthenticated(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            && self.code() == "unauthenticated"
            && self.headers.get("www-authenticate").is_some_and(|v| v == "Bearer")
    }

    /// 403 `permission_denied` whose details say `needed` (a role, maybe with its environment).
    fn is_denied(&self, needed: &str) -> bool {
        let detail = &self.body["error"]["details"][0];
        self.status == StatusCode::FORBIDDEN
            && self.code() == "permission_denied"
            && detail["field"] == "role"
            && detail["message"].as_str().is_some_and(|m| m.starts_with(&format!("{needed} ")))
    }
}

/// The body of `reply`, asserting its status.
#[track_caller]
fn expect(reply: &Reply, status: u16) -> &Value {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    &reply.body
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value}")).to_owned()
}

/// A create body without `requester`: the token's subject requests it.
fn new_deployment(environment: &str) -> Value {
    json!({"service": SERVICE, "environment": environment, "version": "1.0.0", "work_refs": ["PROJ-1"],
           "rollback_plan": "redeploy the previous version", "risk": "low"})
}

fn note() -> Value {
    json!({"note": "why"})
}

/// A rollout body: release v1 of the registered demo service, at once.
fn release() -> Value {
    json!({"plan": plan("v1", immediate(), json!({}))})
}

/// The demo service registered under another name.
fn service(name: &str) -> Value {
    let mut definition = demo_service_json();
    definition["name"] = json!(name);
    definition
}

/// A two-stage pipeline for `service`.
fn pipeline(service: &str) -> Value {
    json!({"service": service, "stages": ["staging", "production"]})
}

/// A two-approver gate for `environment`.
fn gate(environment: &str) -> Value {
    json!({"environment": environment, "required_approvals": 2, "wait_minutes": 5})
}

/// A freeze window named `name` over the `frozen` environment, in force all through 2026.
fn freeze(name: &str) -> Value {
    json!({"name": name, "environments": ["frozen"], "reason": "roles test",
           "schedule": {"type": "once", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}})
}

/// A Render platform named `name` whose API is a closed loopback port.
fn platform(name: &str) -> Value {
    json!({"name": name, "settings": {"kind": "render", "service_id": "srv-roles", "api_url": "http://127.0.0.1:1"},
           "token": "rnd_roles-secret"})
}

/// A secured `loco serve` on a fresh database, with one token per caller of [`CALLERS`].
struct Secured {
    process: LocoProcess,
    http: reqwest::Client,
    /// The secret of each caller of [`CALLERS`] (`None`: no token).
    tokens: Vec<Option<String>>,
    _dir: TempDir,
}

impl Secured {
    async fn start(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("loco.db");
        let process = LocoProcess::start_secured(&db, flags, &[("LOCO_ADMIN_TOKEN", ADMIN)], Stdio::null());
        let mut server = Self { process, http: reqwest::Client::new(), tokens: vec![None], _dir: dir };
        for role in &CALLERS[1..5] {
            let secret = server.token(role, &[role]).await.1;
            server.tokens.push(Some(secret));
        }
        server.tokens.push(Some(ADMIN.to_owned()));
        server
    }

    /// The secret of caller `who` of [`CALLERS`].
    fn of(&self, who: &str) -> Option<&str> {
        self.tokens[CALLERS.iter().position(|c| *c == who).expect("a caller")].as_deref()
    }

    async fn call(&self, token: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, format!("{}{path}", self.process.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(tokio::time::timeout(PATIENCE, request.send()).await.expect("an answer in time").expect("send"))
            .await
    }

    async fn by(&self, who: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.call(self.of(who), method, path, body).await
    }

    async fn act(&self, token: Option<&str>, id: &str, action: &str) -> Reply {
        self.call(token, "POST", &format!("/api/v1/deployments/{id}/{action}"), Some(&note())).await
    }

    /// A new token of `subject` with `grants`: its id and secret.
    async fn token(&self, subject: &str, grants: &[&str]) -> (String, String) {
        let body = json!({"name": subject, "subject": subject, "grants": grants});
        let created = self.call(Some(ADMIN), "POST", "/api/v1/tokens", Some(&body)).await;
        let created = expect(&created, 201);
        (text(&created["token"]["id"]), text(&created["secret"]))
    }

    async fn register(&self, name: &str) {
        expect(&self.call(Some(ADMIN), "PUT", &format!("/api/v1/services/{name}"), Some(&service(name))).await, 200);
    }

    /// A deployment in `environment` requested by `requester`, then taken to `status`. Outside
    /// the rollout environments each is of a service of its own, since one deployment per
    /// service and environment may be started at a time (the deploy lock); the rollouts run the
    /// registered service, each in an environment of its own.
    async fn deployment(&self, environment: &str, status: &str) -> String {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut body = new_deployment(environment);
        if !environment.starts_with("rollout") {
            let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            body["service"] = json!(format!("{SERVICE}-{n}"));
        }
        let created = self.by("requester", "POST", "/api/v1/deployments", Some(&body)).await;
        let id = text(&expect(&created, 201)["id"]);
        if status != "pending_approval" {
            expect(&self.act(self.of("approver"), &id, "approve").await, 200);
        }
        if status == "started" {
            expect(&self.act(self.of("deployer"), &id, "start").await, 200);
        }
        id
    }

    /// The rollout helpers, as the admin.
    fn admin_api(&self) -> Api {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Bearer {ADMIN}").parse().expect("a header value"));
        let http = reqwest::Client::builder().default_headers(headers).build().expect("client");
        Api { http, url: self.process.url.clone() }
    }

    /// Every (method, path) of `/openapi.json`.
    async fn documented_routes(&self) -> BTreeSet<(String, String)> {
        let doc = self.call(None, "GET", "/openapi.json", None).await.body;
        let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
        let paths = doc["paths"].as_object().expect("paths");
        let operations = paths.iter().flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            item.keys().filter(|k| methods.contains(&k.as_str())).map(move |m| (m.to_uppercase(), path.clone()))
        });
        operations.collect()
    }

    /// Waits until no rollout runs any more, then stops the server gracefully.
    async fn stop(self) {
        let deadline = Instant::now() + PATIENCE;
        while self.by("admin", "GET", "/api/v1/rollouts?active=true", None).await.body["items"] != json!([]) {
            assert!(Instant::now() < deadline, "the rollouts end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.process.terminate();
        assert_eq!(self.process.wait(), Some(0));
    }
}

/// What the matrix's paths point at besides fresh records.
struct World {
    deployment: String,
    rolled_out: String,
    instance: String,
}

impl World {
    /// Registers the demo service, creates a deployment to read and releases another one.
    async fn build(server: &Secured) -> Self {
        let api = server.admin_api();
        api.register_demo().await;
        let deployment = server.deployment("staging", "pending_approval").await;
        let rolled_out = server.deployment("rollout", "approved").await;
        let path = format!("/api/v1/deployments/{rolled_out}/rollout");
        expect(&server.by("deployer", "POST", &path, Some(&release())).await, 202);
        let done = api.ended(&rolled_out).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let instance = text(&done["progress"]["instances"][0]["id"]);
        Self { deployment, rolled_out, instance }
    }

    /// The path and body of a call to `route`; `n` tells fresh records apart.
    async fn prepare(&self, server: &Secured, route: &Route, n: usize) -> (String, Option<Value>) {
        let at = |id: &str| route.path.replace("{id}", id).replace("{name}", id);
        let name = format!("svc-{n}");
        match route.target {
            T::Plain => (route.path.to_owned(), None),
            T::NewDeployment => (route.path.to_owned(), Some(new_deployment("staging"))),
            T::Deployment => (at(&self.deployment), None),
            T::Fresh(status) => (at(&server.deployment("staging", status).await), Some(note())),
            T::Rollout => (at(&server.deployment(&format!("rollout-{n}"), "approved").await), Some(release())),
            T::RolledOut => {
                let path = at(&self.rolled_out).replace("{instance_id}", &self.instance);
                (path, (route.method == "POST").then(note))
            }
            T::NewToken => (route.path.to_owned(), Some(json!({"name": "n", "subject": "s", "grants": ["viewer"]}))),
            T::Token => (at(&server.token("extra", &["viewer"]).await.0), Some(json!({}))),
            T::NewService => (at(&name), Some(service(&name))),
            T::Service => {
                server.register(&name).await;
                (at(&name), None)
            }
            T::NewThresholds => (route.path.replace("{environment}", "staging"), Some(json!({"min_samples": 5}))),
            T::NewPlatform => (at(&name), Some(platform(&name))),
            T::Platform => {
                let path = format!("/api/v1/platforms/{name}");
                expect(&server.by("admin", "PUT", &path, Some(&platform(&name))).await, 200);
                (at(&name), (route.method == "POST").then(|| json!({})))
            }
            T::PlanToValidate => (route.path.to_owned(), Some(release())),
            T::NewFreeze => (at(&name), Some(freeze(&name))),
            T::Freeze => {
                expect(&server.by("admin", "PUT", &format!("/api/v1/freezes/{name}"), Some(&freeze(&name))).await, 200);
                (at(&name), None)
            }
            T::Lock => {
                let id = server.deployment("staging", "started").await;
                let reply = server.by("viewer", "GET", &format!("/api/v1/deployments/{id}"), None).await;
                let service = text(&expect(&reply, 200)["service"]);
                let path = route.path.replace("{service}", &service).replace("{environment}", "staging");
                (path, Some(json!({"reason": "stuck"})))
            }
            T::NewGate => {
                let environment = format!("gated-{n}");
                (route.path.replace("{environment}", &environment), Some(gate(&environment)))
            }
            T::Gate => {
                let environment = format!("gated-{n}");
                let path = route.path.replace("{environment}", &environment);
                expect(&server.by("admin", "PUT", &path, Some(&gate(&environment))).await, 200);
                (path, None)
            }
            T::Manifest => (route.path.to_owned(), Some(json!({ "manifest": manifest("web") }))),
            T::NewManifest => {
                let service = format!("man-{n}");
                (route.path.replace("{service}", &service), Some(json!({ "manifest": manifest(&service) })))
            }
            T::Manifested => {
                let service = format!("man-{n}");
                let put = format!("/api/v1/manifests/{service}");
                expect(&server.by("admin", "PUT", &put, Some(&json!({ "manifest": manifest(&service) }))).await, 201);
                (route.path.replace("{service}", &service).replace("{version}", "1"), None)
            }
            T::ManifestPlanned => (at(&manifest_planned(server, n).await), None),
            T::Schedulable | T::Scheduled => schedulable(server, route).await,
            T::NewGroup | T::Group => {
                let name = format!("team-{n}");
                let (path, body) = (route.path.replace("{name}", &name), json!({"name": name, "members": ["bob"]}));
                if matches!(route.target, T::NewGroup) {
                    return (path, Some(body));
                }
                expect(&server.by("admin", "PUT", &path, Some(&body)).await, 200);
                (path, None)
            }
            T::NewPipeline => {
                let service = format!("pipe-{n}");
                (route.path.replace("{service}", &service), Some(pipeline(&service)))
            }
            T::Pipeline => {
                let service = format!("pipe-{n}");
                let put = format!("/api/v1/pipelines/{service}");
                expect(&server.by("admin", "PUT", &put, Some(&pipeline(&service))).await, 200);
                (route.path.replace("{service}", &service).replace("{version}", "1.0.0"), None)
            }
            T::Promotable => {
                let id = server.deployment("staging", "started").await;
                expect(&server.act(server.of("deployer"), &id, "succeed").await, 200);
                let shown = server.by("viewer", "GET", &format!("/api/v1/deployments/{id}"), None).await;
                let service = text(&expect(&shown, 200)["service"]);
                let put = format!("/api/v1/pipelines/{service}");
                let stages = json!({"service": service, "stages": ["staging", "production"]});
                expect(&server.by("admin", "PUT", &put, Some(&stages)).await, 200);
                (at(&id), Some(json!({})))
            }
            T::NothingToRollBack => {
                let body = json!({"service": name, "environment": "staging", "version": "v0", "note": "n"});
                (route.path.to_owned(), Some(body))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_its_table_row_says() {
    let _guard = ServiceGuard(SERVICE);
    let server = Secured::start(&["--rate-limit", "0"]).await;
    let listed: BTreeSet<_> = ROUTES.iter().map(Route::key).collect();
    assert_eq!(listed, server.documented_routes().await, "the table lists exactly the routes of /openapi.json");
    let world = World::build(&server).await;
    let mut wrong = Vec::new();
    for (row, route) in ROUTES.iter().enumerate() {
        assert_eq!(route.who.len(), CALLERS.len(), "{}", route.path);
        for (caller, token) in server.tokens.iter().enumerate() {
            let (path, body) = world.prepare(&server, route, row * CALLERS.len() + caller).await;
            let reply = server.call(token.as_deref(), route.method, &path, body.as_ref()).await;
            wrong.extend(route.mismatch(caller, &reply));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    server.stop().await;
    assert_eq!(service_processes(SERVICE), Vec::<u32>::new(), "no instance outlives the server");
}

#[tokio::test]
async fn scoped_grants_limit_writes_to_their_environment_but_not_reads() {
    let server = Secured::start(&[]).await;
    let pat = server.token("pat", &["approver:production"]).await.1;
    let stan = server.token("stan", &["deployer:staging"]).await.1;
    let production = server.deployment("production", "pending_approval").await;
    let staging = server.deployment("staging", "pending_approval").await;

    assert_eq!(expect(&server.act(Some(&pat), &production, "approve").await, 200)["reviewed_by"], "pat");
    let refused = server.act(Some(&pat), &staging, "approve").await;
    assert!(refused.is_denied("approver for environment 'staging'"), "{}", refused.text);
    let read = server.call(Some(&pat), "GET", &format!("/api/v1/deployments/{staging}"), None).await;
    assert_eq!(expect(&read, 200)["status"], "pending_approval", "any grant reads everywhere");

    let refused = server.act(Some(&stan), &production, "start").await;
    assert!(refused.is_denied("deployer for environment 'production'"), "{}", refused.text);
    let read = server.call(Some(&stan), "GET", &format!("/api/v1/deployments/{production}"), None).await;
    assert_eq!(expect(&read, 200)["status"], "approved", "the refused start changed nothing");
    expect(&server.act(server.of("approver"), &staging, "approve").await, 200);
    assert_eq!(expect(&server.act(Some(&stan), &staging, "start").await, 200)["status"], "started");

    let rita = server.token("rita", &["requester:staging"]).await.1;
    let create = server.call(Some(&rita), "POST", "/api/v1/deployments", Some(&new_deployment("production"))).await;
    assert!(create.is_denied("requester for environment 'production'"), "{}", create.text);
    let ada = server.token("ada", &["admin:staging"]).await.1;
    let tokens = server.call(Some(&ada), "GET", "/api/v1/tokens", None).await;
    assert!(tokens.is_denied("admin"), "administration needs an unscoped admin: {}", tokens.text);
}

#[tokio::test]
async fn a_requester_cannot_approve_their_own_deployment_with_a_second_token_or_a_made_up_actor() {
    let server = Secured::start(&[]).await;
    let sam_requests = server.token("sam", &["requester"]).await.1;
    let sam_approves = server.token("sam", &["approver"]).await.1;
    let created = server.call(Some(&sam_requests), "POST", "/api/v1/deployments", Some(&new_deployment("qa"))).await;
    let id = text(&expect(&created, 201)["id"]);
    for action in ["approve", "reject"] {
        let reply = server.act(Some(&sam_approves), &id, action).await;
        assert_eq!((reply.status.as_u16(), reply.code()), (403, "self_approval"), "{action}: {}", reply.text);
    }

    let as_mallory = json!({"actor": "mallory", "note": "looks good"});
    let path = format!("/api/v1/deployments/{id}/approve");
    let reply = server.call(Some(&sam_approves), "POST", &path, Some(&as_mallory)).await;
    assert_eq!((reply.status.as_u16(), reply.code()), (400, "validation_error"), "{}", reply.text);
    assert_eq!(reply.body["error"]["details"][0]["field"], "actor");
    let mut for_mallory = new_deployment("qa");
    for_mallory["requester"] = json!("mallory");
    let reply = server.call(Some(&sam_requests), "POST", "/api/v1/deployments", Some(&for_mallory)).await;
    assert_eq!((reply.status.as_u16(), reply.code()), (400, "validation_error"), "{}", reply.text);
    assert_eq!(reply.body["error"]["details"][0]["field"], "requester");

    // Someone else may approve, and acts as their token's subject.
    assert_eq!(expect(&server.act(server.of("approver"), &id, "approve").await, 200)["reviewed_by"], "approver");
    let events = server.by("viewer", "GET", &format!("/api/v1/deployments/{id}/events"), None).await;
    let actors: Vec<&Value> =
        expect(&events, 200)["items"].as_array().expect("items").iter().map(|e| &e["actor"]).collect();
    assert_eq!(actors, [&json!("sam"), &json!("approver")]);
}

#[tokio::test]
async fn expired_revoked_wrong_and_malformed_credentials_are_unauthenticated() {
    let server = Secured::start(&[]).await;
    let whoami = |authorization: String| {
        let request = server.http.get(format!("{}/api/v1/whoami", server.process.url));
        async move { Reply::read(request.header(AUTHORIZATION, authorization).send().await.expect("send")).await }
    };
    let expires_at = loco_core::Timestamp::now().after(Duration::from_secs(2)).to_string();
    let body = json!({"name": "brief", "subject": "sue", "grants": ["viewer"], "expires_at": expires_at});
    let brief = text(&expect(&server.call(Some(ADMIN), "POST", "/api/v1/tokens", Some(&body)).await, 201)["secret"]);
    let (id, revoked) = server.token("rex", &["viewer"]).await;
    expect(&whoami(format!("Bearer {brief}")).await, 200);
    expect(&whoami(format!("bearer {revoked}")).await, 200);

    let path = format!("/api/v1/tokens/{id}/revoke");
    expect(&server.call(Some(ADMIN), "POST", &path, Some(&json!({}))).await, 200);
    let reply = whoami(format!("Bearer {revoked}")).await;
    assert!(reply.is_unauthenticated() && reply.text.contains("revoked"), "{}", reply.text);

    let deadline = Instant::now() + Duration::from_secs(10);
    let expired = loop {
        let reply = whoami(format!("Bearer {brief}")).await;
        if reply.status != StatusCode::OK || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(expired.is_unauthenticated() && expired.text.contains("expired"), "{}", expired.text);

    let wrong = format!("{}x", &ADMIN[..ADMIN.len() - 1]);
    for authorization in [
        format!("Bearer {wrong}"),
        format!("Bearer {ADMIN} {ADMIN}"),
        format!("Basic {ADMIN}"),
        "Basic YWRtaW46c2VjcmV0".to_owned(),
        format!("Token {ADMIN}"),
        ADMIN.to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        let reply = whoami(authorization.clone()).await;
        assert!(reply.is_unauthenticated(), "{authorization:?}: {} {}", reply.status, reply.text);
    }
}

#[tokio::test]
async fn denied_writes_change_nothing_and_are_counted_per_route() {
    let server = Secured::start(&[]).await;
    server.register("demo").await;
    let pending = server.deployment("staging", "pending_approval").await;
    let approved = server.deployment("staging", "approved").await;
    let (token, _) = server.token("extra", &["viewer"]).await;
    let (pending, approved, token) = (pending.as_str(), approved.as_str(), token.as_str());
    let new_token = json!({"name": "n", "subject": "s", "grants": ["admin"]});
    let denied = [
        ("anonymous", "POST", "/api/v1/deployments", "", Some(new_deployment("staging"))),
        ("viewer", "POST", "/api/v1/deployments", "", Some(new_deployment("staging"))),
        ("deployer", "POST", "/api/v1/deployments/{id}/approve", pending, Some(note())),
        ("requester", "POST", "/api/v1/deployments/{id}/approve", pending, Some(note())),
        ("anonymous", "POST", "/api/v1/deployments/{id}/approve", pending, Some(note())),
        ("viewer", "POST", "/api/v1/deployments/{id}/reject", pending, Some(note())),
        ("approver", "POST", "/api/v1/deployments/{id}/start", approved, Some(note())),
        ("requester", "POST", "/api/v1/deployments/{id}/rollout", approved, Some(release())),
        ("deployer", "POST", "/api/v1/tokens", "", Some(new_token)),
        ("approver", "POST", "/api/v1/tokens/{id}/revoke", token, Some(json!({}))),
        ("viewer", "PUT", "/api/v1/services/{name}", "other", Some(service("other"))),
        ("deployer", "DELETE", "/api/v1/services/{name}", "demo", None),
    ];
    let state = async || {
        let lists =
            ["/api/v1/deployments", "/api/v1/tokens", "/api/v1/services", "/api/v1/rollouts", "/api/v1/audit/verify"];
        let events = [pending, approved].map(|id| format!("/api/v1/deployments/{id}/events"));
        let mut state = BTreeMap::new();
        for path in lists.iter().map(|p| (*p).to_owned()).chain(events) {
            let read = expect(&server.by("admin", "GET", &path, None).await, 200).clone();
            state.insert(path, read);
        }
        state
    };
    let (before, scraped) = (state().await, server.by("admin", "GET", "/metrics", None).await.text);

    let mut counted = BTreeMap::<String, u64>::new();
    for (who, method, template, id, body) in &denied {
        let reply = server.by(who, method, &template.replace("{id}", id).replace("{name}", id), body.as_ref()).await;
        let refused =
            if *who == "anonymous" { reply.is_unauthenticated() } else { reply.code() == "permission_denied" };
        assert!(refused, "{method} {template} as {who}: {} {}", reply.status, reply.text);
        let series = format!(
            "loco_http_requests_total{{method=\"{method}\",route=\"{template}\",status=\"{}\"}}",
            reply.status.as_u16()
        );
        *counted.entry(series).or_default() += 1;
    }

    assert_eq!(state().await, before, "the denied writes changed nothing");
    let rescraped = server.by("admin", "GET", "/metrics", None).await.text;
    let count = |text: &str, series: &str| -> u64 {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0)
    };
    for (series, n) in counted {
        assert_eq!(count(&rescraped, &series) - count(&scraped, &series), n, "{series} in\n{rescraped}");
    }
}

#[tokio::test]
async fn a_token_over_its_budget_gets_429_while_other_tokens_go_on() {
    // 5 requests a second, bursts of 10 (the admin spent 4 making the role tokens).
    let server = Secured::start(&["--rate-limit", "5"]).await;
    let mut replies = Vec::new();
    for _ in 0..30 {
        replies.push(server.by("viewer", "GET", "/api/v1/whoami", None).await);
    }
    let allowed = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert!(allowed >= 10 && replies[..10].iter().all(|r| r.status == StatusCode::OK), "the burst is served");
    let limited = replies.iter().find(|r| r.status == StatusCode::TOO_MANY_REQUESTS).expect("a 429 after the burst");
    assert_eq!(limited.code(), "rate_limited", "{}", limited.text);
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().expect("seconds");
    assert!(retry_after >= 1);
    assert_eq!(allowed + replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count(), 30);

    expect(&server.by("requester", "GET", "/api/v1/whoami", None).await, 200);
    expect(&server.by("anonymous", "GET", "/healthz", None).await, 200);
}

#[tokio::test]
async fn a_caller_without_the_role_is_refused_before_its_body_is_read() {
    let server = Secured::start(&[]).await;
    let bad_plan = json!({"plan": {"platform": "local", "strategy": {"type": "canary", "steps": [50, 10]}}});
    for (method, path, body, role) in [
        ("POST", "/api/v1/deployments", json!({"service": 1}), "requester"),
        ("POST", "/api/v1/deployments/dep_x/approve", json!({"colour": 1}), "approver"),
        ("POST", "/api/v1/deployments/dep_x/rollout", bad_plan, "deployer"),
        ("POST", "/api/v1/tokens", json!({"name": ""}), "admin"),
        ("PUT", "/api/v1/services/x", json!({"nme": "x"}), "admin"),
    ] {
        let reply = server.by("viewer", method, path, Some(&body)).await;
        assert!(reply.is_denied(role), "{method} {path}: {} {}", reply.status, reply.text);
    }
}

#[tokio::test]
async fn revoking_a_token_ends_the_event_streams_it_opened() {
    let server = Secured::start(&[]).await;
    let (id, secret) = server.token("eve", &["viewer"]).await;
    let events = server.http.get(format!("{}/api/v1/events", server.process.url)).bearer_auth(&secret);
    let mut stream = events.send().await.expect("send");
    assert_eq!(stream.status(), StatusCode::OK);
    expect(&server.call(Some(ADMIN), "POST", &format!("/api/v1/tokens/{id}/revoke"), Some(&json!({}))).await, 200);
    server.deployment("staging", "pending_approval").await;
    let next = tokio::time::timeout(Duration::from_secs(2), stream.chunk()).await;
    assert!(!matches!(next, Ok(Ok(Some(_)))), "the revoked token still reads new events: {next:?}");
}
