//! Rollout persistence in SQLite: beginning a rollout together with the `start` action, applying
//! rollout changes atomically with their events, and the release history.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use crate::error::{Error, Result};
use crate::lifecycle::{self, Action, ActionInput};
use crate::model::{Deployment, Timestamp};
use crate::rollout::{Release, Rollout, RolloutProgress, RolloutState};
use crate::store::{BeginRollout, NewEvent, RolloutUpdate};

use super::rows::{get_deployment, json_column};
use super::writer::{EventDraft, WriteCtx};

const ROLLOUT_COLUMNS: &str = "deployment_id, service, environment, platform, plan, state, progress, previous, failure, \
     actor, owner, heartbeat_at, started_at, updated_at, finished_at";

/// The states [`RolloutState::is_active`] accepts, as an SQL list (the unique index uses the same).
const ACTIVE_STATES: &str = "('running', 'paused', 'rolling_back')";

const RELEASE_COLUMNS: &str = "version, deployment_id, platform, spec, instances, activated_at, retired_at";

impl FromSql for RolloutState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for RolloutState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::storage)
}

fn required<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    json_column(row, idx)?.ok_or(rusqlite::Error::InvalidColumnType(idx, "json".into(), rusqlite::types::Type::Null))
}

fn rollout_from_row(row: &Row<'_>) -> rusqlite::Result<Rollout> {
    Ok(Rollout {
        deployment_id: row.get(0)?,
        service: row.get(1)?,
        environment: row.get(2)?,
        platform: row.get(3)?,
        plan: required(row, 4)?,
        state: row.get(5)?,
        progress: required(row, 6)?,
        previous: json_column(row, 7)?,
        failure: json_column(row, 8)?,
        actor: row.get(9)?,
        owner: row.get(10)?,
        heartbeat_at: row.get(11)?,
        started_at: row.get(12)?,
        updated_at: row.get(13)?,
        finished_at: row.get(14)?,
    })
}

fn release_from_row(row: &Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        version: row.get(0)?,
        deployment_id: row.get(1)?,
        platform: row.get(2)?,
        spec: required(row, 3)?,
        instances: required(row, 4)?,
        activated_at: row.get(5)?,
        retired_at: row.get(6)?,
    })
}

/// The rollout of one deployment, or `not_found`.
pub(crate) fn get_rollout(conn: &Connection, id: &str) -> Result<Rollout> {
    conn.prepare_cached(&format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE deployment_id = ?1"))?
        .query_row(params![id], rollout_from_row)
        .optional()?
        .ok_or_else(|| Error::RolloutNotFound { id: id.to_owned() })
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

/// Refuses lifecycle actions from outside the orchestrator while the deployment's rollout is active.
pub(crate) fn ensure_no_active_rollout(conn: &Connection, id: &str) -> Result<()> {
    let state: Option<RolloutState> = conn
        .prepare_cached("SELECT state FROM rollouts WHERE deployment_id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    match state {
        Some(state) if state.is_active() => Err(Error::RolloutInProgress { id: id.to_owned() }),
        _ => Ok(()),
    }
}

pub(crate) fn begin_in_tx(ctx: &mut WriteCtx<'_>, begin: BeginRollout) -> Result<(Deployment, Rollout)> {
    let BeginRollout { deployment_id: id, mut plan, actor, owner } = begin;
    let deployment = get_deployment(ctx.conn, &id)?;
    lifecycle::transition(&id, deployment.status, &deployment.requester, Action::Start, &actor)?;
    if let Some(active) = active_rollout_on(ctx.conn, &deployment.service, &deployment.environment)? {
        return Err(Error::RolloutConflict {
            service: deployment.service.clone(),
            environment: deployment.environment.clone(),
            active,
        });
    }
    if plan.release.version.is_empty() {
        plan.release.version.clone_from(&deployment.version);
    }
    let previous = current_release(ctx.conn, &deployment.service, &deployment.environment)?;
    if previous.as_ref().is_some_and(|p| p.version == plan.release.version) {
        return Err(Error::invalid(
            "release.version",
            format!(
                "'{}' is the version already serving {}/{}; give the new release a distinct version label",
                plan.release.version, deployment.service, deployment.environment
            ),
        ));
    }
    let note = format!("rollout: {} on {}", plan.strategy.name(), plan.platform);
    let deployment = super::apply_in_tx(ctx, &id, Action::Start, &ActionInput::new(actor.clone()).with_note(note))?;
    let now = Timestamp::now();
    let rollout = Rollout {
        deployment_id: id.clone(),
        service: deployment.service.clone(),
        environment: deployment.environment.clone(),
        platform: plan.platform.clone(),
        plan,
        state: RolloutState::Running,
        progress: RolloutProgress::default(),
        previous,
        failure: None,
        actor,
        owner,
        heartbeat_at: now,
        started_at: now,
        updated_at: now,
        finished_at: None,
    };
    ctx.conn
        .prepare_cached(&format!(
            "INSERT INTO rollouts ({ROLLOUT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12, NULL)"
        ))?
        .execute(params![
            rollout.deployment_id,
            rollout.service,
            rollout.environment,
            rollout.platform,
            json(&rollout.plan)?,
            rollout.state,
            json(&rollout.progress)?,
            rollout.previous.as_ref().map(json).transpose()?,
            Option::<String>::None,
            rollout.actor,
            rollout.owner,
            now,
        ])?;
    Ok((deployment, rollout))
}

fn append_events(ctx: &mut WriteCtx<'_>, id: &str, events: Vec<NewEvent>, at: Timestamp) -> Result<()> {
    for event in events {
        ctx.append_event(&EventDraft {
            deployment_id: id,
            kind: event.kind,
            actor: &event.actor,
            note: event.note.as_deref(),
            from_status: None,
            to_status: None,
            at,
            data: event.data,
        })?;
    }
    Ok(())
}

pub(crate) fn update_in_tx(ctx: &mut WriteCtx<'_>, id: &str, update: RolloutUpdate) -> Result<Rollout> {
    let mut rollout = get_rollout(ctx.conn, id)?;
    if let Some(expected) = &update.expect_owner
        && &rollout.owner != expected
    {
        return Err(Error::RolloutConflict {
            service: rollout.service,
            environment: rollout.environment,
            active: rollout.deployment_id,
        });
    }
    if let Some(state) = update.state
        && state.is_active()
        && !rollout.state.is_active()
        && let Some(active) = active_rollout_on(ctx.conn, &rollout.service, &rollout.environment)?
    {
        return Err(Error::RolloutConflict { service: rollout.service, environment: rollout.environment, active });
    }
    let now = Timestamp::now();
    append_events(ctx, id, update.lead_events, now)?;
    if let Some((action, input)) = &update.action {
        super::apply_in_tx(ctx, id, *action, input)?;
    }
    append_events(ctx, id, update.events, now)?;
    if let Some(progress) = update.progress {
        rollout.progress = progress;
    }
    if let Some(state) = update.state {
        rollout.state = state;
        if !state.is_active() {
            rollout.finished_at = Some(now);
        }
    }
    if let Some(failure) = update.failure {
        rollout.failure = Some(failure);
    }
    if let Some(owner) = update.owner {
        rollout.owner = owner;
    }
    rollout.updated_at = now;
    rollout.heartbeat_at = now;
    ctx.conn
        .prepare_cached(
            "UPDATE rollouts SET state = ?1, progress = ?2, failure = ?3, owner = ?4, heartbeat_at = ?5, \
             updated_at = ?5, finished_at = ?6 WHERE deployment_id = ?7",
        )?
        .execute(params![
            rollout.state,
            json(&rollout.progress)?,
            rollout.failure.as_ref().map(json).transpose()?,
            rollout.owner,
            now,
            rollout.finished_at,
            id,
        ])?;
    if let Some(release) = update.activate {
        ctx.conn
            .prepare_cached(
                "UPDATE releases SET retired_at = ?1 WHERE service = ?2 AND environment = ?3 AND retired_at IS NULL",
            )?
            .execute(params![now, rollout.service, rollout.environment])?;
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
                now,
            ])?;
    }
    Ok(rollout)
}
