//! [`Engine`]: the one facade every surface (Rust, HTTP, CLI, Python, Node) calls. It validates
//! input, then hands each operation to its store or its orchestrator.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loco_platform::{Platform, Target};
use loco_rollout::Orchestrator;
use loco_store::{SqliteOptions, SqliteStore, Store};
use loco_types::analysis::{Thresholds, WindowStats};
use loco_types::audit::AuditReport;
use loco_types::lifecycle::{self, Action, ActionInput};
use loco_types::model::{Deployment, Event, ListQuery, NewDeployment, Page, check_limit};
use loco_types::plan::RolloutPlan;
use loco_types::rollout::{Release, Rollout};
use loco_types::{Error, Result};
use tokio::sync::broadcast::error::RecvError;

use crate::builder::EngineBuilder;
use crate::follow::{LogFollower, RolloutWatch};
use crate::metrics::Metrics;
use crate::subscription::EventSubscription;

/// Rollouts executing at once per engine unless [`EngineBuilder::max_concurrent_rollouts`] says otherwise.
pub const DEFAULT_MAX_CONCURRENT_ROLLOUTS: usize = 1024;

/// The deployment engine. Cheap to clone; clones share one store.
///
/// Every action validates its input first (`validation_error`), then looks the deployment up
/// (`not_found`), then applies the lifecycle rules (`invalid_transition`, `self_approval`).
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    orchestrator: Arc<Orchestrator>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder for an engine with platforms (needed for rollouts) and custom settings.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::new()
    }

    /// Opens (creating if needed) a SQLite database file with the default, fully durable settings.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens a SQLite database file with explicit options.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        Ok(Self::with_store(Arc::new(SqliteStore::open(path, options).await?)))
    }

    /// Opens a private in-memory database, gone when the engine is dropped.
    pub async fn open_in_memory() -> Result<Self> {
        Self::builder().open().await
    }

    /// Wraps any [`Store`] implementation.
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        Self::assemble(store, DEFAULT_MAX_CONCURRENT_ROLLOUTS)
    }

    pub(crate) fn assemble(store: Arc<dyn Store>, max_concurrent_rollouts: usize) -> Self {
        let metrics = Arc::new(Metrics::default());
        let observer: Arc<dyn loco_rollout::RolloutObserver> = metrics.clone();
        let orchestrator = Arc::new(Orchestrator::new(store.clone(), observer, max_concurrent_rollouts));
        Self { store, metrics, orchestrator }
    }

    /// The engine's deployment metrics (render them with [`Metrics::render`]).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Creates a deployment in `pending_approval`. With `idempotency_key`, repeating the same
    /// request returns the original deployment; the same key with a different request fails with
    /// `idempotency_conflict`.
    pub async fn create(&self, new: NewDeployment, idempotency_key: Option<&str>) -> Result<Deployment> {
        let valid = lifecycle::validate_new(&new)
            .and_then(|()| idempotency_key.map_or(Ok(()), lifecycle::validate_idempotency_key));
        if let Err(e) = valid {
            self.metrics.record_validation_error(&new.environment, &e);
            return Err(e);
        }
        let created = self.store.create(new, idempotency_key.map(str::to_owned)).await?;
        if !created.replayed {
            self.metrics.record_status(&created.deployment);
        }
        let d = created.deployment;
        tracing::debug!(deployment_id = %d.id, service = %d.service, replayed = created.replayed, "deployment created");
        Ok(d)
    }

    /// Applies any lifecycle action; the named methods below are shorthands for this.
    ///
    /// A rollback of a deployment that has a rollout also acts on its platform: a running rollout
    /// is stopped and the previous release restored at 100 % before `rolled_back` is recorded;
    /// a succeeded one that still serves is replaced by the release before it. Other actions on a
    /// deployment whose rollout is running fail with `rollout_in_progress`.
    pub async fn apply(&self, id: &str, action: Action, input: ActionInput) -> Result<Deployment> {
        lifecycle::validate_action(action, &input)?;
        if action == Action::Rollback && self.orchestrator.rollback(id, input.clone()).await?.is_some() {
            return self.store.get(id).await;
        }
        let deployment = self.store.apply(id, action, input).await?;
        self.metrics.record_action(action, &deployment);
        tracing::debug!(deployment_id = %id, %action, status = %deployment.status, "deployment action applied");
        Ok(deployment)
    }

    /// `pending_approval → approved`. The actor must not be the requester.
    pub async fn approve(&self, id: &str, actor: &str, note: Option<&str>) -> Result<Deployment> {
        self.apply(id, Action::Approve, input(actor, note)).await
    }

    /// `pending_approval → rejected` (terminal). Needs a note; the actor must not be the requester.
    pub async fn reject(&self, id: &str, actor: &str, note: &str) -> Result<Deployment> {
        self.apply(id, Action::Reject, input(actor, Some(note))).await
    }

    /// `approved → started`.
    pub async fn start(&self, id: &str, actor: &str, note: Option<&str>) -> Result<Deployment> {
        self.apply(id, Action::Start, input(actor, note)).await
    }

    /// `started → succeeded`.
    pub async fn succeed(&self, id: &str, actor: &str, note: Option<&str>) -> Result<Deployment> {
        self.apply(id, Action::Succeed, input(actor, note)).await
    }

    /// `started → failed`. Needs a note.
    pub async fn fail(&self, id: &str, actor: &str, note: &str) -> Result<Deployment> {
        self.apply(id, Action::Fail, input(actor, Some(note))).await
    }

    /// `started | succeeded | failed → rolled_back` (terminal). Needs a note.
    pub async fn rollback(&self, id: &str, actor: &str, note: &str) -> Result<Deployment> {
        self.apply(id, Action::Rollback, input(actor, Some(note))).await
    }

    /// The current state of one deployment.
    pub async fn get(&self, id: &str) -> Result<Deployment> {
        self.store.get(id).await
    }

    /// Deployments matching the query's filters, newest first, one page at a time.
    pub async fn list(&self, query: &ListQuery) -> Result<Page<Deployment>> {
        query.effective_limit()?;
        self.store.list(query).await
    }

    /// Every event of one deployment, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.store.events(id).await
    }

    /// Walks the whole audit chain and checks each deployment's state against its history.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        self.store.verify_audit().await
    }

    /// Every event committed from now on, in commit order. A subscriber that falls behind the
    /// in-memory buffer catches up from the database, so it never misses an event.
    pub fn subscribe(&self) -> EventSubscription {
        EventSubscription::new(self.store.clone(), None)
    }

    /// Every event with `seq > after` (replayed from the database), then every event committed
    /// later; for resuming a stream after a disconnect.
    pub fn subscribe_after(&self, after: i64) -> EventSubscription {
        EventSubscription::new(self.store.clone(), Some(after.max(0)))
    }

    /// Registers a platform that rollout plans can name (replacing one of the same name).
    pub fn register_platform(&self, platform: Arc<dyn Platform>) {
        self.orchestrator.register(platform);
    }

    /// Starts rolling out an approved deployment: validates the plan, records `started` and the
    /// rollout atomically (`rollout_conflict` if its service+environment already has an active
    /// rollout), then executes the steps in the background and returns the rollout as recorded at
    /// its start. Progress is recorded after every step as `step_progress` and `health_check`
    /// events; follow it with [`watch_rollout`](Self::watch_rollout) or
    /// [`wait_rollout`](Self::wait_rollout).
    pub async fn start_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<Rollout> {
        Ok(self.orchestrator.start(id, plan, actor).await?.0)
    }

    /// [`start_rollout`](Self::start_rollout) and wait for the outcome: `succeeded`, or
    /// `rolled_back` after a failed step (the deployment is then `rolled_back` too).
    pub async fn run_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<Rollout> {
        self.orchestrator.start(id, plan, actor).await?.1.wait().await
    }

    /// Continues a rollout paused by its analysis (a high-severity finding or an inconclusive
    /// window), on behalf of `actor`, who must say why (`note`). Fails with `rollout_not_paused`
    /// when it is not paused. To roll a paused rollout back instead, use [`rollback`](Self::rollback).
    pub async fn override_rollout(&self, id: &str, actor: &str, note: &str) -> Result<Rollout> {
        self.orchestrator.override_pause(id, input(actor, Some(note))).await
    }

    /// Sets the analysis thresholds of one environment for rollouts started from now on; problems
    /// name `thresholds.<environment>.<field>`.
    pub fn set_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<()> {
        self.orchestrator.set_thresholds(environment, thresholds)
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
                return Ok(rollout);
            }
            match events.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                // Closed engine: whatever state it reached is the answer.
                Err(RecvError::Closed) => return self.store.rollout(id).await,
            }
        }
    }

    /// The rollout of one deployment.
    pub async fn rollout(&self, id: &str) -> Result<Rollout> {
        self.store.rollout(id).await
    }

    /// Every rollout, or only the active ones.
    pub async fn rollouts(&self, active_only: bool) -> Result<Vec<Rollout>> {
        self.store.rollouts(active_only).await
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
        self.store.releases(service, environment, limit).await
    }

    /// Metrics of one release version of a deployment's rollout over the last `window`, as the
    /// rollout's platform measures them (the local proxy measures every request it forwards):
    /// requests, errors, error rate, latency percentiles. A platform that measures nothing gives
    /// a `validation_error` on `platform`.
    pub async fn release_metrics(&self, id: &str, version: &str, window: Duration) -> Result<WindowStats> {
        let rollout = self.store.rollout(id).await?;
        let platform = self.orchestrator.platform(&rollout.platform)?;
        let Some(source) = platform.metric_source() else {
            return Err(Error::invalid("platform", format!("platform '{}' measures no metrics", rollout.platform)));
        };
        let target = Target { service: rollout.service, environment: rollout.environment };
        source
            .stats(&target, version, window)
            .await
            .map_err(|e| Error::Platform { platform: rollout.platform, message: e.message })
    }

    /// Follows the output of one instance of a deployment's rollout: recent lines first, then new
    /// ones until the instance stops.
    pub async fn follow_logs(&self, id: &str, instance_id: &str) -> Result<LogFollower> {
        let rollout = self.store.rollout(id).await?;
        let platform = self.orchestrator.platform(&rollout.platform)?;
        let target = Target { service: rollout.service, environment: rollout.environment };
        let lines = platform
            .logs(&target, instance_id)
            .await
            .map_err(|e| Error::Platform { platform: rollout.platform, message: e.message })?;
        Ok(LogFollower::new(lines))
    }

    /// Finishes rollouts whose engine stopped mid-way (crash or close), for every registered
    /// platform: a rollout whose steps had all completed is marked succeeded; any other is rolled
    /// back to its previous release (which then serves 100 % of traffic) and its deployment ends
    /// `rolled_back`. Rollouts owned by another live engine are left alone. Returns the recovered
    /// rollouts, after they finished.
    pub async fn recover_rollouts(&self) -> Result<Vec<Rollout>> {
        self.orchestrator.recover().await
    }

    /// Stops running rollouts where they stand (the next engine on this store recovers them),
    /// shuts down the registered platforms (the local platform stops its processes), finishes
    /// queued writes and closes the store; later operations fail with `storage_error`.
    pub async fn close(&self) -> Result<()> {
        self.orchestrator.suspend_all().await;
        for platform in self.orchestrator.platforms() {
            if let Err(e) = platform.shutdown().await {
                tracing::warn!(platform = platform.name(), error = %e, "platform shutdown failed");
            }
        }
        self.store.close().await
    }
}

fn input(actor: &str, note: Option<&str>) -> ActionInput {
    ActionInput { actor: actor.to_owned(), note: note.map(str::to_owned) }
}
