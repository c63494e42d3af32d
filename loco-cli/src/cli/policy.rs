//! `loco locks [release]`: the deploy locks (one started deployment per service and
//! environment), and forcing a stuck one free (an admin, with a reason).
//!
//! `loco freeze set|list|remove|check`: freeze windows, when starts in an environment are
//! refused (see docs/policy.md). `check` exits 25 (`policy_violation`) while the environment is
//! frozen, so a pipeline can ask before it starts anything.

use clap::{Args, Subcommand};
use loco_core::freeze::{self, FreezeWindow};

use crate::cli::Connection;
use crate::cli::access::read_file_or_stdin;
use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::wire::LockRelease;

/// `loco freeze …`.
#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FreezeCommand,
}

/// The `loco freeze` subcommands.
#[derive(Debug, Subcommand)]
pub enum FreezeCommand {
    /// Set (or replace, by name) a window from a JSON file (`-` reads stdin) (admin), e.g.
    /// `{"name": "weekend", "environments": ["production"], "reason": "no weekend deploys",
    /// "schedule": {"type": "recurring", "cron": "0 18 * * FRI", "duration_minutes": 3720,
    /// "time_zone": "Europe/Berlin"}}` or `"schedule": {"type": "once", "start": "…", "end": "…"}`.
    Set(SetArgs),
    /// List the windows, by name.
    List,
    /// Remove a window (admin).
    Remove(RemoveArgs),
    /// Say whether an environment is frozen (now, or --at); exit 25 while it is.
    Check(CheckArgs),
}

/// Flags of `loco freeze set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The window's JSON file, or `-` for stdin.
    pub file: String,
}

/// Flags of `loco freeze remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The window's name.
    pub name: String,
}

/// Flags of `loco freeze check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment.
    pub environment: String,
    /// The instant to ask about, RFC 3339 (default: now).
    #[arg(long)]
    pub at: Option<String>,
}

/// `loco locks …`.
#[derive(Debug, Args)]
pub struct LocksArgs {
    /// What to do (default: list).
    #[command(subcommand)]
    pub command: Option<LocksCommand>,
}

/// The `loco locks` subcommands.
#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// List the locks held: service, environment, deployment, who started it, since when.
    List,
    /// Force the lock of a service in an environment free (an admin of the environment); the
    /// holding deployment stays started and gets a `lock_released` event with the reason.
    Release(ReleaseArgs),
}

/// Flags of `loco locks release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Why (required; recorded in the holder's history).
    #[arg(long)]
    pub reason: String,
    /// Who releases it (required with --db; a server takes the token's subject).
    #[arg(long)]
    pub actor: Option<String>,
}

/// Runs a `loco locks` command.
pub async fn run_locks(connection: &Connection, args: LocksArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let result = match args.command.unwrap_or(LocksCommand::List) {
        LocksCommand::List => output.locks(&backend.locks().await?),
        LocksCommand::Release(args) => {
            let body = LockRelease { reason: args.reason, actor: args.actor.unwrap_or_default() };
            match backend.release_lock(&args.service, &args.environment, body).await {
                Ok(lock) if output.json => output.value(&lock),
                Ok(lock) => output.line(&format!(
                    "released the deploy lock of {} in {} held by {} (started by {} at {})",
                    lock.service, lock.environment, lock.deployment_id, lock.holder, lock.since
                )),
                Err(e) => Err(e),
            }
        }
    };
    let closed = backend.close().await;
    result.and(closed)
}

/// Runs a `loco freeze` command.
pub async fn run(connection: &Connection, args: FreezeArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let result = match args.command {
        FreezeCommand::Set(args) => {
            let window = FreezeWindow::from_json(&read_file_or_stdin(&args.file)?)?;
            output.value(&backend.set_freeze_window(window).await?)
        }
        FreezeCommand::List => output.value(&backend.freeze_windows().await?),
        FreezeCommand::Remove(args) => backend.remove_freeze_window(&args.name).await.map(|()| {
            if !output.json {
                eprintln!("removed freeze window '{}'", args.name);
            }
        }),
        FreezeCommand::Check(args) => check(&backend, &args, output).await,
    };
    let closed = backend.close().await;
    result.and(closed)
}

async fn check(backend: &crate::cli::backend::Backend, args: &CheckArgs, output: Output) -> Result<(), CliError> {
    let at = args.at.as_deref().map(crate::wire::parse_instant).transpose()?;
    let check = backend.active_freeze(&args.environment, at).await?;
    match &check.active {
        Some(active) => Err(freeze::violation(active, &check.environment).into()),
        None if output.json => output.value(&check),
        None => output.line(&format!("{} is not frozen at {}", check.environment, check.at)),
    }
}
