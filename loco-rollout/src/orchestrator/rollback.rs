//! Rolling a rollout back: record the decision, restore the previous release on the platform —
//! start (or keep) its instances, health-check them, and only then give it 100 % of traffic and
//! stop the new release, so traffic never goes to instances that are not ready — (or take a first
//! release down), then record `rolled_back` with how long it took.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use loco_platform::{Instance, InstanceState, PlatformError, PlatformResult, TrafficWeight, health};
use loco_store::RolloutUpdate;
use loco_types::Result;
use loco_types::event_data::RolloutTurn;
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::Timestamp;
use loco_types::plan::Hook;
use loco_types::rollout::{FailureCode, Release, RolloutFailure, RolloutState};

use super::execution::{Execution, turn};
use super::{Reason, SYSTEM_ACTOR};

/// What the final `rollback` action records, and the timing of the restore.
struct Decision {
    actor: String,
    note: String,
    trigger: String,
    automatic: bool,
    /// When the deciding sample or check arrived, for automatic rollbacks.
    trigger_at: Option<Instant>,
}

/// How the restore went, in milliseconds.
struct Timing {
    /// From the deciding sample to the platform rollback call.
    trigger_to_call_ms: Option<f64>,
    /// The platform rollback call itself.
    restore_ms: f64,
}

/// How long restored instances may take to pass their health checks.
const RESTORE_PATIENCE: Duration = Duration::from_secs(60);

/// How many times each part of a restore (start and check, move traffic, stop the new release)
/// is tried before the rollback fails.
const RESTORE_ATTEMPTS: u32 = 4;

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

impl Execution<'_> {
    pub(super) async fn roll_back(&mut self, reason: Reason) -> Result<()> {
        let decision = self.decide(&reason);
        let failed = matches!(reason, Reason::Failed(..));
        self.record_decision(reason, &decision).await?;
        if failed {
            self.run_hook_after(Hook::OnFailure).await?;
        }
        let called = Instant::now();
        self.fenced().await?;
        let restored = self.restore().await;
        let timing = Timing {
            trigger_to_call_ms: decision.trigger_at.map(|t| ms(t, called)),
            restore_ms: ms(called, Instant::now()),
        };
        match restored {
            Ok(restored) => {
                self.run_hook_after(Hook::OnRollback).await?;
                self.record_rolled_back(decision, restored, &timing).await
            }
            Err(e) => {
                let message = format!("restoring the previous release failed: {e}");
                tracing::error!(deployment_id = %self.rollout.deployment_id, %message);
                let data = turn(RolloutTurn::Rollback { trigger: None, ok: Some(false) });
                self.update(RolloutUpdate {
                    state: Some(RolloutState::RollbackFailed),
                    failure: Some(RolloutFailure {
                        code: FailureCode::RollbackFailed,
                        message: message.clone(),
                        step: None,
                    }),
                    events: vec![Self::event(message, data)],
                    ..RolloutUpdate::default()
                })
                .await
            }
        }
    }

    /// Who the final `rollback` action is recorded for, and why.
    fn decide(&self, reason: &Reason) -> Decision {
        match reason {
            Reason::Failed(f, at) => Decision {
                actor: SYSTEM_ACTOR.to_owned(),
                note: format!("automatic rollback: {}", f.message),
                trigger: f.code.as_str().to_owned(),
                automatic: true,
                trigger_at: *at,
            },
            Reason::Requested(input) => Decision {
                actor: input.actor.clone(),
                note: input.note.clone().unwrap_or_else(|| "rollback requested".to_owned()),
                trigger: "manual".to_owned(),
                automatic: false,
                trigger_at: None,
            },
            Reason::Resume => {
                let f = self.rollout.failure.as_ref();
                Decision {
                    actor: SYSTEM_ACTOR.to_owned(),
                    note: format!("automatic rollback: {}", f.map_or("interrupted rollback", |f| f.message.as_str())),
                    trigger: f.map_or(FailureCode::EngineRestarted, |f| f.code).as_str().to_owned(),
                    automatic: true,
                    trigger_at: None,
                }
            }
        }
    }

    /// Records the decision to roll back (and `failed` for a failed rollout) before the platform acts.
    async fn record_decision(&mut self, reason: Reason, decision: &Decision) -> Result<()> {
        let mut update = match reason {
            Reason::Failed(failure, _) => {
                let fail = matches!(self.rollout.state, RolloutState::Running | RolloutState::Paused);
                RolloutUpdate {
                    action: fail
                        .then(|| (Action::Fail, ActionInput::new(SYSTEM_ACTOR).with_note(failure.message.clone()))),
                    failure: Some(failure),
                    ..RolloutUpdate::default()
                }
            }
            Reason::Requested(input) => RolloutUpdate {
                failure: Some(RolloutFailure {
                    code: FailureCode::RollbackRequested,
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
        let data = turn(RolloutTurn::Rollback { trigger: Some(decision.trigger.clone()), ok: None });
        update.events.push(Self::event(format!("rolling back: {}", decision.note), data));
        let failed_now = update.action.is_some();
        self.update(update).await?;
        if failed_now {
            self.orch.report_status(&self.rollout, Status::Failed);
        }
        Ok(())
    }

    /// Restores the previous release (or, for a first release, takes the new one down): its
    /// instances that still run are kept and the missing ones started, all are health-checked
    /// with the plan's probes, then it gets 100 % of traffic and the new instances stop. A
    /// restored instance that fails its check keeps traffic where it is. Each of the three parts
    /// is tried up to [`RESTORE_ATTEMPTS`] times (a platform call can fail or time out once and
    /// work the next time; a restored instance can die and be replaced): a failed restore first
    /// stops the replacements it may have started, so a retry never leaves strays. Returns the
    /// previous release and its serving instances.
    async fn restore(&self) -> PlatformResult<Option<(Release, Vec<Instance>)>> {
        let retire = self.new_instances_not_stopped();
        let Some(previous) = &self.rollout.previous else {
            self.again("stopping the new release", || self.platform.stop(&self.target, &retire)).await?;
            self.again("removing its traffic", || self.platform.set_traffic(&self.target, &[])).await?;
            return Ok(None);
        };
        let spec = self.orch.secrets.reveal(&previous.spec).map_err(|e| PlatformError::new(e.to_string()))?;
        let mut attempt = 0;
        let serving = loop {
            let replacements: Vec<String> =
                (0..previous.instances.len().max(1)).map(|_| format!("ins_{}", ulid::Ulid::new())).collect();
            let started = self.start_and_check(previous, &spec, &replacements).await;
            match started {
                Ok(serving) => break serving,
                Err(e) if attempt + 1 >= RESTORE_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::warn!(deployment_id = %self.rollout.deployment_id, error = %e, attempt, "restore failed; trying again");
                    // What this attempt started and the next will not keep.
                    let kept: HashSet<&str> = previous.instances.iter().map(|i| i.id.as_str()).collect();
                    let strays: Vec<Instance> = replacements
                        .into_iter()
                        .filter(|id| !kept.contains(id.as_str()))
                        .map(|id| Instance {
                            id,
                            version: previous.version.clone(),
                            address: None,
                            pid: None,
                            state: InstanceState::Running,
                            platform_id: None,
                        })
                        .collect();
                    self.again("stopping a failed restore's replacements", || {
                        self.platform.stop(&self.target, &strays)
                    })
                    .await?;
                    tokio::time::sleep(self.rollout.plan.health.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        };
        let split = [TrafficWeight { version: previous.version.clone(), percent: 100 }];
        self.again("moving traffic", || self.platform.set_traffic(&self.target, &split)).await?;
        self.again("stopping the new release", || self.platform.stop(&self.target, &retire)).await?;
        Ok(Some((previous.clone(), serving)))
    }

    /// Brings `previous` back (keeping what runs, starting `replacements` for the rest) and
    /// health-checks every instance patiently.
    async fn start_and_check(
        &self,
        previous: &Release,
        spec: &loco_types::plan::ReleaseSpec,
        replacements: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let serving = self.platform.restore(&self.target, spec, &previous.instances, replacements).await?;
        let patient = self.rollout.plan.health.patient(RESTORE_PATIENCE);
        let checks = serving.iter().map(|i| health::check_with_retries(&patient, self.checker(), &self.target, i));
        if let Some(bad) = futures_util::future::join_all(checks).await.into_iter().find(|o| !o.ok) {
            return Err(PlatformError::new(format!(
                "restored instance {} of {} failed its health check after {} attempt(s): {}; traffic was not moved",
                bad.instance_id, previous.version, bad.attempts, bad.detail
            )));
        }
        Ok(serving)
    }

    /// Makes an idempotent platform call, again after the plan's backoff when it fails, up to
    /// [`RESTORE_ATTEMPTS`] times; the last error names what was being done.
    async fn again<F, Fut>(&self, what: &str, call: F) -> PlatformResult<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = PlatformResult<()>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt + 1 >= RESTORE_ATTEMPTS => {
                    return Err(PlatformError::new(format!(
                        "{what}: {} (after {RESTORE_ATTEMPTS} attempts)",
                        e.message
                    )));
                }
                Err(e) => {
                    tracing::warn!(deployment_id = %self.rollout.deployment_id, error = %e, attempt, "{what} failed; trying again");
                    tokio::time::sleep(self.rollout.plan.health.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    fn new_instances_not_stopped(&self) -> Vec<Instance> {
        let version = self.new_version();
        self.rollout
            .progress
            .instances
            .iter()
            .filter(|i| i.version == version && i.state != InstanceState::Stopped)
            .cloned()
            .collect()
    }

    async fn record_rolled_back(
        &mut self,
        decision: Decision,
        restored: Option<(Release, Vec<Instance>)>,
        timing: &Timing,
    ) -> Result<()> {
        for instance in self.new_instances_not_stopped() {
            self.rollout.progress.upsert(Instance { state: InstanceState::Stopped, ..instance });
        }
        let mut activate = None;
        self.rollout.progress.traffic = Vec::new();
        let restored_version = restored.as_ref().map(|(p, _)| p.version.clone());
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
        let summary = match &restored_version {
            Some(v) => format!("restored {v} to 100% of traffic in {:.1} ms", timing.restore_ms),
            None => format!("took the first release down in {:.1} ms", timing.restore_ms),
        };
        let data = turn(RolloutTurn::Restored {
            version: restored_version,
            trigger: decision.trigger.clone(),
            trigger_to_rollback_call_ms: timing.trigger_to_call_ms,
            restore_ms: timing.restore_ms,
        });
        // The platform's state is recorded first, then the lifecycle's last word.
        self.save(vec![Self::event(summary, data)]).await?;
        let Decision { actor, note, trigger, automatic, .. } = decision;
        self.update(RolloutUpdate {
            state: Some(RolloutState::RolledBack),
            progress: Some(self.rollout.progress.clone()),
            action: Some((Action::Rollback, ActionInput::new(actor).with_note(note))),
            activate,
            keep_releases: Some(self.orch.release_retention()),
            ..RolloutUpdate::default()
        })
        .await?;
        self.orch.report_status(&self.rollout, Status::RolledBack);
        self.orch.observer.rollback(&trigger, automatic);
        tracing::warn!(deployment_id = %self.rollout.deployment_id, %trigger, "rollout rolled back");
        Ok(())
    }
}
