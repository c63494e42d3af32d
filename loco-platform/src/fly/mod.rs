//! [`FlyPlatform`]: Loco on Fly.io through the Machines API. Each Loco instance is one Fly
//! machine, created for its release version and never updated in place; traffic moves by
//! cordoning and uncordoning machines (Fly has no weighted split).
//!
//! How each [`Platform`] method maps to the API:
//!
//! - `deploy`: one `POST /machines` per instance id, with `skip_service_registration` (created
//!   cordoned: no traffic), the release's image, its env and secret env (plus `LOCO_INSTANCE_ID`,
//!   `LOCO_VERSION`, `LOCO_SERVICE` and `PORT` when the release does not set it), and metadata
//!   `loco_instance_id`, `loco_version`, `loco_service`, `loco_environment`. The rest of the
//!   config (guest, services, checks, restart policy) comes from the newest machine of the target,
//!   else from the newest machine of the app that Loco did not create, else a default (a TCP
//!   service on `PORT` or 8080 with a TCP check). Volumes are not carried over, and services
//!   never auto-stop (a stopped machine would change the shares). A create is made once; when
//!   its outcome is unknown (no answer, 5xx, or `name_taken` — the machine is named after the
//!   instance id), the machine is looked up by its `loco_instance_id` before creating again.
//! - `health`: `GET /machines/{id}` — `started` with every defined check `passing` is running;
//!   booting, or checks not passing yet, is an error (the orchestrator retries); `failed`,
//!   `destroyed`, stopped, or a crash loop (an exit with a non-zero code after more than one
//!   restart) is exited.
//! - `set_traffic`: lists the target's machines and routes, per version, the number of started
//!   machines whose share is closest to the split (the `traffic` module documents the rounding); every
//!   other machine of the target is cordoned. Uncordons come before cordons, so serving never
//!   drops to nothing; each one holds a lease (`fly-machine-lease-nonce`) and releases it.
//! - `stop`: per machine, under a lease: cordon, stop, wait for `stopped`, destroy with
//!   `kill=true`. Machines already gone count as stopped.
//! - `restore`: keeps the known machines of the release that still exist, run its image and are
//!   booting or started (their routing is left as is); destroys known ones that stopped or
//!   failed, and creates replacements (as `deploy` does) for them.
//! - `status`: the target's machines; traffic is each version's share of the started,
//!   uncordoned machines; the endpoint is `https://{app}.fly.dev`.
//! - `logs`: polls the logs endpoint for the instance's machine with `next_token` every
//!   [`FlyOptions::log_poll_interval`] until the receiver is dropped or the machine is gone.
//! - `test_connection`: `GET /v1/apps/{app}`, naming a rejected token (401), a missing app
//!   (404) or an app of another organization (403).
//!
//! Secrets in `secret_env` are set as machine env, as the release asks; anyone who can read the
//! app's machine configs can read them (Fly app secrets are not used).

mod api;
#[cfg(test)]
mod fake_tests;
mod traffic;

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use loco_types::platform_config::{FLY_API_URL, FLY_LOGS_URL, FlySettings};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::http::{HttpClient, HttpError, HttpOptions, HttpTuning};
use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, LogStream, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficControl, TrafficWeight,
};
use api::{Api, Held, Machine, fly_message, unknown_outcome};

/// Metadata keys Loco sets on its machines.
const INSTANCE_KEY: &str = "loco_instance_id";
const VERSION_KEY: &str = "loco_version";
const SERVICE_KEY: &str = "loco_service";
const ENVIRONMENT_KEY: &str = "loco_environment";

/// How many times a create whose outcome stayed unknown (and that was not found) is made again.
const CREATE_ATTEMPTS: u32 = 4;

/// Tuning of a [`FlyPlatform`] (tests shorten the timeouts).
#[derive(Debug, Clone)]
pub struct FlyOptions {
    /// Timeouts, retries and concurrency of its HTTP clients; `http.backoff` is also the pause
    /// before a create is repeated.
    pub http: HttpTuning,
    /// The TTL of the leases taken around a cordon or uncordon (flyctl uses 13 s); the lease around
    /// a stop and destroy lasts at least [`FlyOptions::stop_wait`] + 10 s.
    pub lease_ttl: Duration,
    /// How long `stop` waits for a machine to reach `stopped` before it kills it anyway.
    pub stop_wait: Duration,
    /// How often `logs` polls for new lines.
    pub log_poll_interval: Duration,
}

impl Default for FlyOptions {
    fn default() -> Self {
        Self {
            http: HttpTuning::default(),
            lease_ttl: Duration::from_secs(13),
            stop_wait: Duration::from_secs(20),
            log_poll_interval: Duration::from_secs(1),
        }
    }
}

/// A Fly.io app as a Loco platform.
pub struct FlyPlatform {
    name: String,
    region: Option<String>,
    api: Api,
    options: FlyOptions,
    log_tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for FlyPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlyPlatform").field("name", &self.name).field("app", &self.api.app).finish_non_exhaustive()
    }
}

/// The `Authorization` value for a Fly token: macaroons (`fm1…`, `fm2…`, or already `FlyV1 …`)
/// as `FlyV1`, anything else as `Bearer`.
fn authorization(token: &str) -> String {
    let token = token.trim();
    if token.starts_with("FlyV1 ") {
        token.to_owned()
    } else if token.starts_with("fm1") || token.starts_with("fm2") {
        format!("FlyV1 {token}")
    } else {
        format!("Bearer {token}")
    }
}

/// The machine name Loco gives an instance's machine (unique in the app, so a repeated create
/// is refused with `name_taken` instead of making a second machine).
fn machine_name(instance_id: &str) -> String {
    instance_id.to_ascii_lowercase().replace('_', "-")
}

fn failed(what: &str, e: &HttpError) -> PlatformError {
    PlatformError::new(format!("Fly.io: {what}: {e}"))
}

impl FlyPlatform {
    /// The platform `name` for the app in `settings`, authenticating with `token`.
    pub fn new(name: &str, settings: &FlySettings, token: &str) -> PlatformResult<Self> {
        Self::with_options(name, settings, token, FlyOptions::default())
    }

    /// The same with other timeouts and intervals.
    pub fn with_options(name: &str, settings: &FlySettings, token: &str, options: FlyOptions) -> PlatformResult<Self> {
        if token.trim().is_empty() {
            return Err(PlatformError::new(format!("platform '{name}': the Fly.io API token is empty")));
        }
        let http = |base: &str| {
            let mut http = HttpOptions::new("Fly.io", base, authorization(token));
            http.request_id_header = Some("fly-request-id");
            http.tuning = options.http;
            HttpClient::new(http, fly_message)
        };
        let api = Api {
            machines: http(settings.api_url.as_deref().unwrap_or(FLY_API_URL))?,
            logs: http(settings.logs_url.as_deref().unwrap_or(FLY_LOGS_URL))?,
            app: settings.app.clone(),
        };
        Ok(Self {
            name: name.to_owned(),
            region: settings.region.clone(),
            api,
            options,
            log_tasks: Mutex::new(Vec::new()),
        })
    }

    /// The machines Loco runs for `target`.
    async fn target_machines(&self, target: &Target) -> PlatformResult<Vec<Machine>> {
        let filter = [(SERVICE_KEY, target.service.as_str()), (ENVIRONMENT_KEY, target.environment.as_str())];
        self.api.list(&filter).await.map_err(|e| failed(&format!("listing the machines of {target}"), &e))
    }

    /// The machine of instance `id`, found by its metadata.
    async fn find_instance(&self, id: &str) -> PlatformResult<Option<Machine>> {
        let found = self.api.list(&[(INSTANCE_KEY, id)]).await;
        Ok(found.map_err(|e| failed(&format!("looking up the machine of instance {id}"), &e))?.into_iter().next())
    }

    /// The machine of `instance`: by its recorded platform id, else by its metadata.
    async fn machine_of(&self, instance: &Instance) -> PlatformResult<Option<Machine>> {
        match &instance.platform_id {
            Some(id) => {
                self.api.get(id).await.map_err(|e| failed(&format!("reading machine {id} ({})", instance.id), &e))
            }
            None => self.find_instance(&instance.id).await,
        }
    }

    /// The config new machines of `target` start from (see the module documentation).
    async fn template(&self, target: &Target) -> PlatformResult<Option<Value>> {
        let all = self.api.list(&[]).await.map_err(|e| failed("listing the app's machines", &e))?;
        let newest = |a: &&Machine, b: &&Machine| a.created_at.cmp(&b.created_at);
        let own = all
            .iter()
            .filter(|m| {
                m.meta(SERVICE_KEY) == Some(target.service.as_str())
                    && m.meta(ENVIRONMENT_KEY) == Some(target.environment.as_str())
            })
            .max_by(newest);
        let foreign = all
            .iter()
            .filter(|m| {
                m.meta(INSTANCE_KEY).is_none()
                    && m.config.get("services").and_then(Value::as_array).is_some_and(|s| !s.is_empty())
            })
            .max_by(newest);
        Ok(own.or(foreign).map(|m| m.config.clone()))
    }

    /// The full config of instance `id` of `release`.
    fn config(template: Option<&Value>, target: &Target, release: &ReleaseSpec, image: &str, id: &str) -> Value {
        let mut config = template.filter(|t| t.is_object()).cloned().unwrap_or_else(|| default_config(release));
        if let Some(object) = config.as_object_mut() {
            object.remove("mounts");
            object.remove("standbys");
        }
        for service in config.get_mut("services").and_then(Value::as_array_mut).into_iter().flatten() {
            service["autostop"] = json!("off");
        }
        let port = config
            .get("services")
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("internal_port"))
            .and_then(Value::as_u64)
            .unwrap_or(8080);
        let mut env: BTreeMap<String, String> = release.env.clone();
        env.extend(release.secret_env.clone());
        env.entry("PORT".to_owned()).or_insert_with(|| port.to_string());
        env.insert("LOCO_INSTANCE_ID".to_owned(), id.to_owned());
        env.insert("LOCO_VERSION".to_owned(), release.version.clone());
        env.insert("LOCO_SERVICE".to_owned(), target.service.clone());
        config["image"] = json!(image);
        config["env"] = json!(env);
        config["metadata"] = json!({
            INSTANCE_KEY: id,
            VERSION_KEY: release.version,
            SERVICE_KEY: target.service,
            ENVIRONMENT_KEY: target.environment,
        });
        config
    }

    /// Creates the machine of instance `id`, cordoned; an unknown outcome is resolved by looking
    /// the machine up before creating again.
    async fn create(&self, config: Value, id: &str) -> PlatformResult<Machine> {
        let mut body = json!({ "name": machine_name(id), "config": config, "skip_service_registration": true });
        if let Some(region) = &self.region {
            body["region"] = json!(region);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.api.create(&body).await {
                Ok(machine) => return Ok(machine),
                Err(e) if unknown_outcome(&e) || e.is(422) => e,
                Err(e) => return Err(failed(&format!("creating the machine of instance {id}"), &e)),
            };
            if let Some(machine) = self.find_instance(id).await? {
                tracing::info!(platform = %self.name, instance = id, machine = %machine.id, "a create whose answer was lost had made the machine");
                return Ok(machine);
            }
            if error.is(422) || attempt >= CREATE_ATTEMPTS {
                return Err(failed(&format!("creating the machine of instance {id}"), &error));
            }
            tracing::warn!(platform = %self.name, instance = id, error = %error, "create outcome unknown and no machine found; creating again");
            tokio::time::sleep(self.options.http.backoff.saturating_mul(attempt)).await;
        }
    }

    /// Creates one machine of `release` per id in `ids`.
    async fn create_all(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let image = image_of(release)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let template = self.template(target).await?;
        let creates = ids.iter().map(|id| {
            let config = Self::config(template.as_ref(), target, release, image, id);
            async move { self.create(config, id).await.map(|m| running(id, &release.version, &m)) }
        });
        let results = futures_util::future::join_all(creates).await;
        let made = results.iter().filter(|r| r.is_ok()).count();
        let mut instances = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(instance) => instances.push(instance),
                Err(e) => {
                    return Err(PlatformError::new(format!(
                        "{} (created {made} of {} machine(s) of {})",
                        e.message,
                        ids.len(),
                        release.version
                    )));
                }
            }
        }
        Ok(instances)
    }

    /// Runs `work` on machine `id` under a lease of `ttl`, then releases it unless `work` says
    /// the machine is gone; `Ok(false)` when it is.
    async fn leased<F, Fut>(&self, id: &str, ttl: Duration, work: F) -> PlatformResult<bool>
    where
        F: FnOnce(Held) -> Fut,
        Fut: Future<Output = Result<(bool, Held), HttpError>>,
    {
        let Some(held) =
            self.api.lease(id, ttl.as_secs().max(1)).await.map_err(|e| failed(&format!("leasing machine {id}"), &e))?
        else {
            return Ok(false);
        };
        let (present, held) = work(held).await.map_err(|e| failed(&format!("changing machine {id}"), &e))?;
        if present && let Err(e) = self.api.release(id, &held).await {
            // The lease expires by its TTL anyway.
            tracing::warn!(platform = %self.name, machine = id, error = %e, "releasing a lease failed");
        }
        Ok(present)
    }

    /// Cordons (`route == false`) or uncordons machine `id`.
    async fn route(&self, id: &str, route: bool) -> PlatformResult<()> {
        let action = if route { "uncordon" } else { "cordon" };
        let present = self
            .leased(id, self.options.lease_ttl, |held| async move {
                let present = self.api.act(id, action, &held, None).await?;
                Ok((present, held))
            })
            .await?;
        if route && !present {
            return Err(PlatformError::new(format!("Fly.io: machine {id} disappeared before it could take traffic")));
        }
        Ok(())
    }

    /// Takes machine `id` out of routing, stops it and destroys it; a machine already gone is done.
    async fn retire(&self, id: &str) -> PlatformResult<()> {
        let stop_wait =
            self.options.stop_wait.min(self.options.http.request_timeout.saturating_sub(Duration::from_secs(1)));
        // Held through the wait for `stopped`, so it outlasts it.
        let ttl = self.options.lease_ttl.max(stop_wait + Duration::from_secs(10));
        self.leased(id, ttl, |held| async move {
            if !self.api.act(id, "cordon", &held, None).await? {
                return Ok((false, held));
            }
            match self.api.act(id, "stop", &held, Some(&json!({ "timeout": "10s" }))).await {
                Ok(true) => {
                    if let Some(version) = &held.version
                        && !self.api.wait_stopped(id, version, stop_wait).await?
                    {
                        tracing::info!(platform = %self.name, machine = id, "not stopped in time; killing it");
                    }
                }
                Ok(false) => return Ok((false, held)),
                // A machine that cannot be stopped from its state (failed, stopped) is destroyed all the same.
                Err(e) if e.is(412) => {}
                Err(e) => return Err(e),
            }
            self.api.destroy(id, &held).await?;
            Ok((false, held))
        })
        .await
        .map(drop)
    }

    /// Retires every machine in `ids` concurrently; the errors, if any, together.
    async fn retire_all(&self, ids: &[String]) -> PlatformResult<()> {
        let results = futures_util::future::join_all(ids.iter().map(|id| self.retire(id))).await;
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).map(|e| e.message).collect();
        if errors.is_empty() { Ok(()) } else { Err(PlatformError::new(errors.join("; "))) }
    }
}

fn image_of(release: &ReleaseSpec) -> PlatformResult<&str> {
    release.image.as_deref().map(str::trim).filter(|i| !i.is_empty()).ok_or_else(|| {
        PlatformError::new(format!(
            "release.image is required on Fly.io (the image reference machines of {} run, e.g. registry.fly.io/app:tag)",
            release.version
        ))
    })
}

/// The config used when neither the target nor the app has a machine to start from.
fn default_config(release: &ReleaseSpec) -> Value {
    let port = release.env.get("PORT").and_then(|p| p.parse::<u16>().ok()).unwrap_or(8080);
    json!({
        "guest": { "cpu_kind": "shared", "cpus": 1, "memory_mb": 256 },
        "services": [{
            "protocol": "tcp",
            "internal_port": port,
            "autostart": true,
            "ports": [
                { "port": 80, "handlers": ["http"], "force_https": true },
                { "port": 443, "handlers": ["tls", "http"] },
            ],
            "checks": [{ "type": "tcp", "interval": "15s", "timeout": "2s", "grace_period": "5s" }],
        }],
        "restart": { "policy": "on-failure", "max_retries": 10 },
    })
}

/// The Loco instance `id` of `version` running on `machine`.
fn running(id: &str, version: &str, machine: &Machine) -> Instance {
    Instance {
        id: id.to_owned(),
        version: version.to_owned(),
        address: None,
        pid: None,
        state: InstanceState::Running,
        platform_id: Some(machine.id.clone()),
    }
}

/// Booting or started: on its way to serving.
fn up(machine: &Machine) -> bool {
    matches!(machine.state.as_str(), "created" | "starting" | "started" | "replacing" | "updating" | "restarting")
}

/// What `health` reports for `machine`.
fn classify(machine: &Machine, instance_id: &str) -> PlatformResult<InstanceHealth> {
    let id = &machine.id;
    let exited = |reason: String| Ok(InstanceHealth::Exited { reason });
    if let Some((code, restarts)) = machine.crash_loop() {
        return exited(format!("machine {id} is crash-looping: exited with code {code} after {restarts} restarts"));
    }
    match machine.state.as_str() {
        "started" => {}
        "failed" | "launch_failed" => {
            return exited(format!("machine {id} is {} (its process kept exiting or could not launch)", machine.state));
        }
        "destroying" | "destroyed" => return exited(format!("machine {id} was destroyed")),
        "stopped" | "stopping" | "suspended" | "suspending" => {
            return exited(format!("machine {id} is {}", machine.state));
        }
        state if up(machine) => {
            return Err(PlatformError::new(format!("machine {id} ({instance_id}) is {state}, not started yet")));
        }
        other => return Err(PlatformError::new(format!("machine {id} ({instance_id}) is in state '{other}'"))),
    }
    let defined = machine.defined_checks();
    if machine.checks.len() < defined {
        return Err(PlatformError::new(format!(
            "machine {id} ({instance_id}) is started; {} of {defined} check(s) reported so far",
            machine.checks.len()
        )));
    }
    let failing: Vec<String> = machine
        .checks
        .iter()
        .filter(|c| c.status != "passing")
        .map(|c| {
            if c.output.is_empty() {
                format!("{} {}", c.name, c.status)
            } else {
                format!("{} {} ({})", c.name, c.status, c.output)
            }
        })
        .collect();
    if failing.is_empty() {
        Ok(InstanceHealth::Running)
    } else {
        Err(PlatformError::new(format!(
            "machine {id} ({instance_id}) is started but not healthy: {}",
            failing.join(", ")
        )))
    }
}

/// The Loco instance `machine` runs, as `status` shows it.
fn instance_of(machine: &Machine) -> Instance {
    let state = match machine.state.as_str() {
        "started" => InstanceState::Running,
        _ if up(machine) => InstanceState::Starting,
        _ => InstanceState::Stopped,
    };
    Instance {
        id: machine.meta(INSTANCE_KEY).unwrap_or(&machine.id).to_owned(),
        version: machine.meta(VERSION_KEY).unwrap_or_default().to_owned(),
        address: None,
        pid: None,
        state,
        platform_id: Some(machine.id.clone()),
    }
}

#[async_trait]
impl Platform for FlyPlatform {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { traffic: TrafficControl::InstanceCount, native_rollback: false, logs: true, metrics: false }
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        let app = &self.api.app;
        match self.api.app().await {
            Ok(_) => Ok(()),
            Err(e) if e.is(401) => Err(PlatformError::new(format!(
                "Fly.io rejected the API token of platform '{}' (token rejected: {e}); create a new one with \
                 `fly tokens create deploy -a {app}`",
                self.name
            ))),
            Err(e) if e.is(404) => Err(PlatformError::new(format!("Fly.io app '{app}' not found ({e})"))),
            Err(e) if e.is(403) => Err(PlatformError::new(format!(
                "Fly.io app '{app}' belongs to another organization than the token's ({e})"
            ))),
            Err(e) => Err(failed(&format!("reaching app '{app}'"), &e)),
        }
    }

    async fn deploy(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        instance_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        self.create_all(target, release, instance_ids).await
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let machines = self.target_machines(target).await?;
        let started = |version: &str| -> Vec<&Machine> {
            let mut of: Vec<&Machine> =
                machines.iter().filter(|m| m.state == "started" && m.meta(VERSION_KEY) == Some(version)).collect();
            // Machines already routed first (fewest changes), then oldest.
            of.sort_by(|a, b| {
                a.cordoned.cmp(&b.cordoned).then_with(|| a.created_at.cmp(&b.created_at)).then(a.id.cmp(&b.id))
            });
            of
        };
        let candidates: Vec<Vec<&Machine>> = split.iter().map(|w| started(&w.version)).collect();
        let wanted: Vec<(u8, usize)> = split.iter().zip(&candidates).map(|(w, c)| (w.percent, c.len())).collect();
        let counts = traffic::machine_counts(&wanted).map_err(|missing| {
            let w = &split[missing];
            PlatformError::new(format!(
                "Fly.io: version {} of {target} has no started machine to take its {}% of traffic",
                w.version, w.percent
            ))
        })?;
        let routed: HashSet<&str> =
            candidates.iter().zip(&counts).flat_map(|(c, n)| c.iter().take(*n).map(|m| m.id.as_str())).collect();
        let uncordon: Vec<&str> =
            machines.iter().filter(|m| m.cordoned && routed.contains(m.id.as_str())).map(|m| m.id.as_str()).collect();
        let cordon: Vec<&str> =
            machines.iter().filter(|m| !m.cordoned && !routed.contains(m.id.as_str())).map(|m| m.id.as_str()).collect();
        tracing::debug!(platform = %self.name, %target, ?counts, uncordon = uncordon.len(), cordon = cordon.len(), "routing machines");
        for (ids, route) in [(uncordon, true), (cordon, false)] {
            let results = futures_util::future::join_all(ids.iter().map(|id| self.route(id, route))).await;
            let errors: Vec<String> = results.into_iter().filter_map(Result::err).map(|e| e.message).collect();
            if !errors.is_empty() {
                return Err(PlatformError::new(errors.join("; ")));
            }
        }
        Ok(())
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let mut ids: Vec<String> = instances.iter().filter_map(|i| i.platform_id.clone()).collect();
        let unrecorded: HashSet<&str> =
            instances.iter().filter(|i| i.platform_id.is_none()).map(|i| i.id.as_str()).collect();
        if !unrecorded.is_empty() {
            // Instances whose create answer never arrived: found by the metadata they were created with.
            let machines = self.target_machines(target).await?;
            ids.extend(
                machines
                    .into_iter()
                    .filter(|m| m.meta(INSTANCE_KEY).is_some_and(|i| unrecorded.contains(i)))
                    .map(|m| m.id),
            );
        }
        self.retire_all(&ids).await
    }

    async fn health(&self, _target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        match self.machine_of(instance).await? {
            Some(machine) => classify(&machine, &instance.id),
            None => {
                Ok(InstanceHealth::Exited { reason: format!("no Fly machine runs instance {} any more", instance.id) })
            }
        }
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        let machines = self.target_machines(target).await?;
        let mut routed: BTreeMap<String, usize> = BTreeMap::new();
        for m in machines.iter().filter(|m| m.state == "started" && !m.cordoned) {
            *routed.entry(m.meta(VERSION_KEY).unwrap_or_default().to_owned()).or_default() += 1;
        }
        Ok(PlatformStatus {
            endpoint: Some(format!("https://{}.fly.dev", self.api.app)),
            traffic: traffic::shares(&routed.into_iter().collect::<Vec<_>>()),
            instances: machines.iter().map(instance_of).collect(),
        })
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let image = image_of(to)?;
        let mut kept = Vec::new();
        let mut broken = Vec::new();
        for instance in known {
            match self.machine_of(instance).await? {
                Some(m) if up(&m) && m.image() == image && m.meta(VERSION_KEY) == Some(to.version.as_str()) => {
                    kept.push(running(&instance.id, &to.version, &m));
                }
                Some(m) => broken.push(m.id),
                None => {}
            }
        }
        self.retire_all(&broken).await?;
        let missing = known.len().saturating_sub(kept.len()).max(usize::from(kept.is_empty()));
        let ids: Vec<String> = replacement_ids.iter().take(missing).cloned().collect();
        if ids.len() < missing {
            return Err(PlatformError::new(format!(
                "restoring {} of {target} needs {missing} replacement id(s), got {}",
                to.version,
                replacement_ids.len()
            )));
        }
        kept.extend(self.create_all(target, to, &ids).await?);
        Ok(kept)
    }

    async fn logs(&self, _target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        let machine = self
            .find_instance(instance_id)
            .await?
            .ok_or_else(|| PlatformError::new(format!("no Fly machine runs instance {instance_id}")))?;
        let (tx, rx) = mpsc::channel(256);
        let api = self.api.clone();
        let every = self.options.log_poll_interval;
        let instance_id = instance_id.to_owned();
        let task = tokio::spawn(follow(api, machine.id, instance_id, every, tx));
        let mut tasks = self.log_tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(rx)
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        // Machines outlive the engine; only the log followers are this process's.
        let mut tasks = self.log_tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
        Ok(())
    }
}

/// Sends machine `machine_id`'s log lines to `tx` until the receiver is dropped or the machine
/// is gone (after its last lines).
async fn follow(api: Api, machine_id: String, instance_id: String, every: Duration, tx: mpsc::Sender<LogLine>) {
    let mut token = String::new();
    loop {
        let mut gone = false;
        match api.logs(&machine_id, &token).await {
            Ok(page) => {
                let empty = page.data.is_empty();
                for entry in page.data {
                    let stream = match entry.attributes.level.as_str() {
                        "error" | "err" | "fatal" | "crit" => LogStream::Stderr,
                        _ => LogStream::Stdout,
                    };
                    let line = LogLine { instance_id: instance_id.clone(), stream, line: entry.attributes.message };
                    if tx.send(line).await.is_err() {
                        return;
                    }
                }
                if !page.meta.next_token.is_empty() {
                    token = page.meta.next_token;
                }
                if empty {
                    gone = matches!(api.get(&machine_id).await, Ok(None));
                }
            }
            Err(e) => tracing::debug!(machine = %machine_id, error = %e, "reading logs failed; trying again"),
        }
        if gone {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macaroons_go_as_flyv1_and_other_tokens_as_bearer() {
        assert_eq!(authorization("fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm1r_abc"), "FlyV1 fm1r_abc");
        assert_eq!(authorization(" FlyV1 fm2_abc,fm2_def "), "FlyV1 fm2_abc,fm2_def");
        assert_eq!(authorization("oauth-token"), "Bearer oauth-token");
    }

    #[test]
    fn machine_names_follow_instance_ids() {
        assert_eq!(machine_name("ins_01HABCDEF"), "ins-01habcdef");
    }

    #[test]
    fn a_release_without_an_image_is_refused_naming_the_field() {
        let err = image_of(&ReleaseSpec { version: "v1".into(), ..ReleaseSpec::default() }).unwrap_err();
        assert!(err.message.starts_with("release.image is required"), "{err}");
    }
}
