//! Approval gates in SQLite: one per environment and service (kept under [`gate::key`] and
//! [`gate::service_key`]; the empty service is the environment-wide gate), and the approvals a
//! deployment has had, read inside the transaction that records the next review.

use loco_types::Error;
use loco_types::gate::{self, Approval, ApprovalGate, ReviewerGroup};
use loco_types::model::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{json, json_column, json_required, parsed};
use super::writer::WriteCtx;
use crate::error::Result;

pub(crate) fn put(ctx: &mut WriteCtx<'_>, gate: ApprovalGate, by: &str) -> Result<ApprovalGate> {
    gate::check_groups(&gate, &all_groups(ctx.conn)?)?;
    write(ctx, gate, by)
}

/// Stores `gate`, whose groups the caller has checked in this transaction.
pub(crate) fn write(ctx: &mut WriteCtx<'_>, gate: ApprovalGate, by: &str) -> Result<ApprovalGate> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO approval_gates (environment, service, definition, updated_by, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (environment, service) DO UPDATE SET definition = ?3, updated_by = ?4, updated_at = ?5",
        )?
        .execute(params![
            gate::key(&gate.environment),
            gate::service_key(gate.service.as_deref()),
            json(&gate)?,
            by,
            Timestamp::now().to_string()
        ])?;
    Ok(gate)
}

/// Every gate, by environment (its environment-wide gate first, then by service), each with the
/// members of the groups it names.
pub(crate) fn all(conn: &Connection) -> Result<Vec<ApprovalGate>> {
    let gates: Vec<ApprovalGate> = conn
        .prepare_cached("SELECT definition FROM approval_gates ORDER BY environment, service")?
        .query_map([], |row| json_column::<ApprovalGate>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if gates.iter().all(|g| g.groups.is_empty()) {
        return Ok(gates);
    }
    let groups = all_groups(conn)?;
    Ok(gates.into_iter().map(|g| g.with_members(&groups)).collect())
}

pub(crate) fn put_group(ctx: &mut WriteCtx<'_>, group: ReviewerGroup, by: &str) -> Result<ReviewerGroup> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO reviewer_groups (name, definition, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO UPDATE SET definition = ?2, updated_by = ?3, updated_at = ?4",
        )?
        .execute(params![gate::group_key(&group.name), json(&group)?, by, Timestamp::now().to_string()])?;
    Ok(group)
}

/// Every reviewer group, by name.
pub(crate) fn all_groups(conn: &Connection) -> Result<Vec<ReviewerGroup>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM reviewer_groups ORDER BY name")?
        .query_map([], |row| json_required::<ReviewerGroup>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Removes reviewer group `name`: `not_found` when there is none, refused while a gate names it.
pub(crate) fn remove_group(ctx: &mut WriteCtx<'_>, name: &str) -> Result<()> {
    gate::check_unused(name, &all(ctx.conn)?)?;
    let removed = ctx
        .conn
        .prepare_cached("DELETE FROM reviewer_groups WHERE name = ?1")?
        .execute(params![gate::group_key(name)])?;
    if removed == 0 {
        return Err(Error::GroupNotFound { name: name.to_owned() }.into());
    }
    Ok(())
}

/// Removes the gate set on `environment` for `service` (`None`: the environment-wide one);
/// `false` when there is none.
pub(crate) fn delete(conn: &Connection, environment: &str, service: Option<&str>) -> Result<bool> {
    let removed = conn
        .prepare_cached("DELETE FROM approval_gates WHERE environment = ?1 AND service = ?2")?
        .execute(params![gate::key(environment), gate::service_key(service)])?;
    Ok(removed > 0)
}

pub(crate) fn remove(ctx: &mut WriteCtx<'_>, environment: &str, service: Option<&str>) -> Result<()> {
    if !delete(ctx.conn, environment, service)? {
        return Err(
            Error::GateNotFound { environment: environment.to_owned(), service: service.map(str::to_owned) }.into()
        );
    }
    Ok(())
}

/// The gate set on `environment` for `service` (`None`: the environment-wide one) as stored,
/// without its groups' members.
pub(crate) fn stored(conn: &Connection, environment: &str, service: Option<&str>) -> Result<Option<ApprovalGate>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM approval_gates WHERE environment = ?1 AND service = ?2")?
        .query_row(params![gate::key(environment), gate::service_key(service)], |row| {
            json_column::<ApprovalGate>(row, 0)
        })
        .optional()?
        .flatten())
}

/// The gate guarding `service`'s deployments to `environment` (its own, else the
/// environment's), if any, with the members of the groups it names.
pub(crate) fn guarding(conn: &Connection, service: &str, environment: &str) -> Result<Option<ApprovalGate>> {
    // The service's own row sorts after the environment-wide one ('').
    let gate = conn
        .prepare_cached(
            "SELECT definition FROM approval_gates WHERE environment = ?1 AND service IN ('', ?2) \
             ORDER BY service DESC LIMIT 1",
        )?
        .query_row(params![gate::key(environment), service], |row| json_column::<ApprovalGate>(row, 0))
        .optional()?
        .flatten();
    match gate {
        Some(gate) if !gate.groups.is_empty() => Ok(Some(gate.with_members(&all_groups(conn)?))),
        gate => Ok(gate),
    }
}

/// The approvals recorded for deployment `id` before its `approved` transition, oldest first.
pub(crate) fn approvals(conn: &Connection, id: &str) -> Result<Vec<Approval>> {
    Ok(conn
        .prepare_cached(
            "SELECT actor, at, note FROM deployment_events WHERE deployment_id = ?1 AND kind = 'approval_granted' \
             ORDER BY seq",
        )?
        .query_map(params![id], |row| Ok(Approval { actor: row.get(0)?, at: parsed(row, 1)?, note: row.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}
