//! `loco locks [release]`: the deploy locks (one started deployment per service and
//! environment), and forcing a stuck one free (an admin, with a reason).
//!
//! `loco freeze set|list|remove|check`: freeze windows, when starts in an environment are
//! refused (see docs/policy.md). `check` exits 25 (`policy_violation`) while the environment is
//! frozen, so a pipeline can ask before it starts anything.
//!
//! `loco gate set|list|remove|status`: approval gates, how many reviewers an environment's
//! deployments need before they may start (see docs/policy.md). `status` shows where one
//! deployment stands: the approvals that count, how many are required, and when it may start.

use clap::{Args, Subcommand};
use loco_core::freeze::{self, FreezeWindow};
use loco_core::gate::ApprovalGate;

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

/// `loco gate …`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: GateCommand,
}

/// The `loco gate` subcommands.
#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Set (or replace) the approval gate of an environment (admin): how many distinct reviewers
    /// must approve before its deployments may start.
    Set(GateSetArgs),
    /// List the gates, by environment.
    List,
    /// Remove the gate of an environment (admin); one approval suffices there again.
    Remove(GateRemoveArgs),
    /// Where a deployment stands with its review: approvals that count, required, startable at.
    Status(GateStatusArgs),
}

/// Flags of `loco gate set`.
#[derive(Debug, Args)]
pub struct GateSetArgs {
    /// The environment.
    pub environment: String,
    /// How many distinct reviewers must approve (1 to 10; never the requester).
    #[arg(long)]
    pub approvals: u32,
    /// A reviewer who may approve or reject (repeat for each); without it, anyone holding the
    /// approver role may.
    #[arg(long = "approver", value_name = "NAME")]
    pub approvers: Vec<String>,
    /// Minutes after which an approval no longer counts while more are awaited.
    #[arg(long, value_name = "MINUTES")]
    pub expires_after: Option<u32>,
    /// Minutes to wait after approval before the deployment may start.
    #[arg(long, value_name = "MINUTES")]
    pub wait: Option<u32>,
}

/// Flags of `loco gate remove`.
#[derive(Debug, Args)]
pub struct GateRemoveArgs {
    /// The environment.
    pub environment: String,
}

/// Flags of `loco gate status`.
#[derive(Debug, Args)]
pub struct GateStatusArgs {
    /// The deployment.
    pub id: String,
    /// The instant to count approvals at, RFC 3339 (default: now).
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

/// Runs a `loco gate` command.
pub async fn run_gate(connection: &Connection, args: GateArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let result = match args.command {
        GateCommand::Set(args) => {
            let gate = ApprovalGate {
                environment: args.environment,
                required_approvals: args.approvals,
                approvers: args.approvers,
                expires_after_minutes: args.expires_after,
                wait_minutes: args.wait,
            };
            gate.validate()?;
            output.value(&backend.set_gate(gate).await?)
        }
        GateCommand::List => output.value(&backend.gates().await?),
        GateCommand::Remove(args) => backend.remove_gate(&args.environment).await.map(|()| {
            if !output.json {
                eprintln!("removed the approval gate of '{}'", args.environment);
            }
        }),
        GateCommand::Status(args) => {
            let at = args.at.as_deref().map(crate::wire::parse_instant).transpose()?;
            let status = backend.approval_status(&args.id, at).await?;
            if output.json {
                output.value(&status)
            } else {
                let approvers: Vec<String> =
                    status.approvals.iter().map(|a| format!("{} at {}", a.actor, a.at)).collect();
                let approvers =
                    if approvers.is_empty() { String::new() } else { format!(" ({})", approvers.join(", ")) };
                let startable = status.startable_at.map(|at| format!("; may start at {at}")).unwrap_or_default();
                let line = format!(
                    "{} ({}, {}): {} of {} approvals{approvers}{startable}",
                    status.deployment_id,
                    status.environment,
                    status.status,
                    status.approvals.len(),
                    status.required,
                );
                output.line(&line)
            }
        }
    };
    let closed = backend.close().await;
    result.and(closed)
}
