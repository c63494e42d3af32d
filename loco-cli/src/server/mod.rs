//! The HTTP API over [`loco_core::Engine`] (`loco serve`): the router with every route of the
//! design's §6, its OpenAPI document, and a server loop with graceful shutdown.
//!
//! ```no_run
//! # async fn run() -> Result<(), loco_cli::server::ServeError> {
//! let engine = loco_core::Engine::open("loco.db").await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loco_cli::server::serve(listener, engine, loco_cli::server::ServerConfig::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod front;
pub mod guard;
pub mod metrics;
pub mod openapi;
pub mod platforms;
pub mod policy;
pub mod request_log;
pub mod rollouts;
pub mod routes;
pub mod sse;
pub mod thresholds;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use axum::{Router, middleware};
use loco_core::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::wire::BODY_LIMIT_BYTES;
use metrics::HttpMetrics;

/// Server tuning; the defaults suit production.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How often an idle SSE stream sends a keep-alive comment (default 15 s).
    pub sse_keep_alive: Duration,
    /// How long shutdown waits for in-flight requests before closing the engine anyway
    /// (default 30 s).
    pub shutdown_grace: Duration,
    /// Which `Host` headers the server answers to ([`serve`] adds the bound address).
    pub hosts: guard::HostPolicy,
    /// Longest a request (not a stream) may run (default 30 s).
    pub request_timeout: Duration,
    /// Most event streams open at once (default 256).
    pub max_streams: usize,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Require an API token on every request but `/healthz` and `/openapi.json` (default true;
    /// `false` only for local experiments: callers then act under whatever names they send).
    pub auth: bool,
    /// Each identity's request budget (default 50/s, bursts of 100); `None` for no limit.
    pub rate_limit: Option<auth::RateLimit>,
    /// How often an open stream re-checks that its token is still valid (default 5 s).
    pub credential_recheck: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            sse_keep_alive: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(30),
            hosts: guard::HostPolicy::default(),
            request_timeout: Duration::from_secs(30),
            max_streams: 256,
            tls: None,
            auth: true,
            rate_limit: Some(auth::RateLimit::default()),
            credential_recheck: Duration::from_secs(5),
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The engine all handlers call.
    pub engine: Engine,
    /// Request counters and latencies.
    pub http_metrics: HttpMetrics,
    /// Becomes `true` when shutdown starts; open SSE streams end on it.
    pub shutdown: watch::Receiver<bool>,
    /// Tuning.
    pub config: ServerConfig,
    /// One permit per open event stream.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Each identity's request budget.
    pub budgets: auth::Budgets,
    /// This server's OpenAPI document, rendered once.
    pub openapi: Arc<String>,
}

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding or accepting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The engine failed (opening, or flushing on close).
    #[error(transparent)]
    Engine(#[from] loco_core::Error),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loco HTTP API",
        description = "Deployment lifecycle over HTTP: create, review, start, finish and roll back deployments, \
                       roll them out on a platform with canary analysis, read their append-only event history, \
                       and stream committed events. Errors are \
                       `{\"error\": {\"code\", \"message\", \"details\"}}` with stable codes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "deployments", description = "Create deployments and move them through their lifecycle"),
        (name = "events", description = "Append-only history and live event streams"),
        (name = "rollouts", description = "Run approved deployments on a platform step by step, with canary \
                                           analysis, and follow their progress, releases and instance output"),
        (name = "operations", description = "Health, metrics, audit and this document"),
        (name = "access", description = "API tokens, the service registry and who you are (admin, except whoami)"),
        (name = "platforms", description = "Cloud platforms plans may name, their settings and sealed tokens (admin)"),
        (name = "policy", description = "Freeze windows: when starts are refused (set by an admin, read by anyone)"),
    )
)]
struct ApiDoc;

/// Every documented route, before state is attached.
fn api() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::create_deployment, routes::list_deployments))
        .routes(routes!(routes::get_deployment))
        .routes(routes!(routes::deployment_events))
        .routes(routes!(sse::deployment_events))
        .routes(routes!(routes::approve))
        .routes(routes!(routes::reject))
        .routes(routes!(routes::start))
        .routes(routes!(routes::succeed))
        .routes(routes!(routes::fail))
        .routes(routes!(routes::rollback))
        .routes(routes!(rollouts::start_rollout, rollouts::get_rollout))
        .routes(routes!(rollouts::validate_plan))
        .routes(routes!(rollouts::override_rollout))
        .routes(routes!(rollouts::instance_logs))
        .routes(routes!(rollouts::list_rollouts))
        .routes(routes!(rollouts::list_releases))
        .routes(routes!(rollouts::rollback_to))
        .routes(routes!(thresholds::list_thresholds))
        .routes(routes!(thresholds::put_thresholds))
        .routes(routes!(policy::list_locks))
        .routes(routes!(policy::release_lock))
        .routes(routes!(policy::list_freezes))
        .routes(routes!(policy::active_freeze))
        .routes(routes!(policy::put_freeze, policy::remove_freeze))
        .routes(routes!(policy::list_gates))
        .routes(routes!(policy::put_gate, policy::remove_gate))
        .routes(routes!(policy::list_groups))
        .routes(routes!(policy::put_group, policy::remove_group))
        .routes(routes!(policy::list_schedules))
        .routes(routes!(policy::put_schedule, policy::cancel_schedule))
        .routes(routes!(policy::approval_status))
        .routes(routes!(policy::list_pipelines))
        .routes(routes!(policy::put_pipeline, policy::remove_pipeline))
        .routes(routes!(policy::pipeline_view))
        .routes(routes!(policy::promote))
        .routes(routes!(policy::validate_manifest))
        .routes(routes!(policy::list_manifests))
        .routes(routes!(policy::put_manifest, policy::get_manifest))
        .routes(routes!(policy::manifest_history))
        .routes(routes!(policy::manifest_version))
        .routes(routes!(policy::manifest_plan))
        .routes(routes!(sse::all_events))
        .routes(routes!(routes::verify_audit))
        .routes(routes!(routes::audit_head))
        .routes(routes!(routes::healthz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(routes::openapi_json))
        .routes(routes!(admin::create_token, admin::list_tokens))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(admin::list_services))
        .routes(routes!(admin::put_service, admin::remove_service))
        .routes(routes!(admin::whoami))
        .routes(routes!(platforms::list_platforms))
        .routes(routes!(platforms::put_platform, platforms::remove_platform))
        .routes(routes!(platforms::test_platform))
}

/// The OpenAPI document of this server: paths from the handlers' annotations, record schemas from
/// the core's JSON Schema.
pub fn openapi() -> serde_json::Value {
    openapi::document(&api().split_for_parts().1)
}

/// The complete application: routes, error fallbacks, body limit, request logs and metrics.
/// `shutdown` ends open SSE streams when it turns `true`.
pub fn router(engine: Engine, config: ServerConfig, shutdown: watch::Receiver<bool>) -> Router {
    let (router, doc) = api().split_for_parts();
    let doc = openapi::document(&doc);
    // Serializing a JSON value cannot fail.
    let openapi = Arc::new(serde_json::to_string_pretty(&doc).unwrap_or_default());
    let streams = Arc::new(tokio::sync::Semaphore::new(config.max_streams));
    let state = Arc::new(AppState {
        engine,
        http_metrics: HttpMetrics::default(),
        shutdown,
        config,
        streams,
        budgets: auth::Budgets::default(),
        openapi,
    });
    router
        // Only matched routes demand JSON: an unknown path or method still gets its 404 or 405.
        .route_layer(middleware::from_fn(guard::require_json))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        // The dashboard holds no data: the front middleware serves it without authentication.
        .merge(dashboard::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), front::front))
        .with_state(state)
}

/// Serves the API on `listener` until `signal` completes, then shuts down gracefully: stops
/// accepting, ends SSE streams, lets in-flight requests finish (up to
/// [`ServerConfig::shutdown_grace`]), and finally closes the engine, which flushes every queued
/// write. Every acknowledged write is therefore on disk when this returns `Ok`.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    mut config: ServerConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut closing = closing_tx.subscribe();
    let grace = config.shutdown_grace;
    config.hosts.bound = Some(listener.local_addr()?);
    let tls = config.tls.clone();
    let app = router(engine.clone(), config, closing_rx.clone());
    let scheduler = tokio::spawn(run_schedules(engine.clone(), closing_rx));
    let shutdown = async move {
        signal.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let _ = closing_tx.send(true);
    };
    let serving = async move {
        if let Some(tls) = tls {
            let listener = tls::TlsListener::new(listener, tls)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        } else {
            // Small JSON responses must not wait for Nagle's algorithm (~40 ms stalls otherwise).
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {e}");
                }
            });
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
    };
    let deadline = async move {
        let _ = closing.wait_for(|c| *c).await;
        tokio::time::sleep(grace).await;
    };
    let outcome = tokio::select! {
        outcome = serving => outcome,
        () = deadline => {
            tracing::warn!(?grace, "in-flight requests did not finish in time; closing the engine anyway");
            Ok(())
        }
    };
    // A start the scheduler is making finishes first (it stops at the next tick once closing).
    let scheduler_abort = scheduler.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), scheduler).await.is_err() {
        scheduler_abort.abort();
    }
    let closed = engine.close().await;
    outcome?;
    closed?;
    tracing::info!("engine closed; every acknowledged write is on disk");
    Ok(())
}

/// Starts the scheduled starts as they fall due, checking once a second, until the server closes.
async fn run_schedules(engine: Engine, mut closing: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closing.wait_for(|c| *c) => return,
        }
        match engine.run_due_starts().await {
            Ok(ran) => {
                for schedule in ran {
                    tracing::info!(deployment_id = %schedule.deployment_id, state = schedule.state.as_str(), "scheduled start ran");
                }
            }
            Err(e) => tracing::warn!(error = %e, "scheduled starts could not be run; retrying"),
        }
    }
}

/// How often `loco serve` looks for scheduled starts that fell due.
const SCHEDULE_TICK: Duration = Duration::from_secs(1);
