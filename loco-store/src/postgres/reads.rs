//! The list, catch-up and audit queries: newest-first keyset paging, events after a `seq`, and the
//! whole-chain verification in one snapshot.

use loco_types::audit::{AuditReport, ChainVerifier};
use loco_types::cursor::{decode_cursor, encode_cursor};
use loco_types::lifecycle::Status;
use loco_types::model::{Deployment, Event, ListQuery, Page};
use tokio_postgres::types::ToSql;

use super::error::Result;
use super::pool::Conn;
use super::rows::{DEPLOYMENT_COLUMNS, EVENT_COLUMNS, all, deployment_from_row, event_from_row, text_opt};

/// Rows read per query while walking the whole chain.
const CHUNK: i64 = 1000;

/// Newest-first keyset pagination: fetch one row more than the page to know whether another page
/// exists; the cursor is the position of the page's last row, so rows inserted meanwhile (which
/// are newer) never shift later pages.
pub(crate) async fn list(conn: &mut Conn, query: &ListQuery) -> Result<Page<Deployment>> {
    let limit = query.effective_limit()?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let status = query.status.map(Status::as_str);
    let fetch = i64::from(limit) + 1;
    let mut clauses = Vec::new();
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let filters: [(&str, Option<&(dyn ToSql + Sync)>); 4] = [
        ("service =", query.service.as_ref().map(|s| s as _)),
        ("environment =", query.environment.as_ref().map(|s| s as _)),
        ("status =", status.as_ref().map(|s| s as _)),
        ("seq <", after.as_ref().map(|s| s as _)),
    ];
    for (test, value) in filters {
        if let Some(value) = value {
            args.push(value);
            clauses.push(format!("{test} ${}", args.len()));
        }
    }
    args.push(&fetch);
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments {filter} ORDER BY seq DESC LIMIT ${}", args.len());
    let mut rows = all(&conn.query(&sql, &args).await?, deployment_from_row)?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(seq, _)| encode_cursor(*seq))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(|(_, d)| d).collect(), next_cursor })
}

/// Events with `seq > after`, oldest first, at most `limit`.
pub(crate) async fn events_after(conn: &mut Conn, after: i64, limit: u32) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE seq > $1 ORDER BY seq LIMIT $2");
    all(&conn.query(&sql, &[&after, &i64::from(limit)]).await?, event_from_row)
}

/// In one snapshot: walks the chain, then compares every deployment's row with the state its
/// lifecycle events establish (in insertion order), then looks for events whose deployment has no
/// row. [`ChainVerifier`] decides; this only reads.
pub(crate) async fn verify_audit(conn: &mut Conn) -> Result<AuditReport> {
    conn.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let report = verify_in_snapshot(conn).await;
    // Read-only: ending it either way changes nothing.
    conn.rollback().await;
    report
}

async fn verify_in_snapshot(conn: &mut Conn) -> Result<AuditReport> {
    let mut verifier = ChainVerifier::new();
    let chain = format!("SELECT {EVENT_COLUMNS} FROM deployment_events WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut after = 0_i64;
    'chain: loop {
        let rows = conn.query(&chain, &[&after, &CHUNK]).await?;
        for row in &rows {
            let event = event_from_row(row)?;
            after = event.seq;
            // The data column's raw text is what was hashed.
            if !verifier.check(&event, text_opt(row, 10)?.as_deref()) {
                break 'chain;
            }
        }
        if rows.len() < CHUNK as usize {
            break;
        }
    }
    if verifier.is_intact() {
        let deployments = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE seq > $1 ORDER BY seq LIMIT $2");
        let history = format!(
            "SELECT {EVENT_COLUMNS} FROM deployment_events WHERE deployment_id = $1 AND to_status IS NOT NULL \
             ORDER BY seq"
        );
        let mut after = 0_i64;
        'rows: loop {
            let rows = conn.query(&deployments, &[&after, &CHUNK]).await?;
            for row in &rows {
                let (seq, stored) = deployment_from_row(row)?;
                after = seq;
                let events = all(&conn.query(&history, &[&stored.id]).await?, event_from_row)?;
                if !verifier.check_deployment(&stored, &events) {
                    break 'rows;
                }
            }
            if rows.len() < CHUNK as usize {
                break;
            }
        }
    }
    if verifier.is_intact() {
        let orphan = format!(
            "SELECT {EVENT_COLUMNS} FROM deployment_events e \
             WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.id = e.deployment_id) ORDER BY seq LIMIT 1"
        );
        if let Some(row) = conn.query_opt(&orphan, &[]).await? {
            verifier.orphaned(&event_from_row(&row)?);
        }
    }
    Ok(verifier.finish())
}
