//! [`Engine`]: the one facade every surface (Rust, HTTP, CLI, Python, Node) calls. It validates
//! input, then hands each operation to its [`Store`].

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::audit::AuditReport;
use crate::error::Result;
use crate::lifecycle::{self, Action, ActionInput};
use crate::metrics::Metrics;
use crate::model::{Deployment, Event, ListQuery, NewDeployment, Page};
use crate::store::{SqliteOptions, SqliteStore, Store};

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
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
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
        Ok(Self::with_store(Arc::new(SqliteStore::open_in_memory(SqliteOptions::default()).await?)))
    }

    /// Wraps any [`Store`] implementation.
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        Self { store, metrics: Arc::new(Metrics::default()) }
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
    pub async fn apply(&self, id: &str, action: Action, input: ActionInput) -> Result<Deployment> {
        lifecycle::validate_action(action, &input)?;
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

    /// Finishes queued writes and closes the store; later operations fail with `storage_error`.
    pub async fn close(&self) -> Result<()> {
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
                    Ok(batch) if batch.is_empty() => self.replay_from = None,
                    Ok(batch) => {
                        self.replay_from = batch.last().map(|e| e.seq + 1);
                        self.pending.extend(batch);
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
