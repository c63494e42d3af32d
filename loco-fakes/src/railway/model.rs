//! The Railway fake's world: one project with its environments and services, a service instance
//! per service and environment (source, replicas), and deployments with their state machine —
//! one status per tick, supersession of the previous `SUCCESS`, the failure markers — and the
//! build and deploy logs they write.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::{DeploymentView, RailwayFakeOptions, ServiceSource};
use crate::common::time::{StrictClock, rfc3339_micros};

/// Statuses a deployment is still moving through.
pub(super) const IN_PROGRESS: [&str; 6] = ["INITIALIZING", "QUEUED", "WAITING", "BUILDING", "DEPLOYING", "REMOVING"];

/// What a deployment runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// A prebuilt image reference.
    Image(String),
    /// A commit of a repository (built first).
    Commit { repo: String, sha: String },
}

impl Source {
    /// Where the failure markers are read: the image's tag (or digest), or the commit.
    fn marker_text(&self) -> &str {
        match self {
            Source::Image(reference) => image_tag(reference),
            Source::Commit { sha, .. } => sha,
        }
    }
}

/// The tag or digest of an image reference (empty when it has neither).
pub(super) fn image_tag(reference: &str) -> &str {
    if let Some((_, digest)) = reference.split_once('@') {
        return digest;
    }
    match reference.rfind(':') {
        Some(colon) if colon > reference.rfind('/').unwrap_or(0) => &reference[colon + 1..],
        _ => "",
    }
}

/// One log line.
#[derive(Debug, Clone)]
pub(super) struct Log {
    pub(super) at: i64,
    pub(super) message: String,
    pub(super) severity: &'static str,
}

/// One deployment.
#[derive(Debug, Clone)]
pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) service_id: String,
    pub(super) environment_id: String,
    pub(super) source: Source,
    /// `deploy`, `rollback` or `redeploy` (as `meta.reason`).
    pub(super) reason: &'static str,
    pub(super) status: &'static str,
    /// Statuses still ahead, one per tick; empty while in progress: stuck.
    plan: VecDeque<&'static str>,
    pub(super) num_replicas: u32,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    /// It reached `SUCCESS` at some point: its image can be rolled back to.
    pub(super) went_live: bool,
    /// Its image is still retained (false once [`super::RailwayFake::expire`]d).
    pub(super) retained: bool,
    pub(super) stopped: bool,
    pub(super) build_logs: Vec<Log>,
    pub(super) deploy_logs: Vec<Log>,
}

impl Deployment {
    pub(super) fn in_progress(&self) -> bool {
        IN_PROGRESS.contains(&self.status)
    }

    pub(super) fn serving(&self) -> bool {
        matches!(self.status, "SUCCESS" | "SLEEPING") && !self.stopped
    }

    pub(super) fn can_rollback(&self) -> bool {
        self.went_live && self.retained && !self.serving() && !self.in_progress()
    }

    pub(super) fn json(&self, project_id: &str, domain: &str) -> Value {
        let mut meta = json!({ "reason": self.reason, "numReplicas": self.num_replicas });
        match &self.source {
            Source::Image(image) => meta["image"] = json!(image),
            Source::Commit { repo, sha } => {
                meta["repo"] = json!(repo);
                meta["commitHash"] = json!(sha);
            }
        }
        let short: String = self.id.chars().take(8).collect();
        json!({
            "__typename": "Deployment",
            "id": self.id,
            "status": self.status,
            "createdAt": rfc3339_micros(self.created_at),
            "updatedAt": rfc3339_micros(self.updated_at),
            "statusUpdatedAt": rfc3339_micros(self.updated_at),
            "projectId": project_id,
            "serviceId": self.service_id,
            "environmentId": self.environment_id,
            "url": if self.went_live { json!(format!("{domain}-{short}.up.railway.app")) } else { Value::Null },
            "staticUrl": if self.serving() { json!(format!("{domain}.up.railway.app")) } else { Value::Null },
            "canRedeploy": !self.in_progress(),
            "canRollback": self.can_rollback(),
            "deploymentStopped": self.stopped,
            "meta": meta,
        })
    }

    /// A deployment with every field set, to check a selection against before acting.
    pub(super) fn template() -> Self {
        Deployment {
            id: String::new(),
            service_id: String::new(),
            environment_id: String::new(),
            source: Source::Image(String::new()),
            reason: "deploy",
            status: "SUCCESS",
            plan: VecDeque::new(),
            num_replicas: 1,
            created_at: 0,
            updated_at: 0,
            went_live: true,
            retained: true,
            stopped: false,
            build_logs: Vec::new(),
            deploy_logs: Vec::new(),
        }
    }

    fn set(&mut self, status: &'static str, now: i64, line: &str) {
        self.status = status;
        self.plan.clear();
        self.updated_at = now;
        self.deploy_logs.push(Log { at: now, message: line.to_owned(), severity: "info" });
    }

    /// `deploymentCancel`: a deployment in progress ends `REMOVED`.
    pub(super) fn cancel(&mut self, now: i64) {
        self.set("REMOVED", now, "Deployment cancelled");
    }

    /// `deploymentRemove`: `REMOVING`, then `REMOVED` at the next tick (already removed: nothing).
    pub(super) fn remove(&mut self, now: i64) {
        if !matches!(self.status, "REMOVED" | "REMOVING") {
            self.set("REMOVING", now, "Removing deployment");
        }
    }

    /// `deploymentRestart`: running again (a crashed one deploys again, and crashes again if its
    /// marker says so).
    pub(super) fn restart(&mut self, now: i64) {
        self.stopped = false;
        if self.status == "CRASHED" {
            self.set("DEPLOYING", now, "Restarting container");
            self.plan.push_back("SUCCESS");
            if self.source.marker_text().contains("crash") {
                self.plan.push_back("CRASHED");
            }
        } else {
            self.deploy_logs.push(Log { at: now, message: "Restarting container".to_owned(), severity: "info" });
        }
    }

    pub(super) fn view(&self) -> DeploymentView {
        let (image, commit) = match &self.source {
            Source::Image(image) => (Some(image.clone()), None),
            Source::Commit { sha, .. } => (None, Some(sha.clone())),
        };
        DeploymentView {
            id: self.id.clone(),
            service_id: self.service_id.clone(),
            environment_id: self.environment_id.clone(),
            status: self.status.to_owned(),
            reason: self.reason.to_owned(),
            image,
            commit,
            num_replicas: self.num_replicas,
            stopped: self.stopped,
            created_at: rfc3339_micros(self.created_at),
        }
    }
}

/// A service in one environment.
#[derive(Debug, Clone)]
pub(super) struct ServiceInstance {
    pub(super) id: String,
    pub(super) service_id: String,
    pub(super) service_name: String,
    pub(super) environment_id: String,
    pub(super) environment_name: String,
    pub(super) image: Option<String>,
    pub(super) repo: Option<String>,
    /// Known commits of `repo`, oldest first (the last is the branch head).
    pub(super) commits: Vec<String>,
    pub(super) num_replicas: u32,
}

impl ServiceInstance {
    /// `shop-production`: the stem of its domains.
    pub(super) fn domain(&self) -> String {
        format!("{}-{}", self.service_name, self.environment_name).to_lowercase().replace(' ', "-")
    }
}

/// Everything the fake knows.
#[derive(Debug)]
pub(super) struct World {
    pub(super) options: RailwayFakeOptions,
    pub(super) instances: Vec<ServiceInstance>,
    /// Oldest first.
    pub(super) deployments: Vec<Deployment>,
    pub(super) ticks_per_poll: u32,
    /// Deployment-creating mutations still to be carried out and then answered 500.
    pub(super) fail_after_acting: u32,
    /// The current rate-limit window: when it began and how many requests it counted.
    pub(super) rate: (std::time::Instant, u32),
    /// Operations to refuse with 429 next, with the `Retry-After` seconds.
    pub(super) throttles: Vec<(String, u64)>,
    /// Operations to answer next with this HTTP status, unprocessed.
    pub(super) failures: Vec<(String, u16)>,
    clock: StrictClock,
}

/// A Railway-style id: a random UUID (v4 layout) from a ULID's randomness.
pub(super) fn uuid() -> String {
    let bits = ulid::Ulid::new().0 ^ (ulid::Ulid::new().random() << 48);
    let hex = format!("{:032x}", (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl World {
    pub(super) fn new(options: RailwayFakeOptions) -> Self {
        let mut instances = Vec::new();
        for (environment_id, environment_name) in &options.environments {
            for seed in &options.services {
                let (image, repo, commits) = match &seed.source {
                    ServiceSource::Image { image } => (Some(image.clone()), None, Vec::new()),
                    ServiceSource::Repo { repo, commits } => (None, Some(repo.clone()), commits.clone()),
                };
                instances.push(ServiceInstance {
                    id: uuid(),
                    service_id: seed.id.clone(),
                    service_name: seed.name.clone(),
                    environment_id: environment_id.clone(),
                    environment_name: environment_name.clone(),
                    image,
                    repo,
                    commits,
                    num_replicas: seed.num_replicas,
                });
            }
        }
        let ticks_per_poll = options.ticks_per_poll;
        World {
            options,
            instances,
            deployments: Vec::new(),
            ticks_per_poll,
            fail_after_acting: 0,
            rate: (std::time::Instant::now(), 0),
            throttles: Vec::new(),
            failures: Vec::new(),
            clock: StrictClock::micros(),
        }
    }

    /// Microseconds since the epoch, strictly increasing between calls.
    pub(super) fn now(&mut self) -> i64 {
        self.clock.now()
    }

    pub(super) fn instance(&self, service: &str, environment: &str) -> Option<&ServiceInstance> {
        self.instances.iter().find(|i| i.service_id == service && i.environment_id == environment)
    }

    pub(super) fn instance_mut(&mut self, service: &str, environment: &str) -> Option<&mut ServiceInstance> {
        self.instances.iter_mut().find(|i| i.service_id == service && i.environment_id == environment)
    }

    pub(super) fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    pub(super) fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    /// The domain stem of a deployment's service instance.
    pub(super) fn domain_of(&self, deployment: &Deployment) -> String {
        self.instance(&deployment.service_id, &deployment.environment_id)
            .map(ServiceInstance::domain)
            .unwrap_or_default()
    }

    /// Starts a deployment of `source` on a service instance; returns its id.
    pub(super) fn create(&mut self, service: &str, environment: &str, source: Source, reason: &'static str) -> String {
        let now = self.now();
        let num_replicas = self.instance(service, environment).map_or(1, |i| i.num_replicas);
        let marker = source.marker_text().to_owned();
        let built = matches!(source, Source::Commit { .. }) && reason != "rollback";
        let mut plan: VecDeque<&'static str> = VecDeque::new();
        if built {
            plan.push_back("BUILDING");
        }
        if marker.contains("bad") {
            if !built {
                plan.push_back("DEPLOYING");
            }
            plan.push_back("FAILED");
        } else if marker.contains("stuck") {
            // Stays in its first status after the build: never finishes.
            plan.extend(["DEPLOYING", ""]);
        } else {
            plan.extend(["DEPLOYING", "SUCCESS"]);
            if marker.contains("crash") {
                plan.push_back("CRASHED");
            }
        }
        let first_line = match &source {
            Source::Image(image) => format!("Pulling image {image}"),
            Source::Commit { repo, sha } => format!("Building commit {sha} of {repo}"),
        };
        let id = uuid();
        self.deployments.push(Deployment {
            id: id.clone(),
            service_id: service.to_owned(),
            environment_id: environment.to_owned(),
            source,
            reason,
            status: "INITIALIZING",
            plan,
            num_replicas,
            created_at: now,
            updated_at: now,
            went_live: false,
            retained: true,
            stopped: false,
            build_logs: vec![Log { at: now, message: first_line, severity: "info" }],
            deploy_logs: Vec::new(),
        });
        id
    }

    /// Advances every deployment in progress by `steps` statuses, oldest first.
    pub(super) fn tick(&mut self, steps: u32) {
        for _ in 0..steps {
            for index in 0..self.deployments.len() {
                self.step(index);
            }
        }
    }

    fn step(&mut self, index: usize) {
        let deployment = &mut self.deployments[index];
        if deployment.status == "REMOVING" {
            deployment.plan.clear();
            deployment.plan.push_back("REMOVED");
        }
        let Some(next) = deployment.plan.front().copied() else { return };
        if next.is_empty() {
            return; // stuck
        }
        deployment.plan.pop_front();
        let now = self.now();
        let deployment = &mut self.deployments[index];
        deployment.status = next;
        deployment.updated_at = now;
        let line = |message: &str, severity| Log { at: now, message: message.to_owned(), severity };
        match next {
            "BUILDING" => deployment.build_logs.push(line("Building the image", "info")),
            "DEPLOYING" => {
                deployment.build_logs.push(line("Build complete", "info"));
                deployment.deploy_logs.push(line("Starting Container", "info"));
            }
            "SUCCESS" => {
                deployment.went_live = true;
                deployment.deploy_logs.push(line("Healthcheck succeeded!", "info"));
            }
            "FAILED" if deployment.deploy_logs.is_empty() => deployment.build_logs.push(line("Build failed", "error")),
            "FAILED" => deployment.deploy_logs.push(line("Healthcheck failed!", "error")),
            "CRASHED" => deployment.deploy_logs.push(line("Process exited with code 1", "error")),
            _ => {}
        }
        if next == "SUCCESS" {
            let (id, service, environment, created) = (
                deployment.id.clone(),
                deployment.service_id.clone(),
                deployment.environment_id.clone(),
                deployment.created_at,
            );
            for other in &mut self.deployments {
                let older_in_progress = other.in_progress() && other.created_at < created;
                if other.id != id
                    && (other.serving() || older_in_progress)
                    && other.service_id == service
                    && other.environment_id == environment
                {
                    other.status = "REMOVED";
                    other.plan.clear();
                    other.updated_at = now;
                }
            }
        }
    }
}
