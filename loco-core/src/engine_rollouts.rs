//! The rollout half of [`Engine`]: starting rollouts (a plan's service resolved from the
//! registry, its secrets sealed before anything is stored), following and overriding them, the
//! release history, live release metrics and instance logs. Every record returned here has its
//! secret values redacted.

use std::time::Duration;

use loco_platform::Target;
use loco_types::analysis::{Thresholds, WindowStats};
use loco_types::error::FieldError;
use loco_types::lifecycle::{self, Action, ActionInput};
use loco_types::model::check_limit;
use loco_types::plan::{RolloutPlan, ValidationReport};
use loco_types::rollout::{Release, Rollout};
use loco_types::{Error, Result};
use tokio::sync::broadcast::error::RecvError;

use crate::engine::{Engine, input};
use crate::follow::{LogFollower, RolloutWatch};

impl Engine {
    /// Starts rolling out an approved deployment: validates the plan, records `started` and the
    /// rollout atomically (`rollout_conflict` if its service+environment already has an active
    /// rollout), then executes the steps in the background and returns the rollout as recorded at
    /// its start. Progress is recorded after every step as `step_progress` and `health_check`
    /// events; follow it with [`watch_rollout`](Self::watch_rollout) or
    /// [`wait_rollout`](Self::wait_rollout).
    ///
    /// A plan naming a registered service (`release.service`) gets its command, working
    /// directory and probes from the registry; `release.secret_env` values are sealed before
    /// anything is stored. The returned record, like every record the engine returns, shows
    /// secrets as `"***"`.
    pub async fn start_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<Rollout> {
        self.start_rollout_with(id, Some(plan), ActionInput::new(actor)).await
    }

    /// [`start_rollout`](Self::start_rollout) for `input.actor`; with `input.override_reason`, an
    /// admin's start in spite of a freeze window in force (recorded as a `policy_override` event
    /// just before `started`). Without it, a window in force refuses the start with
    /// `policy_violation`. Without a plan, the deployment's stage's plan in the manifest it was
    /// created under is used ([`manifest_plan`](Self::manifest_plan)).
    pub async fn start_rollout_with(&self, id: &str, plan: Option<RolloutPlan>, input: ActionInput) -> Result<Rollout> {
        let plan = match plan {
            Some(plan) => plan,
            None => self.manifest_plan(id).await?,
        };
        let (plan, policy_events) = self.prepare_start(id, plan, &input).await?;
        Ok(self.orchestrator.start(id, plan, &input.actor, policy_events).await?.0.redacted())
    }

    /// The plan completed and sealed, and the events the freeze gate asks for.
    async fn prepare_start(
        &self,
        id: &str,
        plan: RolloutPlan,
        input: &ActionInput,
    ) -> Result<(RolloutPlan, Vec<loco_store::NewEvent>)> {
        let plan = self.prepare_plan(plan).await?;
        lifecycle::validate_action(Action::Start, input)?;
        let policy_events = self.start_gate(id, input).await?;
        Ok((plan, policy_events))
    }

    /// Runs a plan's pre-deployment checks alone — the ones [`start_rollout`](Self::start_rollout)
    /// runs first — and returns their report, passed or not. Nothing is recorded and nothing
    /// starts; a plan naming a registered service gets the service's checks.
    pub async fn validate_plan(&self, plan: RolloutPlan) -> Result<ValidationReport> {
        let plan = self.prepare_plan(plan).await?;
        self.orchestrator.validate(&plan).await
    }

    /// Checks a plan, completes it from the service registry and seals its secrets.
    async fn prepare_plan(&self, mut plan: RolloutPlan) -> Result<RolloutPlan> {
        plan.validate()?;
        if let Some(name) = plan.release.service.clone() {
            let service = self.store.service(&name).await.map_err(|e| match e {
                Error::ServiceNotFound { name } => {
                    Error::invalid("release.service", format!("'{name}' is not a registered service"))
                }
                other => other,
            })?;
            plan = plan.with_service(&service)?;
        }
        plan.release = self.keys.seal(plan.release)?;
        Ok(plan)
    }

    /// [`start_rollout`](Self::start_rollout) and wait for the outcome: `succeeded`, or
    /// `rolled_back` after a failed step (the deployment is then `rolled_back` too).
    pub async fn run_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<Rollout> {
        let input = ActionInput::new(actor);
        let (plan, policy_events) = self.prepare_start(id, plan, &input).await?;
        Ok(self.orchestrator.start(id, plan, actor, policy_events).await?.1.wait().await?.redacted())
    }

    /// Continues a rollout paused by its analysis (a high-severity finding or an inconclusive
    /// window), on behalf of `actor`, who must say why (`note`). Fails with `rollout_not_paused`
    /// when it is not paused. To roll a paused rollout back instead, use [`rollback`](Self::rollback).
    pub async fn override_rollout(&self, id: &str, actor: &str, note: &str) -> Result<Rollout> {
        Ok(self.orchestrator.override_pause(id, input(actor, Some(note))).await?.redacted())
    }

    /// Rolls `service`/`environment` back to the retained release `version`, on behalf of `actor`
    /// (`note` says why): the current release's deployment becomes `rolled_back` and `version`
    /// serves again. Its instances are kept when they still run — then only traffic moves — and
    /// started otherwise; either way they pass their health checks before they get traffic (no
    /// analysis). Fails with `rollout_conflict` while a rollout is active on the target, and with
    /// `validation_error` on `version` for the release already serving or one the history does
    /// not hold (see [`EngineBuilder::release_retention`](crate::EngineBuilder::release_retention)).
    pub async fn rollback_to(
        &self,
        service: &str,
        environment: &str,
        version: &str,
        actor: &str,
        note: &str,
    ) -> Result<Rollout> {
        let blank: Vec<FieldError> = [("service", service), ("environment", environment), ("version", version)]
            .into_iter()
            .filter(|(_, value)| value.trim().is_empty())
            .map(|(field, _)| FieldError::new(field, "is required"))
            .collect();
        if !blank.is_empty() {
            return Err(Error::Validation { details: blank });
        }
        let input = input(actor, Some(note));
        Ok(self.orchestrator.rollback_to(service, environment, version, input).await?.redacted())
    }

    /// Sets the analysis thresholds of one environment for rollouts started from now on; problems
    /// name `thresholds.<environment>.<field>`.
    /// They hold for this engine only; [`save_thresholds`](Self::save_thresholds) also stores them.
    pub fn set_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()> {
        self.orchestrator.set_thresholds(environment, thresholds)
    }

    /// Sets the analysis thresholds of one environment for rollouts started from now on and
    /// stores them, so every engine opened on this store later uses them too (until they are set
    /// again); problems name `thresholds.<environment>.<field>`.
    pub async fn save_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()> {
        thresholds.validate(&format!("thresholds.{environment}."))?;
        if environment.trim().is_empty() {
            return Err(Error::invalid("environment", "is required"));
        }
        self.store.put_thresholds(environment, thresholds.clone()).await?;
        self.orchestrator.set_thresholds(environment, thresholds)
    }

    /// The thresholds each environment uses when a plan sets none (those saved and those given
    /// when the engine was opened), by environment name.
    pub fn thresholds(&self) -> std::collections::BTreeMap<String, Thresholds> {
        self.orchestrator.thresholds()
    }

    /// Waits until the deployment's rollout is no longer active — succeeded, rolled back or failed
    /// to roll back (a paused rollout is still active and keeps this waiting) — and returns it.
    /// For surfaces that started a rollout without keeping its handle.
    pub async fn wait_rollout(&self, id: &str) -> Result<Rollout> {
        // Subscribe first so no change between the check and the wait is missed.
        let mut events = self.store.subscribe();
        loop {
            let rollout = self.store.rollout(id).await?;
            if !rollout.state.is_active() {
                return Ok(rollout.redacted());
            }
            match events.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                // Closed engine: whatever state it reached is the answer.
                Err(RecvError::Closed) => return Ok(self.store.rollout(id).await?.redacted()),
            }
        }
    }

    /// The rollout of one deployment.
    pub async fn rollout(&self, id: &str) -> Result<Rollout> {
        Ok(self.store.rollout(id).await?.redacted())
    }

    /// Every rollout, or only the active ones.
    pub async fn rollouts(&self, active_only: bool) -> Result<Vec<Rollout>> {
        Ok(self.store.rollouts(active_only).await?.into_iter().map(Rollout::redacted).collect())
    }

    /// Every state a deployment's rollout passes through from now on: the rollout as it is, then
    /// again after every change, ending after the first state that is no longer active
    /// (succeeded, rolled back, failed to roll back). Changes written by another engine on the
    /// same database are seen too.
    pub async fn watch_rollout(&self, id: &str) -> Result<RolloutWatch> {
        RolloutWatch::start(self.store.clone(), id).await
    }

    /// The releases that served a service+environment, newest first (the first is current
    /// unless retired); `limit` is 1..=500.
    pub async fn releases(&self, service: &str, environment: &str, limit: u32) -> Result<Vec<Release>> {
        check_limit(limit, "limit")?;
        Ok(self.store.releases(service, environment, limit).await?.into_iter().map(Release::redacted).collect())
    }

    /// Metrics of one release version of a deployment's rollout over the last `window`, from the
    /// source its analysis reads (without analysis, the platform's own measurements — the local
    /// proxy measures every request it forwards): requests, errors, error rate, latency
    /// percentiles. A rollout whose source is not there gives a `validation_error` on `platform`.
    pub async fn release_metrics(&self, id: &str, version: &str, window: Duration) -> Result<WindowStats> {
        let rollout = self.store.rollout(id).await?;
        let platform = self.orchestrator.platform(&rollout.platform)?;
        let Some(source) = self.orchestrator.metric_source(&rollout.plan, &platform) else {
            return Err(Error::invalid("platform", format!("platform '{}' measures no metrics", rollout.platform)));
        };
        let target = Target { service: rollout.service, environment: rollout.environment };
        source
            .stats(&target, version, window)
            .await
            .map_err(|e| Error::Platform { platform: rollout.platform, message: e.message })
    }

    /// Follows the output of one instance of a deployment's rollout: recent lines first, then new
    /// ones until the instance stops. `instance_id` may also name a script of the rollout,
    /// `script:<hook>:<name>` (its last 10,000 lines while this engine runs, then new ones until
    /// it ends).
    pub async fn follow_logs(&self, id: &str, instance_id: &str) -> Result<LogFollower> {
        let rollout = self.store.rollout(id).await?;
        if instance_id.starts_with("script:") {
            let log = self.orchestrator.script_log(id, instance_id).ok_or_else(|| {
                Error::invalid(
                    "instance_id",
                    format!("no script '{instance_id}' ran for deployment '{id}' on this engine since it started"),
                )
            })?;
            return Ok(LogFollower::new(log.follow()));
        }
        let platform = self.orchestrator.platform(&rollout.platform)?;
        let target = Target { service: rollout.service, environment: rollout.environment };
        let lines = platform
            .logs(&target, instance_id)
            .await
            .map_err(|e| Error::Platform { platform: rollout.platform, message: e.message })?;
        Ok(LogFollower::new(lines))
    }
}
