//! The raw rusqlite baselines: the same statements Loco's store issues, on the same schema with
//! the same pragmas, written the way a careful rusqlite user would (prepared statements, explicit
//! transactions) — with no engine, queue, validation, audit hashing or async runtime around them.

use std::path::Path;

use loco_core::Timestamp;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior, params};

use crate::Result;

/// One lifecycle step as the raw baseline writes it.
struct Step {
    kind: &'static str,
    from: &'static str,
    to: &'static str,
    actor: &'static str,
    note: Option<&'static str>,
    review: bool,
}

/// approve → start → succeed → rollback: four state updates, each with its event.
const STEPS: [Step; 4] = [
    Step { kind: "approved", from: "pending_approval", to: "approved", actor: REVIEWER, note: None, review: true },
    Step { kind: "started", from: "approved", to: "started", actor: OPERATOR, note: None, review: false },
    Step { kind: "succeeded", from: "started", to: "succeeded", actor: OPERATOR, note: None, review: false },
    Step {
        kind: "rolled_back",
        from: "succeeded",
        to: "rolled_back",
        actor: OPERATOR,
        note: Some(ROLLBACK_NOTE),
        review: false,
    },
];

/// Transitions written per deployment by both Loco and the raw baseline.
pub const STEPS_PER_DEPLOYMENT: usize = STEPS.len();
/// Who approves.
pub const REVIEWER: &str = "bob@example.com";
/// Who starts, finishes and rolls back.
pub const OPERATOR: &str = "deploy-bot";
/// The rollback's (required) note.
pub const ROLLBACK_NOTE: &str = "bench: roll back";

/// The columns Loco reads for a deployment, in Loco's order.
const COLUMNS: &str = "seq, id, service, environment, version, requester, work_refs, rollback_plan, risk, status, \
     reviewed_by, reviewed_at, created_at, updated_at";

/// The connection setting Loco's store makes besides its pragmas: plans that do not depend on the
/// bound values, so cached statements with a `LIMIT ?n` are not compiled again on every call.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// A raw writer: one connection with Loco's pragmas (WAL, `synchronous=FULL`, foreign keys on).
pub struct RawWriter {
    conn: Connection,
    next_seq: i64,
}

impl RawWriter {
    /// Opens `path` the way Loco's writer does.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("raw baseline could not switch to WAL (got {mode})").into());
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        stable_plans(&conn)?;
        let last: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM deployment_events", [], |r| r.get(0))?;
        Ok(Self { conn, next_seq: last + 1 })
    }

    /// Takes every deployment in `ids` through approve → start → succeed → rollback, with
    /// `per_tx` deployments' steps committed together (1 = one transaction per transition).
    /// Returns the number of transitions written.
    pub fn transitions(&mut self, ids: &[String], per_tx: usize) -> Result<usize> {
        let mut written = 0;
        for chunk in ids.chunks(per_tx.max(1)) {
            let mut reviewed_at = vec![String::new(); chunk.len()];
            for step in &STEPS {
                let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut update = tx.prepare_cached(
                        "UPDATE deployments SET status = ?1, updated_at = ?2, reviewed_by = ?3, reviewed_at = ?4 \
                         WHERE id = ?5",
                    )?;
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO deployment_events \
                         (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )?;
                    // The deploy lock: taken by a start (a taken target would fail on the primary
                    // key), given back by its end.
                    let mut lock = tx.prepare_cached(
                        "INSERT INTO deploy_locks (service, environment, deployment_id, holder, since) \
                         SELECT service, environment, id, ?2, ?3 FROM deployments WHERE id = ?1",
                    )?;
                    let mut unlock = tx.prepare_cached(
                        "DELETE FROM deploy_locks WHERE (service, environment) = \
                         (SELECT service, environment FROM deployments WHERE id = ?1) AND deployment_id = ?1",
                    )?;
                    for (id, reviewed_at) in chunk.iter().zip(&mut reviewed_at) {
                        let now = Timestamp::now().to_string();
                        if step.review {
                            reviewed_at.clone_from(&now);
                        }
                        match step.kind {
                            "started" => _ = lock.execute(params![id, step.actor, now])?,
                            "succeeded" => _ = unlock.execute(params![id])?,
                            _ => {}
                        }
                        update.execute(params![step.to, now, REVIEWER, *reviewed_at, id])?;
                        let seq = self.next_seq;
                        // A hash-shaped value: the baseline stores the same bytes but does not
                        // compute the audit chain (that work is Loco's and counts against it).
                        insert.execute(params![
                            seq,
                            format!("evt_{}", ulid::Ulid::new()),
                            id,
                            step.kind,
                            step.actor,
                            step.note,
                            step.from,
                            step.to,
                            now,
                            format!("{seq:064x}"),
                            Option::<String>::None,
                        ])?;
                        self.next_seq += 1;
                        written += 1;
                    }
                }
                tx.commit()?;
            }
        }
        Ok(written)
    }
}

/// A deployment row as raw rusqlite reads it: the same columns, as plain strings.
#[derive(Debug)]
pub struct RawDeployment {
    /// Keyset position.
    pub seq: i64,
    /// The deployment id.
    pub id: String,
    /// The remaining columns in [`COLUMNS`] order.
    pub rest: [Option<String>; 12],
}

fn raw_deployment(row: &Row<'_>) -> rusqlite::Result<RawDeployment> {
    let mut rest: [Option<String>; 12] = Default::default();
    for (i, slot) in rest.iter_mut().enumerate() {
        *slot = row.get(i + 2)?;
    }
    Ok(RawDeployment { seq: row.get(0)?, id: row.get(1)?, rest })
}

/// A raw reader: one read-only connection, queried on the calling thread.
pub struct RawReader {
    conn: Connection,
}

impl RawReader {
    /// Opens `path` read-only, like Loco's read pool does.
    pub fn open(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        stable_plans(&conn)?;
        Ok(Self { conn })
    }

    /// One deployment by id with a prepared point query.
    pub fn get(&self, id: &str) -> Result<RawDeployment> {
        let sql = format!("SELECT {COLUMNS} FROM deployments WHERE id = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row(params![id], raw_deployment)?)
    }

    /// One page of a service+environment list, newest first: rows with `seq < before` (all rows
    /// when `None`), fetching `limit + 1` to know whether another page exists, as Loco does.
    pub fn list(
        &self,
        service: &str,
        environment: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RawDeployment>> {
        let fetch = i64::from(limit) + 1;
        let rows = match before {
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM deployments WHERE service = ?1 AND environment = ?2 \
                     ORDER BY seq DESC LIMIT ?3"
                );
                self.conn
                    .prepare_cached(&sql)?
                    .query_map(params![service, environment, fetch], raw_deployment)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
            Some(before) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM deployments WHERE service = ?1 AND environment = ?2 AND seq < ?3 \
                     ORDER BY seq DESC LIMIT ?4"
                );
                self.conn
                    .prepare_cached(&sql)?
                    .query_map(params![service, environment, before, fetch], raw_deployment)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        Ok(rows)
    }
}
