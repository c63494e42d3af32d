//! Scheduled starts in SQLite: one row per deployment (its latest schedule), and claiming the
//! ones due, in the single writer's transaction, so each is run once.

use loco_types::Error;
use loco_types::model::Timestamp;
use loco_types::schedule::{ScheduleState, ScheduledStart};
use rusqlite::{Connection, params};

use super::rows::{json, json_required};
use super::writer::WriteCtx;
use crate::error::Result;

fn write(ctx: &mut WriteCtx<'_>, schedule: &ScheduledStart) -> Result<()> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO scheduled_starts (deployment_id, state, at, definition) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (deployment_id) DO UPDATE SET state = ?2, at = ?3, definition = ?4",
        )?
        .execute(params![schedule.deployment_id, schedule.state.as_str(), schedule.at.to_string(), json(schedule)?])?;
    Ok(())
}

/// Stores `schedule` as its deployment's (replacing the one before).
pub(crate) fn put(ctx: &mut WriteCtx<'_>, schedule: ScheduledStart) -> Result<ScheduledStart> {
    write(ctx, &schedule)?;
    Ok(schedule)
}

/// Every deployment's latest schedule, soonest first.
pub(crate) fn all(conn: &Connection) -> Result<Vec<ScheduledStart>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM scheduled_starts ORDER BY at, deployment_id")?
        .query_map([], |row| json_required::<ScheduledStart>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

fn pending(conn: &Connection, sql: &str, arg: &str) -> Result<Vec<ScheduledStart>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params![arg], |row| json_required::<ScheduledStart>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Cancels the pending schedule of deployment `id` (`not_found` when it has none).
pub(crate) fn cancel(ctx: &mut WriteCtx<'_>, id: &str, now: Timestamp) -> Result<ScheduledStart> {
    let sql = "SELECT definition FROM scheduled_starts WHERE deployment_id = ?1 AND state = 'pending'";
    let Some(schedule) = pending(ctx.conn, sql, id)?.pop() else {
        return Err(Error::ScheduleNotFound { id: id.to_owned() }.into());
    };
    let cancelled = schedule.ended(ScheduleState::Cancelled, None, now);
    write(ctx, &cancelled)?;
    Ok(cancelled)
}

/// Whether any pending schedule is due at `now` (a read, so an idle tick does not take the
/// writer's turn; [`claim_due`] decides which, in the write).
pub(crate) fn any_due(conn: &Connection, now: Timestamp) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM scheduled_starts WHERE state = 'pending' AND at <= ?1)")?
        .query_row(params![now.to_string()], |row| row.get(0))?)
}

/// The pending schedules due at `now`, soonest first, each marked `started` in this transaction
/// (so no other caller claims it); the caller starts them and records a refusal.
pub(crate) fn claim_due(ctx: &mut WriteCtx<'_>, now: Timestamp) -> Result<Vec<ScheduledStart>> {
    let sql = "SELECT definition FROM scheduled_starts WHERE state = 'pending' AND at <= ?1 ORDER BY at, deployment_id";
    let due = pending(ctx.conn, sql, &now.to_string())?;
    let mut claimed = Vec::with_capacity(due.len());
    for schedule in due {
        let started = schedule.ended(ScheduleState::Started, None, now);
        write(ctx, &started)?;
        claimed.push(started);
    }
    Ok(claimed)
}
