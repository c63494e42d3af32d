//! The policy half of [`Engine`]: deploy locks, freeze windows, approval gates and pipelines.
//! All of them are stored with the deployments, so every engine on one database enforces the
//! same ones.
//!
//! - A start takes the deploy lock of its service and environment in the transaction that
//!   writes `started` (the store does it, as [`loco_types::lock`] decides), so one deployment
//!   per target runs at a time; an admin may force a stuck lock free with a reason.
//! - A start (plain or a rollout) during a freeze window in force for its environment, or
//!   inside its approval gate's wait, is refused with `policy_violation`, unless the input
//!   carries an admin's `override_reason`, recorded as a `policy_override` event just before
//!   `started`, in the same transaction. Rollbacks are never frozen: undoing a change stays
//!   possible during a freeze.
//! - Reviews under an approval gate are counted by the store in the review's transaction
//!   ([`loco_types::gate`]); a start short of the count is `approval_required`.
//! - A create out of its service's pipeline order is refused by the store in the create's
//!   transaction ([`loco_types::pipeline`]); [`Engine::promote`] creates the next stage's
//!   deployment of a succeeded one.

use loco_store::NewEvent;
use loco_types::freeze::{self, ActiveFreeze, FreezeWindow};
use loco_types::gate::{self, ApprovalGate, ApprovalStatus, ReviewerGroup};
use loco_types::lifecycle::{self, Action, ActionInput, Status};
use loco_types::lock::{self, DeployLock};
use loco_types::manifest::{self, ManifestRecord};
use loco_types::model::Timestamp;
use loco_types::model::{Deployment, NewDeployment};
use loco_types::pipeline::{self, Pipeline, PipelineView};
use loco_types::plan::RolloutPlan;
use loco_types::schedule::{ScheduleRequest, ScheduleState, ScheduledStart};
use loco_types::{Error, Result};

use crate::engine::Engine;

impl Engine {
    /// Every deploy lock held: which deployment of each service is started in each environment,
    /// who started it and since when.
    pub async fn locks(&self) -> Result<Vec<DeployLock>> {
        self.store.locks().await
    }

    /// Frees the deploy lock of `service` in `environment` although its holder is still
    /// `started` (say its runner died): `actor` (an admin, on HTTP) and a non-blank `reason` are
    /// recorded as a `lock_released` event on the holder. `not_found` when no lock is held.
    pub async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        actor: &str,
        reason: &str,
    ) -> Result<DeployLock> {
        lock::validate_release(service, environment, actor, reason)?;
        let released = self.store.release_lock(service, environment, actor, reason).await?;
        tracing::warn!(service, environment, deployment_id = %released.deployment_id, actor, "deploy lock released by force");
        Ok(released)
    }

    /// Sets (or replaces, by name) a freeze window; `by` is who set it.
    pub async fn set_freeze_window(&self, window: FreezeWindow, by: &str) -> Result<FreezeWindow> {
        window.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who sets the window"));
        }
        let window = self.store.put_freeze_window(window, by).await?;
        tracing::info!(window = %window.name, by, "freeze window set");
        Ok(window)
    }

    /// Every freeze window, by name.
    pub async fn freeze_windows(&self) -> Result<Vec<FreezeWindow>> {
        self.store.freeze_windows().await
    }

    /// Removes a freeze window (`not_found` when there is none).
    pub async fn remove_freeze_window(&self, name: &str) -> Result<()> {
        self.store.remove_freeze_window(name).await?;
        tracing::info!(window = %name, "freeze window removed");
        Ok(())
    }

    /// The freeze in force for `environment` at `at` (now when `None`): the occurrence of the
    /// window that ends last, or `None` when deployments there may start.
    pub async fn active_freeze(&self, environment: &str, at: Option<Timestamp>) -> Result<Option<ActiveFreeze>> {
        if environment.trim().is_empty() {
            return Err(Error::invalid("environment", "is required"));
        }
        let windows = self.store.freeze_windows().await?;
        Ok(freeze::active_freeze(&windows, environment, at.unwrap_or_else(Timestamp::now)))
    }

    /// Sets (or replaces) the approval gate of its environment, for its service when it names one
    /// (that service's own gate, which takes precedence over the environment's); `by` is who set it.
    pub async fn set_gate(&self, gate: ApprovalGate, by: &str) -> Result<ApprovalGate> {
        gate.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who sets the gate"));
        }
        let gate = self.store.put_gate(gate, by).await?;
        tracing::info!(gate = %gate.place(), required = gate.required_approvals, by, "approval gate set");
        Ok(gate)
    }

    /// Every approval gate, by environment (the environment-wide gate first, then by service).
    pub async fn gates(&self) -> Result<Vec<ApprovalGate>> {
        self.store.gates().await
    }

    /// Removes the gate set on `environment` for `service` (`None`: the environment-wide one;
    /// `not_found` when there is none). Its deployments then fall back to the environment's gate
    /// (from a service's own) or to the single review.
    pub async fn remove_gate(&self, environment: &str, service: Option<&str>) -> Result<()> {
        if environment.trim().is_empty() {
            return Err(Error::invalid("environment", "is required"));
        }
        if service.is_some_and(|s| s.trim().is_empty()) {
            return Err(Error::invalid("service", "must not be blank when given"));
        }
        self.store.remove_gate(environment, service).await?;
        tracing::info!(environment, service, "approval gate removed");
        Ok(())
    }

    /// Sets (or replaces) a reviewer group, which approval gates admit by name; `by` is who set
    /// it. Its members count from the next review and count of approvals on.
    pub async fn set_group(&self, group: ReviewerGroup, by: &str) -> Result<ReviewerGroup> {
        group.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who sets the group"));
        }
        let group = self.store.put_group(group, by).await?;
        tracing::info!(group = %group.name, members = group.members.len(), by, "reviewer group set");
        Ok(group)
    }

    /// Every reviewer group, by name.
    pub async fn groups(&self) -> Result<Vec<ReviewerGroup>> {
        self.store.groups().await
    }

    /// Removes reviewer group `name` (`not_found` when there is none); refused with a validation
    /// error on `name` while a gate names it.
    pub async fn remove_group(&self, name: &str) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        self.store.remove_group(name).await?;
        tracing::info!(group = name, "reviewer group removed");
        Ok(())
    }

    /// Where deployment `id` stands with its environment's review at `at` (now when `None`):
    /// the approvals required and those that count, whether it was rejected, and when it may
    /// start.
    pub async fn approval_status(&self, id: &str, at: Option<Timestamp>) -> Result<ApprovalStatus> {
        let (deployment, events, gates) =
            tokio::try_join!(self.store.get(id), self.store.events(id), self.store.gates())?;
        let gate = gate::gate_for(&gates, &deployment.service, &deployment.environment);
        Ok(gate::status(&deployment, gate, &events, at.unwrap_or_else(Timestamp::now)))
    }

    /// Sets (or replaces) the pipeline of its service; `by` is who set it. From then on a
    /// deployment of a version to a stage is created only once the version has succeeded in the
    /// stage before (see [`loco_types::pipeline`]).
    pub async fn set_pipeline(&self, pipeline: Pipeline, by: &str) -> Result<Pipeline> {
        pipeline.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who sets the pipeline"));
        }
        let pipeline = self.store.put_pipeline(pipeline, by).await?;
        tracing::info!(service = %pipeline.service, stages = %pipeline.stages.join(","), by, "pipeline set");
        Ok(pipeline)
    }

    /// Every pipeline, by service.
    pub async fn pipelines(&self) -> Result<Vec<Pipeline>> {
        self.store.pipelines().await
    }

    /// Removes the pipeline of `service` (`not_found` when there is none).
    pub async fn remove_pipeline(&self, service: &str) -> Result<()> {
        if service.trim().is_empty() {
            return Err(Error::invalid("service", "is required"));
        }
        self.store.remove_pipeline(service).await?;
        tracing::info!(service, "pipeline removed");
        Ok(())
    }

    /// Applies a `service.yaml` manifest (its text, YAML or JSON), as `by`: reads and checks it
    /// (every problem at once, each with its path and line), then in one transaction sets its
    /// pipeline, its stages' approval gates and its freeze windows, removes the gates and windows
    /// the service's previous manifest set and this one does not, and stores it as the service's
    /// next version. Creates of the service then record that version on their `created` event.
    /// Applying the text of the newest version again writes nothing and returns that version;
    /// the flag is `true` when this call stored a new one.
    pub async fn apply_manifest(&self, text: &str, by: &str) -> Result<(ManifestRecord, bool)> {
        self.store_manifest(text, by, None).await
    }

    /// [`apply_manifest`](Self::apply_manifest) of the manifest of `service`: a validation error
    /// on `service` when the text is the manifest of another (a `PUT` whose path names one service
    /// and whose body another).
    pub async fn apply_service_manifest(&self, service: &str, text: &str, by: &str) -> Result<(ManifestRecord, bool)> {
        self.store_manifest(text, by, Some(service)).await
    }

    async fn store_manifest(&self, text: &str, by: &str, service: Option<&str>) -> Result<(ManifestRecord, bool)> {
        let manifest = manifest::parse(text)?;
        if let Some(service) = service
            && manifest.service != service
        {
            return Err(Error::invalid("service", format!("is '{}' but the path names '{service}'", manifest.service)));
        }
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who applies the manifest"));
        }
        let (record, wrote) = self.store.apply_manifest(text, manifest, by).await?;
        tracing::info!(service = %record.service, version = record.version, changed = wrote, by, "manifest applied");
        Ok((record, wrote))
    }

    /// Version `version` of the manifest of `service`, or its newest when `None`
    /// (`not_found` when there is none; versions count from 1, so 0 is a validation error).
    pub async fn manifest(&self, service: &str, version: Option<u32>) -> Result<ManifestRecord> {
        if version == Some(0) {
            return Err(Error::invalid("version", "must be a whole number from 1; got '0'"));
        }
        self.store
            .manifest(service, version)
            .await?
            .ok_or_else(|| Error::ManifestNotFound { service: service.to_owned(), version })
    }

    /// Every applied version of the manifest of `service`, newest first (`not_found` when there
    /// is none).
    pub async fn manifest_history(&self, service: &str) -> Result<Vec<ManifestRecord>> {
        let history = self.store.manifest_history(service).await?;
        if history.is_empty() {
            return Err(Error::ManifestNotFound { service: service.to_owned(), version: None });
        }
        Ok(history)
    }

    /// The newest manifest of every service that has one, by service.
    pub async fn manifests(&self) -> Result<Vec<ManifestRecord>> {
        self.store.manifests().await
    }

    /// The rollout plan deployment `id` starts with when it is started without one: the plan its
    /// stage sets in the version of its service's manifest it was created under (recorded on its
    /// `created` event), whatever version is newest now. A validation error on `plan` when it was
    /// created without a manifest or its stage sets no rollout.
    pub async fn manifest_plan(&self, id: &str) -> Result<RolloutPlan> {
        let (deployment, events) = tokio::try_join!(self.store.get(id), self.store.events(id))?;
        let Some(version) = manifest::created_under(&events)? else {
            return Err(Error::invalid(
                "plan",
                format!(
                    "is required: deployment '{id}' was not created under a manifest of service '{}'",
                    deployment.service
                ),
            ));
        };
        self.manifest(&deployment.service, Some(version)).await?.stage_plan(&deployment.environment)
    }

    /// Schedules deployment `id` (waiting for review or approved) to start at `request.at`, as
    /// `request.actor`, scheduled by `by`: with `request.rollout`, a rollout with the plan its
    /// stage sets in its manifest (which must exist now), otherwise the plain start. Refused when
    /// the time is past or more than 90 days ahead, when the deployment can no longer start
    /// (`invalid_transition`), and when a freeze window of its environment is in force at that
    /// time (`policy_violation` naming it), unless the request carries an admin's override
    /// reason. A deployment has one schedule: scheduling it again replaces the one before.
    /// [`run_due_starts`](Self::run_due_starts) starts it when it falls due.
    pub async fn schedule_start(&self, id: &str, request: ScheduleRequest, by: &str) -> Result<ScheduledStart> {
        self.schedule_start_checked(id, None, request, by, |_| Ok(())).await
    }

    /// [`schedule_start`](Self::schedule_start), holding a rollout's manifest plan (read once) to
    /// `check` as well: a session holds it to the network rule, and passes the deployment it read
    /// to check the caller's role (`read`), so it is not read twice.
    pub(crate) async fn schedule_start_checked(
        &self,
        id: &str,
        read: Option<Deployment>,
        request: ScheduleRequest,
        by: &str,
        check: impl FnOnce(&RolloutPlan) -> Result<()>,
    ) -> Result<ScheduledStart> {
        let now = Timestamp::now();
        request.validate(now)?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who schedules the start"));
        }
        let (deployment, windows) = match read {
            Some(deployment) => (deployment, self.store.freeze_windows().await?),
            None => tokio::try_join!(self.store.get(id), self.store.freeze_windows())?,
        };
        request.check(&deployment, &windows)?;
        if request.rollout {
            check(&self.manifest_plan(id).await?)?;
        }
        let schedule = self.store.put_schedule(ScheduledStart::new(id, request, by, now)).await?;
        tracing::info!(deployment_id = id, at = %schedule.at, rollout = schedule.rollout, by, "start scheduled");
        Ok(schedule)
    }

    /// Every deployment's latest scheduled start (pending, or how it ended), soonest first.
    pub async fn scheduled_starts(&self) -> Result<Vec<ScheduledStart>> {
        self.store.schedules().await
    }

    /// Cancels the pending scheduled start of deployment `id` (`not_found` when it has none).
    pub async fn cancel_scheduled_start(&self, id: &str) -> Result<ScheduledStart> {
        let cancelled = self.store.cancel_schedule(id, Timestamp::now()).await?;
        tracing::info!(deployment_id = id, "scheduled start cancelled");
        Ok(cancelled)
    }

    /// Starts every scheduled start due now, as its actor would (the gate, the deploy lock and
    /// the freeze windows in force now all apply): each is claimed once, however many engines
    /// share the database. Returns them as they ended: `started`, or `refused` with the error's
    /// code and message. `loco serve` calls it every second; an embedding service calls it on a
    /// timer of its own.
    pub async fn run_due_starts(&self) -> Result<Vec<ScheduledStart>> {
        let due = self.store.claim_due_schedules(Timestamp::now()).await?;
        let mut ended = Vec::with_capacity(due.len());
        for schedule in due {
            let id = schedule.deployment_id.as_str();
            let started = if schedule.rollout {
                self.start_rollout_with(id, None, schedule.input()).await.map(|_| ())
            } else {
                self.apply(id, Action::Start, schedule.input()).await.map(|_| ())
            };
            let schedule = match started {
                Ok(()) => schedule,
                Err(e) => {
                    tracing::warn!(deployment_id = id, error = %e, "scheduled start refused");
                    let outcome = format!("{}: {e}", e.code());
                    let refused = schedule.ended(ScheduleState::Refused, Some(outcome), Timestamp::now());
                    self.store.put_schedule(refused).await?
                }
            };
            ended.push(schedule);
        }
        Ok(ended)
    }

    /// Promotes deployment `id`, which succeeded in one stage of its service's pipeline: creates
    /// the deployment of the same version (commit, work references, rollback plan, risk) in the
    /// next stage, requested by `actor`, with a `promoted` event naming `id`, in one transaction.
    /// It then goes through that stage's review like any other. Promoting again while that
    /// deployment is open returns it when it names a commit (creating by commit).
    pub async fn promote(&self, id: &str, actor: &str) -> Result<Deployment> {
        let (new, promoted) = self.promotion(id, actor).await?;
        self.create_promotion(id, new, promoted).await
    }

    /// What promoting deployment `id` as `actor` creates: the next stage's deployment and its
    /// `promoted` event, checked, not yet written (a session checks the caller's role in the next
    /// stage on it, then hands it to [`create_promotion`](Self::create_promotion)).
    pub(crate) async fn promotion(&self, id: &str, actor: &str) -> Result<(NewDeployment, NewEvent)> {
        if actor.trim().is_empty() {
            return Err(Error::invalid("actor", "is required"));
        }
        let source = self.store.get(id).await?;
        let pipeline = self.store.pipeline(&source.service).await?;
        let (new, promoted) = pipeline::promotion(pipeline.as_ref(), &source, actor)?;
        lifecycle::validate_new(&new)?;
        Ok((new, promoted))
    }

    /// Writes a [`promotion`](Self::promotion) of deployment `from`: the new deployment with its
    /// `promoted` event, in one transaction (whose promotion-order check still holds).
    pub(crate) async fn create_promotion(
        &self,
        from: &str,
        new: NewDeployment,
        promoted: NewEvent,
    ) -> Result<Deployment> {
        let created = self.store.create_promoted(new, promoted).await?;
        if !created.replayed {
            self.metrics.record_status(&created.deployment);
        }
        let d = created.deployment;
        tracing::info!(deployment_id = %d.id, from, environment = %d.environment, actor = %d.requester, "deployment promoted");
        Ok(d)
    }

    /// Where `version` of `service` stands along its pipeline: the newest deployment of it in
    /// each stage, and the stage it goes to next. `not_found` when the service has no pipeline.
    pub async fn pipeline_view(&self, service: &str, version: &str) -> Result<PipelineView> {
        let pipeline = self
            .store
            .pipeline(service)
            .await?
            .ok_or_else(|| Error::PipelineNotFound { service: service.to_owned() })?;
        let mut newest = Vec::with_capacity(pipeline.stages.len());
        for stage in &pipeline.stages {
            newest.push(self.store.newest_of_version(service, stage, version).await?);
        }
        Ok(pipeline::view(&pipeline, version, newest))
    }

    /// What a start of deployment `id` by `input` must write first under the policies in force
    /// now: nothing, or the records of the overrides `input.override_reason` stands for.
    /// Refused, in this order: a deployment its environment's gate has not approved yet
    /// (`approval_required`, with the approvals it has), the lifecycle rule, a start inside the
    /// gate's wait after approval and a freeze window in force (`policy_violation`, unless
    /// `input` has an override reason). Without any window or gate (the common case) it reads
    /// nothing more.
    pub(crate) async fn start_gate(&self, id: &str, input: &ActionInput) -> Result<Vec<NewEvent>> {
        let (windows, gates) = tokio::try_join!(self.store.freeze_windows(), self.store.gates())?;
        if windows.is_empty() && gates.is_empty() {
            return Ok(Vec::new());
        }
        let current = self.store.get(id).await?;
        let environment = current.environment.as_str();
        let gate = gate::gate_for(&gates, &current.service, environment);
        if let Some(gate) = gate
            && current.status == Status::PendingApproval
        {
            let events = self.store.events(id).await?;
            let status = gate::status(&current, Some(gate), &events, Timestamp::now());
            return Err(gate::approval_required(&current, status.approvals.len() as u32, status.required));
        }
        lifecycle::transition(id, current.status, &current.requester, Action::Start, &input.actor)?;
        let now = Timestamp::now();
        let waiting = gate.and_then(|gate| gate::wait_violation(&current, gate, now).map(|refusal| (refusal, gate)));
        let frozen = freeze::active_freeze(&windows, environment, now);
        let Some(reason) = input.override_reason.as_deref() else {
            if let Some((refusal, _)) = waiting {
                return Err(refusal);
            }
            return frozen.map_or(Ok(Vec::new()), |active| Err(freeze::violation(&active, environment)));
        };
        let mut overrides = Vec::new();
        if let Some((_, gate)) = waiting {
            tracing::warn!(environment, actor = %input.actor, "approval wait overridden");
            overrides.extend(gate::override_event(&current, gate, &input.actor, reason));
        }
        if let Some(active) = frozen {
            tracing::warn!(window = %active.window, environment, actor = %input.actor, "freeze window overridden");
            overrides.push(freeze::override_event(&active, environment, &input.actor, reason));
        }
        Ok(overrides)
    }
}
