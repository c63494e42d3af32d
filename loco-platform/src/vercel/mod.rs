//! [`VercelPlatform`]: releases of one Vercel project, built from its linked git repository,
//! with real percentage traffic through Vercel's Rolling Releases.
//!
//! A release is one production deployment of `release.commit` (Loco's instances of a release
//! are shares of it: they all carry its `dpl_…` id as `platform_id`). It is built **staged**
//! (`autoAssignCustomDomains: false`: READY without taking the production domains), so it takes
//! no traffic until the orchestrator moves some. How each call maps onto the API:
//!
//! - `plan_shares(target, version, shares)`: the shares the steps will give (`[10, 50, 100]`)
//!   become the project's rolling-release stages, manual approval (`PATCH
//!   …/rolling-release/config`; 2–10 increasing stages, 100 appended when missing). A plan whose
//!   only share is 100 needs none: rolling releases are turned off (`DELETE …/config`) so that
//!   promoting does not start one.
//! - `deploy`: a release with `env` or `secret_env` is refused (Vercel reads environment
//!   variables from the project's settings, not per deployment); `GET /v9/projects/{id}` (its `link`: repository and production branch), then one
//!   `POST /v13/deployments` (`target: production`, `gitSource` with the sha, `meta` with
//!   `loco_version`, `loco_commit` and `loco_instance` = the first instance id). Creating is not
//!   idempotent: when its outcome is unknown (a timeout, a 5xx), the project's recent production
//!   deployments are listed for the one tagged with that `loco_instance` before it is sent again.
//!   A 429 is waited out per `Retry-After`. A later `deploy` of the same version and commit in
//!   this process (a canary's remaining instances) reuses the deployment.
//! - `health`: `GET /v13/deployments/{id}`: `READY` → running; `QUEUED`, `INITIALIZING`,
//!   `BUILDING`, `BLOCKED` → an error (the orchestrator retries); `ERROR`, `CANCELED`, gone →
//!   exited, with Vercel's `errorCode`/`errorMessage`.
//! - `set_traffic`: reads the project and its active rolling release, makes the one call that
//!   moves towards the split (see the `traffic` module), and reads again until the split is in place:
//!   `{new: p, old: 100 − p}` starts the rolling release (`POST …/rolling-release/start`) and
//!   approves stage after stage (`…/approve-stage`) up to `p`; `{new: 100}` completes it
//!   (`…/complete`), or promotes a staged deployment (`POST /v10/projects/{id}/promote/{dpl}`)
//!   and waits for its `lastAliasRequest` to succeed; `{old: 100}` while a rolling release runs
//!   aborts it with an instant rollback to the old deployment (`POST
//!   /v1/projects/{id}/rollback/{dpl}`), as Vercel's CLI aborts. An empty split succeeds only when
//!   nothing serves: Vercel cannot take production down.
//! - `stop`: a deployment still building is canceled (`PATCH /v12/deployments/{id}/cancel`);
//!   one that is READY needs nothing — Vercel keeps superseded deployments (they serve no
//!   production traffic once another holds the domains), and they are what rollbacks go to.
//! - `restore`: keeps the restored release's deployment (`known[0].platform_id`) when it is still
//!   READY or building — bringing it back *without traffic*, as the contract asks; the instant
//!   rollback happens in the `set_traffic` that follows the health check. A deployment that is
//!   gone or failed is replaced by a new staged build of the release's commit.
//! - `status`: the production deployment, or the rolling release's split; the endpoint is the
//!   production domain. `logs`: the deployment's build events (`/v3/deployments/{id}/events`),
//!   polled. `test_connection`: `GET /v9/projects/{id}` (with `teamId`).
//!
//! Which version a deployment runs is remembered in memory and read from its `meta.loco_version`
//! otherwise, so a new process after a crash finds its way from recorded instances.

mod api;
mod deployments;
mod logs;
mod moves;
mod traffic;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use loco_types::platform_config::{VERCEL_API_URL, VercelSettings};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::http::{HttpClient, HttpOptions, HttpTuning};
use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficControl, TrafficWeight,
};
use api::{Api, BUILDING};
use traffic::Wanted;

/// Times a deployment create is sent when earlier sends failed without creating anything.
const CREATE_ATTEMPTS: u32 = 3;
/// Deployments listed when looking for one whose creation was not confirmed.
const RECENT: usize = 20;
/// Calls `set_traffic` makes at most (a start and nine approvals fit).
const TRAFFIC_CALLS: u32 = 12;
/// Calls that failed with an unknown outcome that `set_traffic` tolerates (it reads again).
const TRAFFIC_FAILURES: u32 = 3;

/// Timeouts, retries and polling of a [`VercelPlatform`].
#[derive(Debug, Clone, Copy)]
pub struct VercelTuning {
    /// Timeouts, retries and concurrency of its HTTP client.
    pub http: HttpTuning,
    /// How often a promote or rollback job, and followed events, are polled.
    pub poll_interval: Duration,
    /// How long a promote or rollback job may take.
    pub alias_timeout: Duration,
}

impl Default for VercelTuning {
    /// The client's defaults ([`HttpTuning::default`]), jobs polled every 250 ms for up to 3
    /// minutes (as Vercel's CLI does).
    fn default() -> Self {
        Self {
            http: HttpTuning::default(),
            poll_interval: Duration::from_millis(250),
            alias_timeout: Duration::from_secs(180),
        }
    }
}

/// What this process learned about deployments.
#[derive(Debug, Default)]
struct Memory {
    /// Deployment id → the release version it builds.
    versions: HashMap<String, String>,
    /// Release version → its latest deployment.
    by_version: HashMap<String, String>,
    /// Loco instance id → deployment id.
    instances: HashMap<String, String>,
}

/// A Vercel project as a Loco platform.
pub struct VercelPlatform {
    name: String,
    api: Api,
    tuning: VercelTuning,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for VercelPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VercelPlatform")
            .field("name", &self.name)
            .field("project_id", &self.api.project_id)
            .finish_non_exhaustive()
    }
}

impl VercelPlatform {
    /// The platform `name` deploying the project in `settings` with `token`, with the default
    /// [`VercelTuning`].
    pub fn new(name: &str, settings: &VercelSettings, token: &str) -> PlatformResult<Self> {
        Self::with_tuning(name, settings, token, VercelTuning::default())
    }

    /// The same with other timeouts, retries and polling (tests use short ones).
    pub fn with_tuning(
        name: &str,
        settings: &VercelSettings,
        token: &str,
        tuning: VercelTuning,
    ) -> PlatformResult<Self> {
        let token = token.trim();
        if token.is_empty() {
            return Err(PlatformError::new(format!("platform '{name}': the Vercel token is empty")));
        }
        if !is_id(&settings.project_id) || settings.team_id.as_deref().is_some_and(|t| !is_id(t)) {
            return Err(PlatformError::new(format!(
                "platform '{name}': '{}' is not a Vercel project id or name (or the team id is malformed)",
                settings.project_id
            )));
        }
        let base_url = settings.api_url.clone().unwrap_or_else(|| VERCEL_API_URL.to_owned());
        let options =
            HttpOptions { tuning: tuning.http, ..HttpOptions::new("Vercel", base_url, format!("Bearer {token}")) };
        let http = HttpClient::new(options, api::message_of)?;
        let api = Api { http, project_id: settings.project_id.clone(), team_id: settings.team_id.clone() };
        Ok(Self { name: name.to_owned(), api, tuning, memory: Mutex::new(Memory::default()) })
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory is a cache of facts; a panic elsewhere does not make it wrong.
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, deployment: &str, version: &str, instances: &[Instance]) {
        let mut memory = self.memory();
        memory.versions.insert(deployment.to_owned(), version.to_owned());
        memory.by_version.insert(version.to_owned(), deployment.to_owned());
        for instance in instances {
            memory.instances.insert(instance.id.clone(), deployment.to_owned());
        }
    }

    /// The deployment an instance runs (its recorded platform id, or what this process
    /// remembers), learning the instance's version for it on the way.
    fn deployment_of(&self, instance: &Instance) -> Option<String> {
        match instance.platform_id.as_deref().filter(|id| is_id(id)) {
            Some(id) => {
                let mut memory = self.memory();
                memory.versions.entry(id.to_owned()).or_insert_with(|| instance.version.clone());
                memory.by_version.entry(instance.version.clone()).or_insert_with(|| id.to_owned());
                memory.instances.insert(instance.id.clone(), id.to_owned());
                Some(id.to_owned())
            }
            None => self.memory().instances.get(&instance.id).cloned(),
        }
    }

    /// The version a deployment builds: remembered, else its `meta.loco_version`, else its id.
    fn version_of(&self, id: &str, meta: &std::collections::BTreeMap<String, Value>) -> String {
        if let Some(version) = self.memory().versions.get(id) {
            return version.clone();
        }
        meta.get("loco_version").and_then(Value::as_str).map_or_else(|| id.to_owned(), str::to_owned)
    }

    fn instances(ids: &[String], version: &str, deployment: &str) -> Vec<Instance> {
        ids.iter()
            .map(|id| Instance {
                id: id.clone(),
                version: version.to_owned(),
                address: None,
                pid: None,
                state: InstanceState::Running,
                platform_id: Some(deployment.to_owned()),
            })
            .collect()
    }
}

/// Vercel ids (`prj_…`, `dpl_…`, `team_…`) and project names: letters, digits, `_`, `-`, `.`;
/// anything else is refused before it reaches a URL path.
fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The production stages for the shares a rollout's steps will give: increasing, ending at 100.
fn stages(shares: &[u8]) -> Result<Vec<u8>, String> {
    let mut stages: Vec<u8> = Vec::new();
    for share in shares.iter().copied().filter(|s| *s > 0) {
        match stages.last() {
            Some(last) if *last == share => {}
            Some(last) if *last > share => return Err(format!("the shares {shares:?} do not increase")),
            _ => stages.push(share.min(100)),
        }
    }
    if stages.last() != Some(&100) {
        stages.push(100);
    }
    if stages.len() > 10 {
        return Err(format!("Vercel rolling releases take at most 10 stages; the steps give {}", stages.len()));
    }
    Ok(stages)
}

#[async_trait]
impl Platform for VercelPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { traffic: TrafficControl::Percentage, native_rollback: true, logs: true, metrics: false }
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        let id = &self.api.project_id;
        match self.api.project().await {
            Ok(_) => Ok(()),
            Err(e) if e.is(401) || e.is(403) => Err(PlatformError::new(format!("Vercel: token rejected ({e})"))),
            Err(e) if e.is(404) => Err(PlatformError::new(format!(
                "Vercel: project not found: {id}{} ({e})",
                self.api.team_id.as_deref().map(|t| format!(" in team {t}")).unwrap_or_default()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn plan_shares(&self, _target: &Target, version: &str, shares: &[u8]) -> PlatformResult<()> {
        let stages = stages(shares).map_err(|e| PlatformError::new(format!("platform '{}': {e}", self.name)))?;
        if stages == [100] {
            self.api.disable_rolling().await?;
        } else {
            self.api.configure(&stages).await?;
            tracing::info!(platform = %self.name, version, ?stages, "Vercel rolling release configured");
        }
        Ok(())
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let reuse = self.memory().by_version.get(&release.version).cloned();
        if let Some(id) = reuse {
            let existing = self.api.deployment(&id).await?;
            let same = existing.meta("loco_commit") == release.commit.as_deref().map(str::trim);
            if same && !matches!(existing.ready_state.as_str(), "ERROR" | "CANCELED") {
                let instances = Self::instances(ids, &release.version, &id);
                self.remember(&id, &release.version, &instances);
                return Ok(instances);
            }
        }
        let deployment = self.build(target, release, ids).await?;
        let instances = Self::instances(ids, &release.version, &deployment.id);
        self.remember(&deployment.id, &release.version, &instances);
        Ok(instances)
    }

    async fn set_traffic(&self, _target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let shares: Vec<&TrafficWeight> = split.iter().filter(|w| w.percent > 0).collect();
        let wanted = match shares.as_slice() {
            [] => {
                let (_, _, observed) = self.observe().await?;
                return match observed.production.or(observed.release.map(|r| r.canary)) {
                    None => Ok(()),
                    Some(serving) => Err(PlatformError::new(format!(
                        "platform '{}': deployment {serving} serves production on Vercel, which cannot take production \
                         down; roll back to another deployment instead",
                        self.name
                    ))),
                };
            }
            [all] => {
                let d = self.deployment_for(&all.version).await?;
                Wanted::All { staged: d.ready_substate.as_deref() != Some("PROMOTED"), deployment: d.id }
            }
            [new, old] => Wanted::Split {
                canary: self.id_for(&new.version).await?,
                old: self.id_for(&old.version).await?,
                percent: new.percent,
            },
            _ => {
                return Err(PlatformError::new(format!(
                    "platform '{}': a Vercel rolling release splits traffic between two deployments, not {}",
                    self.name,
                    shares.len()
                )));
            }
        };
        self.move_to(&wanted).await
    }

    async fn stop(&self, _target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let deployments: BTreeSet<String> = instances.iter().filter_map(|i| self.deployment_of(i)).collect();
        for id in deployments {
            let deployment = match self.api.deployment(&id).await {
                Ok(d) => d,
                Err(e) if e.is(404) => continue,
                Err(e) => return Err(e.into()),
            };
            if BUILDING.contains(&deployment.ready_state.as_str()) {
                match self.api.cancel(&id).await {
                    Ok(()) => {
                        tracing::info!(platform = %self.name, deployment = %id, "canceled a deployment still building");
                    }
                    Err(e) if e.is(400) || e.is(404) => {} // finished meanwhile
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    async fn health(&self, _target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let Some(id) = self.deployment_of(instance) else {
            return Ok(InstanceHealth::Exited {
                reason: format!("no Vercel deployment is recorded for instance {}", instance.id),
            });
        };
        let d = match self.api.deployment(&id).await {
            Ok(d) => d,
            Err(e) if e.is(404) => {
                return Ok(InstanceHealth::Exited { reason: format!("deployment {id} is not found on Vercel") });
            }
            Err(e) => return Err(e.into()),
        };
        match d.ready_state.as_str() {
            "READY" => Ok(InstanceHealth::Running),
            state @ ("ERROR" | "CANCELED" | "DELETED") => {
                let why = match (&d.error_code, &d.error_message) {
                    (Some(code), Some(message)) => format!(": {code}: {message}"),
                    (None, Some(message)) => format!(": {message}"),
                    _ => String::new(),
                };
                Ok(InstanceHealth::Exited { reason: format!("deployment {id} is {state}{why}") })
            }
            state => Err(PlatformError::new(format!("deployment {id} is {state}"))),
        }
    }

    async fn status(&self, _target: &Target) -> PlatformResult<PlatformStatus> {
        let (project, release, _) = self.observe().await?;
        let production = project.targets.production.clone();
        let serving: Vec<(api::Summary, u8)> = match release {
            Some(r) => {
                let percent = r.current_canary_percentage.unwrap_or(0);
                [(r.canary_deployment, percent), (r.current_deployment, 100 - percent)]
                    .into_iter()
                    .filter_map(|(d, p)| d.map(|d| (d, p)))
                    .collect()
            }
            None => production.clone().map(|p| (p, 100)).into_iter().collect(),
        };
        let mut traffic = Vec::new();
        let mut instances = Vec::new();
        for (d, percent) in &serving {
            let version = self.version_of(&d.id, &d.meta);
            traffic.push(TrafficWeight { version: version.clone(), percent: *percent });
            let memory = self.memory();
            let mut ids: Vec<&String> =
                memory.instances.iter().filter(|(_, dep)| **dep == d.id).map(|(i, _)| i).collect();
            ids.sort();
            let ids: Vec<String> = ids.into_iter().cloned().collect();
            instances.extend(Self::instances(&ids, &version, &d.id));
        }
        let endpoint =
            production.and_then(|p| p.alias.first().or(p.url.as_ref()).map(|host| format!("https://{host}")));
        Ok(PlatformStatus { endpoint, traffic, instances })
    }

    /// Keeps the restored release's deployment when it is still READY or building (no traffic
    /// moves here: `set_traffic` rolls back to it after its health check), or builds it again.
    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let recorded = known.iter().find_map(|i| self.deployment_of(i));
        let existing = match recorded {
            Some(id) => match self.api.deployment(&id).await {
                Ok(d) => Some(d),
                Err(e) if e.is(404) => None,
                Err(e) => return Err(e.into()),
            },
            None => self.deployment_for(&to.version).await.ok(),
        };
        if let Some(d) = existing.filter(|d| d.ready_state == "READY" || BUILDING.contains(&d.ready_state.as_str())) {
            let ids: Vec<String> = if known.is_empty() {
                replacement_ids.iter().take(1).cloned().collect()
            } else {
                known.iter().map(|i| i.id.clone()).collect()
            };
            let instances = Self::instances(&ids, &to.version, &d.id);
            self.remember(&d.id, &to.version, &instances);
            return Ok(instances);
        }
        let ids: Vec<String> = replacement_ids.iter().take(known.len().max(1)).cloned().collect();
        if ids.is_empty() {
            return Err(PlatformError::new("restoring a release on Vercel needs at least one replacement id"));
        }
        let deployment = self.build(target, to, &ids).await?;
        let instances = Self::instances(&ids, &to.version, &deployment.id);
        self.remember(&deployment.id, &to.version, &instances);
        Ok(instances)
    }

    async fn logs(&self, _target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        let deployment =
            self.memory().instances.get(instance_id).cloned().ok_or_else(|| {
                PlatformError::new(format!("no Vercel deployment is known for instance {instance_id}"))
            })?;
        logs::follow(self.api.clone(), deployment, instance_id.to_owned(), self.tuning.poll_interval).await
    }

    /// Vercel's deployments outlive the engine: nothing to stop; followed logs end with their receivers.
    async fn shutdown(&self) -> PlatformResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_become_increasing_stages_ending_at_100() {
        assert_eq!(stages(&[10, 50, 100]), Ok(vec![10, 50, 100]));
        assert_eq!(stages(&[10, 50]), Ok(vec![10, 50, 100]));
        assert_eq!(stages(&[100]), Ok(vec![100]));
        assert_eq!(stages(&[50, 50, 100]), Ok(vec![50, 100]));
        assert!(stages(&[50, 10]).unwrap_err().contains("do not increase"));
        assert!(stages(&(1..=11).map(|i| i * 9).collect::<Vec<u8>>()).unwrap_err().contains("at most 10"));
    }

    #[test]
    fn ids_that_could_escape_a_path_are_refused() {
        assert!(is_id("prj_123") && is_id("my-site") && is_id("dpl_ABC"));
        assert!(!is_id("../x") && !is_id("a/b") && !is_id(""));
    }
}
