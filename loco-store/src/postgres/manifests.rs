//! Manifests in PostgreSQL: every applied version of each service's `service.yaml`, and applying
//! one — its pipeline, gates and freeze windows, and the version row — in one transaction.

use loco_types::Error;
use loco_types::manifest::{self, Manifest, ManifestRecord};
use loco_types::model::Timestamp;
use tokio_postgres::Row;

use super::error::Result;
use super::pool::Conn;
use super::rows::{all, json, json_col, parsed, text};
use super::writer::WriteCtx;
use super::{access, gates, pipelines};

const COLUMNS: &str = "service, version, digest, text, definition, applied_by, applied_at";

fn version_of(row: &Row, idx: usize) -> Result<u32> {
    let version: i32 = row.try_get(idx)?;
    u32::try_from(version).map_err(|e| Error::storage(format!("manifest version {version}: {e}")).into())
}

fn record(row: &Row) -> Result<ManifestRecord> {
    Ok(ManifestRecord {
        service: text(row, 0)?,
        version: version_of(row, 1)?,
        digest: text(row, 2)?,
        text: text(row, 3)?,
        manifest: json_col(row, 4)?,
        applied_by: text(row, 5)?,
        applied_at: parsed(row, 6)?,
    })
}

/// Applies `manifest` (read from `text`) as the next version of its service, unless the newest
/// version has the same text: then that one is returned, and nothing is written. Returns the
/// version in force and whether this call wrote it.
pub(crate) async fn apply(
    ctx: &mut WriteCtx,
    text: String,
    manifest: Manifest,
    by: String,
) -> Result<(ManifestRecord, bool)> {
    let digest = manifest::digest(&text);
    // Applies to one service wait for each other here, so two cannot take the same version.
    ctx.conn.execute("SELECT pg_advisory_xact_lock(hashtext('loco.manifest:' || $1))", &[&manifest.service]).await?;
    let newest = of(&mut ctx.conn, &manifest.service, None).await?;
    if let Some(newest) = newest.as_ref().filter(|n| n.digest == digest) {
        return Ok((newest.clone(), false));
    }
    let manifest_gates = manifest.gates();
    gates::lock_groups(ctx, manifest_gates.iter().any(|g| !g.groups.is_empty())).await?;
    manifest.check_groups(&gates::all_groups(&mut ctx.conn).await?)?;
    let version = newest.as_ref().map_or(1, |n| n.version + 1);
    let (dropped_gates, dropped_windows) = manifest::dropped(&manifest, newest.as_ref().map(|n| &n.manifest));
    for environment in dropped_gates {
        gates::delete(&mut ctx.conn, &environment, Some(&manifest.service)).await?;
    }
    for legacy in manifest::legacy_gates(newest.as_ref().map(|n| &n.manifest)) {
        if gates::stored(&mut ctx.conn, &legacy.environment, None).await?.as_ref() == Some(&legacy) {
            gates::delete(&mut ctx.conn, &legacy.environment, None).await?;
        }
    }
    for name in dropped_windows {
        ctx.conn.execute("DELETE FROM freeze_windows WHERE name = $1", &[&name]).await?;
    }
    pipelines::put_from_manifest(ctx, manifest.pipeline(), by.clone(), version).await?;
    // check_groups above checked every gate's groups in this transaction, under the lock.
    for gate in manifest_gates {
        gates::write(ctx, gate, by.clone()).await?;
    }
    for window in &manifest.freeze_windows {
        access::put_freeze_window(ctx, window.clone(), by.clone()).await?;
    }
    let record = ManifestRecord {
        service: manifest.service.clone(),
        version,
        digest,
        text,
        manifest,
        applied_by: by,
        applied_at: Timestamp::now(),
    };
    let stored_version = i32::try_from(record.version).map_err(Error::storage)?;
    ctx.conn
        .execute(
            &format!("INSERT INTO manifests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                &record.service,
                &stored_version,
                &record.digest,
                &record.text,
                &json(&record.manifest)?,
                &record.applied_by,
                &record.applied_at.to_string(),
            ],
        )
        .await?;
    Ok((record, true))
}

/// Version `version` of the manifest of `service`, or its newest when `version` is `None`.
pub(crate) async fn of(conn: &mut Conn, service: &str, version: Option<u32>) -> Result<Option<ManifestRecord>> {
    let rows = match version {
        Some(version) => {
            let Ok(version) = i32::try_from(version) else { return Ok(None) };
            conn.query(
                &format!("SELECT {COLUMNS} FROM manifests WHERE service = $1 AND version = $2"),
                &[&service, &version],
            )
            .await?
        }
        None => {
            conn.query(
                &format!("SELECT {COLUMNS} FROM manifests WHERE service = $1 ORDER BY version DESC LIMIT 1"),
                &[&service],
            )
            .await?
        }
    };
    rows.first().map(record).transpose()
}

/// Every version of the manifest of `service`, newest first.
pub(crate) async fn history(conn: &mut Conn, service: &str) -> Result<Vec<ManifestRecord>> {
    let rows = conn
        .query(&format!("SELECT {COLUMNS} FROM manifests WHERE service = $1 ORDER BY version DESC"), &[&service])
        .await?;
    all(&rows, record)
}

/// The newest manifest of every service, by service.
pub(crate) async fn newest(conn: &mut Conn) -> Result<Vec<ManifestRecord>> {
    let rows = conn
        .query(&format!("SELECT DISTINCT ON (service) {COLUMNS} FROM manifests ORDER BY service, version DESC"), &[])
        .await?;
    all(&rows, record)
}
