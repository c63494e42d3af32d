//! Deploy locks in SQLite: taken and given back inside the transaction that moves a deployment
//! into or out of `started` (the rule is [`loco_types::lock`]), listed, and force-released.

use loco_types::Error;
use loco_types::lifecycle::Status;
use loco_types::lock::{self, DeployLock, LockEffect};
use loco_types::model::{Deployment, Timestamp};
use loco_types::rules;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{get_deployment, parsed};
use super::writer::WriteCtx;
use crate::error::Result;

const LOCK_COLUMNS: &str = "service, environment, deployment_id, holder, since";

fn lock_from_row(row: &Row<'_>) -> rusqlite::Result<DeployLock> {
    Ok(DeployLock {
        service: row.get(0)?,
        environment: row.get(1)?,
        deployment_id: row.get(2)?,
        holder: row.get(3)?,
        since: parsed(row, 4)?,
    })
}

fn held(conn: &Connection, service: &str, environment: &str) -> Result<Option<DeployLock>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {LOCK_COLUMNS} FROM deploy_locks WHERE service = ?1 AND environment = ?2"))?
        .query_row(params![service, environment], lock_from_row)
        .optional()?)
}

/// Inserts `lock` unless its target is taken; the number of rows inserted.
fn insert_if_free(conn: &Connection, lock: &DeployLock) -> Result<usize> {
    Ok(conn
        .prepare_cached(&format!(
            "INSERT INTO deploy_locks ({LOCK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (service, environment) DO NOTHING"
        ))?
        .execute(params![lock.service, lock.environment, lock.deployment_id, lock.holder, lock.since.to_string()])?)
}

/// Takes or gives back the lock of `after` (moved from `from` by `actor`), as the rule says.
pub(crate) fn sync(conn: &Connection, from: Status, after: &Deployment, actor: &str) -> Result<()> {
    match lock::effect(from, after.status) {
        LockEffect::Keep => {}
        LockEffect::Acquire => {
            // The common case, a free target, costs one statement; a taken one is then read so
            // the rule can name its holder (or take back a stale row of this deployment).
            let free = lock::decide_acquire(None, after, actor)?;
            if insert_if_free(conn, &free)? == 0 {
                let lock = lock::decide_acquire(held(conn, &after.service, &after.environment)?, after, actor)?;
                conn.prepare_cached(
                    "UPDATE deploy_locks SET deployment_id = ?3, holder = ?4, since = ?5 \
                     WHERE service = ?1 AND environment = ?2",
                )?
                .execute(params![
                    lock.service,
                    lock.environment,
                    lock.deployment_id,
                    lock.holder,
                    lock.since.to_string()
                ])?;
            }
        }
        LockEffect::Release => {
            conn.prepare_cached(
                "DELETE FROM deploy_locks WHERE service = ?1 AND environment = ?2 AND deployment_id = ?3",
            )?
            .execute(params![after.service, after.environment, after.id])?;
        }
    }
    Ok(())
}

/// Every lock held, by service then environment.
pub(crate) fn locks(conn: &Connection) -> Result<Vec<DeployLock>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {LOCK_COLUMNS} FROM deploy_locks ORDER BY service, environment"))?
        .query_map([], lock_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Frees the lock of `service` in `environment`, recording `lock_released` on its holder.
pub(crate) fn release(
    ctx: &mut WriteCtx<'_>,
    service: &str,
    environment: &str,
    actor: &str,
    reason: &str,
) -> Result<DeployLock> {
    let lock = held(ctx.conn, service, environment)?
        .ok_or_else(|| Error::LockNotFound { service: service.to_owned(), environment: environment.to_owned() })?;
    let holder = get_deployment(ctx.conn, &lock.deployment_id)?;
    ctx.append_event(rules::decide_record(&holder, lock::release_event(&lock, actor, reason), Timestamp::now())?)?;
    ctx.conn
        .prepare_cached("DELETE FROM deploy_locks WHERE service = ?1 AND environment = ?2")?
        .execute(params![service, environment])?;
    Ok(lock)
}
