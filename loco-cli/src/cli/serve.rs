//! `loco serve`: opens the database with the local platform (recovering interrupted rollouts),
//! sets up logging, binds the address and runs the HTTP API until SIGINT or SIGTERM, then shuts
//! down gracefully: running rollouts are suspended and recovered by the next start.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::cli::otlp::OtlpLayer;

use crate::cli::Connection;
use crate::cli::exit::CliError;
use crate::cli::local;
use crate::server::{self, ServeError, ServerConfig};

/// The database `loco serve` uses when `--db` is not given.
pub const DEFAULT_DB: &str = "loco.db";

/// Flags of `loco serve` (the database is the global `--db`, default `loco.db`; the local
/// platform's state directory the global `--state-dir`, default `<db>.state`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,
    /// Log line format on stderr (level filter from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds to wait for in-flight requests on shutdown before closing anyway.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub shutdown_grace: u64,
    /// Seconds between keep-alive comments on idle event streams.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub sse_keep_alive: u64,
    /// Canary-analysis thresholds per environment: a JSON file like
    /// {"production": {"min_samples": 100, "max_p99_ms": 300}} (plans may still set their own).
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback (anyone on the path can read tokens).
    #[arg(long)]
    pub insecure_plain_http: bool,
    /// A host name (or host:port) requests may address besides the bound address; repeatable.
    /// Any other Host header is refused with 421, which defeats DNS rebinding.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// Seconds a request (not an event stream) may run before it is answered 503.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub request_timeout: u64,
    /// Most event streams (SSE) open at once; more are answered 429.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_streams: usize,
    /// Requests per second each API token may make (bursts of twice that); 0 for no limit.
    #[arg(long, default_value_t = 50.0, value_name = "PER_SECOND")]
    pub rate_limit: f64,
    /// Seconds a rollout's engine may be silent before another engine on the same database takes
    /// the rollout over (it writes a heartbeat six times per lease; a dead process on this host
    /// is noticed at once). Servers sharing a database should use the same value.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub lease_seconds: f64,
    /// A fixed port for the local proxy of one service and environment, as
    /// SERVICE/ENVIRONMENT=PORT; repeatable. Without it a target keeps the port it had before
    /// (recorded in the state directory), or gets a free one the first time.
    #[arg(long = "proxy-port", value_name = "SERVICE/ENV=PORT", value_parser = local::parse_proxy_port)]
    pub proxy_ports: Vec<(loco_core::platform::Target, u16)>,
    /// Releases each service and environment keeps for `loco rollback-to` (at least 2).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub release_retention: u32,
    /// Serve without authentication: anyone who reaches the port may do anything, under any name.
    /// Only on a loopback address, for local experiments.
    #[arg(long)]
    pub no_auth: bool,
    /// Send Loco's tracing spans (requests, rollouts, steps) to an OpenTelemetry collector over
    /// OTLP/HTTP (JSON), e.g. http://127.0.0.1:4318. Off by default: no traffic unless set.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the request span's fields.
    Json,
}

fn init_logging(format: LogFormat, otlp_endpoint: Option<&str>) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines =
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().with_current_span(true).with_span_list(false).boxed(),
    };
    // Spans go to the collector whatever RUST_LOG keeps on stderr: Loco's own, from `info` up.
    let spans = otlp_endpoint.map(|endpoint| {
        OtlpLayer::start(endpoint)
            .with_filter(Targets::new().with_default(LevelFilter::OFF).with_target("loco", LevelFilter::INFO))
    });
    // A second initialisation (tests calling `run` twice) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::registry().with(lines.with_filter(filter)).with(spans).try_init();
}

/// Runs the server until a shutdown signal arrives.
pub async fn run(connection: &Connection, args: ServeArgs) -> Result<(), CliError> {
    if connection.server.is_some() {
        return Err(CliError::Usage("serve takes --db PATH, not --server".to_owned()));
    }
    init_logging(args.log_format, args.otlp_endpoint.as_deref());
    let db = connection.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls::server_config(cert, key).map_err(CliError::Usage)?),
        _ => None,
    };
    let signal = shutdown_signal()?;
    let state_dir = connection.state_dir.clone().unwrap_or_else(|| local::default_state_dir(&db));
    // Opening recovers rollouts a previous server left unfinished, before any request is served.
    let lease = Duration::from_secs_f64(args.lease_seconds.clamp(0.3, 86_400.0));
    let tuning = local::Tuning {
        lease: Some(lease),
        release_retention: Some(args.release_retention),
        proxy_ports: args.proxy_ports.iter().cloned().collect(),
    };
    let engine = local::open_engine(&db, Some(&state_dir), args.thresholds.as_deref(), tuning).await?;
    let listener = match tokio::net::TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            // The engine was opened; close it before reporting.
            let _ = engine.close().await;
            return Err(CliError::Usage(format!("cannot listen on {}: {e}", args.addr)));
        }
    };
    let local = listener.local_addr().map_err(|e| CliError::Internal(e.to_string()))?;
    if args.no_auth {
        if !local.ip().is_loopback() {
            let _ = engine.close().await;
            return Err(CliError::Usage(format!(
                "--no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {local}"
            )));
        }
        tracing::warn!("authentication is OFF: anyone who can reach {local} may do anything, under any name");
        if args.log_format == LogFormat::Text {
            eprintln!(
                "loco: WARNING: serving WITHOUT authentication on {local}; any local process may act under any name"
            );
        }
    }
    if !local.ip().is_loopback() && tls.is_none() && !args.insecure_plain_http {
        let _ = engine.close().await;
        return Err(CliError::Usage(format!(
            "{local} is reachable from other machines: serve HTTPS (--tls-cert FILE --tls-key FILE), or accept plain \
             HTTP with --insecure-plain-http"
        )));
    }
    if !args.no_auth
        && let Err(e) = bootstrap_admin(&engine).await
    {
        let _ = engine.close().await;
        return Err(e);
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, db = %loco_core::shown_location(&db.to_string_lossy()), state_dir = %state_dir.display(), "listening");
    // One plain line on stdout so scripts and tests can learn the port chosen for `:0`.
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "loco listening on {scheme}://{local}").and_then(|()| out.flush());
    }
    let config = ServerConfig {
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        sse_keep_alive: Duration::from_secs(args.sse_keep_alive.max(1)),
        hosts: server::guard::HostPolicy {
            allowed: args.allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
            bound: None,
        },
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_streams: args.max_streams.max(1),
        tls,
        auth: !args.no_auth,
        rate_limit: (args.rate_limit > 0.0)
            .then_some(server::auth::RateLimit { per_second: args.rate_limit, burst: args.rate_limit * 2.0 }),
        ..ServerConfig::default()
    };
    server::serve(listener, engine, config, signal).await.map_err(|e| match e {
        ServeError::Io(e) => CliError::Internal(format!("server failed: {e}")),
        ServeError::Engine(e) => CliError::from(e),
    })
}

/// Makes sure an administrator can get in: the token in `LOCO_ADMIN_TOKEN` is registered as an
/// admin token when it is not known yet; without it, a database with no tokens at all gets a new
/// admin token, printed once on stderr.
async fn bootstrap_admin(engine: &loco_core::Engine) -> Result<(), CliError> {
    use loco_core::identity::{Grant, NewToken, Role};
    let admin = NewToken {
        name: "bootstrap admin".to_owned(),
        subject: "admin".to_owned(),
        grants: vec![Grant { role: Role::Admin, environment: None }],
        expires_at: None,
    };
    if let Ok(secret) = std::env::var("LOCO_ADMIN_TOKEN") {
        if !engine.has_token(&secret).await? {
            engine.create_token_with_secret(admin, "loco serve", secret.trim()).await?;
            tracing::info!("registered LOCO_ADMIN_TOKEN as an admin token");
        } else if engine.authenticate(&secret).await.is_err() {
            tracing::warn!("LOCO_ADMIN_TOKEN names a revoked or expired token; it grants nothing");
        }
        return Ok(());
    }
    if engine.tokens().await?.is_empty() {
        let (token, secret) = engine.create_token(admin, "loco serve").await?;
        eprintln!(
            "loco: no API tokens yet, so an admin token was created ({id}). It is shown ONCE; store it now:\n\n    \
             {secret}\n\nUse it as LOCO_TOKEN for the CLI (or Authorization: Bearer over HTTP) and create narrower \
             tokens with `loco tokens create`.\n",
            id = token.id
        );
    }
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives while the server is
/// still starting is not fatal) and returns a future completing on the first of them.
pub(crate) fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind| signal(kind).map_err(|e| CliError::Internal(format!("cannot install a signal handler: {e}")));
    let mut interrupt = install(SignalKind::interrupt())?;
    let mut terminate = install(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
