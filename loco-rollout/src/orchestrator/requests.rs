//! What people ask of rollouts: roll one back (running, paused or finished), roll a target back
//! to any retained release, continue a paused one.

use std::sync::Arc;
use std::time::Duration;

use loco_platform::{Instance, InstanceState, Target};
use loco_store::RolloutUpdate;
use loco_types::lifecycle::{self, Action, ActionInput};
use loco_types::rollout::{Rollout, RolloutState};
use loco_types::{Error, Result};

use super::{Interrupt, Mode, Orchestrator};
use crate::lease;

/// How far back [`Orchestrator::rollback_to`] looks in a target's release history.
const MAX_HISTORY: u32 = 500;

impl Orchestrator {
    /// Rolls back a deployment that has a rollout, restoring its previous release. Returns
    /// `Ok(None)` when the deployment has no rollout whose release could be restored, so the
    /// caller records a plain lifecycle rollback.
    pub async fn rollback(self: &Arc<Self>, id: &str, input: ActionInput) -> Result<Option<Rollout>> {
        let running = self.lock_running().get(id).map(|r| (r.interrupts.clone(), r.done.clone()));
        let interrupted = running.is_some();
        if let Some((interrupts, mut done)) = running {
            let _ = interrupts.send(Interrupt::Rollback(input.clone(), loco_store::current_request_id()));
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
                // The previous release's instances kept for a scale-down delay serve again.
                self.cancel_scale_down(id).await;
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
        let _ = sender.send(Interrupt::Override(input, loco_store::current_request_id()));
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

    pub(super) async fn claim(&self, rollout: Rollout) -> Result<Rollout> {
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

    /// Rolls `service`/`environment` back to the retained release `version`: the deployment of
    /// the current release is rolled back with that release as its restore point. Its instances
    /// are kept when they still run (then only traffic moves) and started otherwise; either way
    /// they are health-checked before they get traffic. Refused while a rollout is active on the
    /// target (`rollout_conflict`), for the version already serving or one the history does not
    /// hold (`validation_error` on `version`).
    pub async fn rollback_to(
        self: &Arc<Self>,
        service: &str,
        environment: &str,
        version: &str,
        input: ActionInput,
    ) -> Result<Rollout> {
        lifecycle::validate_action(Action::Rollback, &input)?;
        let active = self.store.rollouts(true).await?;
        if let Some(busy) = active.iter().find(|r| r.service == service && r.environment == environment) {
            return Err(Error::RolloutConflict {
                service: service.to_owned(),
                environment: environment.to_owned(),
                active: busy.deployment_id.clone(),
            });
        }
        let history = self.store.releases(service, environment, MAX_HISTORY).await?;
        let current = history
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| Error::invalid("service", format!("no release serves {service}/{environment}")))?;
        if current.version == version {
            return Err(Error::invalid("version", format!("'{version}' already serves {service}/{environment}")));
        }
        let Some(to) = history.iter().find(|r| r.version == version) else {
            let retained: Vec<&str> = history.iter().map(|r| r.version.as_str()).collect();
            return Err(Error::invalid(
                "version",
                format!(
                    "no retained release of {service}/{environment} is '{version}' (retained, newest first: {})",
                    retained.join(", ")
                ),
            ));
        };
        let rollout = match self.store.rollout(&current.deployment_id).await {
            Ok(rollout) if rollout.state == RolloutState::Succeeded => rollout,
            Ok(rollout) => {
                return Err(Error::invalid(
                    "version",
                    format!("the current release's rollout ended {}; roll its deployment back instead", rollout.state),
                ));
            }
            Err(Error::RolloutNotFound { .. }) => {
                return Err(Error::invalid("service", "the current release was not deployed by a rollout"));
            }
            Err(e) => return Err(e),
        };
        let platform = self.platform(&rollout.platform)?;
        // Instances of the release in between, kept for a scale-down delay, stop once `to` serves.
        self.cancel_scale_down(&rollout.deployment_id).await;
        let skipped: Vec<Instance> = match &rollout.previous {
            Some(previous) if previous.version != to.version => {
                let stopped: Vec<&str> = rollout
                    .progress
                    .instances
                    .iter()
                    .filter(|i| i.state == InstanceState::Stopped)
                    .map(|i| i.id.as_str())
                    .collect();
                previous.instances.iter().filter(|i| !stopped.contains(&i.id.as_str())).cloned().collect()
            }
            _ => Vec::new(),
        };
        let rollout = self.claim(rollout).await?;
        let done = self.spawn(rollout, platform.clone(), Mode::RollbackTo(input, Box::new(to.clone()))).wait().await?;
        if done.state == RolloutState::RolledBack && !skipped.is_empty() {
            let target = Target { service: service.to_owned(), environment: environment.to_owned() };
            if let Err(e) = platform.stop(&target, &skipped).await {
                tracing::warn!(%target, error = %e, "stopping the skipped release's kept instances failed");
            }
        }
        match &done.failure {
            Some(f) if done.state == RolloutState::RollbackFailed => {
                Err(Error::RollbackFailed { id: done.deployment_id.clone(), message: f.message.clone() })
            }
            _ => Ok(done),
        }
    }
}
