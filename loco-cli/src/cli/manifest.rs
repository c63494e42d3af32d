//! `loco manifest schema|validate|apply|list|show|history|plan`: the `service.yaml` manifest (see
//! docs/manifest.md).
//!
//! `validate` reads a manifest locally and lists every problem with its path, line and column
//! (exit 3, `validation_error`, when there is one). `apply` (admin) stores it as the service's next
//! version and sets its pipeline, gates and freeze windows, in one transaction; `list`, `show` and
//! `history` read the stored versions; `plan` prints the rollout plan a deployment's stage sets.

use clap::{Args, Subcommand};
use loco_core::manifest::{self, Manifest, ManifestRecord};

use crate::cli::Connection;
use crate::cli::access::read_file_or_stdin;
use crate::cli::exit::CliError;
use crate::cli::output::Output;

/// `loco manifest …`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ManifestCommand,
}

/// The `loco manifest` subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Print the manifest's JSON Schema (draft 2020-12), generated from Loco's types.
    Schema,
    /// Read a manifest (`-` reads stdin) and report every problem with its path and line; prints
    /// a summary (with --json, the manifest as read, defaults filled in) when there is none.
    Validate(ManifestFileArgs),
    /// Apply a manifest (admin): store it as its service's next version and, in the same
    /// transaction, set its pipeline, its stages' approval gates and its freeze windows (removing
    /// those its previous version set and it does not). Nothing changes when it has a problem, or
    /// when it is the newest version's text.
    Apply(ManifestFileArgs),
    /// The newest manifest of every service.
    List,
    /// A service's manifest as it was applied (the newest, or --version N).
    Show(ManifestShowArgs),
    /// Every applied version of a service's manifest, newest first.
    History(ManifestServiceArgs),
    /// The rollout plan (JSON) a start of deployment ID without --plan uses: the one its stage
    /// sets in the version of its service's manifest it was created under.
    Plan(ManifestPlanArgs),
}

/// The argument of `loco manifest plan`.
#[derive(Debug, Args)]
pub struct ManifestPlanArgs {
    /// The deployment id.
    pub id: String,
}

/// Flags of `loco manifest show`.
#[derive(Debug, Args)]
pub struct ManifestShowArgs {
    /// The service.
    pub service: String,
    /// The version (from 1); the newest when absent.
    #[arg(long)]
    pub version: Option<u32>,
}

/// The argument of `loco manifest history`.
#[derive(Debug, Args)]
pub struct ManifestServiceArgs {
    /// The service.
    pub service: String,
}

/// The file argument of `loco manifest validate|apply`.
#[derive(Debug, Args)]
pub struct ManifestFileArgs {
    /// The manifest file (`service.yaml`), or `-` for stdin.
    pub file: String,
}

/// Runs `loco manifest`.
pub async fn run(connection: &Connection, args: ManifestArgs, output: Output) -> Result<(), CliError> {
    match args.command {
        ManifestCommand::Schema => output.value(&manifest::schema()),
        ManifestCommand::Validate(args) => {
            let manifest = manifest::parse(&read_file_or_stdin(&args.file)?)?;
            if output.json {
                return output.value(&manifest);
            }
            summary(&manifest).iter().try_for_each(|line| output.line(line))
        }
        ManifestCommand::Apply(args) => {
            let text = read_file_or_stdin(&args.file)?;
            let backend = connection.backend().await?;
            let result = backend.apply_manifest(&text).await;
            let closed = backend.close().await;
            let (record, wrote) = result.and_then(|applied| closed.map(|()| applied))?;
            if output.json {
                return output.value(&record);
            }
            let mut lines = summary(&record.manifest);
            lines[0] = if wrote {
                format!("applied version {} of {}", record.version, lines[0])
            } else {
                format!("unchanged: version {} of {} is this manifest", record.version, lines[0])
            };
            lines.iter().try_for_each(|line| output.line(line))
        }
        ManifestCommand::List => {
            let backend = connection.backend().await?;
            let result = backend.manifests().await;
            let closed = backend.close().await;
            let list = result.and_then(|list| closed.map(|()| list))?;
            if output.json {
                return output.value(&list);
            }
            list.items.iter().try_for_each(|r| output.line(&version_line(r)))
        }
        ManifestCommand::Show(args) => {
            let backend = connection.backend().await?;
            let result = backend.manifest(&args.service, args.version).await;
            let closed = backend.close().await;
            let record = result.and_then(|record| closed.map(|()| record))?;
            if output.json {
                return output.value(&record);
            }
            std::iter::once(format!("# {}", version_line(&record)))
                .chain(record.text.lines().map(str::to_owned))
                .try_for_each(|line| output.line(&line))
        }
        ManifestCommand::History(args) => {
            let backend = connection.backend().await?;
            let result = backend.manifest_history(&args.service).await;
            let closed = backend.close().await;
            let list = result.and_then(|list| closed.map(|()| list))?;
            if output.json {
                return output.value(&list);
            }
            list.items.iter().try_for_each(|r| output.line(&version_line(r)))
        }
        ManifestCommand::Plan(args) => {
            let backend = connection.backend().await?;
            let result = backend.manifest_plan(&args.id).await;
            let closed = backend.close().await;
            output.value(&result.and_then(|plan| closed.map(|()| plan))?)
        }
    }
}

/// One stored version in one line.
fn version_line(record: &ManifestRecord) -> String {
    format!(
        "{} version {}, applied by {} at {} ({} stages, sha256 {})",
        record.service,
        record.version,
        record.applied_by,
        record.applied_at,
        record.manifest.stages.len(),
        &record.digest[..12.min(record.digest.len())]
    )
}

/// What a manifest describes, one line per stage.
fn summary(manifest: &Manifest) -> Vec<String> {
    let mut lines = vec![format!(
        "{} ({}): {} stages{}",
        manifest.service,
        manifest.api_version,
        manifest.stages.len(),
        if manifest.require_previous_success { ", each after success in the one before" } else { "" }
    )];
    for stage in &manifest.stages {
        let rollout = stage
            .rollout
            .as_ref()
            .map_or_else(|| "no rollout plan".to_owned(), |p| format!("{} on {}", p.strategy.name(), p.platform));
        let approval = stage.approval.as_ref().map_or_else(
            || "one approval".to_owned(),
            |a| {
                if a.approvers.is_empty() {
                    format!("{} approvals", a.required_approvals)
                } else {
                    format!("{} approvals of {}", a.required_approvals, a.approvers.join(", "))
                }
            },
        );
        lines.push(format!("  {:<16} {rollout}; {approval}", stage.environment));
    }
    for window in &manifest.freeze_windows {
        lines.push(format!("  freeze {:<9} {} ({})", window.name, window.environments.join(", "), window.reason));
    }
    lines
}
