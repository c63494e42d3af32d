//! Rollout persistence in PostgreSQL: beginning a rollout together with the `start` action,
//! applying rollout changes atomically with their events, the release history, and re-sealing the
//! secrets rollouts and releases hold.

use loco_types::Error;
use loco_types::model::{Deployment, Timestamp};
use loco_types::plan::{ReleaseSpec, RolloutPlan};
use loco_types::rollout::{Release, Rollout, RolloutState};
use loco_types::rules::{self, RolloutChanged};
use tokio_postgres::Row;

use super::deployments::{persist_change, update_deployment_row};
use super::error::Result;
use super::pool::Conn;
use super::rows::{all, get_deployment, json, json_col, json_opt, parsed, parsed_opt, text};
use super::writer::WriteCtx;
use crate::{BeginRollout, RolloutUpdate};

const ROLLOUT_COLUMNS: &str = "deployment_id, service, environment, platform, plan, state, progress, previous, failure, \
     actor, owner, heartbeat_at, started_at, updated_at, finished_at, lease";

/// The states [`RolloutState::is_active`] accepts, as an SQL list (the unique index uses the same).
const ACTIVE_STATES: &str = "('running', 'paused', 'rolling_back')";

const RELEASE_COLUMNS: &str = "version, deployment_id, platform, spec, instances, activated_at, retired_at";

fn rollout_from_row(row: &Row) -> Result<Rollout> {
    Ok(Rollout {
        deployment_id: text(row, 0)?,
        service: text(row, 1)?,
        environment: text(row, 2)?,
        platform: text(row, 3)?,
        plan: json_col(row, 4)?,
        state: parsed(row, 5)?,
        progress: json_col(row, 6)?,
        previous: json_opt(row, 7)?,
        failure: json_opt(row, 8)?,
        actor: text(row, 9)?,
        owner: text(row, 10)?,
        heartbeat_at: parsed(row, 11)?,
        started_at: parsed(row, 12)?,
        updated_at: parsed(row, 13)?,
        finished_at: parsed_opt(row, 14)?,
        lease: row.try_get::<_, i64>(15)?.try_into().unwrap_or_default(),
    })
}

fn release_from_row(row: &Row) -> Result<Release> {
    Ok(Release {
        version: text(row, 0)?,
        deployment_id: text(row, 1)?,
        platform: text(row, 2)?,
        spec: json_col(row, 3)?,
        instances: json_col(row, 4)?,
        activated_at: parsed(row, 5)?,
        retired_at: parsed_opt(row, 6)?,
    })
}

/// The rollout of one deployment, or `not_found`.
pub(crate) async fn get_rollout(conn: &mut Conn, id: &str) -> Result<Rollout> {
    let sql = format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE deployment_id = $1");
    match conn.query_opt(&sql, &[&id]).await? {
        Some(row) => rollout_from_row(&row),
        None => Err(Error::RolloutNotFound { id: id.to_owned() }.into()),
    }
}

/// Every rollout (or the active ones), oldest first.
pub(crate) async fn list_rollouts(conn: &mut Conn, active_only: bool) -> Result<Vec<Rollout>> {
    let filter = if active_only { format!("WHERE state IN {ACTIVE_STATES}") } else { String::new() };
    let sql =
        format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts {filter} ORDER BY started_at, deployment_id COLLATE \"C\"");
    all(&conn.query(&sql, &[]).await?, rollout_from_row)
}

/// Release history of a target, newest first.
pub(crate) async fn list_releases(
    conn: &mut Conn,
    service: &str,
    environment: &str,
    limit: u32,
) -> Result<Vec<Release>> {
    let sql = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases WHERE service = $1 AND environment = $2 ORDER BY seq DESC LIMIT $3"
    );
    all(&conn.query(&sql, &[&service, &environment, &i64::from(limit)]).await?, release_from_row)
}

async fn current_release(conn: &mut Conn, service: &str, environment: &str) -> Result<Option<Release>> {
    let sql = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases WHERE service = $1 AND environment = $2 AND retired_at IS NULL \
         ORDER BY seq DESC LIMIT 1"
    );
    conn.query_opt(&sql, &[&service, &environment]).await?.as_ref().map(release_from_row).transpose()
}

async fn active_rollout_on(conn: &mut Conn, service: &str, environment: &str) -> Result<Option<String>> {
    let sql = format!(
        "SELECT deployment_id FROM rollouts WHERE service = $1 AND environment = $2 AND state IN {ACTIVE_STATES}"
    );
    conn.query_opt(&sql, &[&service, &environment]).await?.as_ref().map(|row| text(row, 0)).transpose()
}

/// The state of a deployment's rollout, if it has one.
pub(crate) async fn rollout_state(conn: &mut Conn, id: &str) -> Result<Option<RolloutState>> {
    let row = conn.query_opt("SELECT state FROM rollouts WHERE deployment_id = $1", &[&id]).await?;
    row.as_ref().map(|row| parsed(row, 0)).transpose()
}

pub(crate) async fn begin_in_tx(ctx: &mut WriteCtx, begin: BeginRollout) -> Result<(Deployment, Rollout)> {
    let deployment = get_deployment(&mut ctx.conn, &begin.deployment_id).await?;
    let active = active_rollout_on(&mut ctx.conn, &deployment.service, &deployment.environment).await?;
    let current = current_release(&mut ctx.conn, &deployment.service, &deployment.environment).await?;
    let decision = rules::decide_begin_rollout(&deployment, active, current, begin, Timestamp::now())?;
    for event in decision.lead_events {
        ctx.append_event(event).await?;
    }
    let deployment = persist_change(ctx, decision.start).await?;
    let rollout = decision.rollout;
    let sql = format!(
        "INSERT INTO rollouts ({ROLLOUT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $11, $11, NULL, 0)"
    );
    ctx.conn
        .execute(
            &sql,
            &[
                &rollout.deployment_id,
                &rollout.service,
                &rollout.environment,
                &rollout.platform,
                &json(&rollout.plan)?,
                &rollout.state.as_str(),
                &json(&rollout.progress)?,
                &rollout.previous.as_ref().map(json).transpose()?,
                &rollout.actor,
                &rollout.owner,
                &rollout.started_at.to_string(),
            ],
        )
        .await?;
    Ok((deployment, rollout))
}

pub(crate) async fn update_in_tx(ctx: &mut WriteCtx, id: String, update: RolloutUpdate) -> Result<Rollout> {
    let current = get_rollout(&mut ctx.conn, &id).await?;
    let deployment = if update.needs_deployment() { Some(get_deployment(&mut ctx.conn, &id).await?) } else { None };
    let active = if update.needs_active_on_target(&current) {
        active_rollout_on(&mut ctx.conn, &current.service, &current.environment).await?
    } else {
        None
    };
    let before = deployment.as_ref().map(|d| d.status);
    let actor = current.actor.clone();
    let RolloutChanged { rollout, deployment, events, activate, keep_releases, serving_instances } =
        rules::decide_rollout_update(current, deployment.as_ref(), active, update, Timestamp::now())?;
    for event in events {
        ctx.append_event(event).await?;
    }
    if let Some(d) = &deployment {
        if let Some(from) = before {
            super::locks::sync(&mut ctx.conn, from, d, &actor).await?;
        }
        update_deployment_row(&mut ctx.conn, d).await?;
    }
    ctx.conn
        .execute(
            "UPDATE rollouts SET state = $1, progress = $2, failure = $3, owner = $4, heartbeat_at = $5, \
             updated_at = $6, finished_at = $7, lease = $9, previous = $10 WHERE deployment_id = $8",
            &[
                &rollout.state.as_str(),
                &json(&rollout.progress)?,
                &rollout.failure.as_ref().map(json).transpose()?,
                &rollout.owner,
                &rollout.heartbeat_at.to_string(),
                &rollout.updated_at.to_string(),
                &rollout.finished_at.map(|t| t.to_string()),
                &id,
                &i64::try_from(rollout.lease).unwrap_or(i64::MAX),
                &rollout.previous.as_ref().map(json).transpose()?,
            ],
        )
        .await?;
    let target: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&rollout.service, &rollout.environment];
    if let Some(instances) = serving_instances {
        ctx.conn
            .execute(
                "UPDATE releases SET instances = $1 WHERE service = $2 AND environment = $3 AND deployment_id = $4 \
                 AND retired_at IS NULL",
                &[&json(&instances)?, target[0], target[1], &rollout.deployment_id],
            )
            .await?;
    }
    if let Some(release) = activate {
        let at = release.activated_at.to_string();
        ctx.conn
            .execute(
                "UPDATE releases SET retired_at = $1 WHERE service = $2 AND environment = $3 AND retired_at IS NULL",
                &[&at, target[0], target[1]],
            )
            .await?;
        ctx.conn
            .execute(
                "INSERT INTO releases (service, environment, version, deployment_id, platform, spec, instances, \
                 activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    target[0],
                    target[1],
                    &release.version,
                    &release.deployment_id,
                    &release.platform,
                    &json(&release.spec)?,
                    &json(&release.instances)?,
                    &at,
                ],
            )
            .await?;
        if let Some(keep) = keep_releases {
            ctx.conn
                .execute(
                    "DELETE FROM releases WHERE service = $1 AND environment = $2 AND seq NOT IN \
                     (SELECT seq FROM releases WHERE service = $1 AND environment = $2 ORDER BY seq DESC LIMIT $3)",
                    &[target[0], target[1], &i64::from(keep.max(1))],
                )
                .await?;
        }
    }
    Ok(rollout)
}

/// Passes every secret value of every rollout plan, restore point and release spec through
/// `reseal`, rewriting the rows that changed; returns how many values changed.
pub(crate) async fn reseal(
    ctx: &mut WriteCtx,
    reseal: &(dyn Fn(&str) -> loco_types::Result<String> + Send + Sync),
) -> Result<u64> {
    let mut changed = 0;
    let rows = ctx.conn.query("SELECT deployment_id, plan, previous FROM rollouts", &[]).await?;
    let plans: Vec<(String, RolloutPlan, Option<Release>)> =
        all(&rows, |r| Ok((text(r, 0)?, json_col(r, 1)?, json_opt(r, 2)?)))?;
    for (id, mut plan, mut previous) in plans {
        let mut here = rules::reseal_spec(&mut plan.release, reseal)?;
        if let Some(previous) = &mut previous {
            here += rules::reseal_spec(&mut previous.spec, reseal)?;
        }
        if here > 0 {
            ctx.conn
                .execute(
                    "UPDATE rollouts SET plan = $1, previous = $2 WHERE deployment_id = $3",
                    &[&json(&plan)?, &previous.as_ref().map(json).transpose()?, &id],
                )
                .await?;
            changed += here;
        }
    }
    let rows = ctx.conn.query("SELECT seq, spec FROM releases", &[]).await?;
    let specs: Vec<(i64, ReleaseSpec)> = all(&rows, |r| Ok((r.try_get(0)?, json_col(r, 1)?)))?;
    for (seq, mut spec) in specs {
        let here = rules::reseal_spec(&mut spec, reseal)?;
        if here > 0 {
            ctx.conn.execute("UPDATE releases SET spec = $1 WHERE seq = $2", &[&json(&spec)?, &seq]).await?;
            changed += here;
        }
    }
    Ok(changed)
}
