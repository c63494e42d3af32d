//! Mapping between SQLite rows and Loco records, and the read queries shared by the read pool and
//! the writer thread.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use crate::error::{Error, Result};
use crate::lifecycle::Status;
use crate::model::{Deployment, Event, EventKind, Timestamp};

pub(crate) const DEPLOYMENT_COLUMNS: &str = "seq, id, service, environment, version, requester, work_refs, \
     rollback_plan, risk, status, reviewed_by, reviewed_at, created_at, updated_at";

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data";

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for EventKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        EventKind::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for EventKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Timestamp::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

/// Reads a row selected with [`DEPLOYMENT_COLUMNS`]; returns its keyset position and the record.
pub(crate) fn deployment_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Deployment)> {
    let work_refs = json_column(row, 6)?.unwrap_or_default();
    Ok((
        row.get(0)?,
        Deployment {
            id: row.get(1)?,
            service: row.get(2)?,
            environment: row.get(3)?,
            version: row.get(4)?,
            requester: row.get(5)?,
            work_refs,
            rollback_plan: row.get(7)?,
            risk: row.get(8)?,
            status: row.get(9)?,
            reviewed_by: row.get(10)?,
            reviewed_at: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
        },
    ))
}

/// Reads a row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        id: row.get(1)?,
        deployment_id: row.get(2)?,
        kind: row.get(3)?,
        actor: row.get(4)?,
        note: row.get(5)?,
        from_status: row.get(6)?,
        to_status: row.get(7)?,
        at: row.get(8)?,
        hash: row.get(9)?,
        data: json_column(row, 10)?,
    })
}

/// Reads an optional JSON text column into any deserializable type.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let Some(text) = row.get::<_, Option<String>>(idx)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

/// One deployment by id, or `not_found`.
pub(crate) fn get_deployment(conn: &Connection, id: &str) -> Result<Deployment> {
    let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row(params![id], deployment_from_row)
        .optional()?
        .map(|(_, d)| d)
        .ok_or_else(|| Error::NotFound { id: id.to_owned() })
}

/// Every event of one deployment, oldest first, or `not_found` when the deployment does not exist.
pub(crate) fn deployment_events(conn: &Connection, id: &str) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = ?1 ORDER BY seq");
    let events =
        conn.prepare_cached(&sql)?.query_map(params![id], event_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    // Every deployment has its `created` event, so no events means no deployment.
    if events.is_empty() {
        return Err(Error::NotFound { id: id.to_owned() });
    }
    Ok(events)
}
