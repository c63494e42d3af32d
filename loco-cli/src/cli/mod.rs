//! The `loco` command line: argument definitions (clap) and dispatch to the command modules.
//!
//! To add a command, add a variant to [`Command`] with its own `Args` struct and a module that
//! runs it; [`run`] dispatches on the variant. Commands that talk to deployments get a
//! [`backend::Backend`] from [`Connection::backend`] and print through [`output::Output`].

// Doc comments on clap items are the `--help` text, printed verbatim: no Markdown backticks there.
#![allow(clippy::doc_markdown)]

pub mod access;
pub mod audit;
pub mod backend;
pub mod demo;
pub mod demo_fly;
pub mod deployments;
pub mod exit;
pub mod local;
pub mod manifest;
pub mod otlp;
pub mod output;
pub mod platforms;
pub mod policy;
pub mod rollouts;
pub mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::cli::backend::Backend;
use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::client::{Client, ClientOptions};

/// Loco: an embeddable deployment engine. Serve its HTTP API, or drive deployments from the
/// shell against a server (`--server`) or a database file (`--db`).
#[derive(Debug, Parser)]
#[command(name = "loco", version, max_term_width = 100)]
pub struct Cli {
    /// Print the HTTP API's JSON instead of tables (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Where deployments live: a server or a database file.
    #[command(flatten)]
    pub connection: Connection,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where client commands send their work: exactly one of a server or a database file.
#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of a running `loco serve`, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "LOCO_SERVER", value_name = "URL", conflicts_with = "db")]
    pub server: Option<String>,

    /// The database to use directly: a SQLite file (created if missing), or a
    /// postgres://user@host:5432/db URL shared by several `loco serve` replicas. `loco serve`
    /// defaults to loco.db.
    #[arg(long, global = true, env = "LOCO_DB", value_name = "PATH|URL")]
    pub db: Option<PathBuf>,

    /// Where the local platform keeps instance pidfiles, for `loco serve` and the --db commands
    /// that run rollouts (default: the database path plus .state, e.g. loco.db.state, or
    /// loco.state for a PostgreSQL URL; unused with --server).
    #[arg(long, global = true, env = "LOCO_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// API token for --server (prefer the LOCO_TOKEN environment variable: a flag shows in `ps`).
    #[arg(long, global = true, env = "LOCO_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// A PEM certificate to trust for an https:// --server (a self-signed server's, or its CA).
    #[arg(long, global = true, env = "LOCO_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl Connection {
    /// Connects to the server or opens the database file.
    pub async fn backend(&self) -> Result<Backend, CliError> {
        match (&self.server, &self.db) {
            (Some(url), _) => Ok(Backend::Remote(self.client(url)?)),
            (None, Some(db)) => {
                Ok(Backend::Local(loco_core::Engine::builder().location(&db.to_string_lossy()).open().await?))
            }
            (None, None) => Err(Self::nowhere()),
        }
    }

    /// Like [`Connection::backend`], but a database file is opened with the local platform
    /// registered (see [`local::open_engine`]), for commands that run or restore releases; this
    /// also recovers rollouts an earlier process left unfinished.
    pub async fn platform_backend(&self) -> Result<Backend, CliError> {
        match (&self.server, &self.db) {
            (Some(url), _) => Ok(Backend::Remote(self.client(url)?)),
            (None, Some(path)) => Ok(Backend::Local(
                local::open_engine(path, self.state_dir.as_deref(), None, local::Tuning::default()).await?,
            )),
            (None, None) => Err(Self::nowhere()),
        }
    }

    fn client(&self, url: &str) -> Result<Client, CliError> {
        let options = ClientOptions { token: self.token.clone(), ca_cert: self.ca_cert.clone() };
        Ok(Client::with_options(url, &options)?)
    }

    fn nowhere() -> CliError {
        CliError::Usage(
            "say where deployments live: --server URL or --db PATH (or set LOCO_SERVER / LOCO_DB)".to_owned(),
        )
    }
}

/// Every `loco` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a real canary rollout on this machine: a bad release rolled back, a good one promoted.
    Demo(demo::DemoArgs),
    /// Run the HTTP API server.
    Serve(serve::ServeArgs),
    /// Request a deployment (it starts in pending_approval).
    Create(deployments::CreateArgs),
    /// Approve a pending deployment (the actor must not be the requester).
    Approve(deployments::ActionArgs),
    /// Reject a pending deployment (needs --note; the actor must not be the requester).
    Reject(deployments::ActionArgs),
    /// Start an approved deployment.
    Start(deployments::StartArgs),
    /// Record that a started deployment succeeded.
    Succeed(deployments::ActionArgs),
    /// Record that a started deployment failed (needs --note).
    Fail(deployments::ActionArgs),
    /// Roll back a started, succeeded or failed deployment (needs --note).
    Rollback(deployments::ActionArgs),
    /// List deployments, newest first.
    Ls(deployments::ListArgs),
    /// Show one deployment.
    Show(deployments::IdArgs),
    /// Show a deployment's events, oldest first (--follow: and then new ones as they happen).
    Events(deployments::EventsArgs),
    /// Verify the audit chain of every event and every deployment against its history; with
    /// --head FILE, also that the chain still contains an exported head (exit code 11 when
    /// anything does not match).
    Verify(audit::VerifyArgs),
    /// Export the audit chain's head: `audit head` prints it, HMAC-signed with LOCO_AUDIT_KEY when
    /// set, to keep outside the database for `verify --head`.
    Audit(audit::AuditArgs),
    /// Roll out an approved deployment on a platform and follow it: start, status, wait, override.
    Rollout(rollouts::RolloutArgs),
    /// Run a rollout plan's pre-deployment checks alone (artifact, config, secrets, dependency
    /// scanners) and print the report; exit 24 when they would refuse the release.
    Validate(rollouts::ValidateArgs),
    /// List rollouts, oldest first (--active: only running, paused or rolling back ones).
    Rollouts(rollouts::RolloutsArgs),
    /// List the releases that served a service and environment, newest first.
    Releases(rollouts::ReleasesArgs),
    /// Roll a service and environment back to a retained release (see `loco releases`): its
    /// instances are kept if they still run, else started and health-checked, then given all traffic.
    RollbackTo(rollouts::RollbackToArgs),
    /// Follow one instance's output until it stops (needs --server).
    Logs(rollouts::LogsArgs),
    /// Manage API tokens (admin): create, list, revoke.
    Tokens(access::TokensArgs),
    /// Manage the registry of services rollouts may run (admin): register, list, remove.
    Services(access::ServicesArgs),
    /// Canary-analysis thresholds per environment: list, set (admin; saved in the database).
    Thresholds(access::ThresholdsArgs),
    /// Manage the key that seals secrets: rotate-key (needs --db).
    Secrets(access::SecretsArgs),
    /// Show who the token (--token, LOCO_TOKEN) acts as, and its grants.
    Whoami,
    /// Cloud platforms plans may name (admin): add fly|render, list, test, remove.
    Platforms(platforms::PlatformsArgs),
    /// Freeze windows, when starts are refused: set, list, remove (admin), check.
    Freeze(policy::FreezeArgs),
    /// Deploy locks, one started deployment per service and environment: list, release (admin).
    Locks(policy::LocksArgs),
    /// Approval gates, N reviewers before a start: set, list, remove (admin), status.
    Gate(policy::GateArgs),
    /// Reviewer groups, named sets of people gates admit: set, list, remove (admin).
    Group(policy::GroupArgs),
    /// Scheduled starts: set (start at a time, outside freeze windows), list, cancel.
    Schedule(policy::ScheduleArgs),
    /// Pipelines, the stages a service's versions go through: set, list, remove (admin), show.
    Pipeline(policy::PipelineArgs),
    /// Promote a succeeded deployment to the next stage of its service's pipeline.
    Promote(policy::PromoteArgs),
    /// The `service.yaml` manifest: schema, validate (every problem with its line), apply (admin).
    Manifest(manifest::ManifestArgs),
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = Output { json: cli.json };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let error = CliError::Internal(format!("cannot start the async runtime: {e}"));
            output.error(&error);
            return error.exit();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output.error(&error);
            error.exit()
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let output = Output { json: cli.json };
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve::run(&cli.connection, args).await,
        Command::Platforms(args) => platforms::run(&cli.connection, args, output).await,
        Command::Freeze(args) => policy::run(&cli.connection, args, output).await,
        Command::Locks(args) => policy::run_locks(&cli.connection, args, output).await,
        Command::Gate(args) => policy::run_gate(&cli.connection, args, output).await,
        Command::Group(args) => policy::run_group(&cli.connection, args, output).await,
        Command::Schedule(args) => policy::run_schedule(&cli.connection, args, output).await,
        Command::Pipeline(args) => policy::run_pipeline(&cli.connection, args, output).await,
        Command::Promote(args) => policy::run_promote(&cli.connection, args, output).await,
        Command::Manifest(args) => manifest::run(&cli.connection, args, output).await,
        command @ (Command::Rollout(_)
        | Command::Validate(_)
        | Command::Rollouts(_)
        | Command::Releases(_)
        | Command::RollbackTo(_)
        | Command::Logs(_)) => rollouts::run(&cli.connection, command, output).await,
        command @ (Command::Tokens(_)
        | Command::Services(_)
        | Command::Thresholds(_)
        | Command::Secrets(_)
        | Command::Whoami) => access::run(&cli.connection, command, output).await,
        command @ (Command::Verify(_) | Command::Audit(_)) => audit::run(&cli.connection, command, output).await,
        command => deployments::run(&cli.connection, command, output).await,
    }
}
