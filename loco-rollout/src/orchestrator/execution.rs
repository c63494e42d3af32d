//! One rollout being executed: its steps one by one, each recorded before the next begins.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loco_platform::{HealthOutcome, Instance, InstanceState, Platform, Target, TrafficWeight, health};
use loco_store::{NewEvent, RolloutUpdate};
use loco_types::Result;
use loco_types::analysis::Thresholds;
use loco_types::event_data::{
    CanaryPromotedData, EventData, HealthCheckData, PromotionVerdict, RolloutTurn, StepDone, StepProgressData,
};
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::Timestamp;
use loco_types::plan::{Hook, OnRestart, Strategy};
use loco_types::rollout::{FailureCode, Release, Rollout, RolloutFailure, RolloutState, Step};
use tokio::sync::mpsc;

use super::scripts::HookEnd;
use super::{Halt, Interrupt, Mode, Orchestrator, Reason, SYSTEM_ACTOR};
use crate::steps::plan_steps;

/// A step's verdict: go on, or stop with a failure code and message.
pub(super) type StepOutcome = std::result::Result<(), (FailureCode, String)>;

/// One rollout being executed.
pub(super) struct Execution<'o> {
    pub(super) orch: &'o Orchestrator,
    pub(super) platform: Arc<dyn Platform>,
    pub(super) target: Target,
    pub(super) rollout: Rollout,
    pub(super) interrupts: mpsc::UnboundedReceiver<Interrupt>,
    pub(super) thresholds: Thresholds,
    checked: HashSet<String>,
    pub(super) last_save: Instant,
    /// Events written with the next update (so a critical finding and the decision to roll
    /// back share one transaction, one disk flush, before the platform is called).
    pub(super) pending: Vec<NewEvent>,
}

impl<'o> Execution<'o> {
    pub(super) fn new(
        orch: &'o Orchestrator,
        rollout: Rollout,
        platform: Arc<dyn Platform>,
        interrupts: mpsc::UnboundedReceiver<Interrupt>,
        thresholds: Thresholds,
    ) -> Self {
        let target = Target { service: rollout.service.clone(), environment: rollout.environment.clone() };
        Self {
            orch,
            platform,
            target,
            rollout,
            interrupts,
            thresholds,
            checked: HashSet::new(),
            last_save: Instant::now(),
            pending: Vec::new(),
        }
    }

    /// Where this rollout's health checks run: its platform and the host's probes.
    pub(super) fn checker(&self) -> health::Checker<'_> {
        self.orch.checker(self.platform.as_ref())
    }

    pub(super) fn new_version(&self) -> &str {
        &self.rollout.plan.release.version
    }

    pub(super) fn old_version(&self) -> Option<&str> {
        self.rollout.previous.as_ref().map(|p| p.version.as_str())
    }

    pub(super) async fn run(&mut self, mode: Mode) -> Result<()> {
        match mode {
            Mode::Rollback(input) => self.roll_back(Reason::Requested(input)).await,
            Mode::RollbackTo(input, release) => {
                self.update(RolloutUpdate { previous: Some(*release), ..RolloutUpdate::default() }).await?;
                self.roll_back(Reason::Requested(input)).await
            }
            Mode::Recover => {
                let p = &self.rollout.progress;
                if self.rollout.state == RolloutState::RollingBack {
                    self.roll_back(Reason::Resume).await
                } else if p.total_steps > 0 && p.completed_steps == p.total_steps {
                    self.finish().await
                } else if self.rollout.plan.on_restart == OnRestart::Resume && p.total_steps > 0 {
                    self.resume().await
                } else {
                    let message = format!(
                        "the engine stopped during step {} of {}; the new release was not observed since, so the previous \
                         release is restored",
                        p.completed_steps + 1,
                        p.total_steps.max(1)
                    );
                    let failure = RolloutFailure {
                        code: FailureCode::EngineRestarted,
                        message,
                        step: Some(p.completed_steps + 1),
                    };
                    self.roll_back(Reason::Failed(failure, None)).await
                }
            }
            Mode::Run => self.run_steps().await,
        }
    }

    async fn run_steps(&mut self) -> Result<()> {
        "starting".clone_into(&mut self.rollout.progress.step);
        // Before any instance starts: a failure leaves nothing of the new release behind.
        match self.run_hook(Hook::PreDeploy).await? {
            HookEnd::Done => self.run_steps_from(0).await,
            HookEnd::Failed(failure) => self.roll_back(Reason::Failed(failure, None)).await,
            HookEnd::Interrupted(interrupt) => self.interrupted(interrupt).await,
        }
    }

    /// After the last step: the `post_deploy` scripts, then the smoke tests (a failure of
    /// either rolls back), then success.
    async fn finish(&mut self) -> Result<()> {
        for hook in [Hook::PostDeploy, Hook::SmokeTest] {
            match self.run_hook(hook).await? {
                HookEnd::Done => {}
                HookEnd::Failed(failure) => return self.roll_back(Reason::Failed(failure, None)).await,
                HookEnd::Interrupted(interrupt) => return self.interrupted(interrupt).await,
            }
        }
        self.succeed().await
    }

    /// Acts on a request that stopped the rollout between or inside its steps.
    async fn interrupted(&mut self, interrupt: Interrupt) -> Result<()> {
        match interrupt {
            Interrupt::Suspend => self.hand_back().await,
            Interrupt::Abandon | Interrupt::Override(..) => Ok(()),
            Interrupt::Rollback(input, request_id) => {
                loco_store::with_request_id(request_id, self.roll_back(Reason::Requested(input))).await
            }
        }
    }

    /// The plan's steps, computed from the plan and the restore point alone (so an engine that
    /// resumes a rollout gets the same list).
    fn steps(&self) -> Vec<Step> {
        let plan = &self.rollout.plan;
        let old = self.rollout.previous.as_ref().map_or(0, |p| running(&p.instances).count() as u32);
        let keep_old = plan.scale_down_delay_seconds > 0.0;
        plan_steps(&plan.strategy, plan.instances, old, plan.monitor_seconds(), keep_old)
    }

    /// Executes the steps from index `first` on, each recorded before the next.
    pub(super) async fn run_steps_from(&mut self, first: usize) -> Result<()> {
        let steps = self.steps();
        self.rollout.progress.total_steps = steps.len() as u32;
        self.save(Vec::new()).await?;
        // A platform that moves traffic in stages it must know in advance (Vercel's rolling
        // releases) hears every share the steps will ask for.
        let shares: Vec<u8> =
            steps.iter().filter_map(|s| if let Step::Shift { percent } = s { Some(*percent) } else { None }).collect();
        self.fenced().await?;
        if let Err(e) = self.platform.plan_shares(&self.target, self.new_version(), &shares).await {
            let failure = RolloutFailure {
                code: FailureCode::StepFailed,
                message: format!("the platform could not prepare the traffic steps {shares:?}: {e}"),
                step: Some(first as u32 + 1),
            };
            return self.roll_back(Reason::Failed(failure, None)).await;
        }
        for (index, step) in steps.iter().enumerate().skip(first) {
            let halt = if let Some(interrupt) = self.take_interrupt() {
                Some(Halt::Interrupted(interrupt))
            } else {
                let span = tracing::info_span!("step", index = index + 1, step = %step.describe());
                tracing::Instrument::instrument(self.execute(index, step), span).await?.err()
            };
            match halt {
                // An override outside a pause has nothing to continue.
                None | Some(Halt::Interrupted(Interrupt::Override(..))) => self.step_done(index, step).await?,
                Some(Halt::Interrupted(interrupt)) => return self.interrupted(interrupt).await,
                Some(Halt::Failed(failure, at)) => return self.roll_back(Reason::Failed(failure, at)).await,
            }
        }
        self.finish().await
    }

    /// The next pending request, if any (an override outside a pause is dropped).
    pub(super) fn take_interrupt(&mut self) -> Option<Interrupt> {
        loop {
            match self.interrupts.try_recv().ok()? {
                Interrupt::Override(..) => {}
                other => return Some(other),
            }
        }
    }

    /// Persists progress (refreshing the heartbeat) with `events`.
    pub(super) async fn save(&mut self, events: Vec<NewEvent>) -> Result<()> {
        self.update(RolloutUpdate { progress: Some(self.rollout.progress.clone()), events, ..RolloutUpdate::default() })
            .await
    }

    /// Counts instances as checked (a later `CheckNew` step skips them).
    pub(super) fn mark_checked(&mut self, ids: impl IntoIterator<Item = String>) {
        self.checked.extend(ids);
    }

    /// Hands the rollout back (no owner) so the next engine takes it over without waiting for
    /// the lease to run out.
    async fn hand_back(&mut self) -> Result<()> {
        tracing::info!(deployment_id = %self.rollout.deployment_id, "rollout suspended and handed back");
        self.update(RolloutUpdate { owner: Some(String::new()), ..RolloutUpdate::default() }).await
    }

    /// Refuses to act for the rollout when this engine no longer holds its lease (checked right
    /// before every platform call that changes something).
    pub(super) async fn fenced(&self) -> Result<()> {
        let current = self.orch.store.rollout(&self.rollout.deployment_id).await?;
        if current.lease == self.rollout.lease && current.owner == self.orch.owner() {
            return Ok(());
        }
        Err(loco_types::Error::RolloutConflict {
            service: current.service,
            environment: current.environment,
            active: current.deployment_id,
        })
    }

    /// Applies one atomic rollout change, fenced by this execution's lease, and keeps the
    /// returned record.
    pub(super) async fn update(&mut self, mut update: RolloutUpdate) -> Result<()> {
        update.fence = update.fence.or(Some(self.rollout.lease));
        if !self.pending.is_empty() {
            let mut lead = std::mem::take(&mut self.pending);
            lead.append(&mut update.lead_events);
            update.lead_events = lead;
        }
        self.rollout = self.orch.store.update_rollout(&self.rollout.deployment_id, update).await?;
        self.last_save = Instant::now();
        Ok(())
    }

    pub(super) fn event(note: String, data: EventData) -> NewEvent {
        NewEvent::new(SYSTEM_ACTOR, note, data)
    }

    async fn step_done(&mut self, index: usize, step: &Step) -> Result<()> {
        let p = &mut self.rollout.progress;
        p.completed_steps = index as u32 + 1;
        p.step = step.describe();
        let new = running(&p.instances).filter(|i| i.version == self.rollout.plan.release.version).count();
        let data = EventData::StepProgress(StepProgressData::StepDone(StepDone {
            step: index as u32 + 1,
            of: p.total_steps,
            action: step.clone(),
            traffic: p.traffic.clone(),
            running_new_instances: new as u32,
            endpoint: p.endpoint.clone(),
        }));
        let note = format!("step {}/{}: {}", index + 1, p.total_steps, step.describe());
        let mut events = vec![Self::event(note, data)];
        if let Some(promoted) = self.promotion(step) {
            events.push(promoted);
        }
        self.save(events).await
    }

    /// A `canary_promoted` event when a canary's share grows after an observed step.
    fn promotion(&self, step: &Step) -> Option<NewEvent> {
        let Step::Shift { percent } = step else { return None };
        let Strategy::Canary { steps, .. } = &self.rollout.plan.strategy else { return None };
        let before = steps.iter().copied().filter(|p| p < percent).max()?;
        let analysis = self
            .rollout
            .progress
            .analysis
            .as_ref()
            .map(|j| PromotionVerdict { verdict: j.verdict, reasons: j.reasons.clone() });
        let data =
            EventData::CanaryPromoted(CanaryPromotedData { from_percent: before, to_percent: *percent, analysis });
        Some(Self::event(format!("canary promoted from {before}% to {percent}%"), data))
    }

    /// Executes one step. The outer `Result` is a recording failure; the inner one says whether
    /// the rollout may go on.
    async fn execute(&mut self, index: usize, step: &Step) -> Result<std::result::Result<(), Halt>> {
        let step_no = Some(index as u32 + 1);
        let outcome = match step {
            Step::StartNew { count } => self.start_new(*count, step).await?,
            Step::CheckNew => self.check_new().await?,
            Step::Shift { percent } => self.shift(*percent).await?,
            Step::Observe { seconds } | Step::Monitor { seconds } => {
                return self.observe(Duration::from_secs_f64(*seconds), step_no).await;
            }
            Step::StopOld { count } => self.stop_old(*count).await?,
        };
        Ok(outcome.map_err(|(code, message)| {
            Halt::Failed(RolloutFailure { code, message, step: step_no }, Some(Instant::now()))
        }))
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
                platform_id: None,
            });
        }
        // Recorded before the platform acts, so a crash cannot leave instances nobody knows of.
        self.rollout.progress.step = step.describe();
        self.save(Vec::new()).await?;
        let release = match self.orch.secrets.reveal(&self.rollout.plan.release) {
            Ok(release) => release,
            Err(e) => return Ok(Err((FailureCode::StepFailed, format!("the release's secrets do not open: {e}")))),
        };
        match self.platform.deploy(&self.target, &release, &ids).await {
            Ok(started) => {
                for instance in started {
                    self.rollout.progress.upsert(instance);
                }
                if let Ok(status) = self.platform.status(&self.target).await {
                    self.rollout.progress.endpoint = status.endpoint;
                }
                Ok(Ok(()))
            }
            Err(e) => Ok(Err((FailureCode::StepFailed, format!("starting {count} instance(s) failed: {e}")))),
        }
    }

    async fn check_new(&mut self) -> Result<StepOutcome> {
        let pending: Vec<Instance> = running(&self.rollout.progress.instances)
            .filter(|i| i.version == self.new_version() && !self.checked.contains(&i.id))
            .cloned()
            .collect();
        let spec = &self.rollout.plan.health;
        let checks = pending.iter().map(|i| health::check_with_retries(spec, self.checker(), &self.target, i));
        let outcomes = futures_util::future::join_all(checks).await;
        let events = outcomes.iter().map(|o| self.health_event(o)).collect();
        self.save(events).await?;
        if let Some(bad) = outcomes.iter().find(|o| !o.ok) {
            let message = format!(
                "instance {} failed its health check after {} attempt(s): {}",
                bad.instance_id, bad.attempts, bad.detail
            );
            return Ok(Err((FailureCode::HealthCheckFailed, message)));
        }
        self.checked.extend(outcomes.into_iter().map(|o| o.instance_id));
        Ok(Ok(()))
    }

    async fn shift(&mut self, percent: u8) -> Result<StepOutcome> {
        self.fenced().await?;
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
        Ok(match self.platform.set_traffic(&self.target, &split).await {
            Ok(()) => {
                self.rollout.progress.traffic = split;
                Ok(())
            }
            Err(e) => Err((FailureCode::StepFailed, format!("shifting traffic failed: {e}"))),
        })
    }

    async fn stop_old(&mut self, count: u32) -> Result<StepOutcome> {
        self.fenced().await?;
        let Some(previous) = &self.rollout.previous else { return Ok(Ok(())) };
        let progress = &self.rollout.progress;
        let already: HashSet<&str> =
            progress.instances.iter().filter(|i| i.state == InstanceState::Stopped).map(|i| i.id.as_str()).collect();
        let victims: Vec<Instance> = running(&previous.instances)
            .filter(|i| !already.contains(i.id.as_str()))
            .take(count as usize)
            .cloned()
            .collect();
        Ok(match self.platform.stop(&self.target, &victims).await {
            Ok(()) => {
                for v in victims {
                    self.rollout.progress.upsert(Instance { state: InstanceState::Stopped, ..v });
                }
                Ok(())
            }
            Err(e) => Err((FailureCode::StepFailed, format!("stopping old instances failed: {e}"))),
        })
    }

    /// The `health_check` event of `outcome`; its duration is reported to the observer too.
    pub(super) fn health_event(&self, outcome: &HealthOutcome) -> NewEvent {
        let check_type = self.rollout.plan.check_type();
        let took = Duration::from_millis(outcome.duration_ms);
        self.orch.observer.health_check(&self.rollout.environment, &check_type, took);
        let verdict = if outcome.ok { "passed" } else { "failed" };
        let note = format!(
            "instance {} {verdict} health check ({} attempt(s)): {}",
            outcome.instance_id, outcome.attempts, outcome.detail
        );
        let data = HealthCheckData { outcome: outcome.clone(), version: self.new_version().to_owned() };
        Self::event(note, EventData::HealthCheck(data))
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
        self.update(RolloutUpdate {
            state: Some(RolloutState::Succeeded),
            progress: Some(self.rollout.progress.clone()),
            action: Some((Action::Succeed, ActionInput::new(SYSTEM_ACTOR).with_note(note))),
            activate: Some(release),
            keep_releases: Some(self.orch.release_retention()),
            ..RolloutUpdate::default()
        })
        .await?;
        self.orch.report_status(&self.rollout, Status::Succeeded);
        self.orch.scale_down_later(&self.rollout, self.platform.clone());
        tracing::info!(deployment_id = %self.rollout.deployment_id, "rollout succeeded");
        Ok(())
    }
}

/// The data of a `step_progress` event that records a turn of the rollout.
pub(super) fn turn(turn: RolloutTurn) -> EventData {
    EventData::StepProgress(StepProgressData::Turn(turn))
}

pub(super) fn running(instances: &[Instance]) -> impl Iterator<Item = &Instance> {
    instances.iter().filter(|i| i.state == InstanceState::Running)
}
