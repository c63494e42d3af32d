//! Fast population of benchmark databases: the engine creates its own schema, then deployments
//! (each with its `created` event, chained into a valid audit chain) are bulk-inserted into that
//! schema in large transactions with `synchronous=OFF`, so a million-row file takes seconds
//! instead of the minutes that durable one-by-one creates would.

use std::path::Path;
use std::time::{Duration, Instant};

use loco_core::{Engine, Event, EventKind, Status, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::runtime::Runtime;

use crate::Result;

/// Distinct services in populated data.
pub const SERVICES: usize = 100;
/// The environments populated data cycles through.
pub const ENVIRONMENTS: [&str; 4] = ["dev", "staging", "qa", "production"];
/// The requester of every populated deployment (so `bob@example.com` may review them).
pub const REQUESTER: &str = "alice@example.com";
/// Rows per bulk-insert transaction.
const ROWS_PER_TX: usize = 50_000;

/// The service and environment of the `i`-th populated deployment. Consecutive rows belong to
/// different services, as they would when many teams share one engine, so a filtered list has to
/// skip through the index rather than read one contiguous run of rows.
pub fn combo(i: usize) -> (String, &'static str) {
    (service_name(i % SERVICES), ENVIRONMENTS[(i / SERVICES) % ENVIRONMENTS.len()])
}

/// The name of service number `n`.
pub fn service_name(n: usize) -> String {
    format!("svc-{n:03}")
}

/// Lets the engine create (and migrate) its schema in a new file, then closes it.
pub fn create_schema(runtime: &Runtime, path: &Path) -> Result<()> {
    runtime.block_on(async {
        let engine = Engine::open(path).await?;
        engine.close().await
    })?;
    Ok(())
}

/// The outcome of [`populate`].
#[derive(Debug)]
pub struct Populated {
    /// The new deployments' ids, in insertion order (all `pending_approval`).
    pub ids: Vec<String>,
    /// How long populating took.
    pub elapsed: Duration,
}

/// Appends `count` deployments in `pending_approval`, each with its `created` event, continuing
/// the audit chain already in the file.
pub fn populate(path: &Path, count: usize) -> Result<Populated> {
    populate_with(path, count, combo)
}

/// [`populate`] with the `i`-th deployment's service and environment given by `target`.
pub fn populate_with(path: &Path, count: usize, target: fn(usize) -> (String, &'static str)) -> Result<Populated> {
    let started = Instant::now();
    let mut conn = Connection::open(path)?;
    // Populating is not what is measured; durability is irrelevant for a throwaway file.
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    let first: usize = conn.query_row("SELECT COUNT(*) FROM deployments", [], |r| r.get::<_, i64>(0))? as usize;
    let (mut seq, mut head): (i64, String) = conn
        .query_row("SELECT seq, hash FROM deployment_events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((0, loco_core::audit::GENESIS_HASH.to_owned()));
    let mut ids = Vec::with_capacity(count);
    let mut start = 0;
    while start < count {
        let end = (start + ROWS_PER_TX).min(count);
        let tx = conn.transaction()?;
        {
            let mut insert_deployment = tx.prepare(
                "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, \
                 risk, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?9)",
            )?;
            let mut insert_event = tx.prepare(
                "INSERT INTO deployment_events (seq, id, deployment_id, kind, actor, note, from_status, to_status, \
                 at, hash) VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, ?6, ?7, ?8)",
            )?;
            for i in first + start..first + end {
                let (service, environment) = target(i);
                let id = format!("dep_{}", ulid::Ulid::new());
                let at = Timestamp::now();
                let at_text = at.to_string();
                insert_deployment.execute(params![
                    id,
                    service,
                    environment,
                    format!("1.{i}.0"),
                    REQUESTER,
                    format!("[\"PAY-{i}\"]"),
                    "redeploy the previous version",
                    Status::PendingApproval.as_str(),
                    at_text,
                ])?;
                seq += 1;
                let mut event = Event {
                    seq,
                    id: format!("evt_{}", ulid::Ulid::new()),
                    deployment_id: id.clone(),
                    kind: EventKind::Created,
                    actor: REQUESTER.to_owned(),
                    request_id: None,
                    note: None,
                    from_status: None,
                    to_status: Some(Status::PendingApproval),
                    at,
                    data: None,
                    hash: String::new(),
                };
                event.hash = loco_core::audit::event_hash(&head, &event, None);
                insert_event.execute(params![
                    event.seq,
                    event.id,
                    event.deployment_id,
                    event.kind.as_str(),
                    event.actor,
                    Status::PendingApproval.as_str(),
                    at_text,
                    event.hash,
                ])?;
                head = event.hash;
                ids.push(id);
            }
        }
        tx.commit()?;
        start = end;
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(Populated { ids, elapsed: started.elapsed() })
}
