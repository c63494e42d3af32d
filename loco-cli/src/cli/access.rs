//! The access commands: `tokens create|list|revoke`, `services register|list|remove`, `whoami`
//! (against a server with an admin token, or directly on a database file, where whoever can
//! write the file is in charge anyway), and `secrets rotate-key` (database files only: it needs
//! the key file next to the database).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use loco_core::Vault;
use loco_core::service::ServiceDefinition;

use crate::cli::Connection;
use crate::cli::backend::Backend;
use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::wire::{CreateToken, CreatedToken, ServiceList, TokenList};

/// `loco tokens …`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TokensCommand,
}

/// The `loco tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token and print its secret (shown this once).
    Create(CreateTokenArgs),
    /// List tokens (never their secrets), newest first.
    List,
    /// Revoke a token by id; it authenticates nothing from now on.
    Revoke(RevokeArgs),
}

/// Flags of `loco tokens create`.
#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    /// Who the token acts as (the actor of everything done with it).
    #[arg(long)]
    pub subject: String,
    /// A role, optionally for one environment: viewer, requester, approver[:ENV], deployer[:ENV],
    /// admin. Repeatable.
    #[arg(long = "grant", required = true, value_name = "ROLE[:ENV]")]
    pub grants: Vec<String>,
    /// What the token is for (default: the subject).
    #[arg(long)]
    pub name: Option<String>,
    /// Days until it stops working (default: never).
    #[arg(long, value_name = "DAYS")]
    pub expires_in_days: Option<u32>,
}

/// Flags of `loco tokens revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token's id (`tok_…`).
    pub id: String,
}

/// `loco services …`.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ServicesCommand,
}

/// The `loco services` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Register (or replace) a service from a JSON definition file (`-` reads stdin), e.g.
    /// `{"name": "shop", "command": ["python3", "app.py"], "working_dir": "/srv/shop",
    /// "allowed_env": ["FEATURE_FLAGS"]}`.
    Register(RegisterArgs),
    /// List registered services.
    List,
    /// Remove a registered service.
    Remove(RemoveArgs),
}

/// Flags of `loco services register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The definition file, or `-` for stdin.
    pub file: String,
}

/// Flags of `loco services remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The service's name.
    pub name: String,
}

/// `loco thresholds …`.
#[derive(Debug, Args)]
pub struct ThresholdsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ThresholdsCommand,
}

/// The `loco thresholds` subcommands.
#[derive(Debug, Subcommand)]
pub enum ThresholdsCommand {
    /// Show the canary-analysis thresholds of every environment that has its own.
    List,
    /// Set (and save) one environment's thresholds from a JSON file (`-` reads stdin), e.g.
    /// `{"min_samples": 100, "max_p99_ms": 300}` (admin).
    Set(SetThresholdsArgs),
}

/// Flags of `loco thresholds set`.
#[derive(Debug, Args)]
pub struct SetThresholdsArgs {
    /// The environment.
    pub environment: String,
    /// The thresholds file, or `-` for stdin.
    pub file: String,
}

/// `loco secrets …`.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SecretsCommand,
}

/// The `loco secrets` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-seal every stored secret under a new key (needs --db). With the key file (default
    /// <db>.key) the new key replaces it; with LOCO_MASTER_KEY the new key is printed once and
    /// must replace the variable's value before the next start.
    RotateKey,
}

/// Runs a `tokens`, `services`, `secrets` or `whoami` command.
pub async fn run(connection: &Connection, command: crate::cli::Command, output: Output) -> Result<(), CliError> {
    use crate::cli::Command;
    if let Command::Secrets(SecretsArgs { command: SecretsCommand::RotateKey }) = &command {
        return rotate_key(connection, output).await;
    }
    let backend = connection.backend().await?;
    let result = match command {
        Command::Tokens(args) => tokens(&backend, args.command, output).await,
        Command::Services(args) => services(&backend, args.command, output).await,
        Command::Thresholds(args) => match args.command {
            ThresholdsCommand::List => output.value(&backend.thresholds().await?),
            ThresholdsCommand::Set(args) => {
                let text = read_file_or_stdin(&args.file)?;
                let thresholds = loco_core::analysis::Thresholds::from_json(&text, "")?;
                output.value(&backend.put_thresholds(&args.environment, thresholds).await?)
            }
        },
        Command::Whoami => output.value(&backend.whoami().await?),
        _ => Err(CliError::Internal("not an access command".to_owned())),
    };
    let closed = backend.close().await;
    result.and(closed)
}

async fn tokens(backend: &Backend, command: TokensCommand, output: Output) -> Result<(), CliError> {
    match command {
        TokensCommand::Create(args) => {
            let expires_at = args.expires_in_days.map(|days| {
                loco_core::Timestamp::now().after(std::time::Duration::from_secs(u64::from(days) * 86_400))
            });
            let body = CreateToken {
                name: args.name.unwrap_or_else(|| args.subject.clone()),
                subject: args.subject,
                grants: args.grants,
                expires_at,
            };
            let created: CreatedToken = backend.create_token(body).await?;
            if output.json {
                return output.value(&created);
            }
            eprintln!("created {} for '{}'; the secret is shown this once:", created.token.id, created.token.subject);
            output.line(&created.secret)
        }
        TokensCommand::List => {
            let list: TokenList = backend.tokens().await?;
            output.tokens(&list)
        }
        TokensCommand::Revoke(args) => output.value(&backend.revoke_token(&args.id).await?),
    }
}

async fn services(backend: &Backend, command: ServicesCommand, output: Output) -> Result<(), CliError> {
    match command {
        ServicesCommand::Register(args) => {
            let text = read_file_or_stdin(&args.file)?;
            let definition = ServiceDefinition::from_json(&text)?;
            output.value(&backend.put_service(definition).await?)
        }
        ServicesCommand::List => {
            let list: ServiceList = backend.services().await?;
            output.value(&list)
        }
        ServicesCommand::Remove(args) => {
            backend.remove_service(&args.name).await?;
            if !output.json {
                eprintln!("removed service '{}'", args.name);
            }
            Ok(())
        }
    }
}

pub(crate) fn read_file_or_stdin(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::Usage(format!("cannot read stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))
}

/// Re-seals every secret of the database under a fresh key, keeping the old key loadable until
/// the database holds only values sealed with the new one (a crash in between loses nothing).
async fn rotate_key(connection: &Connection, output: Output) -> Result<(), CliError> {
    let Some(db) = &connection.db else {
        return Err(CliError::Usage("secrets rotate-key needs --db: it rewrites the database and its key".to_owned()));
    };
    let key_file = key_file_of(db);
    let from_env = std::env::var(loco_core::vault::MASTER_KEY_ENV).is_ok();
    if loco_core::is_postgres_url(&db.to_string_lossy()) && !from_env {
        return Err(CliError::Usage(
            "a PostgreSQL database's secrets are sealed with LOCO_MASTER_KEY: set it to the current key".to_owned(),
        ));
    }
    let old = Vault::load(&key_file)?;
    let new = Vault::generate();
    let both = new.clone().with_previous(&old);
    if !from_env {
        both.write_key_file(&key_file)?;
    }
    let engine = loco_core::Engine::builder().location(&db.to_string_lossy()).vault(both).open().await?;
    let result = engine.rotate_secrets_key(new.clone()).await;
    let closed = engine.close().await;
    let count = result?;
    closed?;
    if from_env {
        output.line(&format!(
            "re-sealed {count} secret(s). Set LOCO_MASTER_KEY to this new key before the next start (shown once):"
        ))?;
        return output.line(&new.key_base64());
    }
    new.current_only().write_key_file(&key_file)?;
    output.line(&format!(
        "re-sealed {count} secret(s) under key {}; {} holds only the new key",
        new.key_id(),
        key_file.display()
    ))
}

fn key_file_of(db: &Path) -> PathBuf {
    let mut file = db.as_os_str().to_owned();
    file.push(".key");
    file.into()
}
