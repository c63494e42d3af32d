//! The read side: a small pool of read-only connections used on blocking threads (never on the
//! async runtime's workers), and the list, catch-up and audit queries.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OpenFlags, ToSql, params};

use loco_types::audit::{AuditReport, ChainVerifier};
use loco_types::cursor::{decode_cursor, encode_cursor};
use loco_types::lifecycle::Status;
use loco_types::model::{Deployment, Event, ListQuery, Page};
use loco_types::{Error, Result as LocoResult};

use crate::error::Result;

use super::rows::{DEPLOYMENT_COLUMNS, EVENT_COLUMNS, deployment_from_row, event_from_row};

/// Read-only connections to one database, reused across reads.
pub(crate) struct ReadPool {
    uri: String,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    closed: AtomicBool,
}

impl ReadPool {
    pub fn new(uri: String, max_idle: usize) -> Self {
        Self { uri, idle: Mutex::new(Vec::new()), max_idle: max_idle.max(1), closed: AtomicBool::new(false) }
    }

    /// Runs `read` with a pooled connection on a blocking thread.
    pub async fn run<T, F>(self: &std::sync::Arc<Self>, read: F) -> LocoResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = read(&conn);
            pool.put(conn);
            result.map_err(Error::from)
        })
        .await
        .map_err(|e| Error::storage(format!("read task failed: {e}")))?
    }

    /// Refuses further reads and drops the idle connections.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn take(&self) -> LocoResult<Connection> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::storage("the store is closed"));
        }
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.uri, flags).map_err(Error::storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(Error::storage)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }
}

/// Newest-first keyset pagination: fetch one row more than the page to know whether another page
/// exists; the cursor is the position of the page's last row, so rows inserted meanwhile (which
/// are newer) never shift later pages.
pub(crate) fn list(conn: &Connection, query: &ListQuery) -> Result<Page<Deployment>> {
    let limit = query.effective_limit()?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut clauses = Vec::new();
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if let Some(service) = &query.service {
        args.push(service);
        clauses.push(format!("service = ?{}", args.len()));
    }
    if let Some(environment) = &query.environment {
        args.push(environment);
        clauses.push(format!("environment = ?{}", args.len()));
    }
    let status = query.status.map(Status::as_str);
    if let Some(status) = &status {
        args.push(status);
        clauses.push(format!("status = ?{}", args.len()));
    }
    if let Some(after) = &after {
        args.push(after);
        clauses.push(format!("seq < ?{}", args.len()));
    }
    let fetch = i64::from(limit) + 1;
    args.push(&fetch);
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments {filter} ORDER BY seq DESC LIMIT ?{}", args.len());
    let mut rows = conn
        .prepare_cached(&sql)?
        .query_map(args.as_slice(), deployment_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(seq, _)| encode_cursor(*seq))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(|(_, d)| d).collect(), next_cursor })
}

/// Events with `seq > after`, oldest first, at most `limit`.
pub(crate) fn events_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![after, limit], event_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// In one snapshot: walks the chain, then compares every deployment's row with the state its
/// lifecycle events establish (in insertion order), then looks for events whose deployment has no
/// row. [`ChainVerifier`] decides; this only reads.
pub(crate) fn verify_audit(conn: &Connection) -> Result<AuditReport> {
    let tx = conn.unchecked_transaction()?;
    let mut verifier = ChainVerifier::new();
    {
        let mut stmt = tx.prepare(&format!("SELECT {EVENT_COLUMNS} FROM deployment_events ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            // The data column's raw text is what was hashed.
            let data_text: Option<String> = row.get(10)?;
            if !verifier.check(&event_from_row(row)?, data_text.as_deref()) {
                break;
            }
        }
    }
    if verifier.is_intact() {
        let mut deployments = tx.prepare(&format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY seq"))?;
        let mut history = tx.prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = ?1 AND to_status IS NOT NULL \
             ORDER BY seq"
        ))?;
        let mut rows = deployments.query([])?;
        while let Some(row) = rows.next()? {
            let (_, stored) = deployment_from_row(row)?;
            let events =
                history.query_map(params![stored.id], event_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            if !verifier.check_deployment(&stored, &events) {
                break;
            }
        }
    }
    if verifier.is_intact() {
        let orphan = tx
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM deployment_events e \
                 WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.id = e.deployment_id) ORDER BY seq LIMIT 1"
            ))?
            .query_map([], event_from_row)?
            .next()
            .transpose()?;
        if let Some(event) = orphan {
            verifier.orphaned(&event);
        }
    }
    Ok(verifier.finish())
}
