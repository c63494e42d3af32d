//! The Render fake's world: services, their deploys and the deploy state machine (one step per
//! tick, one deploy in progress per service, the rest `queued`), the logs deploys write, and the
//! per-minute rate limits.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{DeployView, RenderFakeOptions, ServiceSeed, ServiceSource};
use crate::common::ids::{lower_ulid, random_suffix};
use crate::common::time::{StrictClock, rfc3339_micros};

/// Deploy-creating POSTs (`…/deploys`, `…/rollback`, `…/suspend`, `…/resume`) per service per window.
pub const DEPLOY_LIMIT: u32 = 10;
/// Other POST/PATCH/PUT/DELETE calls per window.
pub const WRITE_LIMIT: u32 = 30;
/// GET calls per window.
pub const READ_LIMIT: u32 = 400;

/// Statuses a deploy can no longer leave (except `live` → `deactivated`).
const COMPLETE: [&str; 6] = ["build_failed", "canceled", "deactivated", "live", "pre_deploy_failed", "update_failed"];

/// Statuses `POST …/cancel` accepts.
const CANCELLABLE: [&str; 5] =
    ["created", "queued", "build_in_progress", "update_in_progress", "pre_deploy_in_progress"];

/// Every status Render documents (`deployStatus`).
pub(super) const STATUSES: [&str; 11] = [
    "created",
    "queued",
    "build_in_progress",
    "build_failed",
    "pre_deploy_in_progress",
    "pre_deploy_failed",
    "update_in_progress",
    "update_failed",
    "live",
    "deactivated",
    "canceled",
];

/// What a deploy runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// A git commit (built first).
    Commit(String),
    /// A prebuilt image reference.
    Image(String),
}

impl Source {
    /// The part of the source the failure markers are read from: the commit, or the image's tag
    /// or digest.
    fn marker_text(&self) -> &str {
        match self {
            Source::Commit(sha) => sha,
            Source::Image(reference) => image_tag(reference),
        }
    }
}

/// `docker.io/org/app:1.2` → `docker.io/org/app`; digests (`@sha256:…`) are cut too.
pub(super) fn image_repository(reference: &str) -> &str {
    let without_digest = reference.split_once('@').map_or(reference, |(r, _)| r);
    match without_digest.rfind(':') {
        Some(colon) if colon > without_digest.rfind('/').unwrap_or(0) => &without_digest[..colon],
        _ => without_digest,
    }
}

/// The tag or digest of an image reference (empty when it has neither).
fn image_tag(reference: &str) -> &str {
    let repository = image_repository(reference);
    reference[repository.len()..].trim_start_matches([':', '@'])
}

/// One deploy.
#[derive(Debug, Clone)]
pub(super) struct Deploy {
    pub(super) id: String,
    pub(super) source: Source,
    pub(super) trigger: &'static str,
    pub(super) status: &'static str,
    /// The statuses still ahead, taken one per tick; empty with a non-complete status: stuck.
    plan: VecDeque<&'static str>,
    pub(super) created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    updated_at: i64,
    /// It was live at some point (`live` or `deactivated`): eligible for a rollback.
    pub(super) went_live: bool,
    /// The Render instance name its app logs carry.
    instance: String,
    commit_message: String,
}

impl Deploy {
    pub(super) fn is_complete(&self) -> bool {
        COMPLETE.contains(&self.status)
    }

    pub(super) fn json(&self) -> Value {
        let time = |t: Option<i64>| t.map_or(Value::Null, |t| Value::String(rfc3339_micros(t)));
        let (commit, image) = match &self.source {
            Source::Commit(sha) => (
                json!({ "id": sha, "message": self.commit_message, "createdAt": rfc3339_micros(self.created_at) }),
                Value::Null,
            ),
            Source::Image(reference) => (
                Value::Null,
                json!({ "ref": reference, "sha": format!("sha256:{}", digest(reference)), "registryCredential": null }),
            ),
        };
        json!({
            "id": self.id,
            "commit": commit,
            "image": image,
            "artifactId": null,
            "status": self.status,
            "trigger": self.trigger,
            "createdAt": rfc3339_micros(self.created_at),
            "startedAt": time(self.started_at),
            "finishedAt": time(self.finished_at),
            "updatedAt": rfc3339_micros(self.updated_at),
        })
    }

    pub(super) fn view(&self) -> DeployView {
        let (image, commit) = match &self.source {
            Source::Commit(sha) => (None, Some(sha.clone())),
            Source::Image(reference) => (Some(reference.clone()), None),
        };
        DeployView {
            id: self.id.clone(),
            status: self.status.to_owned(),
            trigger: self.trigger.to_owned(),
            image,
            commit,
            created_at: rfc3339_micros(self.created_at),
        }
    }
}

/// A stable fake digest of an image reference (64 hex digits).
fn digest(reference: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::with_capacity(64);
    for round in 0..4u8 {
        for byte in reference.bytes().chain([round]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let _ = write!(out, "{hash:016x}");
    }
    out
}

/// One log line.
#[derive(Debug, Clone)]
pub(super) struct LogEntry {
    pub(super) id: String,
    pub(super) at: i64,
    pub(super) kind: &'static str,
    pub(super) level: &'static str,
    pub(super) instance: String,
    pub(super) message: String,
}

impl LogEntry {
    pub(super) fn json(&self, resource: &str) -> Value {
        json!({
            "id": self.id,
            "timestamp": rfc3339_micros(self.at),
            "message": self.message,
            "labels": [
                { "name": "resource", "value": resource },
                { "name": "instance", "value": self.instance },
                { "name": "type", "value": self.kind },
                { "name": "level", "value": self.level },
            ],
        })
    }
}

/// One service.
#[derive(Debug, Clone)]
pub(super) struct Service {
    pub(super) seed: ServiceSeed,
    pub(super) suspended: bool,
    pub(super) num_instances: u32,
    /// The configured image (image-backed services); a deploy of another tag replaces it.
    pub(super) image: Option<String>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    /// Oldest first.
    pub(super) deploys: Vec<Deploy>,
    pub(super) logs: Vec<LogEntry>,
}

impl Service {
    pub(super) fn json(&self, owner_id: &str) -> Value {
        let slug = self.seed.name.to_lowercase().replace(' ', "-");
        let (repo, branch, image_path, env) = match &self.seed.source {
            ServiceSource::Git { repo, branch, .. } => (json!(repo), json!(branch), Value::Null, "docker"),
            ServiceSource::Image { .. } => (Value::Null, Value::Null, json!(self.image), "image"),
        };
        json!({
            "id": self.seed.id,
            "name": self.seed.name,
            "type": "web_service",
            "ownerId": owner_id,
            "slug": slug,
            "autoDeploy": "no",
            "branch": branch,
            "repo": repo,
            "imagePath": image_path,
            "rootDir": "",
            "suspended": if self.suspended { "suspended" } else { "not_suspended" },
            "suspenders": if self.suspended { json!(["user"]) } else { json!([]) },
            "serviceDetails": {
                "numInstances": self.num_instances,
                "plan": "starter",
                "region": "oregon",
                "env": env,
                "healthCheckPath": "/healthz",
                "autoscaling": null,
                "maxShutdownDelaySeconds": 30,
                "url": format!("https://{slug}.onrender.com"),
                "pullRequestPreviewsEnabled": "no",
            },
            "dashboardUrl": format!("https://dashboard.render.com/web/{}", self.seed.id),
            "environmentId": null,
            "registryCredential": null,
            "createdAt": rfc3339_micros(self.created_at),
            "updatedAt": rfc3339_micros(self.updated_at),
            "notifyOnFail": "default",
        })
    }

    /// The deploy in progress (the oldest one not complete), if any.
    fn head(&mut self) -> Option<&mut Deploy> {
        self.deploys.iter_mut().find(|d| !d.is_complete())
    }

    pub(super) fn live(&self) -> Option<&Deploy> {
        self.deploys.iter().rev().find(|d| d.status == "live")
    }

    pub(super) fn deploy_mut(&mut self, id: &str) -> Option<&mut Deploy> {
        self.deploys.iter_mut().find(|d| d.id == id)
    }
}

/// A rate-limit window: when it began and how much of it was used.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    began: Instant,
    used: u32,
}

/// Which rate limit a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Limit {
    /// Deploy-creating POSTs of one service.
    Deploys(String),
    /// Other writes.
    Writes,
    /// Reads.
    Reads,
}

impl Limit {
    fn allowed(&self) -> u32 {
        match self {
            Limit::Deploys(_) => DEPLOY_LIMIT,
            Limit::Writes => WRITE_LIMIT,
            Limit::Reads => READ_LIMIT,
        }
    }
}

/// A rate-limit verdict: the `Ratelimit-*` headers, and the seconds to wait when refused.
pub(super) struct Verdict {
    pub(super) headers: Vec<(String, String)>,
    pub(super) retry_after: Option<u64>,
}

/// Everything the fake knows.
#[derive(Debug)]
pub(super) struct World {
    pub(super) token: String,
    pub(super) owner_id: String,
    pub(super) owner_name: String,
    pub(super) email: String,
    /// In the order given.
    pub(super) services: Vec<Service>,
    pub(super) retained: usize,
    pub(super) ticks_per_poll: u32,
    /// Deploy-creating POSTs still to be carried out and then answered 500.
    pub(super) fail_after_acting: u32,
    window: Duration,
    buckets: HashMap<Limit, Bucket>,
    clock: StrictClock,
}

impl World {
    pub(super) fn new(options: RenderFakeOptions) -> Self {
        let mut world = World {
            token: options.token,
            owner_id: options.owner_id,
            owner_name: options.owner_name,
            email: options.email,
            services: Vec::new(),
            retained: options.retained_deploys,
            ticks_per_poll: options.ticks_per_poll,
            fail_after_acting: 0,
            window: options.rate_window,
            buckets: HashMap::new(),
            clock: StrictClock::micros(),
        };
        for seed in options.services {
            let now = world.now();
            let image = match &seed.source {
                ServiceSource::Image { image_path } => Some(image_path.clone()),
                ServiceSource::Git { .. } => None,
            };
            world.services.push(Service {
                num_instances: seed.num_instances,
                seed,
                suspended: false,
                image,
                created_at: now,
                updated_at: now,
                deploys: Vec::new(),
                logs: Vec::new(),
            });
        }
        world
    }

    /// The current time in microseconds, strictly later than any earlier answer (so log
    /// timestamps order the lines and page boundaries never split two lines of one instant).
    pub(super) fn now(&mut self) -> i64 {
        self.clock.now()
    }

    pub(super) fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.seed.id == id)
    }

    pub(super) fn service_mut(&mut self, id: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.seed.id == id)
    }

    /// Counts a request against `limit` (when `count`, i.e. it was authorized); refused when the
    /// window's allowance is used up.
    pub(super) fn admit(&mut self, limit: Limit, count: bool) -> Verdict {
        let allowed = limit.allowed();
        let now = Instant::now();
        let window = self.window;
        let bucket = self.buckets.entry(limit).or_insert(Bucket { began: now, used: 0 });
        if now.duration_since(bucket.began) >= window {
            *bucket = Bucket { began: now, used: 0 };
        }
        let reset = window.saturating_sub(now.duration_since(bucket.began)).as_secs_f64().ceil().max(1.0) as u64;
        let refused = count && bucket.used >= allowed;
        if count && !refused {
            bucket.used += 1;
        }
        let headers = vec![
            ("ratelimit-limit".to_owned(), allowed.to_string()),
            ("ratelimit-remaining".to_owned(), (allowed - bucket.used).to_string()),
            ("ratelimit-reset".to_owned(), reset.to_string()),
        ];
        Verdict { headers, retry_after: refused.then_some(reset) }
    }

    /// Uses up what is left of the deploy allowance of `service` in the current window.
    pub(super) fn exhaust(&mut self, service: &str) {
        let now = Instant::now();
        let window = self.window;
        let bucket = self.buckets.entry(Limit::Deploys(service.to_owned())).or_insert(Bucket { began: now, used: 0 });
        if now.duration_since(bucket.began) >= window {
            bucket.began = now;
        }
        bucket.used = DEPLOY_LIMIT;
    }

    /// Creates a deploy of `source` on `service` (which must exist): `created` when nothing is in
    /// progress, else `queued` behind it. `build` says whether it builds first (git deploys that
    /// are not rollbacks or `deploy_only`).
    pub(super) fn create_deploy(
        &mut self,
        service: &str,
        source: Source,
        trigger: &'static str,
        build: bool,
    ) -> Option<Deploy> {
        let now = self.now();
        let svc = self.service_mut(service)?;
        let busy = svc.deploys.iter().any(|d| !d.is_complete());
        let plan = plan(&source, build, svc.seed.pre_deploy);
        let suffix = random_suffix(5);
        let deploy = Deploy {
            id: format!("dep-{}", lower_ulid()),
            commit_message: match &source {
                Source::Commit(sha) => format!("commit {}", &sha[..sha.len().min(7)]),
                Source::Image(_) => String::new(),
            },
            source,
            trigger,
            status: if busy { "queued" } else { "created" },
            plan,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
            went_live: false,
            instance: format!("{service}-{suffix}"),
        };
        if let Source::Image(reference) = &deploy.source {
            svc.image = Some(reference.clone());
            svc.updated_at = now;
        }
        svc.deploys.push(deploy.clone());
        Some(deploy)
    }

    /// Advances the deploy in progress on `service` by `steps` statuses (the next queued deploy
    /// starts once one completes). A stuck deploy holds the queue until it is canceled.
    pub(super) fn tick(&mut self, service: &str, steps: u32) {
        for _ in 0..steps {
            let now = self.now();
            let Some(svc) = self.service_mut(service) else { return };
            let source = svc.seed.source.clone();
            let Some(head) = svc.head() else { return };
            let Some(next) = head.plan.pop_front() else { return };
            head.status = next;
            head.updated_at = now;
            if head.started_at.is_none() {
                head.started_at = Some(now);
            }
            if head.is_complete() {
                head.finished_at = Some(now);
            }
            let head = head.clone();
            if next == "live" {
                for other in svc.deploys.iter_mut().filter(|d| d.id != head.id && d.status == "live") {
                    other.status = "deactivated";
                    other.updated_at = now;
                }
                if let Some(d) = svc.deploy_mut(&head.id) {
                    d.went_live = true;
                }
            }
            for (kind, level, message) in transition_logs(&head, &source) {
                self.log(service, kind, level, &head.instance, message);
            }
        }
    }

    /// Cancels a deploy that is still in progress or queued; `Err` with its status otherwise.
    pub(super) fn cancel(&mut self, service: &str, deploy: &str) -> Option<Result<Deploy, &'static str>> {
        let now = self.now();
        let svc = self.service_mut(service)?;
        let d = svc.deploy_mut(deploy)?;
        if !CANCELLABLE.contains(&d.status) {
            return Some(Err(d.status));
        }
        d.status = "canceled";
        d.plan.clear();
        d.finished_at = Some(now);
        d.updated_at = now;
        let d = d.clone();
        self.log(service, "build", "info", &d.instance, "==> Deploy canceled".to_owned());
        Some(Ok(d))
    }

    /// Whether `deploy` may be rolled back to: it went live and is among the `retained` most
    /// recent deploys that did.
    pub(super) fn is_retained(&self, service: &Service, deploy: &Deploy) -> bool {
        service.deploys.iter().rev().filter(|d| d.went_live).take(self.retained).any(|d| d.id == deploy.id)
    }

    /// Appends a log line to `service`.
    pub(super) fn log(
        &mut self,
        service: &str,
        kind: &'static str,
        level: &'static str,
        instance: &str,
        message: String,
    ) {
        let at = self.now();
        if let Some(svc) = self.service_mut(service) {
            let id = lower_ulid();
            svc.logs.push(LogEntry { id, at, kind, level, instance: instance.to_owned(), message });
        }
    }
}

/// The statuses a new deploy goes through after `created`/`queued`, from the failure markers in
/// its commit or image tag: `buildfail` → `build_failed`, `predeployfail` → `pre_deploy_failed`,
/// `bad` → `update_failed`, `stuck` → never leaves `update_in_progress`.
fn plan(source: &Source, build: bool, pre_deploy: bool) -> VecDeque<&'static str> {
    let marker = source.marker_text();
    let mut plan = VecDeque::new();
    if build {
        plan.push_back("build_in_progress");
    }
    if marker.contains("buildfail") {
        // An image that cannot be pulled fails the same way a build does.
        plan.push_back("build_failed");
        return plan;
    }
    if pre_deploy || marker.contains("predeployfail") {
        plan.push_back("pre_deploy_in_progress");
        if marker.contains("predeployfail") {
            plan.push_back("pre_deploy_failed");
            return plan;
        }
    }
    plan.push_back("update_in_progress");
    if marker.contains("bad") {
        plan.push_back("update_failed");
    } else if !marker.contains("stuck") {
        plan.push_back("live");
    }
    plan
}

/// The lines a deploy writes when it reaches its current status: (type, level, message).
fn transition_logs(deploy: &Deploy, source: &ServiceSource) -> Vec<(&'static str, &'static str, String)> {
    let build = |message: String| ("build", "info", message);
    let failed = |message: &str| ("build", "error", message.to_owned());
    match deploy.status {
        "build_in_progress" => {
            let mut lines = Vec::new();
            if let (ServiceSource::Git { repo, branch, .. }, Source::Commit(sha)) = (source, &deploy.source) {
                lines.push(build(format!("==> Cloning from {repo}")));
                lines.push(build(format!("==> Checking out commit {sha} in branch {branch}")));
            }
            lines.push(build("==> Running build command...".to_owned()));
            lines
        }
        "build_failed" => vec![failed("==> Build failed")],
        "pre_deploy_in_progress" => vec![build("==> Running pre-deploy command...".to_owned())],
        "pre_deploy_failed" => vec![failed("==> Pre-deploy command failed with exit status 1")],
        "update_in_progress" => {
            let first = match &deploy.source {
                Source::Image(reference) => format!("==> Pulling image {reference}"),
                Source::Commit(_) if deploy.trigger == "rollback" => "==> Reusing the previous build".to_owned(),
                Source::Commit(_) => "==> Build successful".to_owned(),
            };
            vec![build(first), build("==> Deploying...".to_owned())]
        }
        "update_failed" => vec![
            ("app", "error", "Error: the process exited with status 1".to_owned()),
            failed("==> Exited with status 1 while running your code"),
        ],
        "live" => {
            vec![("app", "info", "Listening on port 10000".to_owned()), build("==> Your service is live".to_owned())]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(image_repository("docker.io/acme/shop:v1"), "docker.io/acme/shop");
        assert_eq!(image_repository("registry:5000/acme/shop:v1"), "registry:5000/acme/shop");
        assert_eq!(image_repository("registry:5000/acme/shop"), "registry:5000/acme/shop");
        assert_eq!(image_repository("docker.io/acme/shop@sha256:ab"), "docker.io/acme/shop");
        assert_eq!(image_tag("docker.io/acme/shop:bad-1"), "bad-1");
        assert_eq!(image_tag("docker.io/acme/shop"), "");
    }

    #[test]
    fn markers_choose_the_path() {
        let image = |tag: &str| Source::Image(format!("docker.io/bad/shop:{tag}"));
        assert_eq!(plan(&image("v1"), false, false), ["update_in_progress", "live"], "the repository is not a marker");
        assert_eq!(plan(&image("v2-bad"), false, false), ["update_in_progress", "update_failed"]);
        assert_eq!(plan(&image("stuck"), false, false), ["update_in_progress"]);
        let commit = Source::Commit("buildfail0".into());
        assert_eq!(plan(&commit, true, false), ["build_in_progress", "build_failed"]);
        assert_eq!(
            plan(&Source::Commit("abc".into()), true, true),
            ["build_in_progress", "pre_deploy_in_progress", "update_in_progress", "live"]
        );
        assert_eq!(
            plan(&Source::Commit("predeployfail".into()), true, false),
            ["build_in_progress", "pre_deploy_in_progress", "pre_deploy_failed"]
        );
    }
}
