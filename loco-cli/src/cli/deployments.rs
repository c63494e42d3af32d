//! The deployment commands (`create`, the six actions, `ls`, `show`, `events`): turn
//! flags into API requests, run them on the chosen backend and print the result.
//!
//! Flags the lifecycle requires are optional here on purpose: a missing one reaches the core as
//! an empty value, so the error (and exit code 3) is the same as over HTTP.

use clap::Args;
use loco_core::Action;

use crate::cli::Command;
use crate::cli::Connection;
use crate::cli::backend::Backend;
use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::wire::{ActionRequest, CreateDeployment, ListParams};

/// Flags of `loco create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The service to deploy.
    #[arg(long)]
    pub service: Option<String>,
    /// The target environment (production/prod need --risk).
    #[arg(long, visible_alias = "env")]
    pub environment: Option<String>,
    /// The version or build to deploy.
    #[arg(long = "version", id = "deploy_version", value_name = "VERSION")]
    pub deploy_version: Option<String>,
    /// Who asks for the deployment [env: LOCO_ACTOR].
    #[arg(long, env = "LOCO_ACTOR", hide_env = true)]
    pub requester: Option<String>,
    /// A planned-work reference (issue, pull request); repeat for several.
    #[arg(long = "work-ref", value_name = "REF")]
    pub work_refs: Vec<String>,
    /// How to recover if it goes wrong.
    #[arg(long)]
    pub rollback_plan: Option<String>,
    /// The accepted risk (required for production).
    #[arg(long)]
    pub risk: Option<String>,
    /// The source commit (e.g. a git SHA); creating the same service, environment, version and
    /// commit again while that deployment is open returns it instead of a new one.
    #[arg(long)]
    pub commit: Option<String>,
    /// Makes the request repeat-safe: the same key and flags return the original deployment.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// Flags of the lifecycle actions.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The deployment id.
    pub id: String,
    /// Who performs the action [env: LOCO_ACTOR].
    #[arg(long, env = "LOCO_ACTOR", hide_env = true)]
    pub actor: Option<String>,
    /// Why (required for reject, fail and rollback).
    #[arg(long)]
    pub note: Option<String>,
}

/// Flags of `loco start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The deployment, who starts it and why.
    #[command(flatten)]
    pub action: ActionArgs,
    /// Start in spite of a freeze window in force or an approval gate's wait, saying why (an
    /// admin of the environment only); recorded as a policy_override event before started.
    #[arg(long, visible_alias = "override", value_name = "REASON")]
    pub override_freeze: Option<String>,
}

/// Flags of `loco ls`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this environment.
    #[arg(long, visible_alias = "env")]
    pub environment: Option<String>,
    /// Only this status (pending_approval, approved, rejected, started, succeeded, failed, rolled_back).
    #[arg(long)]
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    #[arg(long)]
    pub limit: Option<String>,
    /// Continue after a previous page (its next_cursor).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow every cursor and print all matching deployments.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
}

/// Flags of `loco events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The deployment id.
    pub id: String,
    /// Keep printing new events as they are committed (needs --server); one line (or one JSON
    /// object) per event.
    #[arg(long, short)]
    pub follow: bool,
}

/// A command that takes just a deployment id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The deployment id.
    pub id: String,
}

/// Runs a deployment command (every [`Command`] except `serve`, `demo` and the rollout, access and
/// audit commands).
pub async fn run(connection: &Connection, command: Command, output: Output) -> Result<(), CliError> {
    // Rolling back a deployment that has a rollout restores its previous release on the platform.
    let backend = if matches!(command, Command::Rollback(_)) {
        connection.platform_backend().await?
    } else {
        connection.backend().await?
    };
    let result = execute(&backend, command, output).await;
    let closed = backend.close().await;
    result.and(closed)
}

async fn execute(backend: &Backend, command: Command, output: Output) -> Result<(), CliError> {
    match command {
        Command::Create(args) => {
            // A missing flag is an empty value, which the core names as required.
            let body = CreateDeployment {
                service: args.service.unwrap_or_default(),
                environment: args.environment.unwrap_or_default(),
                version: args.deploy_version.unwrap_or_default(),
                requester: args.requester.unwrap_or_default(),
                work_refs: args.work_refs,
                rollback_plan: args.rollback_plan.unwrap_or_default(),
                risk: args.risk,
                commit: args.commit,
            };
            output.deployment(&backend.create(body, args.idempotency_key.as_deref()).await?)
        }
        Command::Approve(args) => act(backend, Action::Approve, args, output).await,
        Command::Reject(args) => act(backend, Action::Reject, args, output).await,
        Command::Start(args) => {
            let body =
                ActionRequest { override_reason: args.override_freeze, ..request(args.action.actor, args.action.note) };
            output.deployment(&backend.act(&args.action.id, Action::Start, body).await?)
        }
        Command::Succeed(args) => act(backend, Action::Succeed, args, output).await,
        Command::Fail(args) => act(backend, Action::Fail, args, output).await,
        Command::Rollback(args) => act(backend, Action::Rollback, args, output).await,
        Command::Ls(args) => list(backend, args, output).await,
        Command::Show(args) => output.deployment(&backend.get(&args.id).await?),
        Command::Events(args) if args.follow => follow(backend, &args.id, output).await,
        Command::Events(args) => output.events(backend.events(&args.id).await?),
        Command::Serve(_)
        | Command::Demo(_)
        | Command::Rollout(_)
        | Command::Validate(_)
        | Command::Rollouts(_)
        | Command::Releases(_)
        | Command::RollbackTo(_)
        | Command::Logs(_)
        | Command::Tokens(_)
        | Command::Services(_)
        | Command::Thresholds(_)
        | Command::Secrets(_)
        | Command::Whoami
        | Command::Platforms(_)
        | Command::Freeze(_)
        | Command::Locks(_)
        | Command::Gate(_)
        | Command::Group(_)
        | Command::Schedule(_)
        | Command::Pipeline(_)
        | Command::Promote(_)
        | Command::Manifest(_)
        | Command::Verify(_)
        | Command::Audit(_) => Err(CliError::Internal(
            "serve, demo, the rollout, access and audit commands are not deployment commands".to_owned(),
        )),
    }
}

async fn act(backend: &Backend, action: Action, args: ActionArgs, output: Output) -> Result<(), CliError> {
    output.deployment(&backend.act(&args.id, action, request(args.actor, args.note)).await?)
}

/// An action's body: an absent actor is sent empty, for the core to name.
pub(crate) fn request(actor: Option<String>, note: Option<String>) -> ActionRequest {
    ActionRequest { actor: actor.unwrap_or_default(), note, override_reason: None }
}

async fn follow(backend: &Backend, id: &str, output: Output) -> Result<(), CliError> {
    if matches!(backend, Backend::Local(_)) {
        // Refuse before printing any history, so the failure is not mistaken for a short stream.
        return backend.follow(id, None, |_| Ok(())).await;
    }
    let history = backend.events(id).await?;
    let last = history.last().map(|e| e.seq);
    for event in history {
        output.event_line(&event)?;
    }
    backend.follow(id, last, |event| output.event_line(&event)).await
}

async fn list(backend: &Backend, args: ListArgs, output: Output) -> Result<(), CliError> {
    let mut params = ListParams {
        service: args.service,
        environment: args.environment,
        status: args.status,
        limit: args.limit,
        cursor: args.cursor,
    };
    if !args.all {
        return output.page(&backend.list(params).await?);
    }
    let mut all = backend.list(params.clone()).await?;
    while let Some(cursor) = all.next_cursor.take() {
        params.cursor = Some(cursor);
        let mut page = backend.list(params.clone()).await?;
        all.items.append(&mut page.items);
        all.next_cursor = page.next_cursor;
    }
    output.page(&all)
}
