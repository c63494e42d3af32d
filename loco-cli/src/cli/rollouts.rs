//! The rollout commands (`rollout start|status|wait|override`, `rollouts`, `releases`, `logs`):
//! turn flags into API requests, run them on the chosen backend, follow progress and print it.
//!
//! With `--db` a rollout runs inside this process, so `rollout start` stays in the foreground
//! until the rollout ends; Ctrl-C (or SIGTERM) closes the engine, which suspends the rollout for
//! the next engine on the database to recover.

use std::io::Read as _;
use std::path::Path;

use clap::{Args, Subcommand};
use loco_core::rollout::RolloutState;

use crate::cli::Command;
use crate::cli::Connection;
use crate::cli::backend::Backend;
use crate::cli::deployments::{ActionArgs, IdArgs};
use crate::cli::exit::CliError;
use crate::cli::output::{Output, progress};
use crate::cli::serve::shutdown_signal;
use crate::wire::{ReleaseParams, RollbackTo};

/// `loco rollout …`.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// What to do with the rollout.
    #[command(subcommand)]
    pub command: RolloutCommand,
}

/// The `loco rollout` subcommands.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start rolling out an approved deployment with a plan (or its manifest's). With --server the server runs it
    /// (add --wait to follow it to the end); with --db it runs inside this command, in the
    /// foreground, until it ends, and the local instances it started stop when the command
    /// exits (Ctrl-C suspends the rollout; the next engine on the database recovers it by
    /// rolling back). Use loco serve to keep releases running.
    Start(StartArgs),
    /// Show a deployment's rollout (--watch: one line per change until it ends).
    Status(StatusArgs),
    /// Follow a rollout until it ends; exit 17 if it rolled back, 18 if the rollback failed.
    Wait(IdArgs),
    /// Continue a rollout paused by its analysis, saying why (needs --server).
    Override(ActionArgs),
}

/// Flags of `loco rollout start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The deployment id (it must be approved).
    pub id: String,
    /// The rollout plan as JSON (see docs/rollouts.md), from a file or - for stdin. Without it,
    /// the plan the deployment's stage sets in the service.yaml manifest it was created under
    /// (see loco manifest plan).
    #[arg(long, value_name = "FILE|-")]
    pub plan: Option<String>,
    /// Who starts the rollout [env: LOCO_ACTOR].
    #[arg(long, env = "LOCO_ACTOR", hide_env = true)]
    pub actor: Option<String>,
    /// Start in spite of a freeze window in force or an approval gate's wait, saying why (an
    /// admin of the environment only); recorded as a policy_override event before started.
    #[arg(long, visible_alias = "override", value_name = "REASON")]
    pub override_freeze: Option<String>,
    /// Follow the rollout until it ends, printing its progress; exit 17 if it rolled back, 18 if
    /// the rollback failed. Always the case with --db.
    #[arg(long)]
    pub wait: bool,
}

/// Flags of `loco validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The rollout plan as JSON (its `validation` says what to check), from a file or - for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub plan: String,
}

/// Flags of `loco rollout status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The deployment id.
    pub id: String,
    /// Print a line (state, step k/n, traffic split, latest analysis verdict) each time it
    /// changes, until the rollout ends.
    #[arg(long, short)]
    pub watch: bool,
}

/// Flags of `loco rollouts`.
#[derive(Debug, Args)]
pub struct RolloutsArgs {
    /// Only active rollouts (running, paused or rolling back).
    #[arg(long)]
    pub active: bool,
}

/// Flags of `loco releases`.
#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// The service (required).
    #[arg(long)]
    pub service: Option<String>,
    /// The environment (required).
    #[arg(long, visible_alias = "env")]
    pub environment: Option<String>,
    /// How many, newest first (default 50, at most 500).
    #[arg(long)]
    pub limit: Option<String>,
}

/// Flags of `loco rollback-to`.
#[derive(Debug, Args)]
pub struct RollbackToArgs {
    /// The service.
    #[arg(long)]
    pub service: String,
    /// The environment.
    #[arg(long, visible_alias = "env")]
    pub environment: String,
    /// The retained release's version.
    #[arg(long)]
    pub version: String,
    /// Why (required).
    #[arg(long)]
    pub note: Option<String>,
    /// Who asks (with --server, the token's subject by default).
    #[arg(long, env = "LOCO_ACTOR")]
    pub actor: Option<String>,
}

/// Flags of `loco logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The deployment id.
    pub id: String,
    /// The instance id (see `loco rollout status`).
    pub instance_id: String,
}

/// Runs a rollout command.
pub async fn run(connection: &Connection, command: Command, output: Output) -> Result<(), CliError> {
    let plan = match &command {
        Command::Rollout(RolloutArgs { command: RolloutCommand::Start(args) }) => {
            args.plan.as_deref().map(read_plan).transpose()?
        }
        Command::Validate(args) => Some(read_plan(&args.plan)?),
        _ => None,
    };
    // Starting runs the rollout, and waiting may have to recover it first: both need the platform.
    let runs_rollouts = matches!(
        &command,
        Command::Rollout(RolloutArgs { command: RolloutCommand::Start(_) | RolloutCommand::Wait(_) })
            | Command::RollbackTo(_)
    );
    if !(runs_rollouts && connection.server.is_none()) {
        let backend = connection.backend().await?;
        let result = execute(&backend, command, plan, output).await;
        let closed = backend.close().await;
        return result.and(closed);
    }
    // Installed before the engine opens, so an early Ctrl-C still closes it properly.
    let signal = shutdown_signal()?;
    let backend = connection.platform_backend().await?;
    let result = tokio::select! {
        result = execute(&backend, command, plan, output) => result,
        () = signal => Err(CliError::Interrupted(
            "interrupted: the engine was closed; a rollout it was running is suspended, and the next engine on \
             this database recovers it (rolls it back)"
                .to_owned(),
        )),
    };
    let closed = backend.close().await;
    result.and(closed)
}

async fn execute(backend: &Backend, command: Command, plan: Option<String>, output: Output) -> Result<(), CliError> {
    match command {
        Command::Rollout(RolloutArgs { command }) => match command {
            RolloutCommand::Start(args) => {
                let started =
                    backend.start_rollout(&args.id, args.actor, args.override_freeze, plan.as_deref()).await?;
                if matches!(backend, Backend::Remote(_)) && !args.wait {
                    return output.rollout(&started);
                }
                follow_to_the_end(backend, &args.id, output).await
            }
            RolloutCommand::Status(args) if args.watch => {
                watch(backend, &args.id, output).await?;
                Ok(())
            }
            RolloutCommand::Status(args) => output.rollout(&backend.rollout(&args.id).await?),
            RolloutCommand::Wait(args) => follow_to_the_end(backend, &args.id, output).await,
            RolloutCommand::Override(args) => {
                let body = super::deployments::request(args.actor, args.note);
                output.rollout(&backend.override_rollout(&args.id, body).await?)
            }
        },
        Command::Validate(_) => {
            let report = backend.validate_plan(&plan.unwrap_or_default()).await?;
            output.validation(&report)?;
            if report.passed { Ok(()) } else { Err(CliError::ValidationRefused) }
        }
        Command::Rollouts(args) => output.rollouts(&backend.rollouts(args.active).await?),
        Command::Releases(args) => {
            let params = ReleaseParams { service: args.service, environment: args.environment, limit: args.limit };
            output.releases(&backend.releases(params).await?)
        }
        Command::RollbackTo(args) => {
            let body = RollbackTo {
                service: args.service,
                environment: args.environment,
                version: args.version,
                actor: args.actor.unwrap_or_default(),
                note: args.note,
            };
            output.rollout(&backend.rollback_to(body).await?)
        }
        Command::Logs(args) => backend.logs(&args.id, &args.instance_id, |line| output.log_line(&line)).await,
        _ => Err(CliError::Internal("not a rollout command".to_owned())),
    }
}

/// Prints a progress line whenever the rollout's state, step, traffic, verdict or failure
/// changes, until it ends; returns it as it ended.
async fn watch(backend: &Backend, id: &str, output: Output) -> Result<crate::wire::Rollout, CliError> {
    let mut last = String::new();
    backend
        .watch(id, |rollout| {
            let line = progress(rollout);
            if line == last {
                return Ok(());
            }
            last = line;
            output.progress_line(rollout)
        })
        .await
}

/// Follows a rollout to its end (progress lines for people; JSON shows only the end), prints
/// it, and fails with exit 17 or 18 when it rolled back or its rollback failed.
async fn follow_to_the_end(backend: &Backend, id: &str, output: Output) -> Result<(), CliError> {
    let ended = if output.json { backend.watch(id, |_| Ok(())).await? } else { watch(backend, id, output).await? };
    output.rollout(&ended)?;
    match ended.state {
        RolloutState::RolledBack | RolloutState::RollbackFailed => Err(CliError::RolloutEnded {
            deployment_id: ended.deployment_id,
            state: ended.state,
            failure: ended.failure,
        }),
        _ => Ok(()),
    }
}

/// The plan's JSON text, from a file or (`-`) stdin.
fn read_plan(source: &str) -> Result<String, CliError> {
    let read = if source == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(Path::new(source))
    };
    read.map_err(|e| CliError::Usage(format!("cannot read the plan {source}: {e}")))
}
