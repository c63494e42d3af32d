//! The orchestrator: executes a rollout's steps on its platform, persists progress after every
//! step, rolls back to the previous release when a step fails or a rollback is requested, and
//! recovers rollouts whose engine died.
//!
//! Crash safety rests on four rules: instance ids are recorded *before* the platform starts
//! them; every step's outcome is recorded before the next step begins; only the engine holding a
//! rollout's lease (see [`crate::lease`]) may write it or call the platform for it; and a rollout
//! found unfinished after its engine stopped is rolled back (restoring the previous release at
//! 100 %), unless all its steps had completed, in which case it is marked succeeded. Rolling back
//! rather than resuming is the default: the new release was not observed while the engine was
//! down, and the previous release is the last state known to be good.

mod execution;
mod observe;
mod requests;
mod restart;
mod resume;
mod rollback;
mod scripts;
mod validation;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use loco_platform::extensions::{Extensions, HealthProbe};
use loco_platform::health;
use loco_platform::metrics::MetricSource;
use loco_platform::metrics::prometheus::PrometheusSource;
use loco_platform::time_limit::{CallLimits, TimeLimited};
use loco_platform::{Instance, InstanceState, Platform, Target};
use loco_store::{BeginRollout, NewEvent, RolloutUpdate, Store};
use loco_types::analysis::Thresholds;
use loco_types::error::FieldError;
use loco_types::event_data::RolloutTurn;
use loco_types::lifecycle::{self, Action, ActionInput, Status};
use loco_types::model::Timestamp;
use loco_types::plan::{MetricSourceSpec, Probe, RolloutPlan};
use loco_types::rollout::{Release, Rollout, RolloutFailure, RolloutState};
use loco_types::{Error, Result};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::lease;
use crate::observer::{RolloutLabels, RolloutObserver};
use crate::secrets::SecretOpener;
use execution::Execution;
pub use scripts::log_key as script_log_key;

/// The actor recorded for what the orchestrator does on its own (succeed, fail, automatic rollback).
pub const SYSTEM_ACTOR: &str = "loco";
/// Consecutive failed checks of one instance, while a step is observed, that fail the rollout.
pub const CONSECUTIVE_FAILURES: u32 = 3;

/// A started rollout; [`wait`](Self::wait) for its outcome, or watch the engine's events.
pub struct RolloutHandle {
    deployment_id: String,
    done: watch::Receiver<bool>,
    store: Arc<dyn Store>,
}

impl RolloutHandle {
    /// The deployment being rolled out.
    pub fn deployment_id(&self) -> &str {
        &self.deployment_id
    }

    /// Waits until the rollout has stopped working (succeeded, rolled back, failed to roll back,
    /// or was suspended by the engine closing) and returns its record.
    pub async fn wait(mut self) -> Result<Rollout> {
        let _ = self.done.wait_for(|done| *done).await;
        self.store.rollout(&self.deployment_id).await
    }
}

/// A request sent to a running execution.
#[derive(Debug, Clone)]
enum Interrupt {
    /// Roll back now, on behalf of this person, for this request (`loco_store::context`).
    Rollback(ActionInput, Option<String>),
    /// Continue a paused rollout, on behalf of this person, for this request.
    Override(ActionInput, Option<String>),
    /// Stop working and hand the rollout back (the engine is closing; the next engine recovers).
    Suspend,
    /// Stop working at once, writing nothing: another engine holds the rollout now.
    Abandon,
}

struct Running {
    interrupts: mpsc::UnboundedSender<Interrupt>,
    done: watch::Receiver<bool>,
}

/// How an execution starts.
enum Mode {
    /// Execute the steps.
    Run,
    /// Finish a rollout taken over from a dead engine.
    Recover,
    /// Restore the previous release of a finished rollout, on behalf of this person.
    Rollback(ActionInput),
    /// Restore this retained release instead of the previous one, on behalf of this person.
    RollbackTo(ActionInput, Box<Release>),
}

/// Why a rollout is being rolled back.
enum Reason {
    /// A step failed; `Instant` is when the deciding sample or check arrived, when known.
    Failed(RolloutFailure, Option<Instant>),
    Requested(ActionInput),
    /// The rollback was already recorded by an engine that died; finish it.
    Resume,
}

/// Why a step stopped the rollout.
enum Halt {
    Failed(RolloutFailure, Option<Instant>),
    Interrupted(Interrupt),
}

/// Runs rollouts for one engine.
pub struct Orchestrator {
    store: Arc<dyn Store>,
    observer: Arc<dyn RolloutObserver>,
    secrets: Arc<dyn SecretOpener>,
    platforms: RwLock<HashMap<String, Arc<dyn Platform>>>,
    extensions: Extensions,
    script_logs: scripts::ScriptLogs,
    limit: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    thresholds: RwLock<HashMap<String, Thresholds>>,
    owner: String,
    lease: RwLock<Duration>,
    scan: Mutex<Option<tokio::task::JoinHandle<()>>>,
    release_retention: RwLock<u32>,
    /// Pending scale-downs by deployment; also the gate a scale-down and a rollback of the same
    /// deployment pass one at a time.
    scale_downs: Arc<tokio::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>>,
}

/// Releases kept per service and environment by default.
pub const DEFAULT_RELEASE_RETENTION: u32 = 20;

impl Orchestrator {
    /// An orchestrator recording through `store`, reporting to `observer`, opening sealed secrets
    /// with `secrets`, executing at most `max_concurrent` rollouts at once.
    pub fn new(
        store: Arc<dyn Store>,
        observer: Arc<dyn RolloutObserver>,
        secrets: Arc<dyn SecretOpener>,
        max_concurrent: usize,
    ) -> Self {
        Self {
            store,
            observer,
            secrets,
            platforms: RwLock::new(HashMap::new()),
            extensions: Extensions::default(),
            script_logs: scripts::ScriptLogs::default(),
            limit: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Mutex::new(HashMap::new()),
            thresholds: RwLock::new(HashMap::new()),
            owner: lease::new_owner(),
            lease: RwLock::new(lease::DEFAULT_LEASE),
            scan: Mutex::new(None),
            release_retention: RwLock::new(DEFAULT_RELEASE_RETENTION),
            scale_downs: Arc::default(),
        }
    }

    /// Sets how many releases each service and environment keeps in its history (default 20,
    /// at least 2); older ones are dropped when a release is activated.
    pub fn set_release_retention(&self, releases: u32) {
        *self.release_retention.write().unwrap_or_else(std::sync::PoisonError::into_inner) = releases.max(2);
    }

    /// The release retention in force.
    pub fn release_retention(&self) -> u32 {
        *self.release_retention.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After a success with a scale-down delay, stops the previous release's instances once the
    /// delay passed — unless the rollout was rolled back meanwhile (which cancels it).
    fn scale_down_later(&self, rollout: &Rollout, platform: Arc<dyn Platform>) {
        let delay = rollout.plan.scale_down_delay_seconds;
        let Some(previous) = rollout.previous.clone() else { return };
        let stopped: Vec<&str> = rollout
            .progress
            .instances
            .iter()
            .filter(|i| i.state == InstanceState::Stopped)
            .map(|i| i.id.as_str())
            .collect();
        let victims: Vec<Instance> = previous
            .instances
            .iter()
            .filter(|i| i.state == InstanceState::Running && !stopped.contains(&i.id.as_str()))
            .cloned()
            .collect();
        if delay <= 0.0 || victims.is_empty() {
            return;
        }
        let (store, id, lease) = (self.store.clone(), rollout.deployment_id.clone(), rollout.lease);
        let target = Target { service: rollout.service.clone(), environment: rollout.environment.clone() };
        let gate = self.scale_downs.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            let mut pending = gate.lock().await;
            pending.remove(&task_id);
            let Ok(current) = store.rollout(&task_id).await else { return };
            if current.lease != lease || current.state != RolloutState::Succeeded {
                return;
            }
            if let Err(e) = platform.stop(&target, &victims).await {
                tracing::warn!(deployment_id = %task_id, error = %e, "stopping the previous release after its delay failed");
                return;
            }
            let mut progress = current.progress;
            for victim in &victims {
                progress.upsert(Instance { state: InstanceState::Stopped, ..victim.clone() });
            }
            let note = format!(
                "stopped {} instance(s) of {} after the scale-down delay of {delay} s",
                victims.len(),
                previous.version
            );
            let data =
                execution::turn(RolloutTurn::ScaledDown { version: previous.version, instances: victims.len() as u32 });
            let update = RolloutUpdate {
                progress: Some(progress),
                events: vec![NewEvent::new(SYSTEM_ACTOR, note, data)],
                fence: Some(lease),
                ..RolloutUpdate::default()
            };
            if let Err(e) = store.update_rollout(&task_id, update).await {
                tracing::warn!(deployment_id = %task_id, error = %e, "recording the scale-down failed");
            }
        });
        if let Ok(mut pending) = self.scale_downs.try_lock() {
            pending.insert(id, task);
        } else {
            let gate = self.scale_downs.clone();
            tokio::spawn(async move {
                gate.lock().await.insert(id, task);
            });
        }
    }

    /// Cancels the pending scale-down of a deployment (its previous release is about to be
    /// restored); waits for one that is stopping instances right now to finish.
    async fn cancel_scale_down(&self, id: &str) {
        if let Some(task) = self.scale_downs.lock().await.remove(id) {
            task.abort();
        }
    }

    /// Sets how long a silent owner keeps its rollouts (default 30 s): it writes a heartbeat six
    /// times per lease, and takes over others' rollouts whose heartbeat is older.
    pub fn set_lease(&self, lease: Duration) {
        *self.lease.write().unwrap_or_else(std::sync::PoisonError::into_inner) = lease.max(Duration::from_millis(300));
    }

    /// The lease in force.
    pub fn lease(&self) -> Duration {
        *self.lease.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This engine's owner name (`host/pid/start-time/engine`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Registers a platform that plans can name (replacing one of the same name).
    pub fn register(&self, platform: Arc<dyn Platform>) {
        self.platforms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(platform.name().to_owned(), platform);
    }

    /// Unregisters the platform named `name` (rollouts already running keep their handle on it).
    pub fn unregister(&self, name: &str) {
        self.platforms.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(name);
    }

    /// Every registered platform.
    pub fn platforms(&self) -> Vec<Arc<dyn Platform>> {
        self.platforms.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect()
    }

    /// The platform named `name`, or a validation error listing the registered ones.
    pub fn platform(&self, name: &str) -> Result<Arc<dyn Platform>> {
        let platforms = self.platforms.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        platforms.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<&String> = platforms.keys().collect();
            known.sort();
            Error::invalid("platform", format!("no platform named '{name}' is registered (registered: {known:?})"))
        })
    }

    /// Registers a health probe that plans can name as `{"type": "host", "name": …}` (replacing
    /// one of the same name).
    pub fn register_probe(&self, probe: Arc<dyn HealthProbe>) {
        self.extensions.register_probe(probe);
    }

    /// Registers a metric source that analysis can name as `{"type": "host", "name": …}`
    /// (replacing one of the same name).
    pub fn register_metric_source(&self, source: Arc<dyn MetricSource>) {
        self.extensions.register_metric_source(source);
    }

    /// The output of a deployment's script (`key` is `script:<hook>:<name>`) when it ran on this
    /// engine lately: recent lines, then new ones until it ends.
    pub fn script_log(&self, deployment_id: &str, key: &str) -> Option<Arc<loco_platform::scripts::ScriptLog>> {
        self.script_logs.get(deployment_id, key)
    }

    /// Where a rollout of `plan` on `platform` reads its metrics: the source its analysis names
    /// (the platform's own without analysis), `None` when that source is not there.
    pub fn metric_source(&self, plan: &RolloutPlan, platform: &Arc<dyn Platform>) -> Option<Arc<dyn MetricSource>> {
        match plan.analysis.as_ref().map_or(&MetricSourceSpec::Platform, |a| &a.source) {
            MetricSourceSpec::Platform => platform.metric_source(),
            MetricSourceSpec::Prometheus(spec) => Some(Arc::new(PrometheusSource::new(spec.clone()))),
            MetricSourceSpec::Host { name } => self.extensions.metric_source(name),
        }
    }

    /// Where health checks on `platform` run: it, and the host's probes.
    fn checker<'a>(&'a self, platform: &'a dyn Platform) -> health::Checker<'a> {
        health::Checker { platform, extensions: &self.extensions }
    }

    /// Refuses a plan naming a host probe or metric source that is not registered.
    fn check_extensions(&self, plan: &RolloutPlan) -> Result<()> {
        let mut details = Vec::new();
        for (i, probe) in plan.health.probes.iter().enumerate() {
            if let Probe::Host { name } = probe
                && self.extensions.probe(name).is_none()
            {
                let known = self.extensions.probe_names();
                let why = format!("no host probe named '{name}' is registered (registered: {known:?})");
                details.push(FieldError::new(format!("health.probes[{i}].name"), why));
            }
        }
        if let Some(MetricSourceSpec::Host { name }) = plan.analysis.as_ref().map(|a| &a.source)
            && self.extensions.metric_source(name).is_none()
        {
            let known = self.extensions.metric_source_names();
            let why = format!("no metric source named '{name}' is registered (registered: {known:?})");
            details.push(FieldError::new("analysis.source.name", why));
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// Sets the analysis thresholds of one environment (names compare case-insensitively).
    pub fn set_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()> {
        thresholds.validate(&format!("thresholds.{environment}."))?;
        self.thresholds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(environment.trim().to_lowercase(), thresholds);
        Ok(())
    }

    /// Every environment's thresholds, by (lower-case) name.
    pub fn thresholds(&self) -> std::collections::BTreeMap<String, Thresholds> {
        let by_env = self.thresholds.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        by_env.iter().map(|(e, t)| (e.clone(), t.clone())).collect()
    }

    /// The thresholds a rollout uses: its plan's, else its environment's, else the defaults.
    fn thresholds_for(&self, rollout: &Rollout) -> Thresholds {
        if let Some(t) = rollout.plan.analysis.as_ref().and_then(|a| a.thresholds.clone()) {
            return t;
        }
        let by_env = self.thresholds.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        by_env.get(&rollout.environment.trim().to_lowercase()).cloned().unwrap_or_default()
    }

    /// Tells the observer that `rollout`'s deployment reached `status`.
    fn report_status(&self, rollout: &Rollout, status: Status) {
        let labels = RolloutLabels {
            environment: &rollout.environment,
            platform: &rollout.platform,
            strategy: rollout.plan.strategy.name(),
        };
        let elapsed = matches!(status, Status::Succeeded | Status::RolledBack)
            .then(|| (Timestamp::now().as_datetime() - rollout.started_at.as_datetime()).to_std().unwrap_or_default());
        self.observer.status(labels, status, elapsed);
    }

    /// Validates, records the start, and executes the rollout in the background; returns the
    /// rollout as recorded at its start and a handle to wait for its end.
    /// `policy_events` (an admin's override of a freeze window) are written first, with the start.
    pub async fn start(
        self: &Arc<Self>,
        id: &str,
        plan: RolloutPlan,
        actor: &str,
        policy_events: Vec<NewEvent>,
    ) -> Result<(Rollout, RolloutHandle)> {
        plan.validate()?;
        lifecycle::validate_action(Action::Start, &ActionInput::new(actor))?;
        let platform = self.platform(&plan.platform)?;
        self.check_extensions(&plan)?;
        platform
            .capabilities()
            .check(&plan.platform, &plan.strategy, plan.instances)
            .map_err(|why| Error::invalid("strategy", why))?;
        if plan.analysis.as_ref().is_some_and(|a| a.source == MetricSourceSpec::Platform)
            && platform.metric_source().is_none()
        {
            return Err(Error::invalid(
                "analysis.source",
                format!("platform '{}' measures no metrics; name a metric source such as prometheus", plan.platform),
            ));
        }
        let current = self.store.get(id).await?;
        lifecycle::transition(id, current.status, &current.requester, Action::Start, actor)?;
        let mut lead_events = policy_events;
        lead_events.extend(self.validate_before_start(id, &current.environment, &plan, actor).await?);
        let begin = BeginRollout {
            deployment_id: id.to_owned(),
            plan,
            actor: actor.to_owned(),
            owner: self.owner.clone(),
            lead_events,
        };
        let (_, rollout) = self.store.begin_rollout(begin).await?;
        self.report_status(&rollout, Status::Started);
        tracing::info!(deployment_id = %id, strategy = rollout.plan.strategy.name(), platform = %rollout.platform, "rollout started");
        let handle = self.spawn(rollout.clone(), platform, Mode::Run);
        Ok((rollout, handle))
    }

    fn spawn(self: &Arc<Self>, rollout: Rollout, platform: Arc<dyn Platform>, mode: Mode) -> RolloutHandle {
        let id = rollout.deployment_id.clone();
        let (interrupt_tx, interrupt_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = watch::channel(false);
        // Beating from now on, also while the rollout waits for a concurrency permit.
        let heartbeat = self.heartbeat(&rollout, interrupt_tx.clone());
        self.lock_running().insert(id.clone(), Running { interrupts: interrupt_tx, done: done_rx.clone() });
        let this = self.clone();
        let task_id = id.clone();
        // A platform that hangs fails the call instead of stalling the rollout.
        let platform: Arc<dyn Platform> =
            Arc::new(TimeLimited::new(platform, CallLimits::for_health(&rollout.plan.health)));
        // One span per rollout: every log line of its execution (steps, platform calls, scripts)
        // carries the deployment id, its correlation id.
        // The request that started (resumed, rolled back) the rollout: its events name it too.
        let request_id = loco_store::current_request_id();
        let span = tracing::info_span!(
            "rollout",
            deployment_id = %id,
            request_id = request_id.as_deref().unwrap_or_default(),
            service = %rollout.service,
            environment = %rollout.environment,
            platform = %rollout.platform,
            strategy = rollout.plan.strategy.name(),
        );
        let run = async move {
            this.observer.executing(1);
            let permit = this.limit.clone().acquire_owned().await;
            let thresholds = this.thresholds_for(&rollout);
            let mut execution = Execution::new(&this, rollout, platform, interrupt_rx, thresholds);
            match execution.run(mode).await {
                Ok(()) => {}
                Err(Error::RolloutConflict { .. }) => {
                    tracing::warn!(deployment_id = %task_id, "rollout left alone: another engine took it over");
                }
                // Recording failed (the store is closing or broken): leave the record for recovery.
                Err(e) => {
                    tracing::error!(deployment_id = %task_id, error = %e, "rollout stopped: its progress could not be recorded");
                }
            }
            heartbeat.abort();
            drop(permit);
            this.lock_running().remove(&task_id);
            this.observer.executing(-1);
            let _ = done_tx.send(true);
        };
        tokio::spawn(tracing::Instrument::instrument(loco_store::with_request_id(request_id, run), span));
        RolloutHandle { deployment_id: id, done: done_rx, store: self.store.clone() }
    }

    /// Writes the rollout's heartbeat every sixth of the lease until aborted; when the rollout
    /// turns out to belong to another engine, tells the execution to stop at once.
    fn heartbeat(
        &self,
        rollout: &Rollout,
        interrupts: mpsc::UnboundedSender<Interrupt>,
    ) -> tokio::task::JoinHandle<()> {
        let (store, id, fence) = (self.store.clone(), rollout.deployment_id.clone(), rollout.lease);
        let every = lease::heartbeat_every(self.lease());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.update_rollout(&id, RolloutUpdate { fence: Some(fence), ..RolloutUpdate::default() }).await
                {
                    Ok(rollout) if !rollout.state.is_active() => return,
                    Ok(_) => {}
                    Err(Error::RolloutConflict { .. }) => {
                        tracing::warn!(deployment_id = %id, "lost the rollout's lease to another engine; stopping");
                        let _ = interrupts.send(Interrupt::Abandon);
                        return;
                    }
                    Err(e) => tracing::warn!(deployment_id = %id, error = %e, "heartbeat not written"),
                }
            }
        })
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
