//! Continuing a rollout whose engine stopped (`on_restart: resume`): bring back what ran — the
//! new release's instances and, while traffic was split, the previous release's — check their
//! health, restore the recorded split, then go on at the first unfinished step.

use std::time::Duration;

use loco_platform::{Instance, InstanceState, health};
use loco_store::RolloutUpdate;
use loco_types::Result;
use loco_types::event_data::RolloutTurn;
use loco_types::plan::ReleaseSpec;
use loco_types::rollout::{FailureCode, RolloutFailure};

use super::Reason;
use super::execution::{Execution, running, turn};

/// How long instances brought back may take to pass their health checks.
pub(super) const REVIVE_PATIENCE: Duration = Duration::from_secs(60);

impl Execution<'_> {
    /// Resumes at the first unfinished step, or rolls back when what ran cannot be brought back.
    pub(super) async fn resume(&mut self) -> Result<()> {
        let step = self.rollout.progress.completed_steps + 1;
        match self.revive().await? {
            Ok(instances) => {
                let note = format!(
                    "resumed at step {step} of {} after an engine restart: {instances} instance(s) running and \
                     checked, traffic as recorded",
                    self.rollout.progress.total_steps
                );
                self.save(vec![Self::event(note, turn(RolloutTurn::Resume { step, instances }))]).await?;
                self.run_steps_from(step as usize - 1).await
            }
            Err(why) => {
                let message = format!("the engine stopped during step {step} and resuming failed: {why}");
                let failure = RolloutFailure { code: FailureCode::EngineRestarted, message, step: Some(step) };
                self.roll_back(Reason::Failed(failure, None)).await
            }
        }
    }

    /// Brings back the new release's running instances and, when the recorded split still gives
    /// the previous release a share, the previous release's; checks them all; restores the
    /// split. Returns how many instances run, or why it could not.
    async fn revive(&mut self) -> Result<std::result::Result<u32, String>> {
        self.fenced().await?;
        let new_known: Vec<Instance> =
            running(&self.rollout.progress.instances).filter(|i| i.version == self.new_version()).cloned().collect();
        let mut revived = Vec::new();
        if !new_known.is_empty() {
            let spec = self.rollout.plan.release.clone();
            match self.bring_back(&spec, &new_known).await {
                Ok(instances) => {
                    for gone in new_known.iter().filter(|k| !instances.iter().any(|b| b.id == k.id)) {
                        self.rollout.progress.upsert(Instance { state: InstanceState::Stopped, ..gone.clone() });
                    }
                    for instance in &instances {
                        self.rollout.progress.upsert(instance.clone());
                    }
                    revived.extend(instances);
                }
                Err(why) => return Ok(Err(why)),
            }
        }
        let old_share =
            self.old_version().is_some_and(|old| self.rollout.progress.traffic.iter().any(|w| w.version == old));
        if let (true, Some(mut previous)) = (old_share, self.rollout.previous.clone()) {
            let stopped: Vec<&str> = self
                .rollout
                .progress
                .instances
                .iter()
                .filter(|i| i.state == InstanceState::Stopped)
                .map(|i| i.id.as_str())
                .collect();
            let known: Vec<Instance> =
                running(&previous.instances).filter(|i| !stopped.contains(&i.id.as_str())).cloned().collect();
            match self.bring_back(&previous.spec, &known).await {
                Ok(instances) => {
                    // The restore point now names the instances that run, so later steps stop them.
                    previous.instances.clone_from(&instances);
                    let update = RolloutUpdate {
                        previous: Some(previous),
                        progress: Some(self.rollout.progress.clone()),
                        ..RolloutUpdate::default()
                    };
                    self.update(update).await?;
                    revived.extend(instances);
                }
                Err(why) => return Ok(Err(why)),
            }
        }
        let patient = self.rollout.plan.health.patient(REVIVE_PATIENCE);
        let checks = revived.iter().map(|i| health::check_with_retries(&patient, self.checker(), &self.target, i));
        if let Some(bad) = futures_util::future::join_all(checks).await.into_iter().find(|o| !o.ok) {
            return Ok(Err(format!("instance {} failed its health check: {}", bad.instance_id, bad.detail)));
        }
        let split = self.rollout.progress.traffic.clone();
        if !split.is_empty()
            && let Err(e) = self.platform.set_traffic(&self.target, &split).await
        {
            return Ok(Err(format!("restoring the traffic split failed: {e}")));
        }
        self.mark_checked(revived.iter().map(|i| i.id.clone()));
        if let Ok(status) = self.platform.status(&self.target).await {
            self.rollout.progress.endpoint = status.endpoint;
        }
        Ok(Ok(revived.len() as u32))
    }

    /// Keeps those of `known` that still run and starts replacements for the others.
    async fn bring_back(&self, spec: &ReleaseSpec, known: &[Instance]) -> std::result::Result<Vec<Instance>, String> {
        let spec = self.orch.secrets.reveal(spec).map_err(|e| format!("the release's secrets do not open: {e}"))?;
        let ids: Vec<String> = (0..known.len().max(1)).map(|_| format!("ins_{}", ulid::Ulid::new())).collect();
        self.platform.restore(&self.target, &spec, known, &ids).await.map_err(|e| e.to_string())
    }
}
