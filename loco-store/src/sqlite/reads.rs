//! The read side: a bounded pool of read-only connections, and the list, catch-up and audit
//! queries. Scans (histories, the audit, lists that may skip rows) run on blocking threads, never
//! on the async runtime's workers; a point read by primary key (a deployment, a rollout, a token,
//! a service: one B-tree descent in pages the cache almost always holds, a few microseconds) and a
//! list page read straight off one index run on the calling task, where handing them to a blocking
//! thread and back cost several times the read.
//! At most `read_connections` reads run at once; more wait their turn (backpressure), so a flood
//! of reads opens no more connections and queues no unbounded work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    /// One per connection: the reads that may run at once.
    permits: Arc<tokio::sync::Semaphore>,
}

impl ReadPool {
    pub fn new(uri: String, connections: usize) -> Self {
        let connections = connections.max(1);
        Self {
            uri,
            idle: Mutex::new(Vec::new()),
            max_idle: connections,
            closed: AtomicBool::new(false),
            permits: Arc::new(tokio::sync::Semaphore::new(connections)),
        }
    }

    /// Runs `read` (a scan) with a pooled connection on a blocking thread, once a connection is
    /// free.
    pub async fn run<T, F>(self: &Arc<Self>, read: F) -> LocoResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| closed())?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = read(&conn);
            pool.put(conn);
            drop(permit);
            result.map_err(Error::from)
        })
        .await
        .map_err(|e| Error::storage(format!("read task failed: {e}")))?
    }

    /// Runs `read` (a point read by primary key) with a pooled connection on the calling task,
    /// once a connection is free.
    pub async fn point<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> LocoResult<T> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let conn = self.take()?;
        let result = read(&conn);
        self.put(conn);
        result.map_err(Error::from)
    }

    /// Refuses further reads and drops the idle connections.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    pub(crate) fn take(&self) -> LocoResult<Connection> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.uri, flags).map_err(Error::storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(Error::storage)?;
        super::configure(&conn).map_err(Error::storage)?;
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

fn closed() -> Error {
    Error::storage("the store is closed")
}

/// Largest page read on the calling task.
const INLINE_PAGE: u32 = 100;

/// True when listing `query` reads one index range and visits only the rows of its page (at most
/// [`INLINE_PAGE`] + 1): no filter, or filters one index covers in full (service, environment,
/// status, service + environment). Such a page costs about as much as a point read per row and
/// runs on the calling task; moving it to a blocking thread doubled its latency (P3 in
/// docs/performance.md). Other filter combinations may skip many index entries and stay on a
/// blocking thread.
pub(crate) fn visits_only_its_page(query: &ListQuery) -> bool {
    let filters = [query.service.is_some(), query.environment.is_some(), query.status.is_some()];
    // Each filter alone has its index, and service + environment theirs together.
    let covered = filters.iter().filter(|f| **f).count() <= 1 || filters == [true, true, false];
    covered && query.limit.unwrap_or(50) <= INLINE_PAGE
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_one_index_covers_are_read_on_the_calling_task() {
        let q = |service: bool, environment: bool, status: bool, limit: Option<u32>| ListQuery {
            service: service.then(|| "api".to_owned()),
            environment: environment.then(|| "prod".to_owned()),
            status: status.then_some(Status::Started),
            limit,
            ..ListQuery::default()
        };
        for (query, inline) in [
            (q(false, false, false, None), true),
            (q(true, false, false, None), true),
            (q(false, true, false, None), true),
            (q(false, false, true, None), true),
            (q(true, true, false, Some(100)), true),
            (q(true, true, false, Some(101)), false),
            (q(true, false, true, None), false),
            (q(false, true, true, None), false),
            (q(true, true, true, Some(10)), false),
        ] {
            assert_eq!(visits_only_its_page(&query), inline, "{query:?}");
        }
    }
}
