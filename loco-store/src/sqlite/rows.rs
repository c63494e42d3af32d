//! Mapping between SQLite rows and Loco records, and the read queries shared by the read pool and
//! the writer thread.

use std::str::FromStr;

use loco_types::Error;
use loco_types::model::{Deployment, Event};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::Result;

pub(crate) const DEPLOYMENT_COLUMNS: &str = "seq, id, service, environment, version, requester, work_refs, \
     rollback_plan, risk, status, reviewed_by, reviewed_at, created_at, updated_at, commit_id";

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data, request_id";

/// Reads a text column holding a name or a timestamp (a status, an event kind, a rollout state,
/// an RFC 3339 time) into its type.
pub(crate) fn parsed<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    // Read in place, never copied into a String first.
    let text =
        row.get_ref(idx)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// [`parsed`] for a nullable column.
pub(crate) fn parsed_opt<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let Some(text) = row
        .get_ref(idx)?
        .as_str_or_null()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))?
    else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
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
            commit: row.get(14)?,
            status: parsed(row, 9)?,
            reviewed_by: row.get(10)?,
            reviewed_at: parsed_opt(row, 11)?,
            created_at: parsed(row, 12)?,
            updated_at: parsed(row, 13)?,
        },
    ))
}

/// Reads a row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        id: row.get(1)?,
        deployment_id: row.get(2)?,
        kind: parsed(row, 3)?,
        actor: row.get(4)?,
        request_id: row.get(11)?,
        note: row.get(5)?,
        from_status: parsed_opt(row, 6)?,
        to_status: parsed_opt(row, 7)?,
        at: parsed(row, 8)?,
        hash: row.get(9)?,
        data: json_column(row, 10)?,
    })
}

/// Reads an optional JSON text column into any deserializable type.
/// `value` as the JSON text a column stores.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::storage(e).into())
}

pub(crate) fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let Some(text) = row
        .get_ref(idx)?
        .as_str_or_null()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))?
    else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// [`json_column`] of a `NOT NULL` column: a NULL there is a conversion error.
pub(crate) fn json_required<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    json_column(row, idx)?.ok_or(rusqlite::Error::InvalidColumnType(idx, "json".into(), Type::Null))
}

/// One deployment by id, or `not_found`.
pub(crate) fn get_deployment(conn: &Connection, id: &str) -> Result<Deployment> {
    let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row(params![id], deployment_from_row)
        .optional()?
        .map(|(_, d)| d)
        .ok_or_else(|| Error::NotFound { id: id.to_owned() }.into())
}

/// Every event of one deployment, oldest first, or `not_found` when the deployment does not exist.
pub(crate) fn deployment_events(conn: &Connection, id: &str) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = ?1 ORDER BY seq");
    let events =
        conn.prepare_cached(&sql)?.query_map(params![id], event_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    // Every deployment has its `created` event, so no events means no deployment.
    if events.is_empty() {
        return Err(Error::NotFound { id: id.to_owned() }.into());
    }
    Ok(events)
}
