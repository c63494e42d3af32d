//! Approval gates in PostgreSQL: one per environment (kept under [`gate::key`]), and the
//! approvals a deployment has had, read inside the transaction that records the next review.

use loco_types::Error;
use loco_types::gate::{self, Approval, ApprovalGate};
use loco_types::model::Timestamp;

use super::error::Result;
use super::pool::Conn;
use super::rows::{all as all_rows, json, json_col, parsed, text, text_opt};
use super::writer::WriteCtx;

pub(crate) async fn put(ctx: &mut WriteCtx, gate: ApprovalGate, by: String) -> Result<ApprovalGate> {
    ctx.conn
        .execute(
            "INSERT INTO approval_gates (environment, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (environment) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&gate::key(&gate.environment), &json(&gate)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(gate)
}

pub(crate) async fn all(conn: &mut Conn) -> Result<Vec<ApprovalGate>> {
    let rows = conn.query("SELECT definition FROM approval_gates ORDER BY environment", &[]).await?;
    all_rows(&rows, |row| json_col(row, 0))
}

pub(crate) async fn remove(ctx: &mut WriteCtx, environment: String) -> Result<()> {
    let removed =
        ctx.conn.execute("DELETE FROM approval_gates WHERE environment = $1", &[&gate::key(&environment)]).await?;
    if removed == 0 {
        return Err(Error::GateNotFound { environment }.into());
    }
    Ok(())
}

/// The gate guarding `environment`, if any.
pub(crate) async fn guarding(conn: &mut Conn, environment: &str) -> Result<Option<ApprovalGate>> {
    let rows =
        conn.query("SELECT definition FROM approval_gates WHERE environment = $1", &[&gate::key(environment)]).await?;
    rows.first().map(|row| json_col(row, 0)).transpose()
}

/// The approvals recorded for deployment `id` before its `approved` transition, oldest first.
pub(crate) async fn approvals(conn: &mut Conn, id: &str) -> Result<Vec<Approval>> {
    let rows = conn
        .query(
            "SELECT actor, at, note FROM deployment_events WHERE deployment_id = $1 AND kind = 'approval_granted' \
             ORDER BY seq",
            &[&id],
        )
        .await?;
    all_rows(&rows, |row| Ok(Approval { actor: text(row, 0)?, at: parsed(row, 1)?, note: text_opt(row, 2)? }))
}
