//! [`RenderPlatform`]: releases on one Render web service, through Render's REST API v1.
//!
//! Render runs one deploy of a service at a time and swaps traffic to a new deploy by itself
//! once that deploy is `live` (gated by the service's health check): traffic cannot be split,
//! so the platform declares [`TrafficControl::AtomicSwap`] and the orchestrator runs only the
//! immediate and blue-green strategies on it. **Traffic moves when the new deploy goes live,
//! not when the orchestrator shifts it**: [`Platform::deploy`] creates the deploy,
//! [`Platform::health`] reports it `Running` once it is live (and so already serving), and
//! [`Platform::set_traffic`] only confirms that the version given all traffic is the live one.
//!
//! How each call maps onto the API:
//! - `deploy`: `GET /v1/services/{id}`, `POST …/resume` when the service is suspended, one
//!   `POST …/deploys` (`imageUrl` = `release.image` for image-backed services, `commitId` =
//!   `release.commit` for git-backed ones), then `POST …/scale` when `numInstances` differs from
//!   the number of instances asked for. Every instance gets the deploy's id (`dep-…`) as its
//!   `platform_id`. Creating a deploy is not idempotent: it is sent once; when its outcome is
//!   unknown (a timeout, a 5xx), the service's recent deploys are listed for one of the same
//!   image or commit created since the call began before it is sent again — never two deploys
//!   for one call. A 429 is waited out per `Retry-After` by the HTTP client.
//! - `health`: `GET …/deploys/{id}`: `live` → running; in progress → an error (the orchestrator
//!   retries); failed or canceled → exited with the status; `deactivated` → exited (superseded).
//! - `set_traffic`: checks (`GET …/deploys?status=live` and the service) that the one version
//!   with a share is the live deploy's; an empty split only when nothing serves; a split between
//!   two versions is refused naming `traffic: atomic_swap`.
//! - `stop`: instances of a deploy that is not live need nothing (one still in progress is
//!   canceled); stopping the instances of the **live** deploy suspends the service
//!   (`POST …/suspend`): that is what taking a first release down means on Render.
//! - `restore`: resumes a suspended service, cancels deploys in progress, then uses Render's
//!   native rollback (`POST …/rollback {"deployId"}`) to the deploy the restored release ran
//!   (`known[0].platform_id`), or a new deploy of its image or commit when there is none or
//!   Render no longer retains it. It does not wait: `health` follows the new deploy.
//! - `status`: the live deploy's version and `serviceDetails.url`; `logs`: `GET /v1/logs` pages
//!   for the service, polled; `test_connection`: `GET /v1/services/{id}`.
//!
//! One platform is one Render service (`settings.service_id`): every target rolled out through
//! it lands on that service. Loco's instances of a release are the shares of its one deploy
//! (Render's own instances are not addressable), so they all carry the same `platform_id`.
//!
//! Which version a deploy runs is remembered in memory (from `deploy`, `restore`, and every
//! instance passed to `health` or `stop`, so a new process learns it from the recorded
//! instances); a deploy this process never heard of is named by its image tag or commit.

mod api;
mod logs;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use loco_types::model::Timestamp;
use loco_types::plan::ReleaseSpec;
use loco_types::platform_config::{RENDER_API_URL, RenderSettings};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::http::{HttpClient, HttpError, HttpOptions, HttpTuning};
use crate::swap::{self, Serving, Terms};
use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficControl, TrafficWeight,
};
use api::{Api, Deploy, IN_PROGRESS, Service};

/// How Render's traffic refusals speak of its deploys.
const TERMS: Terms = Terms {
    provider: "Render",
    unit: "deploy",
    serving: "live",
    serves_when: "is live",
    stopping: "suspends the service",
};
/// Times a deploy-creating call is sent when earlier sends failed without creating anything.
const CREATE_ATTEMPTS: u32 = 3;
/// Deploys listed when looking for one whose creation was not confirmed.
const RECENT_DEPLOYS: usize = 20;

/// Timeouts, retries and polling of a [`RenderPlatform`].
#[derive(Debug, Clone, Copy)]
pub struct RenderTuning {
    /// Timeouts, retries and concurrency of its HTTP client.
    pub http: HttpTuning,
    /// How often followed logs are polled for new lines.
    pub log_poll_interval: Duration,
}

impl Default for RenderTuning {
    /// The client's defaults ([`HttpTuning::default`]: `Retry-After` up to 60 s is a full
    /// rate-limit window), logs polled every 2 s.
    fn default() -> Self {
        Self { http: HttpTuning::default(), log_poll_interval: Duration::from_secs(2) }
    }
}

/// What this process learned about deploys.
#[derive(Debug, Default)]
struct Memory {
    /// Deploy id → the release version it runs.
    versions: HashMap<String, String>,
    /// Loco instance id → deploy id.
    instances: HashMap<String, String>,
    /// Deploy id → when it was created (RFC 3339), for logs.
    created: HashMap<String, String>,
    /// Deploys this process created, adopted or canceled: never taken for the result of another
    /// call whose outcome is unknown.
    claimed: HashSet<String>,
    /// The service's owner (for logs), once known.
    owner: Option<String>,
}

/// A Render web service as a Loco platform.
pub struct RenderPlatform {
    name: String,
    api: Api,
    log_poll: Duration,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for RenderPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderPlatform")
            .field("name", &self.name)
            .field("service_id", &self.api.service_id)
            .finish_non_exhaustive()
    }
}

/// What a deploy-creating call should have created, to recognise it in a list.
struct Wanted<'a> {
    trigger: &'static str,
    image: Option<&'a str>,
    commit: Option<&'a str>,
}

impl Wanted<'_> {
    fn matches(&self, deploy: &Deploy) -> bool {
        let trigger = deploy.trigger.as_deref().is_none_or(|t| t == self.trigger);
        let source = match (self.image, self.commit) {
            (Some(image), _) => deploy.image_ref() == Some(image),
            (None, Some(commit)) => deploy.commit_id() == Some(commit),
            (None, None) => true,
        };
        trigger && source
    }
}

impl RenderPlatform {
    /// The platform `name` deploying to the service in `settings` with API key `token`, with
    /// the default [`RenderTuning`].
    pub fn new(name: &str, settings: &RenderSettings, token: &str) -> PlatformResult<Self> {
        Self::with_tuning(name, settings, token, RenderTuning::default())
    }

    /// The same with other timeouts, retries and polling (tests use short ones).
    pub fn with_tuning(
        name: &str,
        settings: &RenderSettings,
        token: &str,
        tuning: RenderTuning,
    ) -> PlatformResult<Self> {
        let token = token.trim();
        if token.is_empty() {
            return Err(PlatformError::new(format!("platform '{name}': the Render API key is empty")));
        }
        if !is_id(&settings.service_id) {
            return Err(PlatformError::new(format!(
                "platform '{name}': '{}' is not a Render service id (srv-…)",
                settings.service_id
            )));
        }
        let base_url = settings.api_url.clone().unwrap_or_else(|| RENDER_API_URL.to_owned());
        let options =
            HttpOptions { tuning: tuning.http, ..HttpOptions::new("Render", base_url, format!("Bearer {token}")) };
        let http = HttpClient::new(options, api::message_of)?;
        let memory = Memory { owner: settings.owner_id.clone(), ..Memory::default() };
        Ok(Self {
            name: name.to_owned(),
            api: Api { http, service_id: settings.service_id.clone() },
            log_poll: tuning.log_poll_interval,
            memory: Mutex::new(memory),
        })
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory is a cache of facts; a panic elsewhere does not make it wrong.
        self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `instances` (of `version`) run `deploy`.
    fn remember(&self, deploy: &Deploy, version: &str, instances: &[Instance]) {
        let mut memory = self.memory();
        memory.versions.insert(deploy.id.clone(), version.to_owned());
        memory.claimed.insert(deploy.id.clone());
        if let Some(created) = &deploy.created_at {
            memory.created.insert(deploy.id.clone(), created.clone());
        }
        for instance in instances {
            memory.instances.insert(instance.id.clone(), deploy.id.clone());
        }
    }

    /// The deploy an instance runs: its recorded platform id, or what this process remembers.
    /// Learns the instance's version for that deploy on the way.
    fn deploy_of(&self, instance: &Instance) -> Option<String> {
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

    /// The version a deploy runs: remembered, else its image tag or commit.
    fn version_of(&self, deploy: &Deploy) -> Option<String> {
        if let Some(version) = self.memory().versions.get(&deploy.id) {
            return Some(version.clone());
        }
        swap::source_version(deploy.image_ref(), deploy.commit_id())
    }

    /// The body and the matcher of a new deploy of `release` on `service`: its image for an
    /// image-backed service, its commit for a git-backed one.
    fn source<'r>(&self, service: &Service, release: &'r ReleaseSpec) -> PlatformResult<(Value, Wanted<'r>)> {
        let image = release.image.as_deref().filter(|s| !s.trim().is_empty());
        let commit = release.commit.as_deref().filter(|s| !s.trim().is_empty());
        let git = service.image_path.is_none() && service.repo.is_some();
        let id = &self.api.service_id;
        match (git, image, commit) {
            (false, Some(image), _) => {
                Ok((json!({ "imageUrl": image }), Wanted { trigger: "api", image: Some(image), commit: None }))
            }
            (true, _, Some(commit)) => Ok((
                json!({ "commitId": commit, "clearCache": "do_not_clear" }),
                Wanted { trigger: "api", image: None, commit: Some(commit) },
            )),
            (false, None, _) => Err(PlatformError::new(format!(
                "release {}: Render service {id} deploys a prebuilt image: set release.image (its tag or digest \
                 may change, not its repository)",
                release.version
            ))),
            (true, _, None) => Err(PlatformError::new(format!(
                "release {}: Render service {id} builds from git: set release.commit",
                release.version
            ))),
        }
    }

    /// Sends a deploy-creating call (`what` = `deploys` or `rollback`) at most until it is known
    /// to have created exactly one deploy: after an unknown outcome, the recent deploys are
    /// searched for the one it would have created before the call is sent again.
    async fn create(&self, what: &str, body: &Value, wanted: &Wanted<'_>) -> Result<Deploy, HttpError> {
        let started = Timestamp::now();
        let mut failure = None;
        for _ in 0..CREATE_ATTEMPTS {
            match self.api.create(what, body).await {
                Ok(reply) if reply.body.is_object() => {
                    let deploy: Deploy = reply.json(&format!("POST …/{what}"))?;
                    self.memory().claimed.insert(deploy.id.clone());
                    return Ok(deploy);
                }
                Ok(reply) => {
                    // Accepted without a body (202): it exists, or will; never send it again.
                    return match self.find_created(wanted, started).await? {
                        Some(deploy) => Ok(deploy),
                        None => Err(HttpError {
                            call: format!("POST /v1/services/{}/{what}", self.api.service_id),
                            status: Some(reply.status),
                            message: "Render accepted the deploy but does not list it yet".to_owned(),
                            request_id: None,
                            attempts: 1,
                        }),
                    };
                }
                Err(e) if e.status.is_some_and(|s| s < 500) => return Err(e),
                Err(e) => {
                    tracing::warn!(platform = %self.name, error = %e, "deploy creation outcome unknown; looking for it");
                    if let Some(deploy) = self.find_created(wanted, started).await? {
                        return Ok(deploy);
                    }
                    failure = Some(e);
                }
            }
        }
        Err(failure.unwrap_or_else(|| HttpError {
            call: format!("POST /v1/services/{}/{what}", self.api.service_id),
            status: None,
            message: "no attempt was made".to_owned(),
            request_id: None,
            attempts: 0,
        }))
    }

    /// A recent deploy matching `wanted`, created since `started` (less [`swap::CLOCK_SKEW`]) and not
    /// claimed by another call.
    async fn find_created(&self, wanted: &Wanted<'_>, started: Timestamp) -> Result<Option<Deploy>, HttpError> {
        let recent = self.api.deploys(&[], RECENT_DEPLOYS).await?;
        let found = swap::claim_created(recent, started, &mut self.memory().claimed, |d| wanted.matches(d));
        if let Some(deploy) = &found {
            tracing::info!(platform = %self.name, deploy = %deploy.id, "the deploy was created after all");
        }
        Ok(found)
    }

    /// A new deploy of `release`.
    async fn deploy_release(&self, service: &Service, release: &ReleaseSpec) -> PlatformResult<Deploy> {
        let (body, wanted) = self.source(service, release)?;
        Ok(self.create("deploys", &body, &wanted).await?)
    }

    async fn resume_if_suspended(&self, service: &Service) -> PlatformResult<()> {
        if service.is_suspended() {
            tracing::info!(platform = %self.name, service = %self.api.service_id, "resuming the suspended service");
            self.api.set_suspended(false).await?;
        }
        Ok(())
    }

    async fn scale_to(&self, service: &Service, count: usize) -> PlatformResult<()> {
        if service.details.num_instances != Some(count as u32) {
            self.api.scale(count).await?;
        }
        Ok(())
    }

    /// Cancels every deploy in progress, so that the one about to be created is the last to go live.
    async fn cancel_in_progress(&self) -> PlatformResult<()> {
        for deploy in self.api.deploys(&IN_PROGRESS, RECENT_DEPLOYS).await? {
            self.memory().claimed.insert(deploy.id.clone());
            match self.api.cancel(&deploy.id).await {
                Ok(()) => tracing::info!(platform = %self.name, deploy = %deploy.id, "canceled a deploy in progress"),
                Err(e) if e.is(409) || e.is(404) => {} // finished meanwhile
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Stops what one deploy runs: nothing when it is not live, a cancel when it is in progress,
    /// a suspension of the service when it is the live one.
    async fn stop_deploy(&self, id: &str) -> PlatformResult<()> {
        let deploy = match self.api.deploy(id).await {
            Ok(deploy) => deploy,
            Err(e) if e.is(404) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let status = if IN_PROGRESS.contains(&deploy.status.as_str()) {
            match self.api.cancel(id).await {
                Ok(()) => return Ok(()),
                // It finished meanwhile: look again.
                Err(e) if e.is(409) => self.api.deploy(id).await?.status,
                Err(e) => return Err(e.into()),
            }
        } else {
            deploy.status
        };
        if status == "live" && !self.api.service().await?.is_suspended() {
            tracing::info!(platform = %self.name, deploy = %id, "suspending the service: its live deploy is stopped");
            self.api.set_suspended(true).await?;
        }
        Ok(())
    }

    async fn owner(&self) -> PlatformResult<String> {
        if let Some(owner) = self.memory().owner.clone() {
            return Ok(owner);
        }
        let owner = self.api.service().await?.owner_id.ok_or_else(|| {
            PlatformError::new(format!("Render service {} names no owner; set owner_id", self.api.service_id))
        })?;
        self.memory().owner = Some(owner.clone());
        Ok(owner)
    }
}

/// Render ids (`srv-…`, `dep-…`) are lower-case letters, digits and dashes; anything else is
/// refused before it reaches a URL path.
fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 100 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[async_trait]
impl Platform for RenderPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { traffic: TrafficControl::AtomicSwap, native_rollback: true, logs: true, metrics: false }
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        let id = &self.api.service_id;
        match self.api.service().await {
            Ok(service) => {
                if let Some(owner) = service.owner_id {
                    self.memory().owner.get_or_insert(owner);
                }
                Ok(())
            }
            Err(e) if e.is(401) => Err(PlatformError::new(format!("Render: token rejected ({e})"))),
            Err(e) if e.is(403) => {
                Err(PlatformError::new(format!("Render: the token may not read service {id} ({e})")))
            }
            Err(e) if e.is(404) => Err(PlatformError::new(format!("Render: service not found: {id} ({e})"))),
            Err(e) => Err(e.into()),
        }
    }

    async fn deploy(&self, _target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let service = self.api.service().await?;
        // Checked before anything changes.
        let (body, wanted) = self.source(&service, release)?;
        self.resume_if_suspended(&service).await?;
        let deploy = self.create("deploys", &body, &wanted).await?;
        tracing::info!(platform = %self.name, deploy = %deploy.id, version = %release.version, "Render deploy created");
        self.scale_to(&service, ids.len()).await?;
        let instances = swap::instances(ids, &release.version, &deploy.id);
        self.remember(&deploy, &release.version, &instances);
        Ok(instances)
    }

    /// Render swaps traffic by itself when a deploy goes live; this only checks that the split
    /// asked for is the one Render serves.
    async fn set_traffic(&self, _target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let share = swap::single_share(&self.name, &TERMS, split)?;
        let (service, live) = futures_util::future::try_join(self.api.service(), self.api.live_deploy()).await?;
        let serving = live.filter(|_| !service.is_suspended());
        let serving = serving.map(|live| Serving { version: self.version_of(&live), id: live.id });
        let suspended = if service.is_suspended() { " (suspended)" } else { "" };
        swap::check_serving(&TERMS, share, serving, &format!("{}{suspended}", self.api.service_id))
    }

    /// Instances of a deploy that is no longer live need nothing (one still in progress is
    /// canceled). Stopping the instances of the live deploy suspends the service: that is how a
    /// first release is taken down on Render.
    async fn stop(&self, _target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let deploys: BTreeSet<String> = instances.iter().filter_map(|i| self.deploy_of(i)).collect();
        for id in deploys {
            self.stop_deploy(&id).await?;
        }
        Ok(())
    }

    async fn health(&self, _target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let Some(id) = self.deploy_of(instance) else {
            return Ok(InstanceHealth::Exited {
                reason: format!("no Render deploy is recorded for instance {}", instance.id),
            });
        };
        let deploy = match self.api.deploy(&id).await {
            Ok(deploy) => deploy,
            Err(e) if e.is(404) => {
                return Ok(InstanceHealth::Exited { reason: format!("deploy {id} is not found on Render") });
            }
            Err(e) => return Err(e.into()),
        };
        match deploy.status.as_str() {
            "live" => Ok(InstanceHealth::Running),
            "deactivated" => Ok(InstanceHealth::Exited {
                reason: format!("deploy {id} is deactivated (a later deploy replaced it)"),
            }),
            status @ ("build_failed" | "update_failed" | "pre_deploy_failed" | "canceled") => {
                Ok(InstanceHealth::Exited { reason: format!("deploy {id} is {status}") })
            }
            // In progress, or a status this adapter does not know yet: not ready.
            status => Err(PlatformError::new(format!("deploy {id} is {status}"))),
        }
    }

    async fn status(&self, _target: &Target) -> PlatformResult<PlatformStatus> {
        let (service, live) = futures_util::future::try_join(self.api.service(), self.api.live_deploy()).await?;
        let serving = live.filter(|_| !service.is_suspended());
        let mut traffic = Vec::new();
        let mut instances = Vec::new();
        if let Some(live) = serving {
            let version = self.version_of(&live).unwrap_or_else(|| live.id.clone());
            traffic.push(TrafficWeight { version: version.clone(), percent: 100 });
            let memory = self.memory();
            let mut ids: Vec<&String> =
                memory.instances.iter().filter(|(_, deploy)| **deploy == live.id).map(|(id, _)| id).collect();
            ids.sort();
            instances = ids
                .into_iter()
                .map(|id| Instance {
                    id: id.clone(),
                    version: version.clone(),
                    address: None,
                    pid: None,
                    state: InstanceState::Running,
                    platform_id: Some(live.id.clone()),
                })
                .collect();
        }
        Ok(PlatformStatus { endpoint: service.details.url, traffic, instances })
    }

    /// Render's native rollback to the deploy `to` ran (`known[0].platform_id`), or a new
    /// deploy of `to` when there is none or Render no longer keeps it. Does not wait for it to
    /// go live: `health` follows it.
    async fn restore(
        &self,
        _target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let count = known.len().max(1);
        let ids: Vec<String> = replacement_ids.iter().take(count).cloned().collect();
        if ids.is_empty() {
            return Err(PlatformError::new("restoring a release on Render needs at least one replacement id"));
        }
        let service = self.api.service().await?;
        self.resume_if_suspended(&service).await?;
        self.cancel_in_progress().await?;
        let previous = known.iter().find_map(|i| i.platform_id.clone().filter(|id| is_id(id)));
        let deploy = match previous {
            Some(previous) => {
                let wanted = Wanted { trigger: "rollback", image: to.image.as_deref(), commit: to.commit.as_deref() };
                match self.create("rollback", &json!({ "deployId": previous }), &wanted).await {
                    Ok(deploy) => deploy,
                    Err(e) if e.status.is_some_and(|s| (400..500).contains(&s) && s != 429) => {
                        tracing::warn!(platform = %self.name, error = %e, "Render refused the rollback; deploying the release again");
                        self.deploy_release(&service, to).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => self.deploy_release(&service, to).await?,
        };
        tracing::info!(platform = %self.name, deploy = %deploy.id, version = %to.version, "Render restore started");
        self.scale_to(&service, ids.len()).await?;
        let instances = swap::instances(&ids, &to.version, &deploy.id);
        self.remember(&deploy, &to.version, &instances);
        Ok(instances)
    }

    async fn logs(&self, _target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        let owner = self.owner().await?;
        let start = {
            let memory = self.memory();
            memory.instances.get(instance_id).and_then(|d| memory.created.get(d)).cloned()
        };
        logs::follow(logs::Follow {
            api: self.api.clone(),
            owner,
            instance_id: instance_id.to_owned(),
            start,
            poll: self.log_poll,
        })
        .await
    }

    /// Render's deploys outlive the engine: nothing to stop; followed logs end with their receivers.
    async fn shutdown(&self) -> PlatformResult<()> {
        Ok(())
    }
}
