//! Manifests in SQLite: every applied version of each service's `service.yaml`, and applying one
//! — its pipeline, gates and freeze windows, and the version row — in one transaction.

use loco_types::manifest::{self, Manifest, ManifestRecord};
use loco_types::model::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{json, json_required, parsed};
use super::writer::WriteCtx;
use super::{access, gates, pipelines};
use crate::error::Result;

const COLUMNS: &str = "service, version, digest, text, definition, applied_by, applied_at";

fn record(row: &Row<'_>) -> rusqlite::Result<ManifestRecord> {
    Ok(ManifestRecord {
        service: row.get(0)?,
        version: row.get(1)?,
        digest: row.get(2)?,
        text: row.get(3)?,
        manifest: json_required(row, 4)?,
        applied_by: row.get(5)?,
        applied_at: parsed(row, 6)?,
    })
}

/// Applies `manifest` (read from `text`) as the next version of its service, unless the newest
/// version has the same text: then that one is returned, and nothing is written. Returns the
/// version in force and whether this call wrote it.
pub(crate) fn apply(
    ctx: &mut WriteCtx<'_>,
    text: &str,
    manifest: Manifest,
    by: &str,
) -> Result<(ManifestRecord, bool)> {
    let digest = manifest::digest(text);
    let newest = of(ctx.conn, &manifest.service, None)?;
    if let Some(newest) = newest.as_ref().filter(|n| n.digest == digest) {
        return Ok((newest.clone(), false));
    }
    manifest.check_groups(&gates::all_groups(ctx.conn)?)?;
    let version = newest.as_ref().map_or(1, |n| n.version + 1);
    let (dropped_gates, dropped_windows) = manifest::dropped(&manifest, newest.as_ref().map(|n| &n.manifest));
    for environment in dropped_gates {
        gates::delete(ctx.conn, &environment, Some(&manifest.service))?;
    }
    for legacy in manifest::legacy_gates(newest.as_ref().map(|n| &n.manifest)) {
        if gates::stored(ctx.conn, &legacy.environment, None)?.as_ref() == Some(&legacy) {
            gates::delete(ctx.conn, &legacy.environment, None)?;
        }
    }
    for name in dropped_windows {
        ctx.conn.prepare_cached("DELETE FROM freeze_windows WHERE name = ?1")?.execute(params![name])?;
    }
    pipelines::put_from_manifest(ctx, manifest.pipeline(), by, version)?;
    // check_groups above checked every gate's groups in this transaction.
    for gate in manifest.gates() {
        gates::write(ctx, gate, by)?;
    }
    for window in &manifest.freeze_windows {
        access::put_freeze_window(ctx, window.clone(), by)?;
    }
    let record = ManifestRecord {
        service: manifest.service.clone(),
        version,
        digest,
        text: text.to_owned(),
        manifest,
        applied_by: by.to_owned(),
        applied_at: Timestamp::now(),
    };
    ctx.conn
        .prepare_cached(&format!("INSERT INTO manifests ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"))?
        .execute(params![
            record.service,
            record.version,
            record.digest,
            record.text,
            json(&record.manifest)?,
            record.applied_by,
            record.applied_at.to_string()
        ])?;
    Ok((record, true))
}

/// Version `version` of the manifest of `service`, or its newest when `version` is `None`.
pub(crate) fn of(conn: &Connection, service: &str, version: Option<u32>) -> Result<Option<ManifestRecord>> {
    let found = match version {
        Some(version) => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM manifests WHERE service = ?1 AND version = ?2"))?
            .query_row(params![service, version], record)
            .optional()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM manifests WHERE service = ?1 ORDER BY version DESC LIMIT 1"
            ))?
            .query_row(params![service], record)
            .optional()?,
    };
    Ok(found)
}

/// Every version of the manifest of `service`, newest first.
pub(crate) fn history(conn: &Connection, service: &str) -> Result<Vec<ManifestRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM manifests WHERE service = ?1 ORDER BY version DESC"))?
        .query_map(params![service], record)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The newest manifest of every service, by service.
pub(crate) fn newest(conn: &Connection) -> Result<Vec<ManifestRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM manifests AS m WHERE version = \
             (SELECT max(version) FROM manifests WHERE service = m.service) ORDER BY service"
        ))?
        .query_map([], record)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}
