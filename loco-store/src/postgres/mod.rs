//! [`PostgresStore`]: the store for several engine replicas sharing one PostgreSQL database —
//! every write one transaction serialized on the head of the audit chain, and every committed
//! event, whichever process wrote it, delivered to every subscriber through `LISTEN`/`NOTIFY`.
//!
//! ```no_run
//! # async fn example() -> loco_types::Result<()> {
//! use loco_store::{PostgresOptions, PostgresStore, Store};
//!
//! let store = PostgresStore::open("postgres://loco@db.internal/loco", PostgresOptions::default()).await?;
//! let report = store.verify_audit().await?;
//! assert!(report.valid);
//! # Ok(())
//! # }
//! ```

mod access;
mod deployments;
mod error;
mod gates;
mod listener;
mod locks;
mod manifests;
mod pipelines;
mod pool;
mod reads;
mod rollouts;
mod rows;
mod schedules;
mod schema;
mod tls;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, broadcast};
use tokio_postgres::Config;
use tokio_postgres::config::SslMode;

use loco_types::analysis::Thresholds;
use loco_types::audit::AuditReport;
use loco_types::freeze::FreezeWindow;
use loco_types::gate::{ApprovalGate, ReviewerGroup};
use loco_types::identity::Token;
use loco_types::lifecycle::{Action, ActionInput};
use loco_types::lock::DeployLock;
use loco_types::manifest::{Manifest, ManifestRecord};
use loco_types::model::{Deployment, Event, ListQuery, NewDeployment, Page};
use loco_types::pipeline::Pipeline;
use loco_types::platform_config::PlatformConfig;
use loco_types::rollout::{Release, Rollout};
use loco_types::schedule::ScheduledStart;
use loco_types::service::ServiceDefinition;
use loco_types::{Error, Result as LocoResult};

use crate::{Applied, BeginRollout, Created, NewEvent, Resealer, RolloutUpdate, Store};

use listener::Listener;
use pool::{Pool, Tls};
pub use schema::SCHEMA_VERSION;
use writer::Writer;

/// Tuning for [`PostgresStore`]; the defaults suit almost everyone.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections in use at once for reads and writes (default 8); the event listener holds
    /// one more.
    pub pool_size: usize,
    /// How long connecting may take when the URL sets no `connect_timeout` (default 5 s).
    pub connect_timeout: Duration,
    /// Capacity of the committed-event broadcast before slow subscribers must catch up from the
    /// database (default 4096).
    pub event_buffer: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self { pool_size: 8, connect_timeout: Duration::from_secs(5), event_buffer: 4096 }
    }
}

/// The PostgreSQL-backed [`Store`].
///
/// The URL is a libpq-style `postgres://` URL or key-value string. The store lives in the first
/// schema of the connection's `search_path` (set it with `options=-csearch_path=<schema>`).
/// `sslmode=require` connects over TLS and verifies the server's certificate with the platform's
/// roots; any other mode connects without TLS.
pub struct PostgresStore {
    pool: Arc<Pool>,
    writer: Writer,
    listener: Listener,
    // Dropped on close so subscriptions end once the listener (the other sender) stops.
    events: Mutex<Option<broadcast::Sender<Event>>>,
}

impl PostgresStore {
    /// Connects to the database at `url`, brings its schema up to date, and starts listening for
    /// events; `storage_error` when the server cannot be reached or refuses.
    pub async fn open(url: &str, options: PostgresOptions) -> LocoResult<Self> {
        let mut config: Config =
            url.parse().map_err(|e| Error::storage(format!("invalid PostgreSQL URL: {}", error::describe(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("loco");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Tls::Rustls(tls::RustlsConnect::new()?),
            _ => Tls::None,
        };
        let pool = Pool::new(config.clone(), tls.clone(), options.pool_size);
        let last_seen = {
            let mut conn = pool.get().await?;
            schema::migrate(&mut conn).await?;
            let head = conn.query_one("SELECT seq FROM chain_head WHERE id = 1", &[]).await?;
            head.try_get::<_, i64>(0).map_err(error::PgError::from)?
        };
        let (events, _) = broadcast::channel(options.event_buffer.max(16));
        let committed = Arc::new(Notify::new());
        let listener = Listener::start(config, tls, last_seen, events.clone(), committed.clone()).await?;
        Ok(Self { writer: Writer::new(pool.clone(), committed), pool, listener, events: Mutex::new(Some(events)) })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create(&self, new: NewDeployment, idempotency_key: Option<String>) -> LocoResult<Created> {
        self.writer
            .run(move |ctx| Box::pin(deployments::create_in_tx(ctx, new.clone(), idempotency_key.clone(), None)))
            .await
    }

    async fn apply_change(
        &self,
        id: &str,
        action: Action,
        input: ActionInput,
        lead_events: Vec<NewEvent>,
    ) -> LocoResult<Applied> {
        let id = id.to_owned();
        self.writer
            .run(move |ctx| {
                Box::pin(deployments::apply_in_tx(ctx, id.clone(), action, input.clone(), lead_events.clone()))
            })
            .await
    }

    async fn get(&self, id: &str) -> LocoResult<Deployment> {
        Ok(rows::get_deployment(&mut *self.pool.get().await?, id).await?)
    }

    async fn list(&self, query: &ListQuery) -> LocoResult<Page<Deployment>> {
        Ok(reads::list(&mut *self.pool.get().await?, query).await?)
    }

    async fn events(&self, id: &str) -> LocoResult<Vec<Event>> {
        Ok(rows::deployment_events(&mut *self.pool.get().await?, id).await?)
    }

    async fn events_after(&self, after: i64, limit: u32) -> LocoResult<Vec<Event>> {
        Ok(reads::events_after(&mut *self.pool.get().await?, after, limit).await?)
    }

    async fn verify_audit(&self) -> LocoResult<AuditReport> {
        Ok(reads::verify_audit(&mut *self.pool.get().await?).await?)
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        match self.events.lock().ok().as_ref().and_then(|sender| sender.as_ref().map(broadcast::Sender::subscribe)) {
            Some(receiver) => receiver,
            // Closed: a receiver whose channel has already ended.
            None => broadcast::channel(1).1,
        }
    }

    async fn begin_rollout(&self, begin: BeginRollout) -> LocoResult<(Deployment, Rollout)> {
        self.writer.run(move |ctx| Box::pin(rollouts::begin_in_tx(ctx, begin.clone()))).await
    }

    async fn record_event(&self, id: &str, event: NewEvent) -> LocoResult<Event> {
        let id = id.to_owned();
        self.writer.run(move |ctx| Box::pin(deployments::record_in_tx(ctx, id.clone(), event.clone()))).await
    }

    async fn update_rollout(&self, id: &str, update: RolloutUpdate) -> LocoResult<Rollout> {
        let id = id.to_owned();
        self.writer.run(move |ctx| Box::pin(rollouts::update_in_tx(ctx, id.clone(), update.clone()))).await
    }

    async fn rollout(&self, id: &str) -> LocoResult<Rollout> {
        Ok(rollouts::get_rollout(&mut *self.pool.get().await?, id).await?)
    }

    async fn rollouts(&self, active_only: bool) -> LocoResult<Vec<Rollout>> {
        Ok(rollouts::list_rollouts(&mut *self.pool.get().await?, active_only).await?)
    }

    async fn releases(&self, service: &str, environment: &str, limit: u32) -> LocoResult<Vec<Release>> {
        Ok(rollouts::list_releases(&mut *self.pool.get().await?, service, environment, limit).await?)
    }

    async fn create_token(&self, token: Token, secret_hash: String) -> LocoResult<Token> {
        self.writer.run(move |ctx| Box::pin(access::create_token(ctx, token.clone(), secret_hash.clone()))).await
    }

    async fn tokens(&self) -> LocoResult<Vec<Token>> {
        Ok(access::tokens(&mut *self.pool.get().await?).await?)
    }

    async fn token_by_hash(&self, secret_hash: &str) -> LocoResult<Option<Token>> {
        Ok(access::token_by_hash(&mut *self.pool.get().await?, secret_hash).await?)
    }

    async fn revoke_token(&self, id: &str) -> LocoResult<Token> {
        let id = id.to_owned();
        self.writer.run(move |ctx| Box::pin(access::revoke_token(ctx, id.clone()))).await
    }

    async fn put_service(&self, definition: ServiceDefinition, by: &str) -> LocoResult<ServiceDefinition> {
        let by = by.to_owned();
        self.writer.run(move |ctx| Box::pin(access::put_service(ctx, definition.clone(), by.clone()))).await
    }

    async fn services(&self) -> LocoResult<Vec<ServiceDefinition>> {
        Ok(access::services(&mut *self.pool.get().await?).await?)
    }

    async fn service(&self, name: &str) -> LocoResult<ServiceDefinition> {
        Ok(access::service(&mut *self.pool.get().await?, name).await?)
    }

    async fn remove_service(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.run(move |ctx| Box::pin(access::remove_service(ctx, name.clone()))).await
    }

    async fn put_platform(&self, config: PlatformConfig) -> LocoResult<PlatformConfig> {
        self.writer.run(move |ctx| Box::pin(access::put_platform(ctx, config.clone()))).await
    }

    async fn platforms(&self) -> LocoResult<Vec<PlatformConfig>> {
        Ok(access::platforms(&mut *self.pool.get().await?).await?)
    }

    async fn remove_platform(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.run(move |ctx| Box::pin(access::remove_platform(ctx, name.clone()))).await
    }

    async fn locks(&self) -> LocoResult<Vec<DeployLock>> {
        Ok(locks::locks(&mut *self.pool.get().await?).await?)
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
        self.writer
            .run(move |ctx| {
                Box::pin(locks::release(ctx, service.clone(), environment.clone(), actor.clone(), reason.clone()))
            })
            .await
    }

    async fn put_freeze_window(&self, window: FreezeWindow, by: &str) -> LocoResult<FreezeWindow> {
        let by = by.to_owned();
        self.writer.run(move |ctx| Box::pin(access::put_freeze_window(ctx, window.clone(), by.clone()))).await
    }

    async fn freeze_windows(&self) -> LocoResult<Vec<FreezeWindow>> {
        Ok(access::freeze_windows(&mut *self.pool.get().await?).await?)
    }

    async fn remove_freeze_window(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.run(move |ctx| Box::pin(access::remove_freeze_window(ctx, name.clone()))).await
    }

    async fn create_promoted(&self, new: NewDeployment, promotion: NewEvent) -> LocoResult<Created> {
        self.writer
            .run(move |ctx| Box::pin(deployments::create_in_tx(ctx, new.clone(), None, Some(promotion.clone()))))
            .await
    }

    async fn put_pipeline(&self, pipeline: Pipeline, by: &str) -> LocoResult<Pipeline> {
        let by = by.to_owned();
        self.writer.run(move |ctx| Box::pin(pipelines::put(ctx, pipeline.clone(), by.clone()))).await
    }

    async fn pipelines(&self) -> LocoResult<Vec<Pipeline>> {
        Ok(pipelines::all(&mut *self.pool.get().await?).await?)
    }

    async fn pipeline(&self, service: &str) -> LocoResult<Option<Pipeline>> {
        Ok(pipelines::of(&mut *self.pool.get().await?, service).await?)
    }

    async fn remove_pipeline(&self, service: &str) -> LocoResult<()> {
        let service = service.to_owned();
        self.writer.run(move |ctx| Box::pin(pipelines::remove(ctx, service.clone()))).await
    }

    async fn newest_of_version(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> LocoResult<Option<Deployment>> {
        Ok(pipelines::newest(&mut *self.pool.get().await?, service, environment, version).await?)
    }

    async fn apply_manifest(&self, text: &str, manifest: Manifest, by: &str) -> LocoResult<(ManifestRecord, bool)> {
        let (text, by) = (text.to_owned(), by.to_owned());
        self.writer.run(move |ctx| Box::pin(manifests::apply(ctx, text.clone(), manifest.clone(), by.clone()))).await
    }

    async fn manifest(&self, service: &str, version: Option<u32>) -> LocoResult<Option<ManifestRecord>> {
        Ok(manifests::of(&mut *self.pool.get().await?, service, version).await?)
    }

    async fn manifest_history(&self, service: &str) -> LocoResult<Vec<ManifestRecord>> {
        Ok(manifests::history(&mut *self.pool.get().await?, service).await?)
    }

    async fn manifests(&self) -> LocoResult<Vec<ManifestRecord>> {
        Ok(manifests::newest(&mut *self.pool.get().await?).await?)
    }

    async fn put_gate(&self, gate: ApprovalGate, by: &str) -> LocoResult<ApprovalGate> {
        let by = by.to_owned();
        self.writer.run(move |ctx| Box::pin(gates::put(ctx, gate.clone(), by.clone()))).await
    }

    async fn gates(&self) -> LocoResult<Vec<ApprovalGate>> {
        Ok(gates::all(&mut *self.pool.get().await?).await?)
    }

    async fn remove_gate(&self, environment: &str, service: Option<&str>) -> LocoResult<()> {
        let (environment, service) = (environment.to_owned(), service.map(str::to_owned));
        self.writer.run(move |ctx| Box::pin(gates::remove(ctx, environment.clone(), service.clone()))).await
    }

    async fn put_schedule(&self, schedule: ScheduledStart) -> LocoResult<ScheduledStart> {
        self.writer.run(move |ctx| Box::pin(schedules::put(ctx, schedule.clone()))).await
    }

    async fn schedules(&self) -> LocoResult<Vec<ScheduledStart>> {
        Ok(schedules::all(&mut *self.pool.get().await?).await?)
    }

    async fn cancel_schedule(&self, id: &str, now: loco_types::model::Timestamp) -> LocoResult<ScheduledStart> {
        let id = id.to_owned();
        self.writer.run(move |ctx| Box::pin(schedules::cancel(ctx, id.clone(), now))).await
    }

    async fn claim_due_schedules(&self, now: loco_types::model::Timestamp) -> LocoResult<Vec<ScheduledStart>> {
        // `loco serve` asks every second and almost always finds nothing due: a pooled read
        // answers that, and only a tick with something due takes the writer's turn.
        if !schedules::any_due(&mut *self.pool.get().await?, now).await? {
            return Ok(Vec::new());
        }
        self.writer.run(move |ctx| Box::pin(schedules::claim_due(ctx, now))).await
    }

    async fn put_group(&self, group: ReviewerGroup, by: &str) -> LocoResult<ReviewerGroup> {
        let by = by.to_owned();
        self.writer.run(move |ctx| Box::pin(gates::put_group(ctx, group.clone(), by.clone()))).await
    }

    async fn groups(&self) -> LocoResult<Vec<ReviewerGroup>> {
        Ok(gates::all_groups(&mut *self.pool.get().await?).await?)
    }

    async fn remove_group(&self, name: &str) -> LocoResult<()> {
        let name = name.to_owned();
        self.writer.run(move |ctx| Box::pin(gates::remove_group(ctx, name.clone()))).await
    }

    async fn put_thresholds(&self, environment: &str, thresholds: Thresholds) -> LocoResult<()> {
        let environment = environment.trim().to_lowercase();
        self.writer.run(move |ctx| Box::pin(access::put_thresholds(ctx, environment.clone(), thresholds.clone()))).await
    }

    async fn thresholds(&self) -> LocoResult<Vec<(String, Thresholds)>> {
        Ok(access::thresholds(&mut *self.pool.get().await?).await?)
    }

    async fn reseal_secrets(&self, reseal: Resealer) -> LocoResult<u64> {
        self.writer
            .run(move |ctx| {
                let reseal = reseal.clone();
                Box::pin(async move {
                    let specs = rollouts::reseal(ctx, reseal.as_ref()).await?;
                    Ok(specs + access::reseal_platform_tokens(ctx, reseal.as_ref()).await?)
                })
            })
            .await
    }

    async fn close(&self) -> LocoResult<()> {
        self.pool.close().await;
        if let Ok(mut sender) = self.events.lock() {
            sender.take();
        }
        self.listener.stop().await;
        Ok(())
    }
}
