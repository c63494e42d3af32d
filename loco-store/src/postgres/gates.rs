//! Approval gates in PostgreSQL: one per environment (kept under [`gate::key`]), and the
//! approvals a deployment has had, read inside the transaction that records the next review.

use loco_types::Error;
use loco_types::gate::{self, Approval, ApprovalGate, ReviewerGroup};
use loco_types::model::Timestamp;

use super::error::Result;
use super::pool::Conn;
use super::rows::{all as all_rows, json, json_col, parsed, text, text_opt};
use super::writer::WriteCtx;

/// The transaction lock under which a gate naming groups is set and a group removed.
const GROUPS_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('loco.reviewer_groups'))";

pub(crate) async fn put(ctx: &mut WriteCtx, gate: ApprovalGate, by: String) -> Result<ApprovalGate> {
    if !gate.groups.is_empty() {
        // A gate naming groups and a group's removal wait for each other here, so a gate cannot
        // come to name a group removed meanwhile.
        ctx.conn.execute(GROUPS_LOCK, &[]).await?;
    }
    gate::check_groups(&gate, &all_groups(&mut ctx.conn).await?)?;
    ctx.conn
        .execute(
            "INSERT INTO approval_gates (environment, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (environment) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&gate::key(&gate.environment), &json(&gate)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(gate)
}

/// Every gate, by environment, each with the members of the groups it names.
pub(crate) async fn all(conn: &mut Conn) -> Result<Vec<ApprovalGate>> {
    let rows = conn.query("SELECT definition FROM approval_gates ORDER BY environment", &[]).await?;
    let gates: Vec<ApprovalGate> = all_rows(&rows, |row| json_col(row, 0))?;
    if gates.iter().all(|g| g.groups.is_empty()) {
        return Ok(gates);
    }
    let groups = all_groups(conn).await?;
    Ok(gates.into_iter().map(|g| g.with_members(&groups)).collect())
}

pub(crate) async fn put_group(ctx: &mut WriteCtx, group: ReviewerGroup, by: String) -> Result<ReviewerGroup> {
    ctx.conn
        .execute(
            "INSERT INTO reviewer_groups (name, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&gate::group_key(&group.name), &json(&group)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(group)
}

/// Every reviewer group, by name.
pub(crate) async fn all_groups(conn: &mut Conn) -> Result<Vec<ReviewerGroup>> {
    let rows = conn.query("SELECT definition FROM reviewer_groups ORDER BY name", &[]).await?;
    all_rows(&rows, |row| json_col(row, 0))
}

/// Removes reviewer group `name`: `not_found` when there is none, refused while a gate names it.
pub(crate) async fn remove_group(ctx: &mut WriteCtx, name: String) -> Result<()> {
    ctx.conn.execute(GROUPS_LOCK, &[]).await?;
    gate::check_unused(&name, &all(&mut ctx.conn).await?)?;
    let removed = ctx.conn.execute("DELETE FROM reviewer_groups WHERE name = $1", &[&gate::group_key(&name)]).await?;
    if removed == 0 {
        return Err(Error::GroupNotFound { name }.into());
    }
    Ok(())
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
    let gate: Option<ApprovalGate> = rows.first().map(|row| json_col(row, 0)).transpose()?;
    match gate {
        Some(gate) if !gate.groups.is_empty() => Ok(Some(gate.with_members(&all_groups(conn).await?))),
        gate => Ok(gate),
    }
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
