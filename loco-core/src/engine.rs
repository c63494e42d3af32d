//! [`Engine`]: the one facade every surface (Rust, HTTP, CLI, Python, Node) calls. It validates
//! input, then hands each operation to its store or its orchestrator.

use std::path::Path;
use std::sync::Arc;

use loco_platform::Platform;
use loco_platform::extensions::HealthProbe;
use loco_platform::metrics::MetricSource;
use loco_rollout::Orchestrator;
use loco_store::{SqliteOptions, Store};
use loco_types::audit::{AuditHead, AuditReport};
use loco_types::lifecycle::{self, Action, ActionInput, Status};
use loco_types::model::{Deployment, Event, ListQuery, NewDeployment, Page};
use loco_types::{Error, Result};

use crate::audit_key::{AUDIT_KEY_ENV, AuditKey};
use crate::builder::EngineBuilder;
use crate::keys::{KeySource, Keys};
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
    pub(crate) store: Arc<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) orchestrator: Arc<Orchestrator>,
    pub(crate) keys: Arc<Keys>,
    /// Bumped on every token revocation, so long-lived streams re-check their token at once.
    pub(crate) revocations: Arc<tokio::sync::watch::Sender<u64>>,
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
        Self::builder().path(path).sqlite_options(options).open().await
    }

    /// Opens a private in-memory database, gone when the engine is dropped.
    pub async fn open_in_memory() -> Result<Self> {
        Self::builder().open().await
    }

    /// Wraps any [`Store`] implementation (secrets are sealed with a key that lives as long as
    /// this engine; use [`EngineBuilder::vault`] to keep one).
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        Self::assemble(store, DEFAULT_MAX_CONCURRENT_ROLLOUTS, KeySource::Ephemeral)
    }

    pub(crate) fn assemble(store: Arc<dyn Store>, max_concurrent_rollouts: usize, keys: KeySource) -> Self {
        let metrics = Arc::new(Metrics::default());
        let observer: Arc<dyn loco_rollout::RolloutObserver> = metrics.clone();
        let keys = Arc::new(Keys::new(keys));
        let opener: Arc<dyn loco_rollout::SecretOpener> = keys.clone();
        let orchestrator = Arc::new(Orchestrator::new(store.clone(), observer, opener, max_concurrent_rollouts));
        let revocations = Arc::new(tokio::sync::watch::Sender::new(0));
        Self { store, metrics, orchestrator, keys, revocations }
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
    ///
    /// A start while a freeze window is in force for the deployment's environment fails with
    /// `policy_violation`, unless `input.override_reason` says why it must go ahead (see
    /// [`set_freeze_window`](Self::set_freeze_window)).
    pub async fn apply(&self, id: &str, action: Action, input: ActionInput) -> Result<Deployment> {
        lifecycle::validate_action(action, &input)?;
        if action == Action::Rollback && self.orchestrator.rollback(id, input.clone()).await?.is_some() {
            return self.store.get(id).await;
        }
        let lead_events = if action == Action::Start { self.start_gate(id, &input).await? } else { Vec::new() };
        let applied = self.store.apply_change(id, action, input, lead_events).await?;
        let deployment = applied.deployment;
        self.metrics.record_action(action, &deployment);
        // A deployment run without a rollout ends its run here (a rollout's duration is observed
        // by the orchestrator, and its deployment never leaves `started` through this path).
        if applied.from == Status::Started {
            let elapsed = deployment.updated_at.as_datetime() - applied.since.as_datetime();
            self.metrics.record_lifecycle_duration(&deployment, elapsed.to_std().unwrap_or_default());
        }
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

    /// Walks the whole audit chain and compares each deployment's stored row, field by field,
    /// with the state its events establish.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        self.store.verify_audit().await
    }

    /// The head of the audit chain — its last event's `seq`, hash and time — to keep outside the
    /// database, signed with `LOCO_AUDIT_KEY` when it is set (see [`AuditKey`]). The chain is
    /// verified first: the head of a chain that does not verify is refused (`storage_error`,
    /// naming the first problem).
    pub async fn audit_head(&self) -> Result<AuditHead> {
        self.audit_head_with_key(AuditKey::from_env().as_ref()).await
    }

    /// [`Engine::audit_head`], signed with `key` instead of `LOCO_AUDIT_KEY` (`None`: unsigned).
    pub async fn audit_head_with_key(&self, key: Option<&AuditKey>) -> Result<AuditHead> {
        let report = self.store.verify_audit().await?;
        if let Some(broken) = &report.first_broken {
            return Err(Error::storage(format!(
                "the audit chain does not verify (event #{}: {}); its head is not exported",
                broken.seq, broken.reason
            )));
        }
        let last = self.event_at(report.events_checked as i64).await?;
        let mut head = AuditHead::of(last.as_ref());
        if let Some(key) = key {
            head.hmac = Some(key.sign(&head));
        }
        Ok(head)
    }

    /// [`Engine::verify_audit`], and whether the chain still contains `head`, a head exported
    /// earlier by [`Engine::audit_head`]: the same event at `head.seq`, with the same hash and
    /// time, so events deleted from the end are found. With `LOCO_AUDIT_KEY` set, the head must
    /// carry that key's HMAC; a head carrying an HMAC cannot be checked without a key
    /// (`validation_error`).
    pub async fn verify_audit_against(&self, head: &AuditHead) -> Result<AuditReport> {
        self.verify_audit_against_with_key(head, AuditKey::from_env().as_ref()).await
    }

    /// [`Engine::verify_audit_against`], checking the HMAC with `key` instead of
    /// `LOCO_AUDIT_KEY`.
    pub async fn verify_audit_against_with_key(&self, head: &AuditHead, key: Option<&AuditKey>) -> Result<AuditReport> {
        head.validate()?;
        if key.is_none() && head.hmac.is_some() {
            return Err(Error::invalid("head.hmac", format!("cannot be checked: {AUDIT_KEY_ENV} is not set")));
        }
        let mut report = self.store.verify_audit().await?;
        if key.is_some_and(|key| !key.verifies(head)) {
            report.exported_head_seq = Some(head.seq);
            report.break_at(head.bad_signature());
            return Ok(report);
        }
        let event = self.event_at(head.seq).await?;
        report.check_head(head, event.as_ref());
        Ok(report)
    }

    /// The event at `seq`, if the chain has one.
    async fn event_at(&self, seq: i64) -> Result<Option<Event>> {
        if seq < 1 {
            return Ok(None);
        }
        Ok(self.store.events_after(seq - 1, 1).await?.into_iter().next().filter(|e| e.seq == seq))
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

    /// Registers a health probe that plans can name as `{"type": "host", "name": …}` (replacing
    /// one of the same name); a plan naming an unregistered one is refused at the start.
    pub fn register_probe(&self, probe: Arc<dyn HealthProbe>) {
        self.orchestrator.register_probe(probe);
    }

    /// Registers a metric source that canary analysis can name as `{"type": "host", "name": …}`
    /// (replacing one of the same name); a plan naming an unregistered one is refused at the
    /// start.
    pub fn register_metric_source(&self, source: Arc<dyn MetricSource>) {
        self.orchestrator.register_metric_source(source);
    }

    /// Finishes rollouts whose engine stopped mid-way (crash or close), for every registered
    /// platform: a rollout whose steps had all completed is marked succeeded; any other is rolled
    /// back to its previous release (which then serves 100 % of traffic) and its deployment ends
    /// `rolled_back`. Rollouts owned by another live engine are left alone. Returns the recovered
    /// rollouts, after they finished.
    pub async fn recover_rollouts(&self) -> Result<Vec<loco_types::rollout::Rollout>> {
        Ok(self.orchestrator.recover().await?.into_iter().map(loco_types::rollout::Rollout::redacted).collect())
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

/// The key file of a database: its path with `.key` appended (`loco.db.key`).
pub(crate) fn key_file_of(db: &Path) -> std::path::PathBuf {
    let mut file = db.as_os_str().to_owned();
    file.push(".key");
    file.into()
}

pub(crate) fn input(actor: &str, note: Option<&str>) -> ActionInput {
    ActionInput { actor: actor.to_owned(), note: note.map(str::to_owned), override_reason: None }
}
