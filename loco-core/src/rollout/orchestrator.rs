//! The orchestrator: executes a rollout's steps on its platform, persists progress after every
//! step, rolls back to the previous release when a step fails or a rollback is requested, and
//! recovers rollouts whose engine died.
//!
//! Crash safety rests on three rules: instance ids are recorded *before* the platform starts
//! them; every step's outcome is recorded before the next step begins; and a rollout found
//! unfinished after a crash is rolled back (restoring the previous release at 100 %), unless all
//! its steps had completed, in which case it is marked succeeded. Rolling back rather than
//! resuming is deliberate: the new release was not observed while the engine was down, and the
//! previous release is the last state known to be good.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::error::{Error, Result};
use crate::health::{self, HealthOutcome};
use crate::lifecycle::{self, Action, ActionInput, Status};
use crate::metrics::Metrics;
use crate::model::{EventKind, Timestamp};
use crate::platform::{Instance, InstanceState, Platform, Target, TrafficWeight};
use crate::rollout::owner;
use crate::rollout::plan::RolloutPlan;
use crate::rollout::record::{Release, Rollout, RolloutFailure, RolloutState};
use crate::rollout::steps::{Step, plan_steps};
use crate::store::{BeginRollout, NewEvent, RolloutUpdate, Store};

/// The actor recorded for what the orchestrator does on its own (succeed, fail, automatic rollback).
pub const SYSTEM_ACTOR: &str = "loco";
/// Consecutive failed checks of one instance, while a step is observed, that fail the rollout.
pub const CONSECUTIVE_FAILURES: u32 = 3;
/// How often an observed step refreshes the rollout's heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

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

#[derive(Debug, Clone)]
enum Interrupt {
    /// Roll back now, on behalf of this person.
    Rollback(ActionInput),
    /// Stop working and leave the record as it is (the engine is closing; the next engine recovers).
    Suspend,
}

struct Running {
    interrupt: watch::Sender<Option<Interrupt>>,
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
    Failed(RolloutFailure),
    Requested(ActionInput),
    /// The rollback was already recorded by an engine that died; finish it.
    Resume,
}

enum Halt {
    Failed(RolloutFailure),
    Interrupted(Interrupt),
}

/// Runs rollouts for one engine.
pub(crate) struct Orchestrator {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    platforms: RwLock<HashMap<String, Arc<dyn Platform>>>,
    limit: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    owner: String,
}

impl Orchestrator {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, max_concurrent: usize) -> Self {
        Self {
            store,
            metrics,
            platforms: RwLock::new(HashMap::new()),
            limit: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Mutex::new(HashMap::new()),
            owner: owner::current(),
        }
    }

    pub fn register(&self, platform: Arc<dyn Platform>) {
        self.platforms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(platform.name().to_owned(), platform);
    }

    pub fn platforms(&self) -> Vec<Arc<dyn Platform>> {
        self.platforms.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect()
    }

    pub fn platform(&self, name: &str) -> Result<Arc<dyn Platform>> {
        let platforms = self.platforms.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        platforms.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<&String> = platforms.keys().collect();
            known.sort();
            Error::invalid("platform", format!("no platform named '{name}' is registered (registered: {known:?})"))
        })
    }

    /// Validates, records the start, and executes the rollout in the background.
    pub async fn start(self: &Arc<Self>, id: &str, plan: RolloutPlan, actor: &str) -> Result<RolloutHandle> {
        plan.validate()?;
        lifecycle::validate_action(Action::Start, &ActionInput::new(actor))?;
        let platform = self.platform(&plan.platform)?;
        let begin =
            BeginRollout { deployment_id: id.to_owned(), plan, actor: actor.to_owned(), owner: self.owner.clone() };
        let (_, rollout) = self.store.begin_rollout(begin).await?;
        self.metrics.record_rollout_status(&rollout, Status::Started);
        tracing::info!(deployment_id = %id, strategy = rollout.plan.strategy.name(), platform = %rollout.platform, "rollout started");
        Ok(self.spawn(rollout, platform, Mode::Run))
    }

    fn spawn(self: &Arc<Self>, rollout: Rollout, platform: Arc<dyn Platform>, mode: Mode) -> RolloutHandle {
        let id = rollout.deployment_id.clone();
        let (interrupt_tx, interrupt_rx) = watch::channel(None);
        let (done_tx, done_rx) = watch::channel(false);
        self.lock_running().insert(id.clone(), Running { interrupt: interrupt_tx, done: done_rx.clone() });
        let this = self.clone();
        let task_id = id.clone();
        tokio::spawn(async move {
            let permit = this.limit.clone().acquire_owned().await;
            let mut execution = Execution::new(&this, rollout, platform, interrupt_rx);
            if let Err(e) = execution.run(mode).await {
                // Recording failed (the store is closing or broken): leave the record for recovery.
                tracing::error!(deployment_id = %task_id, error = %e, "rollout stopped: its progress could not be recorded");
            }
            drop(permit);
            this.lock_running().remove(&task_id);
            let _ = done_tx.send(true);
        });
        RolloutHandle { deployment_id: id, done: done_rx, store: self.store.clone() }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rolls back a deployment that has a rollout, restoring its previous release. Returns
    /// `Ok(None)` when the deployment has no rollout whose release could be restored, so the
    /// caller records a plain lifecycle rollback.
    pub async fn rollback(self: &Arc<Self>, id: &str, input: ActionInput) -> Result<Option<Rollout>> {
        let running = self.lock_running().get(id).map(|r| (r.interrupt.clone(), r.done.clone()));
        let interrupted = running.is_some();
        if let Some((interrupt, mut done)) = running {
            interrupt.send_replace(Some(Interrupt::Rollback(input.clone())));
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
            RolloutState::Running | RolloutState::RollingBack => {
                if rollout.owner == self.owner || !owner::is_gone(&rollout.owner, rollout.heartbeat_at) {
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

    async fn claim(&self, rollout: Rollout) -> Result<Rollout> {
        if rollout.owner == self.owner {
            return Ok(rollout);
        }
        let update = RolloutUpdate {
            owner: Some(self.owner.clone()),
            expect_owner: Some(rollout.owner.clone()),
            ..RolloutUpdate::default()
        };
        self.store.update_rollout(&rollout.deployment_id, update).await
    }

    /// Takes over every active rollout whose engine is gone and whose platform is registered, and
    /// finishes it (succeeded if all steps had completed, rolled back otherwise). Waits for all.
    pub async fn recover(self: &Arc<Self>) -> Result<Vec<Rollout>> {
        let mut handles = Vec::new();
        for rollout in self.store.rollouts(true).await? {
            if rollout.owner == self.owner || !owner::is_gone(&rollout.owner, rollout.heartbeat_at) {
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
        let mut recovered = Vec::with_capacity(handles.len());
        for handle in handles {
            recovered.push(handle.wait().await?);
        }
        Ok(recovered)
    }

    /// Stops every running execution without rolling back (their records stay active and the next
    /// engine recovers them), then waits for them to stop.
    pub async fn suspend_all(&self) {
        let running: Vec<(watch::Sender<Option<Interrupt>>, watch::Receiver<bool>)> =
            self.lock_running().values().map(|r| (r.interrupt.clone(), r.done.clone())).collect();
        for (interrupt, mut done) in running {
            interrupt.send_replace(Some(Interrupt::Suspend));
            let _ = done.wait_for(|d| *d).await;
        }
    }
}

/// One rollout being executed.
struct Execution<'o> {
    orch: &'o Orchestrator,
    platform: Arc<dyn Platform>,
    target: Target,
    rollout: Rollout,
    interrupt: watch::Receiver<Option<Interrupt>>,
    checked: HashSet<String>,
    last_save: Instant,
}

impl<'o> Execution<'o> {
    fn new(
        orch: &'o Orchestrator,
        rollout: Rollout,
        platform: Arc<dyn Platform>,
        interrupt: watch::Receiver<Option<Interrupt>>,
    ) -> Self {
        let target = Target { service: rollout.service.clone(), environment: rollout.environment.clone() };
        Self { orch, platform, target, rollout, interrupt, checked: HashSet::new(), last_save: Instant::now() }
    }

    fn new_version(&self) -> &str {
        &self.rollout.plan.release.version
    }

    fn old_version(&self) -> Option<&str> {
        self.rollout.previous.as_ref().map(|p| p.version.as_str())
    }

    async fn run(&mut self, mode: Mode) -> Result<()> {
        match mode {
            Mode::Rollback(input) => self.roll_back(Reason::Requested(input)).await,
            Mode::Recover => {
                let p = &self.rollout.progress;
                if self.rollout.state == RolloutState::RollingBack {
                    self.roll_back(Reason::Resume).await
                } else if p.total_steps > 0 && p.completed_steps == p.total_steps {
                    self.succeed().await
                } else {
                    let message = format!(
                        "the engine stopped during step {} of {}; the new release was not observed since, so the previous \
                         release is restored",
                        p.completed_steps + 1,
                        p.total_steps.max(1)
                    );
                    let step = Some(p.completed_steps + 1);
                    self.roll_back(Reason::Failed(RolloutFailure { code: "engine_restarted".into(), message, step }))
                        .await
                }
            }
            Mode::Run => {
                let old = self.rollout.previous.as_ref().map_or(0, |p| running(&p.instances).count() as u32);
                let steps = plan_steps(&self.rollout.plan.strategy, self.rollout.plan.instances, old);
                self.rollout.progress.total_steps = steps.len() as u32;
                "starting".clone_into(&mut self.rollout.progress.step);
                self.save(Vec::new()).await?;
                for (index, step) in steps.iter().enumerate() {
                    let halt = match self.interruption() {
                        Some(interrupt) => Some(Halt::Interrupted(interrupt)),
                        None => self.execute(index, step).await?.err(),
                    };
                    match halt {
                        None => self.step_done(index, step).await?,
                        Some(Halt::Interrupted(Interrupt::Suspend)) => return Ok(()),
                        Some(Halt::Interrupted(Interrupt::Rollback(input))) => {
                            return self.roll_back(Reason::Requested(input)).await;
                        }
                        Some(Halt::Failed(failure)) => return self.roll_back(Reason::Failed(failure)).await,
                    }
                }
                self.succeed().await
            }
        }
    }

    fn interruption(&self) -> Option<Interrupt> {
        self.interrupt.borrow().clone()
    }

    /// Persists progress (refreshing the heartbeat) with `events`.
    async fn save(&mut self, events: Vec<NewEvent>) -> Result<()> {
        let update =
            RolloutUpdate { progress: Some(self.rollout.progress.clone()), events, ..RolloutUpdate::default() };
        self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
        self.last_save = Instant::now();
        Ok(())
    }

    fn event(kind: EventKind, note: String, data: serde_json::Value) -> NewEvent {
        NewEvent { kind, actor: SYSTEM_ACTOR.to_owned(), note: Some(note), data: Some(data) }
    }

    async fn step_done(&mut self, index: usize, step: &Step) -> Result<()> {
        let p = &mut self.rollout.progress;
        p.completed_steps = index as u32 + 1;
        p.step = step.describe();
        let new = running(&p.instances).filter(|i| i.version == self.rollout.plan.release.version).count();
        let data = json!({
            "step": index + 1,
            "of": p.total_steps,
            "action": step,
            "traffic": p.traffic,
            "running_new_instances": new,
            "endpoint": p.endpoint,
        });
        let note = format!("step {}/{}: {}", index + 1, p.total_steps, step.describe());
        let event = Self::event(EventKind::StepProgress, note, data);
        self.save(vec![event]).await
    }

    /// Executes one step. The outer `Result` is a recording failure; the inner one says whether
    /// the rollout may go on.
    async fn execute(&mut self, index: usize, step: &Step) -> Result<Result<(), Halt>> {
        let step_no = Some(index as u32 + 1);
        let outcome = match step {
            Step::StartNew { count } => self.start_new(*count, step).await?,
            Step::CheckNew => self.check_new().await?,
            Step::Shift { percent } => self.shift(*percent).await,
            Step::Observe { seconds } => return self.observe(Duration::from_secs_f64(*seconds), step_no).await,
            Step::StopOld { count } => self.stop_old(*count).await,
        };
        Ok(outcome
            .map_err(|(code, message)| Halt::Failed(RolloutFailure { code: code.to_owned(), message, step: step_no })))
    }

    async fn start_new(&mut self, count: u32, step: &Step) -> Result<StepOutcome> {
        let ids: Vec<String> = (0..count).map(|_| format!("ins_{}", ulid::Ulid::new())).collect();
        for id in &ids {
            self.rollout.progress.upsert(Instance {
                id: id.clone(),
                version: self.new_version().to_owned(),
                address: None,
                pid: None,
                state: InstanceState::Starting,
            });
        }
        // Recorded before the platform acts, so a crash cannot leave instances nobody knows of.
        self.rollout.progress.step = step.describe();
        self.save(Vec::new()).await?;
        match self.platform.deploy(&self.target, &self.rollout.plan.release, &ids).await {
            Ok(started) => {
                for instance in started {
                    self.rollout.progress.upsert(instance);
                }
                if let Ok(status) = self.platform.status(&self.target).await {
                    self.rollout.progress.endpoint = status.endpoint;
                }
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(("step_failed", format!("starting {count} instance(s) failed: {e}")))),
        }
    }

    async fn check_new(&mut self) -> Result<StepOutcome> {
        let pending: Vec<Instance> = running(&self.rollout.progress.instances)
            .filter(|i| i.version == self.new_version() && !self.checked.contains(&i.id))
            .cloned()
            .collect();
        let spec = &self.rollout.plan.health;
        let checks = pending.iter().map(|i| health::check_with_retries(spec, self.platform.as_ref(), &self.target, i));
        let outcomes = futures_util::future::join_all(checks).await;
        let events = outcomes.iter().map(|o| self.health_event(o)).collect();
        self.save(events).await?;
        if let Some(bad) = outcomes.iter().find(|o| !o.ok) {
            let message = format!(
                "instance {} failed its health check after {} attempt(s): {}",
                bad.instance_id, bad.attempts, bad.detail
            );
            return Ok(Err(("health_check_failed", message)));
        }
        self.checked.extend(outcomes.into_iter().map(|o| o.instance_id));
        Ok(Ok(()))
    }

    async fn shift(&mut self, percent: u8) -> StepOutcome {
        let new = TrafficWeight { version: self.new_version().to_owned(), percent: 100 };
        let split = match self.old_version() {
            Some(old) if percent < 100 => {
                vec![
                    TrafficWeight { percent, ..new },
                    TrafficWeight { version: old.to_owned(), percent: 100 - percent },
                ]
            }
            _ => vec![new],
        };
        match self.platform.set_traffic(&self.target, &split).await {
            Ok(()) => {
                self.rollout.progress.traffic = split;
                Ok(())
            }
            Err(e) => Err(("step_failed", format!("shifting traffic failed: {e}"))),
        }
    }

    async fn stop_old(&mut self, count: u32) -> StepOutcome {
        let Some(previous) = &self.rollout.previous else { return Ok(()) };
        let progress = &self.rollout.progress;
        let already: HashSet<&str> =
            progress.instances.iter().filter(|i| i.state == InstanceState::Stopped).map(|i| i.id.as_str()).collect();
        let victims: Vec<Instance> = running(&previous.instances)
            .filter(|i| !already.contains(i.id.as_str()))
            .take(count as usize)
            .cloned()
            .collect();
        match self.platform.stop(&self.target, &victims).await {
            Ok(()) => {
                for v in victims {
                    self.rollout.progress.upsert(Instance { state: InstanceState::Stopped, ..v });
                }
                Ok(())
            }
            Err(e) => Err(("step_failed", format!("stopping old instances failed: {e}"))),
        }
    }

    fn health_event(&self, outcome: &HealthOutcome) -> NewEvent {
        let verdict = if outcome.ok { "passed" } else { "failed" };
        let note = format!(
            "instance {} {verdict} health check ({} attempt(s)): {}",
            outcome.instance_id, outcome.attempts, outcome.detail
        );
        let mut data = serde_json::to_value(outcome).unwrap_or_default();
        data["version"] = json!(self.new_version());
        Self::event(EventKind::HealthCheck, note, data)
    }

    /// Holds for `window`, re-checking new instances every `health.interval_seconds`; fails on
    /// an exited instance or on [`CONSECUTIVE_FAILURES`] failed checks in a row.
    async fn observe(&mut self, window: Duration, step_no: Option<u32>) -> Result<Result<(), Halt>> {
        let deadline = Instant::now() + window;
        let interval = Duration::from_secs_f64(self.rollout.plan.health.interval_seconds);
        let mut consecutive: HashMap<String, u32> = HashMap::new();
        loop {
            let wait = interval.min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = self.interrupt.changed() => {
                    if changed.is_ok() && let Some(interrupt) = self.interruption() {
                        return Ok(Err(Halt::Interrupted(interrupt)));
                    }
                }
            }
            let instances: Vec<Instance> = running(&self.rollout.progress.instances)
                .filter(|i| i.version == self.new_version())
                .cloned()
                .collect();
            let spec = &self.rollout.plan.health;
            let checks = instances.iter().map(|i| health::check_once(spec, self.platform.as_ref(), &self.target, i));
            let mut events = Vec::new();
            let mut halt = None;
            for outcome in futures_util::future::join_all(checks).await {
                let streak = consecutive.entry(outcome.instance_id.clone()).or_default();
                if outcome.ok {
                    if *streak > 0 {
                        events.push(self.health_event(&outcome));
                    }
                    *streak = 0;
                    continue;
                }
                *streak += 1;
                events.push(self.health_event(&outcome));
                if outcome.exited || *streak >= CONSECUTIVE_FAILURES {
                    let why =
                        if outcome.exited { "exited".to_owned() } else { format!("failed {streak} checks in a row") };
                    halt = Some(RolloutFailure {
                        code: "health_check_failed".to_owned(),
                        message: format!("instance {} {why} while observed: {}", outcome.instance_id, outcome.detail),
                        step: step_no,
                    });
                }
            }
            if !events.is_empty() || self.last_save.elapsed() >= HEARTBEAT_EVERY {
                self.save(events).await?;
            }
            if let Some(failure) = halt {
                return Ok(Err(Halt::Failed(failure)));
            }
            if Instant::now() >= deadline {
                return Ok(Ok(()));
            }
        }
    }

    async fn succeed(&mut self) -> Result<()> {
        let p = &self.rollout.progress;
        let release = Release {
            version: self.new_version().to_owned(),
            deployment_id: self.rollout.deployment_id.clone(),
            platform: self.rollout.platform.clone(),
            spec: self.rollout.plan.release.clone(),
            instances: running(&p.instances)
                .filter(|i| i.version == self.rollout.plan.release.version)
                .cloned()
                .collect(),
            activated_at: Timestamp::now(),
            retired_at: None,
        };
        let note = format!("rollout completed: {} in {} steps", self.rollout.plan.strategy.name(), p.total_steps);
        let update = RolloutUpdate {
            state: Some(RolloutState::Succeeded),
            progress: Some(self.rollout.progress.clone()),
            action: Some((Action::Succeed, ActionInput::new(SYSTEM_ACTOR).with_note(note))),
            activate: Some(release),
            ..RolloutUpdate::default()
        };
        self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
        self.orch.metrics.record_rollout_status(&self.rollout, Status::Succeeded);
        tracing::info!(deployment_id = %self.rollout.deployment_id, "rollout succeeded");
        Ok(())
    }

    async fn roll_back(&mut self, reason: Reason) -> Result<()> {
        let decision = self.decide(&reason);
        self.record_decision(reason, &decision).await?;
        match self.restore().await {
            Ok(restored) => self.record_rolled_back(decision, restored).await,
            Err(e) => {
                let message = format!("restoring the previous release failed: {e}");
                tracing::error!(deployment_id = %self.rollout.deployment_id, %message);
                let update = RolloutUpdate {
                    state: Some(RolloutState::RollbackFailed),
                    failure: Some(RolloutFailure {
                        code: "rollback_failed".to_owned(),
                        message: message.clone(),
                        step: None,
                    }),
                    events: vec![Self::event(
                        EventKind::StepProgress,
                        message,
                        json!({"action": "rollback", "ok": false}),
                    )],
                    ..RolloutUpdate::default()
                };
                self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
                Ok(())
            }
        }
    }

    /// Who the final `rollback` action is recorded for, and why.
    fn decide(&self, reason: &Reason) -> Decision {
        match reason {
            Reason::Failed(f) => Decision {
                actor: SYSTEM_ACTOR.to_owned(),
                note: format!("automatic rollback: {}", f.message),
                trigger: f.code.clone(),
                automatic: true,
            },
            Reason::Requested(input) => Decision {
                actor: input.actor.clone(),
                note: input.note.clone().unwrap_or_else(|| "rollback requested".to_owned()),
                trigger: "manual".to_owned(),
                automatic: false,
            },
            Reason::Resume => {
                let f = self.rollout.failure.as_ref();
                Decision {
                    actor: SYSTEM_ACTOR.to_owned(),
                    note: format!("automatic rollback: {}", f.map_or("interrupted rollback", |f| f.message.as_str())),
                    trigger: f.map_or_else(|| "engine_restarted".to_owned(), |f| f.code.clone()),
                    automatic: true,
                }
            }
        }
    }

    /// Records the decision to roll back (and `failed` for a failed rollout) before the platform acts.
    async fn record_decision(&mut self, reason: Reason, decision: &Decision) -> Result<()> {
        let mut update = match reason {
            Reason::Failed(failure) => {
                let fail = self.rollout.state == RolloutState::Running;
                RolloutUpdate {
                    action: fail
                        .then(|| (Action::Fail, ActionInput::new(SYSTEM_ACTOR).with_note(failure.message.clone()))),
                    failure: Some(failure),
                    ..RolloutUpdate::default()
                }
            }
            Reason::Requested(input) => RolloutUpdate {
                failure: Some(RolloutFailure {
                    code: "rollback_requested".to_owned(),
                    message: format!(
                        "{} requested a rollback: {}",
                        input.actor,
                        input.note.as_deref().unwrap_or_default()
                    ),
                    step: None,
                }),
                ..RolloutUpdate::default()
            },
            Reason::Resume => return Ok(()),
        };
        update.state = Some(RolloutState::RollingBack);
        update.progress = Some(self.rollout.progress.clone());
        let data = json!({"action": "rollback", "trigger": decision.trigger});
        update.events.push(Self::event(EventKind::StepProgress, format!("rolling back: {}", decision.note), data));
        let failed_now = update.action.is_some();
        self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
        if failed_now {
            self.orch.metrics.record_rollout_status(&self.rollout, Status::Failed);
        }
        Ok(())
    }

    /// Restores the previous release at 100 % (or, for a first release, takes the new one down)
    /// and stops the new instances. Returns the previous release and its serving instances.
    async fn restore(&self) -> crate::platform::PlatformResult<Option<(Release, Vec<Instance>)>> {
        let retire = self.new_instances_not_stopped();
        let Some(previous) = &self.rollout.previous else {
            self.platform.stop(&self.target, &retire).await?;
            self.platform.set_traffic(&self.target, &[]).await?;
            return Ok(None);
        };
        let replacements: Vec<String> =
            (0..previous.instances.len().max(1)).map(|_| format!("ins_{}", ulid::Ulid::new())).collect();
        let serving =
            self.platform.rollback(&self.target, &previous.spec, &previous.instances, &replacements, &retire).await?;
        Ok(Some((previous.clone(), serving)))
    }

    fn new_instances_not_stopped(&self) -> Vec<Instance> {
        let version = &self.rollout.plan.release.version;
        self.rollout
            .progress
            .instances
            .iter()
            .filter(|i| &i.version == version && i.state != InstanceState::Stopped)
            .cloned()
            .collect()
    }

    async fn record_rolled_back(
        &mut self,
        decision: Decision,
        restored: Option<(Release, Vec<Instance>)>,
    ) -> Result<()> {
        for instance in self.new_instances_not_stopped() {
            self.rollout.progress.upsert(Instance { state: InstanceState::Stopped, ..instance });
        }
        let mut activate = None;
        self.rollout.progress.traffic = Vec::new();
        if let Some((previous, serving)) = restored {
            self.rollout.progress.traffic = vec![TrafficWeight { version: previous.version.clone(), percent: 100 }];
            let same: HashSet<&str> = previous.instances.iter().map(|i| i.id.as_str()).collect();
            let moved = serving.len() != same.len() || serving.iter().any(|i| !same.contains(i.id.as_str()));
            let current = self.orch.store.releases(&self.rollout.service, &self.rollout.environment, 1).await?;
            let previous_is_current = current.first().is_some_and(|r| r.deployment_id == previous.deployment_id);
            // Record the release again when its instances changed or when it replaces this one.
            if moved || !previous_is_current {
                activate =
                    Some(Release { instances: serving, activated_at: Timestamp::now(), retired_at: None, ..previous });
            }
        }
        if let Ok(status) = self.platform.status(&self.target).await {
            self.rollout.progress.endpoint = status.endpoint;
        }
        "rolled back".clone_into(&mut self.rollout.progress.step);
        let Decision { actor, note, trigger, automatic } = decision;
        let update = RolloutUpdate {
            state: Some(RolloutState::RolledBack),
            progress: Some(self.rollout.progress.clone()),
            action: Some((Action::Rollback, ActionInput::new(actor).with_note(note))),
            activate,
            ..RolloutUpdate::default()
        };
        self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
        self.orch.metrics.record_rollout_status(&self.rollout, Status::RolledBack);
        self.orch.metrics.record_rollback(&trigger, automatic);
        tracing::warn!(deployment_id = %self.rollout.deployment_id, %trigger, "rollout rolled back");
        Ok(())
    }
}

/// What the final `rollback` action records.
struct Decision {
    actor: String,
    note: String,
    trigger: String,
    automatic: bool,
}

/// A step's verdict: go on, or stop with a failure code and message.
type StepOutcome = std::result::Result<(), (&'static str, String)>;

fn running(instances: &[Instance]) -> impl Iterator<Item = &Instance> {
    instances.iter().filter(|i| i.state == InstanceState::Running)
}
