//! Deployment writes in PostgreSQL: creating one (with its idempotency key), applying a lifecycle
//! action, and recording an event that changes nothing else.

use loco_types::gate::{self, ApprovalStep};
use loco_types::lifecycle::{Action, ActionInput};
use loco_types::model::{Deployment, Event, NewDeployment, Timestamp};
use loco_types::rules::{self, CreateDecision, DeploymentChange, KeyedDeployment};

use super::error::Result;
use super::pool::Conn;
use super::rows::{DEPLOYMENT_COLUMNS, deployment_from_row, get_deployment, json};
use super::writer::WriteCtx;
use crate::{Applied, Created, NewEvent, OPEN_STATUS_SQL};

/// The deployment an idempotency key created, with the hash of its request.
async fn keyed_deployment(conn: &mut Conn, key: &str) -> Result<Option<KeyedDeployment>> {
    let Some(row) =
        conn.query_opt("SELECT id, request_hash FROM deployments WHERE idempotency_key = $1", &[&key]).await?
    else {
        return Ok(None);
    };
    let (id, request_hash): (String, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
    Ok(Some(KeyedDeployment { deployment: get_deployment(conn, &id).await?, request_hash }))
}

/// The open deployment (see [`rules::OPEN_STATUSES`]) of the target, version and commit `new`
/// names, if any.
async fn open_with_commit(conn: &mut Conn, new: &NewDeployment) -> Result<Option<Deployment>> {
    let Some((service, environment, version, commit)) = rules::commit_target(new) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE service = $1 AND environment = $2 AND version = $3 \
         AND commit_id = $4 AND {OPEN_STATUS_SQL}"
    );
    let row = conn.query_opt(&sql, &[&service, &environment, &version, &commit]).await?;
    Ok(row.map(|row| deployment_from_row(&row)).transpose()?.map(|(_, d)| d))
}

pub(crate) async fn create_in_tx(
    ctx: &mut WriteCtx,
    new: NewDeployment,
    key: Option<String>,
    promotion: Option<NewEvent>,
) -> Result<Created> {
    let existing = match key.as_deref() {
        Some(k) => keyed_deployment(&mut ctx.conn, k).await?,
        None => None,
    };
    let open = open_with_commit(&mut ctx.conn, &new).await?;
    let now = Timestamp::now();
    match rules::decide_create(new, key, existing, open, now)? {
        CreateDecision::Replay(deployment) => Ok(Created { deployment, replayed: true }),
        CreateDecision::Insert { change, idempotency_key, request_hash } => {
            let d = &change.deployment;
            let manifest_version =
                super::pipelines::check_order(&mut ctx.conn, &d.service, &d.environment, &d.version).await?;
            ctx.conn
                .execute(
                    "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, \
                     risk, status, created_at, updated_at, idempotency_key, request_hash, commit_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    &[
                        &d.id,
                        &d.service,
                        &d.environment,
                        &d.version,
                        &d.requester,
                        &json(&d.work_refs)?,
                        &d.rollback_plan,
                        &d.risk,
                        &d.status.as_str(),
                        &d.created_at.to_string(),
                        &d.updated_at.to_string(),
                        &idempotency_key,
                        &request_hash,
                        &d.commit,
                    ],
                )
                .await?;
            let mut created = change.event;
            if let Some(version) = manifest_version {
                created.record_manifest_version(version);
            }
            ctx.append_event(created).await?;
            if let Some(promotion) = promotion {
                ctx.append_event(rules::decide_record(&change.deployment, promotion, now)?).await?;
            }
            Ok(Created { deployment: change.deployment, replayed: false })
        }
    }
}

/// Writes the columns a lifecycle action changes.
pub(crate) async fn update_deployment_row(conn: &mut Conn, d: &Deployment) -> Result<()> {
    conn.execute(
        "UPDATE deployments SET status = $1, updated_at = $2, reviewed_by = $3, reviewed_at = $4 WHERE id = $5",
        &[&d.status.as_str(), &d.updated_at.to_string(), &d.reviewed_by, &d.reviewed_at.map(|t| t.to_string()), &d.id],
    )
    .await?;
    Ok(())
}

/// Writes a deployment row changed by a rule, its event, and what it does to the deploy lock.
pub(crate) async fn persist_change(ctx: &mut WriteCtx, change: DeploymentChange) -> Result<Deployment> {
    if let Some(from) = change.event.from_status {
        super::locks::sync(&mut ctx.conn, from, &change.deployment, &change.event.actor).await?;
    }
    update_deployment_row(&mut ctx.conn, &change.deployment).await?;
    ctx.append_event(change.event).await?;
    Ok(change.deployment)
}

pub(crate) async fn apply_in_tx(
    ctx: &mut WriteCtx,
    id: String,
    action: Action,
    input: ActionInput,
    lead_events: Vec<NewEvent>,
) -> Result<Applied> {
    let current = get_deployment(&mut ctx.conn, &id).await?;
    let rollout_state = super::rollouts::rollout_state(&mut ctx.conn, &id).await?;
    let now = Timestamp::now();
    let gate = if action.is_review() {
        super::gates::guarding(&mut ctx.conn, &current.service, &current.environment).await?
    } else {
        None
    };
    let prior = if gate.is_some() { super::gates::approvals(&mut ctx.conn, &id).await? } else { Vec::new() };
    let change = match gate::decide(&current, rollout_state, gate.as_ref(), &prior, action, &input, now)? {
        ApprovalStep::Transition(change) => *change,
        ApprovalStep::Granted(approval) => {
            ctx.append_event(approval).await?;
            return Ok(Applied { deployment: current.clone(), from: current.status, since: current.updated_at });
        }
    };
    for event in lead_events {
        ctx.append_event(rules::decide_record(&current, event, now)?).await?;
    }
    let deployment = persist_change(ctx, change).await?;
    Ok(Applied { deployment, from: current.status, since: current.updated_at })
}

pub(crate) async fn record_in_tx(ctx: &mut WriteCtx, id: String, event: NewEvent) -> Result<Event> {
    let deployment = get_deployment(&mut ctx.conn, &id).await?;
    let draft = rules::decide_record(&deployment, event, Timestamp::now())?;
    ctx.append_event(draft).await
}
