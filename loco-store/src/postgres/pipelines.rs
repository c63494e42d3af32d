//! Pipelines in PostgreSQL: one per service, the promotion-order rule a create checks in its
//! transaction, and the newest deployment of a version in a stage.

use loco_types::Error;
use loco_types::model::{Deployment, Timestamp};
use loco_types::pipeline::{self, Pipeline};

use super::error::Result;
use super::pool::Conn;
use super::rows::{DEPLOYMENT_COLUMNS, all as all_rows, deployment_from_row, json, json_col};
use super::writer::WriteCtx;

/// Sets a pipeline by hand: from then on no manifest orders the service's creates.
pub(crate) async fn put(ctx: &mut WriteCtx, pipeline: Pipeline, by: String) -> Result<Pipeline> {
    write(ctx, pipeline, by, None).await
}

/// Sets the pipeline of manifest version `version`, which creates then record.
pub(crate) async fn put_from_manifest(
    ctx: &mut WriteCtx,
    pipeline: Pipeline,
    by: String,
    version: u32,
) -> Result<Pipeline> {
    write(ctx, pipeline, by, Some(i32::try_from(version).map_err(Error::storage)?)).await
}

async fn write(ctx: &mut WriteCtx, pipeline: Pipeline, by: String, manifest_version: Option<i32>) -> Result<Pipeline> {
    ctx.conn
        .execute(
            "INSERT INTO pipelines (service, definition, updated_by, updated_at, manifest_version) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service) DO UPDATE SET definition = $2, updated_by = $3, \
             updated_at = $4, manifest_version = $5",
            &[&pipeline.service, &json(&pipeline)?, &by, &Timestamp::now().to_string(), &manifest_version],
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

/// The pipeline of `service`, if it has one.
pub(crate) async fn of(conn: &mut Conn, service: &str) -> Result<Option<Pipeline>> {
    let rows = conn.query("SELECT definition FROM pipelines WHERE service = $1", &[&service]).await?;
    rows.first().map(|row| json_col(row, 0)).transpose()
}

/// The promotion-order rule for a new deployment of `version` of `service` to `environment`:
/// refused unless the version has succeeded in the stage before, when the pipeline asks for it.
/// Returns the version of the manifest that set the pipeline, if one did.
pub(crate) async fn check_order(
    conn: &mut Conn,
    service: &str,
    environment: &str,
    version: &str,
) -> Result<Option<u32>> {
    let rows = conn.query("SELECT definition, manifest_version FROM pipelines WHERE service = $1", &[&service]).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let pipeline: Pipeline = json_col(row, 0)?;
    let manifest_version = row.try_get::<_, Option<i32>>(1)?.and_then(|v| u32::try_from(v).ok());
    let Some(previous) = pipeline.prerequisite(environment) else {
        return Ok(manifest_version);
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
    Ok(manifest_version)
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
