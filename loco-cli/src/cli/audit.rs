//! The audit commands: `verify` (the chain, every deployment against its history and, with
//! `--head FILE`, an exported head; exit code 11 when anything does not match) and `audit head`
//! (the head to keep outside the database).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use loco_core::audit::AuditHead;

use crate::cli::exit::CliError;
use crate::cli::output::Output;
use crate::cli::{Command, Connection};

/// Flags of `loco verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also check that the chain still contains this exported head (a file holding what
    /// `loco audit head --json` printed), so events deleted from the end are found. With
    /// LOCO_AUDIT_KEY set, the head's HMAC must match that key.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
}

/// `loco audit …`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The `loco audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the head of the verified audit chain (seq, hash, time of its last event), with an
    /// HMAC when LOCO_AUDIT_KEY is set. Keep the --json output outside the database and check it
    /// later with `loco verify --head FILE`.
    Head,
}

/// Runs `verify` or `audit`.
pub async fn run(connection: &Connection, command: Command, output: Output) -> Result<(), CliError> {
    // A head file that cannot be read is refused before anything is opened.
    let head = match &command {
        Command::Verify(VerifyArgs { head: Some(path) }) => Some(read_head(path)?),
        _ => None,
    };
    let backend = connection.backend().await?;
    let result = match command {
        Command::Verify(_) => {
            let report = match &head {
                Some(head) => backend.verify_audit_against(head).await,
                None => backend.verify_audit().await,
            };
            match report {
                Ok(report) => output.audit(&report).and(if report.valid { Ok(()) } else { Err(CliError::AuditBroken) }),
                Err(e) => Err(e),
            }
        }
        Command::Audit(AuditArgs { command: AuditCommand::Head }) => match backend.audit_head().await {
            Ok(head) => output.audit_head(&head),
            Err(e) => Err(e),
        },
        _ => Err(CliError::Internal("not an audit command".to_owned())),
    };
    let closed = backend.close().await;
    result.and(closed)
}

fn read_head(path: &std::path::Path) -> Result<AuditHead, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the exported head {}: {e}", path.display())))?;
    Ok(AuditHead::from_json(&text)?)
}
