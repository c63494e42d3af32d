//! Pipelines in SQLite: one per service, the promotion-order rule a create checks in its
//! transaction, and the newest deployment of a version in a stage.

use loco_types::Error;
use loco_types::model::{Deployment, Timestamp};
use loco_types::pipeline::{self, Pipeline};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, json, json_column};
use super::writer::WriteCtx;
use crate::error::Result;

/// Sets a pipeline by hand: from then on no manifest orders the service's creates.
pub(crate) fn put(ctx: &mut WriteCtx<'_>, pipeline: Pipeline, by: &str) -> Result<Pipeline> {
    write(ctx, pipeline, by, None)
}

/// Sets the pipeline of manifest version `version`, which creates then record.
pub(crate) fn put_from_manifest(
    ctx: &mut WriteCtx<'_>,
    pipeline: Pipeline,
    by: &str,
    version: u32,
) -> Result<Pipeline> {
    write(ctx, pipeline, by, Some(version))
}

fn write(ctx: &mut WriteCtx<'_>, pipeline: Pipeline, by: &str, manifest_version: Option<u32>) -> Result<Pipeline> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO pipelines (service, definition, updated_by, updated_at, manifest_version) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (service) DO UPDATE SET definition = ?2, updated_by = ?3, \
             updated_at = ?4, manifest_version = ?5",
        )?
        .execute(params![pipeline.service, json(&pipeline)?, by, Timestamp::now().to_string(), manifest_version])?;
    Ok(pipeline)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Pipeline>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM pipelines ORDER BY service")?
        .query_map([], |row| json_column::<Pipeline>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

pub(crate) fn remove(ctx: &mut WriteCtx<'_>, service: &str) -> Result<()> {
    let removed = ctx.conn.prepare_cached("DELETE FROM pipelines WHERE service = ?1")?.execute(params![service])?;
    if removed == 0 {
        return Err(Error::PipelineNotFound { service: service.to_owned() }.into());
    }
    Ok(())
}

/// The pipeline of `service`, if it has one.
pub(crate) fn of(conn: &Connection, service: &str) -> Result<Option<Pipeline>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM pipelines WHERE service = ?1")?
        .query_row(params![service], |row| json_column::<Pipeline>(row, 0))
        .optional()?
        .flatten())
}

/// The promotion-order rule for a new deployment of `version` of `service` to `environment`:
/// refused unless the version has succeeded in the stage before, when the pipeline asks for it.
/// Returns the version of the manifest that set the pipeline, if one did.
pub(crate) fn check_order(conn: &Connection, service: &str, environment: &str, version: &str) -> Result<Option<u32>> {
    let found = conn
        .prepare_cached("SELECT definition, manifest_version FROM pipelines WHERE service = ?1")?
        .query_row(params![service], |row| Ok((json_column::<Pipeline>(row, 0)?, row.get::<_, Option<u32>>(1)?)))
        .optional()?;
    let Some((Some(pipeline), manifest_version)) = found else {
        return Ok(None);
    };
    let Some(previous) = pipeline.prerequisite(environment) else {
        return Ok(manifest_version);
    };
    let succeeded = conn
        .prepare_cached(
            "SELECT 1 FROM deployments WHERE service = ?1 AND environment = ?2 AND version = ?3 \
             AND status = 'succeeded' LIMIT 1",
        )?
        .query_row(params![service, previous, version], |_| Ok(()))
        .optional()?
        .is_some();
    if succeeded {
        Ok(manifest_version)
    } else {
        Err(pipeline::violation(&pipeline, environment, version, previous).into())
    }
}

/// The newest deployment of `version` of `service` in `environment`.
pub(crate) fn newest(conn: &Connection, service: &str, environment: &str, version: &str) -> Result<Option<Deployment>> {
    let sql = format!(
        "SELECT {} FROM deployments WHERE service = ?1 AND environment = ?2 AND version = ?3 ORDER BY seq DESC LIMIT 1",
        rows::DEPLOYMENT_COLUMNS
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_row(params![service, environment, version], rows::deployment_from_row)
        .optional()?;
    Ok(found.map(|(_, d)| d))
}
