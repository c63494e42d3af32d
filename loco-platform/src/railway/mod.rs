//! [`RailwayPlatform`]: releases on one Railway service in one environment, through Railway's
//! public GraphQL API (`https://backboard.railway.com/graphql/v2`).
//!
//! Railway serves one deployment of a service instance at a time and switches to a new one by
//! itself once it succeeds (healthcheck-gated); the previous one becomes `REMOVED`. Traffic
//! cannot be split, so the platform declares [`TrafficControl::AtomicSwap`] and the orchestrator
//! runs only the immediate and blue-green strategies on it. **Traffic moves when the new
//! deployment reaches `SUCCESS`, not when the orchestrator shifts it**: [`Platform::deploy`]
//! starts the deployment, [`Platform::health`] reports it `Running` once it succeeded (and so
//! already serves), and [`Platform::set_traffic`] only confirms that the version given all
//! traffic is the active one.
//!
//! How each call maps onto the API (the documents are in `ops.rs`):
//! - `deploy`: `serviceInstance` (source, replicas); `serviceInstanceUpdate(input: {source:
//!   {image}, numReplicas})` when the image or the replica count differs (one call, a state);
//!   then one `serviceInstanceDeployV2` (with `commitSha` = `release.commit` for a commit). That
//!   mutation is not idempotent: it is sent once, and when its outcome is unknown (a timeout, a
//!   5xx) the newest `deployments` are searched for one of the same image or commit created since
//!   the call began before it is sent again. Every instance gets the deployment id as its
//!   `platform_id`. A 429 is waited out per `Retry-After` by the HTTP client.
//! - `health`: `deployment(id)`: `SUCCESS`/`SLEEPING` → running (unless `deploymentStopped`);
//!   `INITIALIZING QUEUED WAITING BUILDING DEPLOYING NEEDS_APPROVAL` → an error (retried);
//!   `FAILED`/`CRASHED` → exited; `REMOVED`/`REMOVING`/`SKIPPED` → exited (not live).
//! - `set_traffic`: checks (`deployments(status: {in: [SUCCESS, SLEEPING]})`) that the one version
//!   with a share is the active deployment's; an empty split only when nothing serves; a split
//!   between two versions is refused naming `traffic: atomic_swap`.
//! - `stop`: a deployment in progress is canceled (`deploymentCancel`), the active one is taken
//!   down (`deploymentRemove`, what `railway down` does); one already failed or removed needs
//!   nothing.
//! - `restore`: when the deployment the restored release ran (`known[0].platform_id`) still
//!   serves — a failed deployment leaves its predecessor active on Railway — it is kept as it is.
//!   Otherwise deployments in progress are canceled, then `deploymentRollback(id)` brings that
//!   deployment's image back as a new deployment, whose id is found with `deployments` (the
//!   mutation returns a Boolean); when Railway refuses the rollback (`canRollback` false: the
//!   image is past retention) or there is no recorded deployment, `release.image` /
//!   `release.commit` is deployed again. It does not wait: `health` follows the new deployment.
//! - `status`: the active deployment's version, endpoint from its `staticUrl` (else `url`);
//!   `logs`: `buildLogs` and `deploymentLogs` of the instance's deployment, polled with
//!   `startDate` at a bounded interval until the receiver drops; `test_connection`:
//!   `projectToken` for a project token (checking its project and environment), else `me`
//!   falling back to `project(id)`, then the project must list the service and environment.
//!
//! A project token goes in `Project-Access-Token` (and no `Authorization` header is sent); an
//! account token as `Authorization: Bearer`. Which version a deployment runs is remembered in
//! memory (from `deploy`, `restore`, and every instance passed to `health` or `stop`); a
//! deployment this process never heard of is named by its image tag or commit.

mod api;
mod create;
mod logs;
mod ops;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use loco_types::platform_config::{RAILWAY_API_URL, RailwaySettings, RailwayTokenKind};
use serde_json::json;
use tokio::sync::mpsc;

use crate::http::{HttpClient, HttpOptions, HttpTuning};
use crate::swap::{self, Serving, Terms};
use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficControl, TrafficWeight,
};
use api::{Api, CallError, Deployment};

/// How Railway's traffic refusals speak of its deployments.
const TERMS: Terms = Terms {
    provider: "Railway",
    unit: "deployment",
    serving: "active",
    serves_when: "succeeds",
    stopping: "removes it",
};

/// Timeouts, retries and polling of a [`RailwayPlatform`].
#[derive(Debug, Clone, Copy)]
pub struct RailwayTuning {
    /// Timeouts, retries and concurrency of its HTTP client.
    pub http: HttpTuning,
    /// How often followed logs are polled for new lines.
    pub log_poll_interval: Duration,
}

impl Default for RailwayTuning {
    /// The client's defaults ([`HttpTuning::default`]), logs polled every 2 s (Railway's Hobby
    /// plan allows 10 requests a second).
    fn default() -> Self {
        Self { http: HttpTuning::default(), log_poll_interval: Duration::from_secs(2) }
    }
}

/// What this process learned about deployments.
#[derive(Debug, Default)]
struct Memory {
    /// Deployment id → the release version it runs.
    versions: HashMap<String, String>,
    /// Loco instance id → deployment id.
    instances: HashMap<String, String>,
    /// Deployments this process created, adopted or canceled: never taken for the result of
    /// another call whose outcome is unknown.
    claimed: HashSet<String>,
}

/// A Railway service in one environment as a Loco platform.
pub struct RailwayPlatform {
    name: String,
    api: Api,
    token: String,
    token_kind: RailwayTokenKind,
    log_poll: Duration,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for RailwayPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RailwayPlatform")
            .field("name", &self.name)
            .field("service_id", &self.api.service_id)
            .field("environment_id", &self.api.environment_id)
            .finish_non_exhaustive()
    }
}

impl RailwayPlatform {
    /// The platform `name` deploying to the service instance in `settings` with `token` (sent as
    /// `settings.token_kind` says), with the default [`RailwayTuning`].
    pub fn new(name: &str, settings: &RailwaySettings, token: &str) -> PlatformResult<Self> {
        Self::with_tuning(name, settings, token, RailwayTuning::default())
    }

    /// The same with other timeouts, retries and polling (tests use short ones).
    pub fn with_tuning(
        name: &str,
        settings: &RailwaySettings,
        token: &str,
        tuning: RailwayTuning,
    ) -> PlatformResult<Self> {
        let token = token.trim();
        if token.is_empty() {
            return Err(PlatformError::new(format!("platform '{name}': the Railway token is empty")));
        }
        let (authorization, auth_header) = match settings.token_kind {
            RailwayTokenKind::Account => (format!("Bearer {token}"), "authorization"),
            RailwayTokenKind::Project => (token.to_owned(), "project-access-token"),
        };
        let url = settings.api_url.clone().unwrap_or_else(|| RAILWAY_API_URL.to_owned());
        let options =
            HttpOptions { tuning: tuning.http, auth_header, ..HttpOptions::new("Railway", url, authorization) };
        let http = HttpClient::new(options, api::message_of)?;
        Ok(Self {
            name: name.to_owned(),
            api: Api {
                http,
                project_id: settings.project_id.clone(),
                environment_id: settings.environment_id.clone(),
                service_id: settings.service_id.clone(),
            },
            token: token.to_owned(),
            token_kind: settings.token_kind,
            log_poll: tuning.log_poll_interval,
            memory: Mutex::new(Memory::default()),
        })
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory is a cache of facts; a panic elsewhere does not make it wrong.
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn error(&self, e: &CallError) -> PlatformError {
        api::platform_error(e, &self.token)
    }

    fn remember(&self, deployment: &str, version: &str, instances: &[Instance]) {
        let mut memory = self.memory();
        memory.versions.insert(deployment.to_owned(), version.to_owned());
        memory.claimed.insert(deployment.to_owned());
        for instance in instances {
            memory.instances.insert(instance.id.clone(), deployment.to_owned());
        }
    }

    /// The deployment an instance runs: its recorded platform id, or what this process
    /// remembers. Learns the instance's version for that deployment on the way.
    fn deployment_of(&self, instance: &Instance) -> Option<String> {
        let mut memory = self.memory();
        match instance.platform_id.as_deref().filter(|id| is_id(id)) {
            Some(id) => {
                memory.versions.entry(id.to_owned()).or_insert_with(|| instance.version.clone());
                memory.instances.insert(instance.id.clone(), id.to_owned());
                Some(id.to_owned())
            }
            None => memory.instances.get(&instance.id).cloned(),
        }
    }

    /// The version a deployment runs: remembered, else its image tag or commit.
    fn version_of(&self, d: &Deployment) -> Option<String> {
        if let Some(version) = self.memory().versions.get(&d.id) {
            return Some(version.clone());
        }
        swap::source_version(d.image(), d.commit())
    }
}

/// Railway ids are UUIDs; anything else is refused before it reaches a request.
fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 100 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn endpoint(d: &Deployment) -> Option<String> {
    let host = d.static_url.as_deref().or(d.url.as_deref()).filter(|u| !u.is_empty())?;
    Some(if host.contains("://") { host.to_owned() } else { format!("https://{host}") })
}

#[async_trait]
impl Platform for RailwayPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { traffic: TrafficControl::AtomicSwap, native_rollback: true, logs: true, metrics: false }
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        let (project, env) = (&self.api.project_id, &self.api.environment_id);
        if self.token_kind == RailwayTokenKind::Project {
            let token = self.api.run(ops::PROJECT_TOKEN, json!({})).await.map_err(|e| self.error(&e))?;
            let (p, e) = (token["projectId"].as_str(), token["environmentId"].as_str());
            if p != Some(project.as_str()) || e != Some(env.as_str()) {
                return Err(PlatformError::new(format!(
                    "Railway: the project token is for project {} environment {}, not project {project} environment {env}",
                    p.unwrap_or("?"),
                    e.unwrap_or("?")
                )));
            }
        } else if let Err(e) = self.api.run(ops::ME, json!({})).await {
            // Workspace tokens cannot read `me`: `project` tells whether the token works.
            if !e.unauthorized() {
                return Err(self.error(&e));
            }
        }
        let found = match self.api.run(ops::PROJECT, json!({ "id": project })).await {
            Ok(found) => found,
            Err(e) if e.not_found() => {
                return Err(PlatformError::new(format!("Railway: project not found: {project}")));
            }
            Err(e) => return Err(self.error(&e)),
        };
        let listed = |list: &str, id: &str| {
            found[list]["edges"].as_array().is_some_and(|edges| edges.iter().any(|e| e["node"]["id"] == id))
        };
        if !listed("environments", env) {
            return Err(PlatformError::new(format!("Railway: environment not found in project {project}: {env}")));
        }
        if !listed("services", &self.api.service_id) {
            return Err(PlatformError::new(format!(
                "Railway: service not found in project {project}: {}",
                self.api.service_id
            )));
        }
        Ok(())
    }

    async fn deploy(&self, _target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let deployment = self.deploy_release(release, ids.len()).await?;
        tracing::info!(platform = %self.name, %deployment, version = %release.version, "Railway deployment created");
        let instances = swap::instances(ids, &release.version, &deployment);
        self.remember(&deployment, &release.version, &instances);
        Ok(instances)
    }

    /// Railway switches by itself when a deployment succeeds; this only checks that the split
    /// asked for is the one Railway serves.
    async fn set_traffic(&self, _target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let share = swap::single_share(&self.name, &TERMS, split)?;
        let active = self.api.active().await.map_err(|e| self.error(&e))?;
        let serving = active.map(|d| Serving { version: self.version_of(&d), id: d.id });
        swap::check_serving(&TERMS, share, serving, &self.api.service_id)
    }

    /// Cancels deployments in progress and removes the active one; failed or removed ones need
    /// nothing.
    async fn stop(&self, _target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let deployments: BTreeSet<String> = instances.iter().filter_map(|i| self.deployment_of(i)).collect();
        for id in deployments {
            self.stop_deployment(&id).await?;
        }
        Ok(())
    }

    async fn health(&self, _target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let Some(id) = self.deployment_of(instance) else {
            return Ok(InstanceHealth::Exited {
                reason: format!("no Railway deployment is recorded for instance {}", instance.id),
            });
        };
        let d = match self.api.deployment(&id).await {
            Ok(d) => d,
            Err(e) if e.not_found() => {
                return Ok(InstanceHealth::Exited { reason: format!("deployment {id} is not found on Railway") });
            }
            Err(e) => return Err(self.error(&e)),
        };
        match d.status.as_str() {
            "SUCCESS" | "SLEEPING" if d.stopped == Some(true) => {
                Ok(InstanceHealth::Exited { reason: format!("deployment {id} is stopped") })
            }
            "SUCCESS" | "SLEEPING" => Ok(InstanceHealth::Running),
            status @ ("FAILED" | "CRASHED") => {
                Ok(InstanceHealth::Exited { reason: format!("deployment {id} is {status}") })
            }
            status @ ("REMOVED" | "REMOVING" | "SKIPPED") => {
                Ok(InstanceHealth::Exited { reason: format!("deployment {id} is {status} (not live)") })
            }
            // In progress, waiting for approval, or a status this adapter does not know yet: not ready.
            status => Err(PlatformError::new(format!("deployment {id} is {status}"))),
        }
    }

    async fn status(&self, _target: &Target) -> PlatformResult<PlatformStatus> {
        let Some(active) = self.api.active().await.map_err(|e| self.error(&e))? else {
            return Ok(PlatformStatus { endpoint: None, traffic: Vec::new(), instances: Vec::new() });
        };
        let version = self.version_of(&active).unwrap_or_else(|| active.id.clone());
        let memory = self.memory();
        let mut ids: Vec<String> =
            memory.instances.iter().filter(|(_, d)| **d == active.id).map(|(id, _)| id.clone()).collect();
        drop(memory);
        ids.sort();
        Ok(PlatformStatus {
            endpoint: endpoint(&active),
            traffic: vec![TrafficWeight { version: version.clone(), percent: 100 }],
            instances: swap::instances(&ids, &version, &active.id),
        })
    }

    /// Keeps the restored release's deployment when it still serves; otherwise Railway's
    /// rollback to it, or a new deployment of `to`. Does not wait: `health` follows.
    async fn restore(
        &self,
        _target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let previous = known.iter().find_map(|i| self.deployment_of(i));
        if let Some(previous) = &previous {
            match self.api.deployment(previous).await {
                Ok(d) if d.serving() => {
                    tracing::info!(platform = %self.name, deployment = %previous, "the restored release still serves");
                    let kept: Vec<Instance> = known
                        .iter()
                        .filter(|i| i.platform_id.as_deref().is_none_or(|p| p == previous))
                        .map(|i| Instance {
                            state: InstanceState::Running,
                            platform_id: Some(previous.clone()),
                            ..i.clone()
                        })
                        .collect();
                    self.remember(previous, &to.version, &kept);
                    return Ok(kept);
                }
                Ok(_) => {}
                Err(e) if e.not_found() => {}
                Err(e) => return Err(self.error(&e)),
            }
        }
        let count = known.len().max(1);
        let ids: Vec<String> = replacement_ids.iter().take(count).cloned().collect();
        if ids.is_empty() {
            return Err(PlatformError::new("restoring a release on Railway needs at least one replacement id"));
        }
        self.cancel_in_progress().await?;
        let deployment = self.bring_back(to, previous.as_deref(), ids.len()).await?;
        tracing::info!(platform = %self.name, %deployment, version = %to.version, "Railway restore started");
        let instances = swap::instances(&ids, &to.version, &deployment);
        self.remember(&deployment, &to.version, &instances);
        Ok(instances)
    }

    async fn logs(&self, _target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        let Some(deployment) = self.memory().instances.get(instance_id).cloned() else {
            return Err(PlatformError::new(format!(
                "no Railway deployment is known for instance {instance_id} in this process"
            )));
        };
        logs::follow(logs::Follow {
            api: self.api.clone(),
            token: self.token.clone(),
            deployment,
            instance_id: instance_id.to_owned(),
            poll: self.log_poll,
        })
        .await
    }

    /// Railway's deployments outlive the engine: nothing to stop; followed logs end with their
    /// receivers.
    async fn shutdown(&self) -> PlatformResult<()> {
        Ok(())
    }
}
