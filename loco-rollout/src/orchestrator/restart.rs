//! Engines stopping and starting: taking over rollouts whose engine is gone (at open, then twice
//! per lease), handing rollouts back on close, and bringing back the releases that served when
//! an engine whose instances die with it starts again.

use std::collections::BTreeSet;
use std::sync::Arc;

use loco_platform::{Instance, Target, TrafficWeight, health};
use loco_store::{NewEvent, RolloutUpdate};
use loco_types::event_data::RolloutTurn;
use loco_types::rollout::{Release, Rollout};
use loco_types::{Error, Result};
use tokio::sync::{mpsc, watch};

use super::execution::turn;
use super::resume::REVIVE_PATIENCE;
use super::{Interrupt, Mode, Orchestrator, RolloutHandle, SYSTEM_ACTOR};
use crate::lease;

impl Orchestrator {
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
        for (_, task) in self.scale_downs.lock().await.drain() {
            task.abort();
        }
        let running: Vec<(mpsc::UnboundedSender<Interrupt>, watch::Receiver<bool>)> =
            self.lock_running().values().map(|r| (r.interrupts.clone(), r.done.clone())).collect();
        for (interrupts, mut done) in running {
            let _ = interrupts.send(Interrupt::Suspend);
            let _ = done.wait_for(|d| *d).await;
        }
    }

    /// Brings back, on platforms whose instances stop with the engine, the release serving each
    /// target without an active rollout: its instances kept when they still run (after a crash)
    /// and started otherwise, health-checked with its rollout's probes, then given all traffic,
    /// recorded as a `revived` turn of its rollout. Instances of retired releases that outlived a
    /// crash are stopped. Returns the releases brought back.
    /// Targets in `skip` (those whose rollouts were just recovered) are left as they are.
    pub async fn revive_serving(self: &Arc<Self>, skip: &[(String, String)]) -> Result<Vec<Release>> {
        let rollouts = self.store.rollouts(false).await?;
        let mut busy: BTreeSet<(String, String)> = rollouts
            .iter()
            .filter(|r| r.state.is_active())
            .map(|r| (r.service.clone(), r.environment.clone()))
            .collect();
        busy.extend(skip.iter().cloned());
        let targets: BTreeSet<(String, String)> =
            rollouts.iter().map(|r| (r.service.clone(), r.environment.clone())).filter(|t| !busy.contains(t)).collect();
        let mut revived = Vec::new();
        for (service, environment) in targets {
            let target = Target { service, environment };
            match self.revive_target(&target).await {
                Ok(Some(release)) => revived.push(release),
                Ok(None) => {}
                Err(e) => tracing::error!(%target, error = %e, "bringing back the serving release failed"),
            }
        }
        Ok(revived)
    }

    async fn revive_target(&self, target: &Target) -> Result<Option<Release>> {
        let history = self.store.releases(&target.service, &target.environment, self.release_retention()).await?;
        let Some(current) = history.iter().find(|r| r.retired_at.is_none()).cloned() else { return Ok(None) };
        let Ok(platform) = self.platform(&current.platform) else { return Ok(None) };
        if !platform.instances_die_with_engine() {
            return Ok(None);
        }
        // A release restored by a rollback is recorded again with the same instances: not strays.
        let strays: Vec<Instance> = history
            .iter()
            .filter(|r| r.retired_at.is_some())
            .flat_map(|r| r.instances.clone())
            .filter(|i| !current.instances.iter().any(|c| c.id == i.id))
            .collect();
        if let Err(e) = platform.stop(target, &strays).await {
            tracing::warn!(%target, error = %e, "stopping instances of retired releases failed");
        }
        let rollout: Rollout = self.store.rollout(&current.deployment_id).await?;
        let spec = self.secrets.reveal(&current.spec)?;
        let ids: Vec<String> =
            (0..current.instances.len().max(1)).map(|_| format!("ins_{}", ulid::Ulid::new())).collect();
        let platform_error = |e: loco_platform::PlatformError| Error::Platform {
            platform: current.platform.clone(),
            message: e.message,
        };
        let serving = platform.restore(target, &spec, &current.instances, &ids).await.map_err(platform_error)?;
        let patient = rollout.plan.health.patient(REVIVE_PATIENCE);
        let checks =
            serving.iter().map(|i| health::check_with_retries(&patient, self.checker(platform.as_ref()), target, i));
        if let Some(bad) = futures_util::future::join_all(checks).await.into_iter().find(|o| !o.ok) {
            platform.stop(target, &serving).await.map_err(platform_error)?;
            return Err(Error::Platform {
                platform: current.platform.clone(),
                message: format!("{} of {target} did not come back healthy: {}", current.version, bad.detail),
            });
        }
        let split = [TrafficWeight { version: current.version.clone(), percent: 100 }];
        platform.set_traffic(target, &split).await.map_err(platform_error)?;
        let endpoint = platform.status(target).await.ok().and_then(|s| s.endpoint);
        let note = format!(
            "{} of {target} brought back after an engine start: {} instance(s) on {}",
            current.version,
            serving.len(),
            endpoint.as_deref().unwrap_or("the platform")
        );
        let data = turn(RolloutTurn::Revived {
            version: current.version.clone(),
            instances: serving.len() as u32,
            endpoint: endpoint.clone(),
        });
        let mut progress = rollout.progress.clone();
        progress.endpoint = endpoint;
        let update = RolloutUpdate {
            progress: Some(progress),
            events: vec![NewEvent::new(SYSTEM_ACTOR, note, data)],
            serving_instances: Some(serving.clone()),
            ..RolloutUpdate::default()
        };
        self.store.update_rollout(&current.deployment_id, update).await?;
        tracing::info!(%target, version = %current.version, instances = serving.len(), "serving release brought back");
        Ok(Some(Release { instances: serving, ..current }))
    }
}
