//! Deploy locks in PostgreSQL: taken and given back inside the transaction that moves a
//! deployment into or out of `started` (the rule is [`loco_types::lock`]; every write holds the
//! audit chain's head, so two starts on one target are decided one after the other), listed, and
//! force-released.

use loco_types::Error;
use loco_types::lifecycle::Status;
use loco_types::lock::{self, DeployLock, LockEffect};
use loco_types::model::{Deployment, Timestamp};
use loco_types::rules;
use tokio_postgres::Row;

use super::error::Result;
use super::pool::Conn;
use super::rows::{all, get_deployment, parsed, text};
use super::writer::WriteCtx;

const LOCK_COLUMNS: &str = "service, environment, deployment_id, holder, since";

fn lock_from_row(row: &Row) -> Result<DeployLock> {
    Ok(DeployLock {
        service: text(row, 0)?,
        environment: text(row, 1)?,
        deployment_id: text(row, 2)?,
        holder: text(row, 3)?,
        since: parsed(row, 4)?,
    })
}

async fn held(conn: &mut Conn, service: &str, environment: &str) -> Result<Option<DeployLock>> {
    let sql = format!("SELECT {LOCK_COLUMNS} FROM deploy_locks WHERE service = $1 AND environment = $2");
    conn.query_opt(&sql, &[&service, &environment]).await?.as_ref().map(lock_from_row).transpose()
}

/// Takes or gives back the lock of `after` (moved from `from` by `actor`), as the rule says.
pub(crate) async fn sync(conn: &mut Conn, from: Status, after: &Deployment, actor: &str) -> Result<()> {
    match lock::effect(from, after.status) {
        LockEffect::Keep => {}
        LockEffect::Acquire => {
            // The common case, a free target, costs one statement; a taken one is then read so
            // the rule can name its holder (or take back a stale row of this deployment).
            let free = lock::decide_acquire(None, after, actor)?;
            let inserted = conn
                .execute(
                    &format!(
                        "INSERT INTO deploy_locks ({LOCK_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (service, environment) DO NOTHING"
                    ),
                    &[&free.service, &free.environment, &free.deployment_id, &free.holder, &free.since.to_string()],
                )
                .await?;
            if inserted == 0 {
                let lock = lock::decide_acquire(held(conn, &after.service, &after.environment).await?, after, actor)?;
                conn.execute(
                    "UPDATE deploy_locks SET deployment_id = $3, holder = $4, since = $5 \
                     WHERE service = $1 AND environment = $2",
                    &[&lock.service, &lock.environment, &lock.deployment_id, &lock.holder, &lock.since.to_string()],
                )
                .await?;
            }
        }
        LockEffect::Release => {
            conn.execute(
                "DELETE FROM deploy_locks WHERE service = $1 AND environment = $2 AND deployment_id = $3",
                &[&after.service, &after.environment, &after.id],
            )
            .await?;
        }
    }
    Ok(())
}

/// Every lock held, by service then environment.
pub(crate) async fn locks(conn: &mut Conn) -> Result<Vec<DeployLock>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {LOCK_COLUMNS} FROM deploy_locks ORDER BY service COLLATE \"C\", environment COLLATE \"C\""
            ),
            &[],
        )
        .await?;
    all(&rows, lock_from_row)
}

/// Frees the lock of `service` in `environment`, recording `lock_released` on its holder.
pub(crate) async fn release(
    ctx: &mut WriteCtx,
    service: String,
    environment: String,
    actor: String,
    reason: String,
) -> Result<DeployLock> {
    let Some(lock) = held(&mut ctx.conn, &service, &environment).await? else {
        return Err(Error::LockNotFound { service, environment }.into());
    };
    let holder = get_deployment(&mut ctx.conn, &lock.deployment_id).await?;
    let draft = rules::decide_record(&holder, lock::release_event(&lock, &actor, &reason), Timestamp::now())?;
    ctx.append_event(draft).await?;
    ctx.conn
        .execute("DELETE FROM deploy_locks WHERE service = $1 AND environment = $2", &[&service, &environment])
        .await?;
    Ok(lock)
}
