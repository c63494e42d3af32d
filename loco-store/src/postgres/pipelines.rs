//! Pipelines in PostgreSQL: one per service, the promotion-order rule a create checks in its
//! transaction, and the newest deployment of a version in a stage.

use loco_types::Error;
use loco_types::model::{Deployment, Timestamp};
use loco_types::pipeline::{self, Pipeline};

use super::error::Result;
use super::pool::Conn;
use super::rows::{DEPLOYMENT_COLUMNS, all as all_rows, deployment_from_row, json, json_col};
use super::writer::WriteCtx;

pub(crate) async fn put(ctx: &mut WriteCtx, pipeline: Pipeline, by: String) -> Result<Pipeline> {
    ctx.conn
        .execute(
            "INSERT INTO pipelines (service, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (service) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&pipeline.service, &json(&pipeline)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(pipeline)
}

pub(crate) async fn all(conn: &mut Conn) -> Result<Vec<Pipeline>> {
    let rows = conn.query("SELECT definition FROM pipelines ORDER BY service", &[]).await?;
    all_rows(&rows, |row| json_col(row, 0))
}

pub(crate) async fn remove(ctx: &mut WriteCtx, service: String) -> Result<()> {
    let removed = ctx.conn.execute("DELETE FROM pipelines WHERE service = $1", &[&service]).await?;
    if removed == 0 {
        return Err(Error::PipelineNotFound { service }.into());
    }
    Ok(())
}

/// The promotion-order rule for a new deployment of `version` of `service` to `environment`:
/// refused unless the version has succeeded in the stage before, when the pipeline asks for it.
pub(crate) async fn check_order(conn: &mut Conn, service: &str, environment: &str, version: &str) -> Result<()> {
    let rows = conn.query("SELECT definition FROM pipelines WHERE service = $1", &[&service]).await?;
    let Some(row) = rows.first() else {
        return Ok(());
    };
    let pipeline: Pipeline = json_col(row, 0)?;
    let Some(previous) = pipeline.prerequisite(environment) else {
        return Ok(());
    };
    let succeeded = conn
        .query(
            "SELECT 1 FROM deployments WHERE service = $1 AND environment = $2 AND version = $3 \
             AND status = 'succeeded' LIMIT 1",
            &[&service, &previous, &version],
        )
        .await?;
    if succeeded.is_empty() {
        return Err(pipeline::violation(&pipeline, environment, version, previous).into());
    }
    Ok(())
}

/// The newest deployment of `version` of `service` in `environment`.
pub(crate) async fn newest(
    conn: &mut Conn,
    service: &str,
    environment: &str,
    version: &str,
) -> Result<Option<Deployment>> {
    let sql = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE service = $1 AND environment = $2 AND version = $3 \
         ORDER BY seq DESC LIMIT 1"
    );
    let rows = conn.query(&sql, &[&service, &environment, &version]).await?;
    rows.first().map(|row| deployment_from_row(row).map(|(_, d)| d)).transpose()
}
