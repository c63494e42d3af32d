//! Rollout persistence in SQLite: beginning a rollout together with the `start` action, applying
//! rollout changes atomically with their events, and the release history.

use loco_types::Error;
use loco_types::model::{Deployment, Timestamp};
use loco_types::plan::{ReleaseSpec, RolloutPlan};
use loco_types::rollout::{Release, Rollout, RolloutState};
use loco_types::rules::{self, RolloutChanged};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::Result;
use crate::{BeginRollout, RolloutUpdate};

use super::rows::{get_deployment, json, json_column, json_required, parsed, parsed_opt};
use super::writer::WriteCtx;

const ROLLOUT_COLUMNS: &str = "deployment_id, service, environment, platform, plan, state, progress, previous, failure, \
     actor, owner, heartbeat_at, started_at, updated_at, finished_at, lease";

/// The states [`RolloutState::is_active`] accepts, as an SQL list (the unique index uses the same).
const ACTIVE_STATES: &str = "('running', 'paused', 'rolling_back')";

const RELEASE_COLUMNS: &str = "version, deployment_id, platform, spec, instances, activated_at, retired_at";

fn rollout_from_row(row: &Row<'_>) -> rusqlite::Result<Rollout> {
    Ok(Rollout {
        deployment_id: row.get(0)?,
        service: row.get(1)?,
        environment: row.get(2)?,
        platform: row.get(3)?,
        plan: json_required(row, 4)?,
        state: parsed(row, 5)?,
        progress: json_required(row, 6)?,
        previous: json_column(row, 7)?,
        failure: json_column(row, 8)?,
        actor: row.get(9)?,
        owner: row.get(10)?,
        heartbeat_at: parsed(row, 11)?,
        started_at: parsed(row, 12)?,
        updated_at: parsed(row, 13)?,
        finished_at: parsed_opt(row, 14)?,
        lease: row.get::<_, i64>(15)?.try_into().unwrap_or_default(),
    })
}

fn release_from_row(row: &Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        version: row.get(0)?,
        deployment_id: row.get(1)?,
        platform: row.get(2)?,
        spec: json_required(row, 3)?,
        instances: json_required(row, 4)?,
        activated_at: parsed(row, 5)?,
        retired_at: parsed_opt(row, 6)?,
    })
}

/// The rollout of one deployment, or `not_found`.
pub(crate) fn get_rollout(conn: &Connection, id: &str) -> Result<Rollout> {
    conn.prepare_cached(&format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE deployment_id = ?1"))?
        .query_row(params![id], rollout_from_row)
        .optional()?
        .ok_or_else(|| Error::RolloutNotFound { id: id.to_owned() }.into())
}

/// Every rollout (or the active ones), oldest first.
pub(crate) fn list_rollouts(conn: &Connection, active_only: bool) -> Result<Vec<Rollout>> {
    let filter = if active_only { format!("WHERE state IN {ACTIVE_STATES}") } else { String::new() };
    let sql = format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts {filter} ORDER BY started_at, deployment_id");
    Ok(conn.prepare_cached(&sql)?.query_map([], rollout_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Release history of a target, newest first.
pub(crate) fn list_releases(conn: &Connection, service: &str, environment: &str, limit: u32) -> Result<Vec<Release>> {
    let sql = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases WHERE service = ?1 AND environment = ?2 ORDER BY seq DESC LIMIT ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![service, environment, limit], release_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

fn current_release(conn: &Connection, service: &str, environment: &str) -> Result<Option<Release>> {
    let sql = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases WHERE service = ?1 AND environment = ?2 AND retired_at IS NULL \
         ORDER BY seq DESC LIMIT 1"
    );
    Ok(conn.prepare_cached(&sql)?.query_row(params![service, environment], release_from_row).optional()?)
}

fn active_rollout_on(conn: &Connection, service: &str, environment: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT deployment_id FROM rollouts WHERE service = ?1 AND environment = ?2 AND state IN {ACTIVE_STATES}"
        ))?
        .query_row(params![service, environment], |r| r.get(0))
        .optional()?)
}

/// The state of a deployment's rollout, if it has one.
pub(crate) fn rollout_state(conn: &Connection, id: &str) -> Result<Option<RolloutState>> {
    Ok(conn
        .prepare_cached("SELECT state FROM rollouts WHERE deployment_id = ?1")?
        .query_row(params![id], |r| parsed(r, 0))
        .optional()?)
}

pub(crate) fn begin_in_tx(ctx: &mut WriteCtx<'_>, begin: BeginRollout) -> Result<(Deployment, Rollout)> {
    let deployment = get_deployment(ctx.conn, &begin.deployment_id)?;
    let active = active_rollout_on(ctx.conn, &deployment.service, &deployment.environment)?;
    let current = current_release(ctx.conn, &deployment.service, &deployment.environment)?;
    let decision = rules::decide_begin_rollout(&deployment, active, current, begin, Timestamp::now())?;
    for event in decision.lead_events {
        ctx.append_event(event)?;
    }
    let deployment = super::persist_change(ctx, decision.start)?;
    let rollout = decision.rollout;
    ctx.conn
        .prepare_cached(&format!(
            "INSERT INTO rollouts ({ROLLOUT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12, NULL, 0)"
        ))?
        .execute(params![
            rollout.deployment_id,
            rollout.service,
            rollout.environment,
            rollout.platform,
            json(&rollout.plan)?,
            rollout.state.as_str(),
            json(&rollout.progress)?,
            rollout.previous.as_ref().map(json).transpose()?,
            Option::<String>::None,
            rollout.actor,
            rollout.owner,
            rollout.started_at.to_string(),
        ])?;
    Ok((deployment, rollout))
}

pub(crate) fn update_in_tx(ctx: &mut WriteCtx<'_>, id: &str, update: RolloutUpdate) -> Result<Rollout> {
    let current = get_rollout(ctx.conn, id)?;
    let deployment = if update.needs_deployment() { Some(get_deployment(ctx.conn, id)?) } else { None };
    let active = if update.needs_active_on_target(&current) {
        active_rollout_on(ctx.conn, &current.service, &current.environment)?
    } else {
        None
    };
    let before = deployment.as_ref().map(|d| d.status);
    let actor = current.actor.clone();
    let RolloutChanged { rollout, deployment, events, activate, keep_releases, serving_instances } =
        rules::decide_rollout_update(current, deployment.as_ref(), active, update, Timestamp::now())?;
    for event in events {
        ctx.append_event(event)?;
    }
    if let Some(d) = &deployment {
        if let Some(from) = before {
            super::locks::sync(ctx.conn, from, d, &actor)?;
        }
        super::update_deployment_row(ctx.conn, d)?;
    }
    ctx.conn
        .prepare_cached(
            "UPDATE rollouts SET state = ?1, progress = ?2, failure = ?3, owner = ?4, heartbeat_at = ?5, \
             updated_at = ?6, finished_at = ?7, lease = ?9, previous = ?10 WHERE deployment_id = ?8",
        )?
        .execute(params![
            rollout.state.as_str(),
            json(&rollout.progress)?,
            rollout.failure.as_ref().map(json).transpose()?,
            rollout.owner,
            rollout.heartbeat_at.to_string(),
            rollout.updated_at.to_string(),
            rollout.finished_at.map(|t| t.to_string()),
            id,
            i64::try_from(rollout.lease).unwrap_or(i64::MAX),
            rollout.previous.as_ref().map(json).transpose()?,
        ])?;
    if let Some(instances) = serving_instances {
        ctx.conn
            .prepare_cached(
                "UPDATE releases SET instances = ?1 WHERE service = ?2 AND environment = ?3 AND deployment_id = ?4 \
                 AND retired_at IS NULL",
            )?
            .execute(params![json(&instances)?, rollout.service, rollout.environment, rollout.deployment_id])?;
    }
    if let Some(release) = activate {
        let at = release.activated_at.to_string();
        ctx.conn
            .prepare_cached(
                "UPDATE releases SET retired_at = ?1 WHERE service = ?2 AND environment = ?3 AND retired_at IS NULL",
            )?
            .execute(params![at, rollout.service, rollout.environment])?;
        ctx.conn
            .prepare_cached(
                "INSERT INTO releases (service, environment, version, deployment_id, platform, spec, instances, \
                 activated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                rollout.service,
                rollout.environment,
                release.version,
                release.deployment_id,
                release.platform,
                json(&release.spec)?,
                json(&release.instances)?,
                at,
            ])?;
        if let Some(keep) = keep_releases {
            ctx.conn
                .prepare_cached(
                    "DELETE FROM releases WHERE service = ?1 AND environment = ?2 AND seq NOT IN \
                     (SELECT seq FROM releases WHERE service = ?1 AND environment = ?2 ORDER BY seq DESC LIMIT ?3)",
                )?
                .execute(params![rollout.service, rollout.environment, keep.max(1)])?;
        }
    }
    Ok(rollout)
}

/// Passes every secret value of every rollout plan, restore point and release spec through
/// `reseal`, rewriting the rows that changed; returns how many values changed.
pub(crate) fn reseal(ctx: &mut WriteCtx<'_>, reseal: &dyn Fn(&str) -> loco_types::Result<String>) -> Result<u64> {
    let mut changed = 0;
    let rows: Vec<(String, RolloutPlan, Option<Release>)> = ctx
        .conn
        .prepare_cached("SELECT deployment_id, plan, previous FROM rollouts")?
        .query_map([], |r| Ok((r.get(0)?, json_required(r, 1)?, json_column(r, 2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, mut plan, mut previous) in rows {
        let mut here = rules::reseal_spec(&mut plan.release, reseal)?;
        if let Some(previous) = &mut previous {
            here += rules::reseal_spec(&mut previous.spec, reseal)?;
        }
        if here > 0 {
            ctx.conn
                .prepare_cached("UPDATE rollouts SET plan = ?1, previous = ?2 WHERE deployment_id = ?3")?
                .execute(params![json(&plan)?, previous.as_ref().map(json).transpose()?, id])?;
            changed += here;
        }
    }
    let specs: Vec<(i64, ReleaseSpec)> = ctx
        .conn
        .prepare_cached("SELECT seq, spec FROM releases")?
        .query_map([], |r| Ok((r.get(0)?, json_required(r, 1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (seq, mut spec) in specs {
        let here = rules::reseal_spec(&mut spec, reseal)?;
        if here > 0 {
            ctx.conn
                .prepare_cached("UPDATE releases SET spec = ?1 WHERE seq = ?2")?
                .execute(params![json(&spec)?, seq])?;
            changed += here;
        }
    }
    Ok(changed)
}
