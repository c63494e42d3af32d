//! Scheduled starts in PostgreSQL: one row per deployment (its latest schedule), and claiming the
//! ones due with `FOR UPDATE SKIP LOCKED`, so replicas polling together each run a schedule once.

use loco_types::Error;
use loco_types::model::Timestamp;
use loco_types::schedule::{ScheduleState, ScheduledStart};

use super::error::Result;
use super::pool::Conn;
use super::rows::{all as all_rows, json, json_col};
use super::writer::WriteCtx;

async fn write(ctx: &mut WriteCtx, schedule: &ScheduledStart) -> Result<()> {
    ctx.conn
        .execute(
            "INSERT INTO scheduled_starts (deployment_id, state, at, definition) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (deployment_id) DO UPDATE SET state = $2, at = $3, definition = $4",
            &[&schedule.deployment_id, &schedule.state.as_str(), &schedule.at.to_string(), &json(schedule)?],
        )
        .await?;
    Ok(())
}

/// Stores `schedule` as its deployment's (replacing the one before).
pub(crate) async fn put(ctx: &mut WriteCtx, schedule: ScheduledStart) -> Result<ScheduledStart> {
    write(ctx, &schedule).await?;
    Ok(schedule)
}

/// Every deployment's latest schedule, soonest first.
pub(crate) async fn all(conn: &mut Conn) -> Result<Vec<ScheduledStart>> {
    let rows = conn.query("SELECT definition FROM scheduled_starts ORDER BY at, deployment_id", &[]).await?;
    all_rows(&rows, |row| json_col(row, 0))
}

/// Cancels the pending schedule of deployment `id` (`not_found` when it has none).
pub(crate) async fn cancel(ctx: &mut WriteCtx, id: String, now: Timestamp) -> Result<ScheduledStart> {
    let rows = ctx
        .conn
        .query(
            "SELECT definition FROM scheduled_starts WHERE deployment_id = $1 AND state = 'pending' FOR UPDATE",
            &[&id],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Err(Error::ScheduleNotFound { id }.into());
    };
    let cancelled = json_col::<ScheduledStart>(row, 0)?.ended(ScheduleState::Cancelled, None, now);
    write(ctx, &cancelled).await?;
    Ok(cancelled)
}

/// The pending schedules due at `now`, soonest first, each marked `started` in this transaction;
/// rows another replica is claiming are skipped, not waited for.
/// Whether any pending schedule is due at `now` (a read on a pooled connection, so an idle tick
/// does not take the writer's turn; [`claim_due`] decides which, in the write).
pub(crate) async fn any_due(conn: &mut Conn, now: Timestamp) -> Result<bool> {
    let rows = conn
        .query(
            "SELECT EXISTS (SELECT 1 FROM scheduled_starts WHERE state = 'pending' AND at <= $1)",
            &[&now.to_string()],
        )
        .await?;
    Ok(rows.first().map(|row| row.try_get::<_, bool>(0)).transpose()?.unwrap_or(false))
}

pub(crate) async fn claim_due(ctx: &mut WriteCtx, now: Timestamp) -> Result<Vec<ScheduledStart>> {
    let rows = ctx
        .conn
        .query(
            "SELECT definition FROM scheduled_starts WHERE state = 'pending' AND at <= $1 \
             ORDER BY at, deployment_id FOR UPDATE SKIP LOCKED",
            &[&now.to_string()],
        )
        .await?;
    let due: Vec<ScheduledStart> = all_rows(&rows, |row| json_col(row, 0))?;
    let mut claimed = Vec::with_capacity(due.len());
    for schedule in due {
        let started = schedule.ended(ScheduleState::Started, None, now);
        write(ctx, &started).await?;
        claimed.push(started);
    }
    Ok(claimed)
}
