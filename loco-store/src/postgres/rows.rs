//! Mapping between PostgreSQL rows and Loco records, and the reads shared by every other module.

use std::fmt::Display;
use std::str::FromStr;

use loco_types::Error;
use loco_types::model::{Deployment, Event};
use tokio_postgres::Row;

use super::error::Result;
use super::pool::Conn;

pub(crate) const DEPLOYMENT_COLUMNS: &str = "seq, id, service, environment, version, requester, work_refs, \
     rollback_plan, risk, status, reviewed_by, reviewed_at, created_at, updated_at, commit_id";

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data, request_id";

fn bad_column(row: &Row, idx: usize, e: impl Display) -> Error {
    let name = row.columns().get(idx).map_or("?", |c| c.name());
    Error::storage(format!("stored column '{name}' is unreadable: {e}"))
}

/// A text column.
pub(crate) fn text(row: &Row, idx: usize) -> Result<String> {
    Ok(row.try_get(idx)?)
}

/// A nullable text column.
pub(crate) fn text_opt(row: &Row, idx: usize) -> Result<Option<String>> {
    Ok(row.try_get(idx)?)
}

/// A text column holding a name or a timestamp (a status, an event kind, a rollout state, an RFC
/// 3339 time), read into its type.
pub(crate) fn parsed<T>(row: &Row, idx: usize) -> Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    let text: &str = row.try_get(idx)?;
    text.parse().map_err(|e| bad_column(row, idx, e).into())
}

/// [`parsed`] for a nullable column.
pub(crate) fn parsed_opt<T>(row: &Row, idx: usize) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    let Some(text) = row.try_get::<_, Option<&str>>(idx)? else { return Ok(None) };
    text.parse().map(Some).map_err(|e| bad_column(row, idx, e).into())
}

/// A nullable JSON text column, read into any deserializable type.
pub(crate) fn json_opt<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> Result<Option<T>> {
    let Some(text) = row.try_get::<_, Option<&str>>(idx)? else { return Ok(None) };
    serde_json::from_str(text).map(Some).map_err(|e| bad_column(row, idx, e).into())
}

/// A JSON text column that is never null.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> Result<T> {
    json_opt(row, idx)?.ok_or_else(|| bad_column(row, idx, "null").into())
}

/// A value as the JSON text it is stored as.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::storage(e).into())
}

/// Reads a row selected with [`DEPLOYMENT_COLUMNS`]; returns its keyset position and the record.
pub(crate) fn deployment_from_row(row: &Row) -> Result<(i64, Deployment)> {
    Ok((
        row.try_get(0)?,
        Deployment {
            id: text(row, 1)?,
            service: text(row, 2)?,
            environment: text(row, 3)?,
            version: text(row, 4)?,
            requester: text(row, 5)?,
            work_refs: json_opt(row, 6)?.unwrap_or_default(),
            rollback_plan: text(row, 7)?,
            risk: text_opt(row, 8)?,
            commit: text_opt(row, 14)?,
            status: parsed(row, 9)?,
            reviewed_by: text_opt(row, 10)?,
            reviewed_at: parsed_opt(row, 11)?,
            created_at: parsed(row, 12)?,
            updated_at: parsed(row, 13)?,
        },
    ))
}

/// Reads a row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row) -> Result<Event> {
    Ok(Event {
        seq: row.try_get(0)?,
        id: text(row, 1)?,
        deployment_id: text(row, 2)?,
        kind: parsed(row, 3)?,
        actor: text(row, 4)?,
        request_id: text_opt(row, 11)?,
        note: text_opt(row, 5)?,
        from_status: parsed_opt(row, 6)?,
        to_status: parsed_opt(row, 7)?,
        at: parsed(row, 8)?,
        hash: text(row, 9)?,
        data: json_opt(row, 10)?,
    })
}

/// Every row mapped with `from_row`.
pub(crate) fn all<T>(rows: &[Row], from_row: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(from_row).collect()
}

/// One deployment by id, or `not_found`.
pub(crate) async fn get_deployment(conn: &mut Conn, id: &str) -> Result<Deployment> {
    let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = $1");
    match conn.query_opt(&sql, &[&id]).await? {
        Some(row) => Ok(deployment_from_row(&row)?.1),
        None => Err(Error::NotFound { id: id.to_owned() }.into()),
    }
}

/// Every event of one deployment, oldest first, or `not_found` when the deployment does not exist.
pub(crate) async fn deployment_events(conn: &mut Conn, id: &str) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = $1 ORDER BY seq");
    let events = all(&conn.query(&sql, &[&id]).await?, event_from_row)?;
    // Every deployment has its `created` event, so no events means no deployment.
    if events.is_empty() {
        return Err(Error::NotFound { id: id.to_owned() }.into());
    }
    Ok(events)
}
