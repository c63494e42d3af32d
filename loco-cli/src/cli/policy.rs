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
//!
//! `loco pipeline set|list|remove|show` and `loco promote`: the stages a service's versions go
//! through in order, and promoting a succeeded deployment to the next one.

use clap::{Args, Subcommand};
use loco_core::freeze::{self, FreezeWindow};
use loco_core::gate::{ApprovalGate, ReviewerGroup};
use loco_core::pipeline::Pipeline;
use loco_core::schedule::ScheduleRequest;

use crate::cli::Connection;
use crate::cli::access::read_file_or_stdin;
use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::wire::{LockRelease, PromoteRequest};

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

/// `loco schedule …`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

/// The `loco schedule` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Schedule a deployment (waiting for review or approved) to start at a time, outside the
    /// freeze windows of its environment; loco serve (or any engine calling run_due_starts)
    /// starts it then, as a caller would. Scheduling again replaces the schedule.
    Set(ScheduleSetArgs),
    /// Every deployment's latest schedule: pending, started, refused (and why) or cancelled.
    List,
    /// Cancel a deployment's pending schedule.
    Cancel(ScheduleIdArgs),
}

/// Flags of `loco schedule set`.
#[derive(Debug, Args)]
pub struct ScheduleSetArgs {
    /// The deployment id.
    pub id: String,
    /// When to start it, RFC 3339 (2026-12-24T02:00:00+01:00); at most 90 days ahead.
    #[arg(long)]
    pub at: String,
    /// Start a rollout with the plan its stage sets in its manifest, not the plain start.
    #[arg(long)]
    pub rollout: bool,
    /// Who starts it [env: LOCO_ACTOR].
    #[arg(long, env = "LOCO_ACTOR", hide_env = true)]
    pub actor: Option<String>,
    /// Start it in spite of a freeze window in force then, saying why (an admin of the
    /// environment only).
    #[arg(long, visible_alias = "override", value_name = "REASON")]
    pub override_freeze: Option<String>,
}

/// The argument of `loco schedule cancel`.
#[derive(Debug, Args)]
pub struct ScheduleIdArgs {
    /// The deployment id.
    pub id: String,
}

/// Runs a `loco schedule` command.
pub async fn run_schedule(connection: &Connection, args: ScheduleArgs, output: Output) -> Result<(), CliError> {
    let request = match &args.command {
        ScheduleCommand::Set(set) => Some(ScheduleRequest {
            at: crate::wire::parse_instant(&set.at)?,
            actor: set.actor.clone().unwrap_or_default(),
            rollout: set.rollout,
            override_reason: set.override_freeze.clone(),
        }),
        _ => None,
    };
    let backend = connection.backend().await?;
    let result = match (args.command, request) {
        (ScheduleCommand::Set(set), Some(request)) => match backend.schedule_start(&set.id, request).await {
            Ok(schedule) => output.value(&schedule),
            Err(e) => Err(e),
        },
        (ScheduleCommand::Cancel(cancel), _) => match backend.cancel_scheduled_start(&cancel.id).await {
            Ok(schedule) => output.value(&schedule),
            Err(e) => Err(e),
        },
        (_, _) => match backend.schedules().await {
            Ok(list) if output.json => output.value(&list),
            Ok(list) => list.items.iter().try_for_each(|s| {
                let what = if s.rollout { "rollout" } else { "start" };
                let outcome = s.outcome.as_deref().map(|o| format!(" ({o})")).unwrap_or_default();
                output.line(&format!(
                    "{} {what} at {} by {}: {}{outcome}",
                    s.deployment_id,
                    s.at,
                    s.actor,
                    s.state.as_str()
                ))
            }),
            Err(e) => Err(e),
        },
    };
    let closed = backend.close().await;
    result.and(closed)
}

/// `loco group …`.
#[derive(Debug, Args)]
pub struct GroupArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: GroupCommand,
}

/// The `loco group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Set (or replace) a reviewer group (admin): gates naming it (loco gate set --group) admit
    /// its members from the next review on.
    Set(GroupSetArgs),
    /// List the reviewer groups and their members.
    List,
    /// Remove a reviewer group (admin); refused while a gate names it.
    Remove(GroupNameArgs),
}

/// Flags of `loco group set`.
#[derive(Debug, Args)]
pub struct GroupSetArgs {
    /// The group's name (letters, digits, '-', '_', '.').
    pub name: String,
    /// A member (repeat for each; none: a group nobody is in).
    #[arg(long = "member", value_name = "NAME")]
    pub members: Vec<String>,
}

/// The argument of `loco group remove`.
#[derive(Debug, Args)]
pub struct GroupNameArgs {
    /// The group's name.
    pub name: String,
}

/// Runs a `loco group` command.
pub async fn run_group(connection: &Connection, args: GroupArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let result = match args.command {
        GroupCommand::Set(args) => {
            let group = ReviewerGroup { name: args.name, members: args.members };
            group.validate()?;
            output.value(&backend.set_group(group).await?)
        }
        GroupCommand::List => match backend.groups().await {
            Ok(list) if output.json => output.value(&list),
            Ok(list) => list.items.iter().try_for_each(|g| {
                let members = if g.members.is_empty() { "(nobody)".to_owned() } else { g.members.join(", ") };
                output.line(&format!("{}: {members}", g.name))
            }),
            Err(e) => Err(e),
        },
        GroupCommand::Remove(args) => backend.remove_group(&args.name).await.map(|()| {
            if !output.json {
                eprintln!("removed the reviewer group '{}'", args.name);
            }
        }),
    };
    let closed = backend.close().await;
    result.and(closed)
}

/// Flags of `loco gate set`.
#[derive(Debug, Args)]
pub struct GateSetArgs {
    /// The environment.
    pub environment: String,
    /// Set the gate of this service only (its own, which takes precedence over the
    /// environment's); without it, the environment-wide gate.
    #[arg(long)]
    pub service: Option<String>,
    /// How many distinct reviewers must approve (1 to 10; never the requester).
    #[arg(long)]
    pub approvals: u32,
    /// A reviewer who may approve or reject (repeat for each); without it, anyone holding the
    /// approver role may.
    #[arg(long = "approver", value_name = "NAME")]
    pub approvers: Vec<String>,
    /// A reviewer group whose members may approve or reject too (repeat for each; see
    /// loco group set).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
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
    /// Remove this service's own gate there; without it, the environment-wide gate.
    #[arg(long)]
    pub service: Option<String>,
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

/// `loco pipeline …`.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PipelineCommand,
}

/// The `loco pipeline` subcommands.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Set (or replace) the pipeline of a service (admin): its stages in order, e.g.
    /// `loco pipeline set web --stage dev --stage staging --stage production`.
    Set(PipelineSetArgs),
    /// List the pipelines, by service.
    List,
    /// Remove the pipeline of a service (admin).
    Remove(PipelineRemoveArgs),
    /// Where a version stands along the pipeline: its newest deployment in each stage.
    Show(PipelineShowArgs),
}

/// Flags of `loco pipeline set`.
#[derive(Debug, Args)]
pub struct PipelineSetArgs {
    /// The service.
    pub service: String,
    /// A stage's environment, in order (repeat for each, 2 to 10).
    #[arg(long = "stage", value_name = "ENVIRONMENT")]
    pub stages: Vec<String>,
    /// Let a version be deployed to a stage without having succeeded in the one before (the
    /// order then serves promotion and the view only).
    #[arg(long)]
    pub no_require_success: bool,
}

/// Flags of `loco pipeline remove`.
#[derive(Debug, Args)]
pub struct PipelineRemoveArgs {
    /// The service.
    pub service: String,
}

/// Flags of `loco pipeline show`.
#[derive(Debug, Args)]
pub struct PipelineShowArgs {
    /// The service.
    pub service: String,
    /// The version.
    pub version: String,
}

/// Flags of `loco promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The succeeded deployment to promote.
    pub id: String,
    /// Who promotes it, the new deployment's requester (required with --db; a server takes the
    /// token's subject) [env: LOCO_ACTOR].
    #[arg(long, env = "LOCO_ACTOR", hide_env = true)]
    pub actor: Option<String>,
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
                service: args.service,
                required_approvals: args.approvals,
                approvers: args.approvers,
                groups: args.groups,
                members: Vec::new(),
                expires_after_minutes: args.expires_after,
                wait_minutes: args.wait,
            };
            gate.validate()?;
            output.value(&backend.set_gate(gate).await?)
        }
        GateCommand::List => output.value(&backend.gates().await?),
        GateCommand::Remove(args) => backend.remove_gate(&args.environment, args.service.as_deref()).await.map(|()| {
            if !output.json {
                match &args.service {
                    Some(service) => {
                        eprintln!("removed the approval gate of service '{service}' in '{}'", args.environment);
                    }
                    None => eprintln!("removed the approval gate of '{}'", args.environment),
                }
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

/// Runs a `loco pipeline` command.
pub async fn run_pipeline(connection: &Connection, args: PipelineArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let result = match args.command {
        PipelineCommand::Set(args) => {
            let pipeline = Pipeline {
                service: args.service,
                stages: args.stages,
                require_previous_success: !args.no_require_success,
            };
            pipeline.validate()?;
            output.value(&backend.set_pipeline(pipeline).await?)
        }
        PipelineCommand::List => output.value(&backend.pipelines().await?),
        PipelineCommand::Remove(args) => backend.remove_pipeline(&args.service).await.map(|()| {
            if !output.json {
                eprintln!("removed the pipeline of '{}'", args.service);
            }
        }),
        PipelineCommand::Show(args) => {
            let view = backend.pipeline_view(&args.service, &args.version).await?;
            if output.json {
                output.value(&view)
            } else {
                let mut lines = vec![format!("{} {}", view.service, view.version)];
                for stage in &view.stages {
                    let state = match (&stage.deployment_id, stage.status) {
                        (Some(id), Some(status)) => format!("{status} ({id})"),
                        _ => "-".to_owned(),
                    };
                    lines.push(format!("  {:<16} {state}", stage.environment));
                }
                lines.push(format!("  next: {}", view.next.as_deref().unwrap_or("none (every stage succeeded)")));
                // One line at a time: `line` shows control characters in names escaped.
                lines.iter().try_for_each(|line| output.line(line))
            }
        }
    };
    let closed = backend.close().await;
    result.and(closed)
}

/// Runs `loco promote`.
pub async fn run_promote(connection: &Connection, args: PromoteArgs, output: Output) -> Result<(), CliError> {
    let backend = connection.backend().await?;
    let body = PromoteRequest { actor: args.actor.unwrap_or_default() };
    let result = match backend.promote(&args.id, body).await {
        Ok(deployment) => output.deployment(&deployment),
        Err(e) => Err(e),
    };
    let closed = backend.close().await;
    result.and(closed)
}
