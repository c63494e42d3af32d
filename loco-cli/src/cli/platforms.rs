//! `loco platforms add|list|test|remove`: the cloud platforms plans may name. The token is read
//! from an environment variable (never from the command line, where `ps` and shell history would
//! show it), sealed before it is stored, and shown as `***` from then on.

use clap::{Args, Subcommand};
use loco_core::platform_config::{
    FlySettings, NewPlatform, PlatformSettings, RailwaySettings, RailwayTokenKind, RenderSettings, VercelSettings,
};

use crate::cli::Connection;
use crate::cli::backend::Backend;
use crate::cli::exit::CliError;
use crate::cli::output::Output;

/// `loco platforms …`.
#[derive(Debug, Args)]
pub struct PlatformsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PlatformsCommand,
}

/// The `loco platforms` subcommands.
#[derive(Debug, Subcommand)]
pub enum PlatformsCommand {
    /// Configure (or replace) a platform (admin): `loco platforms add fly --name fly-prod --app shop
    /// --token-env FLY_API_TOKEN`; likewise `render`, `railway` and `vercel`.
    #[command(subcommand)]
    Add(AddCommand),
    /// List the configured platforms (tokens shown as ***).
    List,
    /// Test a platform's connection: the token is accepted and the app or service exists.
    Test(NameArgs),
    /// Remove a configured platform (refused while a rollout on it is active).
    Remove(NameArgs),
}

/// The providers `loco platforms add` knows.
#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// A Fly.io app (Machines API).
    Fly(AddFly),
    /// A Render service (REST API v1).
    Render(AddRender),
    /// A Railway service in one environment of a project (GraphQL API).
    Railway(AddRailway),
    /// A Vercel project deployed from its linked repository (REST API).
    Vercel(AddVercel),
}

/// What every `add` takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The name plans use in `platform`.
    #[arg(long)]
    pub name: String,
    /// The environment variable holding the API token.
    #[arg(long, value_name = "VAR")]
    pub token_env: String,
}

/// Flags of `loco platforms add fly`.
#[derive(Debug, Args)]
pub struct AddFly {
    #[command(flatten)]
    common: Common,
    /// The Fly app.
    #[arg(long)]
    app: String,
    /// The region new machines are created in.
    #[arg(long)]
    region: Option<String>,
    /// The Machines API base URL (default https://api.machines.dev).
    #[arg(long)]
    api_url: Option<String>,
    /// The logs API base URL (default https://api.fly.io).
    #[arg(long)]
    logs_url: Option<String>,
}

/// Flags of `loco platforms add render`.
#[derive(Debug, Args)]
pub struct AddRender {
    #[command(flatten)]
    common: Common,
    /// The service id (srv-…).
    #[arg(long)]
    service_id: String,
    /// The workspace (owner) id (tea-…), for logs.
    #[arg(long)]
    owner_id: Option<String>,
    /// The API base URL (default https://api.render.com).
    #[arg(long)]
    api_url: Option<String>,
}

/// Flags of `loco platforms add railway`.
#[derive(Debug, Args)]
pub struct AddRailway {
    #[command(flatten)]
    common: Common,
    /// The project id.
    #[arg(long)]
    project_id: String,
    /// The environment id.
    #[arg(long)]
    environment_id: String,
    /// The service id.
    #[arg(long)]
    service_id: String,
    /// The token is a project token (sent as Project-Access-Token) rather than an account,
    /// workspace or OAuth token (sent as a Bearer token).
    #[arg(long)]
    project_token: bool,
    /// The GraphQL endpoint (default https://backboard.railway.com/graphql/v2).
    #[arg(long)]
    api_url: Option<String>,
}

/// Flags of `loco platforms add vercel`.
#[derive(Debug, Args)]
pub struct AddVercel {
    #[command(flatten)]
    common: Common,
    /// The project id (prj_…) or name.
    #[arg(long)]
    project_id: String,
    /// The team id (team_…), for team projects.
    #[arg(long)]
    team_id: Option<String>,
    /// The API base URL (default https://api.vercel.com).
    #[arg(long)]
    api_url: Option<String>,
}

/// A platform's name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The platform's name.
    pub name: String,
}

/// Runs a `platforms` command.
pub async fn run(connection: &Connection, args: PlatformsArgs, output: Output) -> Result<(), CliError> {
    // The token is read before anything is opened, so a missing variable changes nothing.
    let new = if let PlatformsCommand::Add(add) = &args.command { Some(new_platform(add)?) } else { None };
    let backend = connection.backend().await?;
    let result = run_on(&backend, args.command, new, output).await;
    let closed = backend.close().await;
    result.and(closed)
}

async fn run_on(
    backend: &Backend,
    command: PlatformsCommand,
    new: Option<NewPlatform>,
    output: Output,
) -> Result<(), CliError> {
    match (command, new) {
        (PlatformsCommand::Add(_), Some(new)) => output.value(&backend.put_platform(new).await?),
        (PlatformsCommand::Add(_), None) => Err(CliError::Internal("no platform to add".to_owned())),
        (PlatformsCommand::List, _) => output.value(&backend.platforms().await?),
        (PlatformsCommand::Test(NameArgs { name }), _) => output.value(&backend.test_platform(&name).await?),
        (PlatformsCommand::Remove(NameArgs { name }), _) => {
            backend.remove_platform(&name).await?;
            if !output.json {
                eprintln!("removed platform '{name}'");
            }
            Ok(())
        }
    }
}

fn new_platform(add: &AddCommand) -> Result<NewPlatform, CliError> {
    let (common, settings) = match add {
        AddCommand::Fly(fly) => (
            &fly.common,
            PlatformSettings::Fly(FlySettings {
                app: fly.app.clone(),
                region: fly.region.clone(),
                api_url: fly.api_url.clone(),
                logs_url: fly.logs_url.clone(),
            }),
        ),
        AddCommand::Render(render) => (
            &render.common,
            PlatformSettings::Render(RenderSettings {
                service_id: render.service_id.clone(),
                owner_id: render.owner_id.clone(),
                api_url: render.api_url.clone(),
            }),
        ),
        AddCommand::Railway(railway) => (
            &railway.common,
            PlatformSettings::Railway(RailwaySettings {
                project_id: railway.project_id.clone(),
                environment_id: railway.environment_id.clone(),
                service_id: railway.service_id.clone(),
                token_kind: if railway.project_token { RailwayTokenKind::Project } else { RailwayTokenKind::Account },
                api_url: railway.api_url.clone(),
            }),
        ),
        AddCommand::Vercel(vercel) => (
            &vercel.common,
            PlatformSettings::Vercel(VercelSettings {
                project_id: vercel.project_id.clone(),
                team_id: vercel.team_id.clone(),
                api_url: vercel.api_url.clone(),
            }),
        ),
    };
    let token = std::env::var(&common.token_env).map_err(|_| {
        CliError::from(loco_core::Error::invalid(
            "token_env",
            format!("the environment variable {} is not set (or not UTF-8)", common.token_env),
        ))
    })?;
    Ok(NewPlatform { name: common.name.clone(), settings, token })
}
