//! [`SqliteStore`]: the embedded default store — one SQLite file in WAL mode, one writer thread
//! doing group commit, and a small pool of read-only connections used off the async runtime.

mod access;
mod gates;
mod locks;
mod manifests;
mod pipelines;
mod reads;
mod rollouts;
mod rows;
mod schedules;
mod schema;
mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::broadcast;

use loco_types::analysis::Thresholds;
use loco_types::audit::AuditReport;
use loco_types::freeze::FreezeWindow;
use loco_types::gate::{self, ApprovalGate, ApprovalStep, ReviewerGroup};
use loco_types::identity::Token;
use loco_types::lifecycle::{Action, ActionInput};
use loco_types::lock::DeployLock;
use loco_types::manifest::{Manifest, ManifestRecord};
use loco_types::model::{Deployment, Event, ListQuery, NewDeployment, Page, Timestamp};
use loco_types::pipeline::Pipeline;
use loco_types::platform_config::PlatformConfig;
use loco_types::rollout::{Release, Rollout};
use loco_types::rules::{self, CreateDecision, DeploymentChange, KeyedDeployment};
use loco_types::schedule::ScheduledStart;
use loco_types::service::ServiceDefinition;
use loco_types::{Error, Result as LocoResult};

use crate::error::Result;
use crate::{Applied, BeginRollout, Created, NewEvent, OPEN_STATUS_SQL, Resealer, RolloutUpdate, Store};

use reads::ReadPool;
pub use schema::SCHEMA_VERSION;
use writer::{WriteCtx, Writer};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: an acknowledged write survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: an acknowledged write survives a process crash but the last
    /// transactions may be lost on power loss. Several times faster per commit.
    Normal,
}

/// Tuning for [`SqliteStore`]; the defaults suit almost everyone.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability (default [`Durability::Full`]).
    pub durability: Durability,
    /// Read-only connections: at most this many reads run at once, later ones wait for one
    /// (default 4).
    pub read_connections: usize,
    /// Most writes committed in one transaction (default 512).
    pub max_batch: usize,
    /// Most writes waiting for the writer thread (default 4096): a caller submitting beyond it
    /// waits, asynchronously, until earlier writes are answered — a flood of writes slows its
    /// callers instead of growing memory without limit.
    pub max_queued_writes: usize,
    /// Capacity of the committed-event broadcast before slow subscribers must catch up from the
    /// database (default 4096).
    pub event_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            read_connections: 4,
            max_batch: 512,
            max_queued_writes: 4096,
            event_buffer: 4096,
        }
    }
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Writer,
    reads: Arc<ReadPool>,
    // Dropped on close so subscriptions end once the writer thread (the other sender) stops.
    events: std::sync::Mutex<Option<broadcast::Sender<Event>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open(path: impl AsRef<Path>, options: SqliteOptions) -> LocoResult<Self> {
        let path = path.as_ref();
        let uri = format!("file:{}", uri_path(path)?);
        Self::open_uri(uri, true, options).await
    }

    /// Opens a private in-memory database (gone when the store is dropped).
    pub async fn open_in_memory(options: SqliteOptions) -> LocoResult<Self> {
        // The memdb VFS lets the writer and the readers share one in-memory database.
        let uri = format!("file:/loco-{}?vfs=memdb", ulid::Ulid::new());
        Self::open_uri(uri, false, options).await
    }

    async fn open_uri(uri: String, wal: bool, options: SqliteOptions) -> LocoResult<Self> {
        let reader_uri = uri.clone();
        let conn = tokio::task::spawn_blocking(move || open_writer(&uri, wal, options.durability))
            .await
            .map_err(|e| Error::storage(format!("open task failed: {e}")))?
            .map_err(Error::from)?;
        let (events, _) = broadcast::channel(options.event_buffer.max(16));
        let writer = Writer::start(conn, options.max_batch, options.max_queued_writes, events.clone())?;
        let reads = Arc::new(ReadPool::new(reader_uri, options.read_connections));
        Ok(Self { writer, reads, events: std::sync::Mutex::new(Some(events)) })
    }
}

fn uri_path(path: &Path) -> LocoResult<String> {
    let s = path.to_str().ok_or_else(|| Error::storage(format!("path {} is not valid UTF-8", path.display())))?;
    // Percent-encode the characters that have a meaning in SQLite URIs.
    Ok(s.replace('%', "%25").replace('?', "%3f").replace('#', "%23"))
}

/// How long opening waits for other connections that hold the file (the writer's busy timeout).
const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the writer connection, trying again while another connection holds the file. Some
/// steps of opening a new file report `SQLITE_BUSY` at once instead of waiting out the busy
/// timeout (switching to WAL while another connection is setting the file up does), so two
/// processes opening one new file at the same moment would otherwise fail one of them.
fn open_writer(uri: &str, wal: bool, durability: Durability) -> Result<Connection> {
    let deadline = std::time::Instant::now() + OPEN_PATIENCE;
    loop {
        match try_open_writer(uri, wal, durability) {
            Err(crate::error::StoreError::Sql(rusqlite::Error::SqliteFailure(failure, _)))
                if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

fn try_open_writer(uri: &str, wal: bool, durability: Durability) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(uri, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if wal {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(format!("cannot switch the database to WAL mode (got '{mode}')")).into());
        }
    }
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    configure(&conn)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// What every connection of the store gets, the writer's and the read pool's: a statement cache,
/// and SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`), so that a
/// statement's plan never depends on the values bound to it.
///
/// Without it SQLite marks a statement for re-preparing when a value it planned with is bound
/// anew (a `LIMIT ?n`; an `IN` list under `ORDER BY … LIMIT 1`), and rusqlite clears the bindings
/// of every statement it hands back to its cache, so those statements were compiled again on every
/// call: the approval gate lookup of every review (7 % of the writer thread's time in
/// `loco-bench` P1/P2) and the page query of every `list` (docs/performance.md). Each of Loco's
/// statements has one right plan whatever the values; none matches a bound `LIKE` pattern.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The deployment an idempotency key created, with the hash of its request.
fn keyed_deployment(conn: &Connection, key: &str) -> Result<Option<KeyedDeployment>> {
    let existing: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT id, request_hash FROM deployments WHERE idempotency_key = ?1")?
        .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    existing
        .map(|(id, request_hash)| Ok(KeyedDeployment { deployment: rows::get_deployment(conn, &id)?, request_hash }))
        .transpose()
}

/// The open deployment (see [`rules::OPEN_STATUSES`]) of the target, version and commit `new`
/// names, if any.
fn open_with_commit(conn: &Connection, new: &NewDeployment) -> Result<Option<Deployment>> {
    let Some((service, environment, version, commit)) = rules::commit_target(new) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {} FROM deployments WHERE service = ?1 AND environment = ?2 AND version = ?3 AND commit_id = ?4 \
         AND {OPEN_STATUS_SQL}",
        rows::DEPLOYMENT_COLUMNS
    );
    let open = conn
        .prepare_cached(&sql)?
        .query_row(params![service, environment, version, commit], rows::deployment_from_row)
        .optional()?;
    Ok(open.map(|(_, d)| d))
}

fn create_in_tx(
    ctx: &mut WriteCtx<'_>,
    new: NewDeployment,
    key: Option<String>,
    promotion: Option<NewEvent>,
) -> Result<Created> {
    let existing = key.as_deref().map(|k| keyed_deployment(ctx.conn, k)).transpose()?.flatten();
    let open = open_with_commit(ctx.conn, &new)?;
    let now = Timestamp::now();
    match rules::decide_create(new, key, existing, open, now)? {
        CreateDecision::Replay(deployment) => Ok(Created { deployment, replayed: true }),
        CreateDecision::Insert { change, idempotency_key, request_hash } => {
            let d = &change.deployment;
            let manifest_version = pipelines::check_order(ctx.conn, &d.service, &d.environment, &d.version)?;
            let work_refs = serde_json::to_string(&d.work_refs).map_err(Error::storage)?;
            ctx.conn
                .prepare_cached(
                    "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, \
                     risk, status, created_at, updated_at, idempotency_key, request_hash, commit_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )?
                .execute(params![
                    d.id,
                    d.service,
                    d.environment,
                    d.version,
                    d.requester,
                    work_refs,
                    d.rollback_plan,
                    d.risk,
                    d.status.as_str(),
                    d.created_at.to_string(),
                    d.updated_at.to_string(),
                    idempotency_key,
                    request_hash,
                    d.commit,
                ])?;
            let mut created = change.event;
            if let Some(version) = manifest_version {
                created.record_manifest_version(version);
            }
            ctx.append_event(created)?;
            if let Some(promotion) = promotion {
                ctx.append_event(rules::decide_record(&change.deployment, promotion, now)?)?;
            }
            Ok(Created { deployment: change.deployment, replayed: false })
        }
    }
}

/// Writes the columns a lifecycle action changes.
pub(crate) fn update_deployment_row(conn: &Connection, d: &Deployment) -> Result<()> {
    conn.prepare_cached(
        "UPDATE deployments SET status = ?1, updated_at = ?2, reviewed_by = ?3, reviewed_at = ?4 WHERE id = ?5",
    )?
    .execute(params![
        d.status.as_str(),
        d.updated_at.to_string(),
        d.reviewed_by,
        d.reviewed_at.map(|t| t.to_string()),
        d.id
    ])?;
    Ok(())
}

/// Writes a deployment row changed by a rule, its event, and what it does to the deploy lock.
pub(crate) fn persist_change(ctx: &mut WriteCtx<'_>, change: DeploymentChange) -> Result<Deployment> {
    if let Some(from) = change.event.from_status {
        locks::sync(ctx.conn, from, &change.deployment, &change.event.actor)?;
    }
    update_deployment_row(ctx.conn, &change.deployment)?;
    ctx.append_event(change.event)?;
    Ok(change.deployment)
}

fn apply_in_tx(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    action: Action,
    input: &ActionInput,
    lead_events: Vec<NewEvent>,
) -> Result<Applied> {
    let current = rows::get_deployment(ctx.conn, id)?;
    let rollout_state = rollouts::rollout_state(ctx.conn, id)?;
    let now = Timestamp::now();
    let gate =
        if action.is_review() { gates::guarding(ctx.conn, &current.service, &current.environment)? } else { None };
    let prior = if gate.is_some() { gates::approvals(ctx.conn, id)? } else { Vec::new() };
    let change = match gate::decide(&current, rollout_state, gate.as_ref(), &prior, action, input, now)? {
        ApprovalStep::Transition(change) => *change,
        ApprovalStep::Granted(approval) => {
            ctx.append_event(approval)?;
            return Ok(Applied { deployment: current.clone(), from: current.status, since: current.updated_at });
        }
    };
    for event in lead_events {
        ctx.append_event(rules::decide_record(&current, event, now)?)?;
    }
    let deployment = persist_change(ctx, change)?;
    Ok(Applied { deployment, from: current.status, since: current.updated_at })
}

#[async_trait]
impl Store for SqliteStore {
    async fn create(&self, new: NewDeployment, idempotency_key: Option<String>) -> LocoResult<Created> {
        self.writer.submit(move |ctx| create_in_tx(ctx, new, idempotency_key, None)).await
    }

    async fn apply_change(
        &self,
        id: &str,
        action: Action,
        input: ActionInput,
        lead_events: Vec<NewEvent>,
    ) -> LocoResult<Applied> {
        let id = id.to_owned();
        self.writer.submit(move |ctx| apply_in_tx(ctx, &id, action, &input, lead_events)).await
    }

    async fn get(&self, id: &str) -> LocoResult<Deployment> {
        self.reads.point(|conn| rows::get_deployment(conn, id)).await
    }

    async fn list(&self, query: &ListQuery) -> LocoResult<Page<Deployment>> {
        if reads::visits_only_its_page(query) {
            return self.reads.point(|conn| reads::list(conn, query)).await;
        }
        let query = query.clone();
        self.reads.run(move |conn| reads::list(conn, &query)).await
    }

    async fn events(&self, id: &str) -> LocoResult<Vec<Event>> {
        let id = id.to_owned();
        self.reads.run(move |conn| rows::deployment_events(conn, &id)).await
    }

    async fn events_after(&self, after: i64, limit: u32) -> LocoResult<Vec<Event>> {
        self.reads.run(move |conn| reads::events_after(conn, after, limit)).await
    }

    async fn verify_audit(&self) -> LocoResult<AuditReport> {
        self.reads.run(reads::verify_audit).await
    }

    async fn begin_rollout(&self, begin: BeginRollout) -> LocoResult<(Deployment, Rollout)> {
        self.writer.submit(move |ctx| rollouts::begin_in_tx(ctx, begin)).await
    }

    async fn record_event(&self, id: &str, event: NewEvent) -> LocoResult<Event> {
        let id = id.to_owned();
        self.writer
            .submit(move |ctx| {
                let deployment = rows::get_deployment(ctx.conn, &id)?;
                ctx.append_event(rules::decide_record(&deployment, event, Timestamp::now())?)
            })
            .await
    }

    async fn update_rollout(&self, id: &str, update: RolloutUpdate) -> LocoResult<Rollout> {
        let id = id.to_owned();
        self.writer.submit(move |ctx| rollouts::update_in_tx(ctx, &id, update)).await
    }

    async fn rollout(&self, id: &str) -> LocoResult<Rollout> {
        self.reads.point(|conn| rollouts::get_rollout(conn, id)).await
    }

    async fn rollouts(&self, active_only: bool) -> LocoResult<Vec<Rollout>> {
        self.reads.run(move |conn| rollouts::list_rollouts(conn, active_only)).await
    }

    async fn releases(&self, service: &str, environment: &str, limit: u32) -> LocoResult<Vec<Release>> {
        let (service, environment) = (service.to_owned(), environment.to_owned());
        self.reads.run(move |conn| rollouts::list_releases(conn, &service, &environment, limit)).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        match self.events.lock().ok().as_ref().and_then(|sender| sender.as_ref().map(broadcast::Sender::subscribe)) {
            Some(receiver) => receiver,
            // Closed: a receiver whose channel has already ended.
            None => broadcast::channel(1).1,
        }
    }

    async fn create_token(&self, token: Token, secret_hash: String) -> LocoResult<Token> {
        self.writer.submit(move |ctx| access::create_token(ctx, token, &secret_hash)).await
    }

    async fn tokens(&self) -> LocoResult<Vec<Token>> {
        self.reads.run(access::tokens).await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> LocoResult<Option<Token>> {
        self.reads.point(|conn| access::token_by_hash(conn, secret_hash)).await
    }

    async fn revoke_token(&self, id: &str) -> LocoResult<Token> {
        let id = id.to_owned();
        self.writer.submit(move |ctx| access::revoke_token(ctx, &id)).await
    }

    async fn put_service(&self, definition: ServiceDefinition, by: &str) -> LocoResult<ServiceDefinition> {
        let by = by.to_owned();
        self.writer.submit(move |ctx| access::put_service(ctx, definition, &by)).await
    }

    async fn services(&self) -> LocoResult<Vec<ServiceDefinition>> {
        self.reads.run(access::services).await
    }

    async fn service(&self, name: &str) -> LocoResult<ServiceDefinition> {
        self.reads.point(|conn| access::service(conn, name)).await
    }

    async fn put_platform(&self, config: PlatformConfig) -> LocoResult<PlatformConfig> {
        self.writer.submit(move |ctx| access::put_platform(ctx, config)).await
    }

    async fn platforms(&self) -> LocoResult<Vec<PlatformConfig>> {
        self.reads.run(access::platforms).await
    }

    async fn remove_platform(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.submit(move |ctx| access::remove_platform(ctx, &name)).await
    }

    async fn remove_service(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.submit(move |ctx| access::remove_service(ctx, &name)).await
    }

    async fn locks(&self) -> LocoResult<Vec<DeployLock>> {
        self.reads.point(locks::locks).await
    }

    async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        actor: &str,
        reason: &str,
    ) -> LocoResult<DeployLock> {
        let (service, environment) = (service.to_owned(), environment.to_owned());
        let (actor, reason) = (actor.to_owned(), reason.to_owned());
        self.writer.submit(move |ctx| locks::release(ctx, &service, &environment, &actor, &reason)).await
    }

    async fn put_freeze_window(&self, window: FreezeWindow, by: &str) -> LocoResult<FreezeWindow> {
        let by = by.to_owned();
        self.writer.submit(move |ctx| access::put_freeze_window(ctx, window, &by)).await
    }

    async fn freeze_windows(&self) -> LocoResult<Vec<FreezeWindow>> {
        self.reads.point(access::freeze_windows).await
    }

    async fn create_promoted(&self, new: NewDeployment, promotion: NewEvent) -> LocoResult<Created> {
        self.writer.submit(move |ctx| create_in_tx(ctx, new, None, Some(promotion))).await
    }

    async fn put_pipeline(&self, pipeline: Pipeline, by: &str) -> LocoResult<Pipeline> {
        let by = by.to_owned();
        self.writer.submit(move |ctx| pipelines::put(ctx, pipeline, &by)).await
    }

    async fn pipelines(&self) -> LocoResult<Vec<Pipeline>> {
        self.reads.point(pipelines::all).await
    }

    async fn pipeline(&self, service: &str) -> LocoResult<Option<Pipeline>> {
        self.reads.point(|conn| pipelines::of(conn, service)).await
    }

    async fn remove_pipeline(&self, service: &str) -> LocoResult<()> {
        let service = service.to_owned();
        self.writer.submit(move |ctx| pipelines::remove(ctx, &service)).await
    }

    async fn newest_of_version(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> LocoResult<Option<Deployment>> {
        self.reads.point(|conn| pipelines::newest(conn, service, environment, version)).await
    }

    async fn apply_manifest(&self, text: &str, manifest: Manifest, by: &str) -> LocoResult<(ManifestRecord, bool)> {
        let (text, by) = (text.to_owned(), by.to_owned());
        self.writer.submit(move |ctx| manifests::apply(ctx, &text, manifest, &by)).await
    }

    async fn manifest(&self, service: &str, version: Option<u32>) -> LocoResult<Option<ManifestRecord>> {
        self.reads.point(|conn| manifests::of(conn, service, version)).await
    }

    async fn manifest_history(&self, service: &str) -> LocoResult<Vec<ManifestRecord>> {
        self.reads.point(|conn| manifests::history(conn, service)).await
    }

    async fn manifests(&self) -> LocoResult<Vec<ManifestRecord>> {
        self.reads.point(manifests::newest).await
    }

    async fn put_gate(&self, gate: ApprovalGate, by: &str) -> LocoResult<ApprovalGate> {
        let by = by.to_owned();
        self.writer.submit(move |ctx| gates::put(ctx, gate, &by)).await
    }

    async fn gates(&self) -> LocoResult<Vec<ApprovalGate>> {
        self.reads.point(gates::all).await
    }

    async fn remove_gate(&self, environment: &str, service: Option<&str>) -> LocoResult<()> {
        let (environment, service) = (environment.to_owned(), service.map(str::to_owned));
        self.writer.submit(move |ctx| gates::remove(ctx, &environment, service.as_deref())).await
    }

    async fn put_schedule(&self, schedule: ScheduledStart) -> LocoResult<ScheduledStart> {
        self.writer.submit(move |ctx| schedules::put(ctx, schedule)).await
    }

    async fn schedules(&self) -> LocoResult<Vec<ScheduledStart>> {
        self.reads.point(schedules::all).await
    }

    async fn cancel_schedule(&self, id: &str, now: Timestamp) -> LocoResult<ScheduledStart> {
        let id = id.to_owned();
        self.writer.submit(move |ctx| schedules::cancel(ctx, &id, now)).await
    }

    async fn claim_due_schedules(&self, now: Timestamp) -> LocoResult<Vec<ScheduledStart>> {
        // `loco serve` asks every second and almost always finds nothing due: a reader answers
        // that, and only a tick with something due takes the writer's turn.
        if !self.reads.point(move |conn| schedules::any_due(conn, now)).await? {
            return Ok(Vec::new());
        }
        self.writer.submit(move |ctx| schedules::claim_due(ctx, now)).await
    }

    async fn put_group(&self, group: ReviewerGroup, by: &str) -> LocoResult<ReviewerGroup> {
        let by = by.to_owned();
        self.writer.submit(move |ctx| gates::put_group(ctx, group, &by)).await
    }

    async fn groups(&self) -> LocoResult<Vec<ReviewerGroup>> {
        self.reads.point(gates::all_groups).await
    }

    async fn remove_group(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.submit(move |ctx| gates::remove_group(ctx, &name)).await
    }

    async fn remove_freeze_window(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.submit(move |ctx| access::remove_freeze_window(ctx, &name)).await
    }

    async fn put_thresholds(&self, environment: &str, thresholds: Thresholds) -> LocoResult<()> {
        let environment = environment.trim().to_lowercase();
        self.writer.submit(move |ctx| access::put_thresholds(ctx, &environment, &thresholds)).await
    }

    async fn thresholds(&self) -> LocoResult<Vec<(String, Thresholds)>> {
        self.reads.run(access::thresholds).await
    }

    async fn reseal_secrets(&self, reseal: Resealer) -> LocoResult<u64> {
        self.writer
            .submit(move |ctx| {
                let specs = rollouts::reseal(ctx, reseal.as_ref())?;
                Ok(specs + access::reseal_platform_tokens(ctx, reseal.as_ref())?)
            })
            .await
    }

    async fn close(&self) -> LocoResult<()> {
        if let Ok(mut sender) = self.events.lock() {
            sender.take();
        }
        self.reads.close();
        self.writer.close().await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// Statements whose plan SQLite would otherwise tie to their bound values: each is prepared
    /// once, however often its values change, on the writer's connection and the read pool's.
    #[test]
    fn statements_are_prepared_once_whatever_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let uri = uri_path(&dir.path().join("loco.db")).unwrap();
        let writer = open_writer(&uri, true, Durability::Full).unwrap();
        let pool = ReadPool::new(uri, 1);
        let reader = pool.take().unwrap();
        let gate = "SELECT definition FROM approval_gates WHERE environment = ?1 AND service IN ('', ?2) \
                    ORDER BY service DESC LIMIT 1";
        let page = "SELECT seq FROM deployments WHERE status = ?1 ORDER BY seq DESC LIMIT ?2";
        for conn in [&writer, &reader] {
            for i in 0..5 {
                // Taken from the cache each time, as the store does (rusqlite clears the bindings
                // of a statement it takes back).
                conn.prepare_cached(gate)
                    .unwrap()
                    .query([format!("env{i}"), format!("svc{i}")])
                    .unwrap()
                    .next()
                    .unwrap();
                conn.prepare_cached(page).unwrap().query(params!["started", 51 + i]).unwrap().next().unwrap();
            }
            for sql in [gate, page] {
                assert_eq!(conn.prepare_cached(sql).unwrap().get_status(StatementStatus::RePrepare), 0, "{sql}");
            }
        }
    }

    /// Several engines (processes, or threads as here) starting on one new file at the same
    /// moment all open it: none sees `database is locked`.
    #[test]
    fn engines_opening_one_new_file_at_once_all_open_it() {
        const OPENERS: usize = 4;
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("loco.db");
            let barrier = Arc::new(std::sync::Barrier::new(OPENERS));
            let openers: Vec<_> = (0..OPENERS)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                        barrier.wait();
                        runtime.block_on(SqliteStore::open(&path, SqliteOptions::default())).map(drop)
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap().map_err(|e| e.to_string()), Ok(()), "round {round}");
            }
        }
    }
}
