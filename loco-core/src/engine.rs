//! [`Engine`]: the one facade every surface (Rust, HTTP, CLI, Python, Node) calls. It validates
//! input, then hands each operation to its [`Store`].

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

use crate::analysis::Thresholds;
use crate::audit::AuditReport;
use crate::error::{Error, Result};
use crate::lifecycle::{self, Action, ActionInput};
use crate::metrics::Metrics;
use crate::model::{Deployment, Event, ListQuery, NewDeployment, Page};
use crate::platform::{LogLine, Platform, Target};
use crate::rollout::orchestrator::Orchestrator;
use crate::rollout::{Release, Rollout, RolloutHandle, RolloutPlan};
use crate::store::{SqliteOptions, SqliteStore, Store};

/// Rollouts executing at once per engine unless [`EngineBuilder::max_concurrent_rollouts`] says otherwise.
pub const DEFAULT_MAX_CONCURRENT_ROLLOUTS: usize = 1024;

/// Events fetched per query while a subscription catches up from the database.
const CATCH_UP_BATCH: u32 = 512;

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

enum Location {
    File(std::path::PathBuf),
    Memory,
    Store(Arc<dyn Store>),
}

/// Opens an [`Engine`] with platforms registered and interrupted rollouts recovered.
///
/// ```no_run
/// # async fn demo() -> loco_core::Result<()> {
/// use std::sync::Arc;
/// use loco_core::platform::local::{LocalOptions, LocalPlatform};
///
/// let local = LocalPlatform::new(LocalOptions::new("loco-state")).expect("state dir");
/// let engine = loco_core::Engine::builder().path("loco.db").platform(Arc::new(local)).open().await?;
/// # Ok(()) }
/// ```
pub struct EngineBuilder {
    location: Location,
    sqlite: SqliteOptions,
    platforms: Vec<Arc<dyn Platform>>,
    thresholds: Vec<(String, Thresholds)>,
    max_concurrent_rollouts: usize,
}

impl EngineBuilder {
    /// Stores everything in the SQLite file at `path` (the default is a private in-memory database).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.location = Location::File(path.as_ref().to_path_buf());
        self
    }

    /// Uses any [`Store`] implementation.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.location = Location::Store(store);
        self
    }

    /// SQLite tuning (durability, pool size, batch size).
    #[must_use]
    pub fn sqlite_options(mut self, options: SqliteOptions) -> Self {
        self.sqlite = options;
        self
    }

    /// Registers a platform that rollout plans can name.
    #[must_use]
    pub fn platform(mut self, platform: Arc<dyn Platform>) -> Self {
        self.platforms.push(platform);
        self
    }

    /// Analysis thresholds for one environment (compared case-insensitively); plans may still
    /// set their own. Without this, the defaults of [`Thresholds`] apply.
    #[must_use]
    pub fn thresholds(mut self, environment: &str, thresholds: Thresholds) -> Self {
        self.thresholds.push((environment.to_owned(), thresholds));
        self
    }

    /// Most rollouts executing at once; further ones wait their turn (default 1024).
    #[must_use]
    pub fn max_concurrent_rollouts(mut self, limit: usize) -> Self {
        self.max_concurrent_rollouts = limit;
        self
    }

    /// Opens the store, registers the platforms, then recovers rollouts left unfinished by an
    /// engine that stopped (see [`Engine::recover_rollouts`]) before returning.
    pub async fn open(self) -> Result<Engine> {
        let store: Arc<dyn Store> = match self.location {
            Location::File(path) => Arc::new(SqliteStore::open(path, self.sqlite).await?),
            Location::Memory => Arc::new(SqliteStore::open_in_memory(self.sqlite).await?),
            Location::Store(store) => store,
        };
        let engine = Engine::assemble(store, self.max_concurrent_rollouts);
        for platform in self.platforms {
            engine.register_platform(platform);
        }
        for (environment, thresholds) in self.thresholds {
            engine.set_thresholds(&environment, thresholds)?;
        }
        engine.recover_rollouts().await?;
        Ok(engine)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder for an engine with platforms (needed for rollouts) and custom settings.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            location: Location::Memory,
            sqlite: SqliteOptions::default(),
            platforms: Vec::new(),
            thresholds: Vec::new(),
            max_concurrent_rollouts: DEFAULT_MAX_CONCURRENT_ROLLOUTS,
        }
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

    fn assemble(store: Arc<dyn Store>, max_concurrent_rollouts: usize) -> Self {
        let metrics = Arc::new(Metrics::default());
        let orchestrator = Arc::new(Orchestrator::new(store.clone(), metrics.clone(), max_concurrent_rollouts));
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
    /// rollout), then executes the steps in the background. Progress is recorded after every step
    /// as `step_progress` and `health_check` events.
    pub async fn start_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<RolloutHandle> {
        self.orchestrator.start(id, plan, actor).await
    }

    /// [`start_rollout`](Self::start_rollout) and wait for the outcome: `succeeded`, or
    /// `rolled_back` after a failed step (the deployment is then `rolled_back` too).
    pub async fn run_rollout(&self, id: &str, plan: RolloutPlan, actor: &str) -> Result<Rollout> {
        self.start_rollout(id, plan, actor).await?.wait().await
    }

    /// Continues a rollout paused by its analysis (a high-severity finding or an inconclusive
    /// window), on behalf of `actor`, who must say why (`note`). Fails with `rollout_not_paused`
    /// when it is not paused. To roll a paused rollout back instead, use [`rollback`](Self::rollback).
    pub async fn override_rollout(&self, id: &str, actor: &str, note: &str) -> Result<Rollout> {
        self.orchestrator.override_pause(id, input(actor, Some(note))).await
    }

    /// Sets the analysis thresholds of one environment for rollouts started from now on.
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

    /// The releases that served a service+environment, newest first (the first is current
    /// unless retired).
    pub async fn releases(&self, service: &str, environment: &str, limit: u32) -> Result<Vec<Release>> {
        self.store.releases(service, environment, limit.clamp(1, crate::model::MAX_PAGE_LIMIT)).await
    }

    /// Follows the output of one instance of a deployment's rollout.
    pub async fn logs(&self, id: &str, instance_id: &str) -> Result<mpsc::Receiver<LogLine>> {
        let rollout = self.store.rollout(id).await?;
        let platform = self.orchestrator.platform(&rollout.platform)?;
        let target = Target { service: rollout.service, environment: rollout.environment };
        platform
            .logs(&target, instance_id)
            .await
            .map_err(|e| Error::Platform { platform: rollout.platform, message: e.message })
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

/// A stream of committed events; see [`Engine::subscribe`].
pub struct EventSubscription {
    store: Arc<dyn Store>,
    live: broadcast::Receiver<Event>,
    pending: VecDeque<Event>,
    last_delivered: Option<i64>,
    replay_from: Option<i64>,
    missed_before_first: u64,
}

impl EventSubscription {
    fn new(store: Arc<dyn Store>, after: Option<i64>) -> Self {
        // Subscribe before any replay query so nothing committed in between is lost.
        let live = store.subscribe();
        Self {
            store,
            live,
            pending: VecDeque::new(),
            last_delivered: after,
            replay_from: after.map(|seq| seq + 1),
            missed_before_first: 0,
        }
    }

    /// The next committed event; `None` once the engine is closed and every event was delivered.
    /// An `Err` means catching up from the database failed; calling again retries.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last_delivered = Some(event.seq);
                return Some(Ok(event));
            }
            if let Some(from) = self.replay_from {
                match self.store.events_after(from - 1, CATCH_UP_BATCH).await {
                    Ok(batch) => {
                        // A short batch reached the head: no need to ask again.
                        let more = batch.len() == CATCH_UP_BATCH as usize;
                        self.replay_from = batch.last().filter(|_| more).map(|e| e.seq + 1);
                        self.pending.extend(batch);
                    }
                    // The engine closed while catching up: the stream ends like a live one does.
                    Err(_) if self.live.is_closed() => {
                        self.replay_from = None;
                        return None;
                    }
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            match self.live.recv().await {
                Ok(event) => match self.last_delivered {
                    Some(last) if event.seq <= last => {}
                    Some(last) if event.seq > last + 1 => self.replay_from = Some(last + 1),
                    None if self.missed_before_first > 0 => {
                        // Seqs have no gaps and arrive in order, so the missed ones are the
                        // `missed` seqs just before this one.
                        self.replay_from = Some(event.seq - self.missed_before_first as i64);
                        self.missed_before_first = 0;
                    }
                    _ => {
                        self.last_delivered = Some(event.seq);
                        return Some(Ok(event));
                    }
                },
                Err(RecvError::Lagged(missed)) => match self.last_delivered {
                    Some(last) => self.replay_from = Some(last + 1),
                    None => self.missed_before_first += missed,
                },
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
