//! Approval gates in PostgreSQL: one per environment and service (kept under [`gate::key`] and
//! [`gate::service_key`]; the empty service is the environment-wide gate), and the approvals a
//! deployment has had, read inside the transaction that records the next review.

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
    lock_groups(ctx, !gate.groups.is_empty()).await?;
    gate::check_groups(&gate, &all_groups(&mut ctx.conn).await?)?;
    write(ctx, gate, by).await
}

/// Takes the groups' transaction lock when `naming` (the gates about to be set name groups): a
/// gate naming groups and a group's removal wait for each other here, so a gate cannot come to
/// name a group removed meanwhile.
pub(crate) async fn lock_groups(ctx: &mut WriteCtx, naming: bool) -> Result<()> {
    if naming {
        ctx.conn.execute(GROUPS_LOCK, &[]).await?;
    }
    Ok(())
}

/// Stores `gate`, whose groups the caller has checked in this transaction (under
/// [`lock_groups`] when it names any).
pub(crate) async fn write(ctx: &mut WriteCtx, gate: ApprovalGate, by: String) -> Result<ApprovalGate> {
    ctx.conn
        .execute(
            "INSERT INTO approval_gates (environment, service, definition, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (environment, service) DO UPDATE SET definition = $3, updated_by = $4, updated_at = $5",
            &[
                &gate::key(&gate.environment),
                &gate::service_key(gate.service.as_deref()),
                &json(&gate)?,
                &by,
                &Timestamp::now().to_string(),
            ],
        )
        .await?;
    Ok(gate)
}

/// Every gate, by environment (its environment-wide gate first, then by service), each with the
/// members of the groups it names.
pub(crate) async fn all(conn: &mut Conn) -> Result<Vec<ApprovalGate>> {
    let rows =
        conn.query("SELECT definition FROM approval_gates ORDER BY environment, service COLLATE \"C\"", &[]).await?;
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

/// Removes the gate set on `environment` for `service` (`None`: the environment-wide one);
/// `false` when there is none.
pub(crate) async fn delete(conn: &mut Conn, environment: &str, service: Option<&str>) -> Result<bool> {
    let removed = conn
        .execute(
            "DELETE FROM approval_gates WHERE environment = $1 AND service = $2",
            &[&gate::key(environment), &gate::service_key(service)],
        )
        .await?;
    Ok(removed > 0)
}

pub(crate) async fn remove(ctx: &mut WriteCtx, environment: String, service: Option<String>) -> Result<()> {
    if !delete(&mut ctx.conn, &environment, service.as_deref()).await? {
        return Err(Error::GateNotFound { environment, service }.into());
    }
    Ok(())
}

/// The gate set on `environment` for `service` (`None`: the environment-wide one) as stored,
/// without its groups' members.
pub(crate) async fn stored(conn: &mut Conn, environment: &str, service: Option<&str>) -> Result<Option<ApprovalGate>> {
    let rows = conn
        .query(
            "SELECT definition FROM approval_gates WHERE environment = $1 AND service = $2",
            &[&gate::key(environment), &gate::service_key(service)],
        )
        .await?;
    rows.first().map(|row| json_col(row, 0)).transpose()
}

/// The gate guarding `service`'s deployments to `environment` (its own, else the
/// environment's), if any, with the members of the groups it names.
pub(crate) async fn guarding(conn: &mut Conn, service: &str, environment: &str) -> Result<Option<ApprovalGate>> {
    // The service's own row sorts after the environment-wide one ('').
    let rows = conn
        .query(
            "SELECT definition FROM approval_gates WHERE environment = $1 AND service IN ('', $2) \
             ORDER BY service DESC LIMIT 1",
            &[&gate::key(environment), &service],
        )
        .await?;
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
