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
mod rollback;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use loco_platform::Platform;
use loco_store::{BeginRollout, RolloutUpdate, Store};
use loco_types::analysis::Thresholds;
use loco_types::lifecycle::{self, Action, ActionInput, Status};
use loco_types::model::Timestamp;
use loco_types::plan::{MetricSourceSpec, RolloutPlan};
use loco_types::rollout::{Rollout, RolloutFailure, RolloutState};
use loco_types::{Error, Result};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::lease;
use crate::observer::{RolloutLabels, RolloutObserver};
use crate::secrets::SecretOpener;
use execution::Execution;

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
    /// Roll back now, on behalf of this person.
    Rollback(ActionInput),
    /// Continue a paused rollout, on behalf of this person.
    Override(ActionInput),
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
    limit: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    thresholds: RwLock<HashMap<String, Thresholds>>,
    owner: String,
    lease: RwLock<Duration>,
    scan: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

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
            limit: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Mutex::new(HashMap::new()),
            thresholds: RwLock::new(HashMap::new()),
            owner: lease::new_owner(),
            lease: RwLock::new(lease::DEFAULT_LEASE),
            scan: Mutex::new(None),
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

    /// Sets the analysis thresholds of one environment (names compare case-insensitively).
    pub fn set_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()> {
        thresholds.validate(&format!("thresholds.{environment}."))?;
        self.thresholds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(environment.trim().to_lowercase(), thresholds);
        Ok(())
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
    pub async fn start(self: &Arc<Self>, id: &str, plan: RolloutPlan, actor: &str) -> Result<(Rollout, RolloutHandle)> {
        plan.validate()?;
        lifecycle::validate_action(Action::Start, &ActionInput::new(actor))?;
        let platform = self.platform(&plan.platform)?;
        if plan.analysis.as_ref().is_some_and(|a| a.source == MetricSourceSpec::Platform)
            && platform.metric_source().is_none()
        {
            return Err(Error::invalid(
                "analysis.source",
                format!("platform '{}' measures no metrics; name a metric source such as prometheus", plan.platform),
            ));
        }
        let begin =
            BeginRollout { deployment_id: id.to_owned(), plan, actor: actor.to_owned(), owner: self.owner.clone() };
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
        tokio::spawn(async move {
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
            let _ = done_tx.send(true);
        });
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

    /// Rolls back a deployment that has a rollout, restoring its previous release. Returns
    /// `Ok(None)` when the deployment has no rollout whose release could be restored, so the
    /// caller records a plain lifecycle rollback.
    pub async fn rollback(self: &Arc<Self>, id: &str, input: ActionInput) -> Result<Option<Rollout>> {
        let running = self.lock_running().get(id).map(|r| (r.interrupts.clone(), r.done.clone()));
        let interrupted = running.is_some();
        if let Some((interrupts, mut done)) = running {
            let _ = interrupts.send(Interrupt::Rollback(input.clone()));
            let _ = done.wait_for(|d| *d).await;
        }
        let rollout = match self.store.rollout(id).await {
            Ok(r) => r,
            Err(Error::RolloutNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rollout.state {
            // Rolled back by this request (or, in a race, by the rollout's own failure handling).
            RolloutState::RolledBack if interrupted => Ok(Some(rollout)),
            // Nothing left to restore; the lifecycle answers (the deployment is rolled_back).
            RolloutState::RolledBack => Ok(None),
            RolloutState::Running | RolloutState::Paused | RolloutState::RollingBack => {
                if rollout.owner == self.owner || !lease::is_gone(&rollout.owner, rollout.heartbeat_at, self.lease()) {
                    return Err(Error::RolloutInProgress { id: id.to_owned() });
                }
                let platform = self.platform(&rollout.platform)?;
                let rollout = self.claim(rollout).await?;
                Ok(Some(self.spawn(rollout, platform, Mode::Rollback(input)).wait().await?))
            }
            RolloutState::Succeeded | RolloutState::RollbackFailed => {
                let current = self.store.releases(&rollout.service, &rollout.environment, 1).await?;
                let serving = current.first().is_some_and(|r| r.deployment_id == id && r.retired_at.is_none());
                if rollout.state == RolloutState::Succeeded && !serving {
                    // A later release replaced this one; there is nothing of it to take off the platform.
                    return Ok(None);
                }
                let platform = self.platform(&rollout.platform)?;
                let rollout = self.claim(rollout).await?;
                let done = self.spawn(rollout, platform, Mode::Rollback(input)).wait().await?;
                match &done.failure {
                    Some(f) if done.state == RolloutState::RollbackFailed => {
                        Err(Error::RollbackFailed { id: id.to_owned(), message: f.message.clone() })
                    }
                    _ => Ok(Some(done)),
                }
            }
        }
    }

    /// Continues a paused rollout on behalf of `input.actor`; `rollout_not_paused` otherwise.
    pub async fn override_pause(&self, id: &str, input: ActionInput) -> Result<Rollout> {
        lifecycle::validate_action(Action::Rollback, &input)?; // the same rule: an actor and a note
        let rollout = self.store.rollout(id).await?;
        let sender = self.lock_running().get(id).map(|r| r.interrupts.clone());
        let Some(sender) = sender.filter(|_| rollout.state == RolloutState::Paused) else {
            return Err(Error::RolloutNotPaused { id: id.to_owned(), state: rollout.state });
        };
        let mut events = self.store.subscribe();
        let _ = sender.send(Interrupt::Override(input));
        // Answer once the execution recorded the override (or stopped).
        loop {
            let current = self.store.rollout(id).await?;
            if current.state != RolloutState::Paused {
                return Ok(current);
            }
            match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
                Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return self.store.rollout(id).await,
            }
        }
    }

    async fn claim(&self, rollout: Rollout) -> Result<Rollout> {
        if rollout.owner == self.owner {
            return Ok(rollout);
        }
        let update = RolloutUpdate {
            owner: Some(self.owner.clone()),
            expect_owner: Some(rollout.owner.clone()),
            fence: Some(rollout.lease),
            ..RolloutUpdate::default()
        };
        self.store.update_rollout(&rollout.deployment_id, update).await
    }

    /// Takes over every active rollout whose engine is gone and whose platform is registered, and
    /// finishes it (succeeded if all steps had completed, rolled back otherwise). Waits for all.
    pub async fn recover(self: &Arc<Self>) -> Result<Vec<Rollout>> {
        let handles = self.take_over_orphans().await?;
        let mut recovered = Vec::with_capacity(handles.len());
        for handle in handles {
            recovered.push(handle.wait().await?);
        }
        Ok(recovered)
    }

    /// From now on, looks for rollouts whose engine is gone twice per lease and takes them over
    /// (without waiting for them), until [`suspend_all`](Self::suspend_all).
    pub fn watch_for_orphans(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        let scan = tokio::spawn(async move {
            loop {
                let Some(every) = this.upgrade().map(|o| o.lease() / 2) else { return };
                tokio::time::sleep(every).await;
                let Some(orchestrator) = this.upgrade() else { return };
                if let Err(e) = orchestrator.take_over_orphans().await {
                    tracing::warn!(error = %e, "looking for rollouts of stopped engines failed");
                }
            }
        });
        if let Some(old) = self.scan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(scan) {
            old.abort();
        }
    }

    /// Claims every active rollout whose engine is gone and starts finishing it.
    async fn take_over_orphans(self: &Arc<Self>) -> Result<Vec<RolloutHandle>> {
        let mut handles = Vec::new();
        for rollout in self.store.rollouts(true).await? {
            let lease = self.lease();
            if rollout.owner == self.owner || !lease::is_gone(&rollout.owner, rollout.heartbeat_at, lease) {
                continue;
            }
            let Ok(platform) = self.platform(&rollout.platform) else {
                tracing::warn!(deployment_id = %rollout.deployment_id, platform = %rollout.platform,
                    "interrupted rollout left alone: its platform is not registered");
                continue;
            };
            match self.claim(rollout).await {
                Ok(claimed) => {
                    tracing::warn!(deployment_id = %claimed.deployment_id, "recovering a rollout interrupted by an engine stop");
                    handles.push(self.spawn(claimed, platform, Mode::Recover));
                }
                Err(Error::RolloutConflict { .. }) => {} // another engine took it first
                Err(e) => return Err(e),
            }
        }
        Ok(handles)
    }

    /// Stops every running execution without rolling back (their records stay active and the next
    /// engine recovers them), then waits for them to stop.
    pub async fn suspend_all(&self) {
        if let Some(scan) = self.scan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            scan.abort();
        }
        let running: Vec<(mpsc::UnboundedSender<Interrupt>, watch::Receiver<bool>)> =
            self.lock_running().values().map(|r| (r.interrupts.clone(), r.done.clone())).collect();
        for (interrupts, mut done) in running {
            let _ = interrupts.send(Interrupt::Suspend);
            let _ = done.wait_for(|d| *d).await;
        }
    }
}
