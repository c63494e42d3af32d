//! The SQLite schema as a list of forward migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: deployments (current state) and deployment_events (append-only history + audit chain).
    "
    CREATE TABLE deployments (
        seq             INTEGER PRIMARY KEY,          -- insertion order; the keyset for paging
        id              TEXT NOT NULL UNIQUE,
        service         TEXT NOT NULL,
        environment     TEXT NOT NULL,
        version         TEXT NOT NULL,
        requester       TEXT NOT NULL,
        work_refs       TEXT NOT NULL,                -- JSON array of strings
        rollback_plan   TEXT NOT NULL,
        risk            TEXT,
        status          TEXT NOT NULL,
        reviewed_by     TEXT,
        reviewed_at     TEXT,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        idempotency_key TEXT UNIQUE,
        request_hash    TEXT
    );
    CREATE INDEX deployments_by_service_env ON deployments (service, environment, seq);
    CREATE INDEX deployments_by_service ON deployments (service, seq);
    CREATE INDEX deployments_by_env ON deployments (environment, seq);
    CREATE INDEX deployments_by_status ON deployments (status, seq);

    CREATE TABLE deployment_events (
        seq           INTEGER PRIMARY KEY,            -- global order, 1, 2, 3, ... without gaps
        id            TEXT NOT NULL UNIQUE,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        kind          TEXT NOT NULL,
        actor         TEXT NOT NULL,
        note          TEXT,
        from_status   TEXT,
        to_status     TEXT,
        at            TEXT NOT NULL,
        hash          TEXT NOT NULL
    );
    CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, seq);

    CREATE TRIGGER deployment_events_are_append_only_update BEFORE UPDATE ON deployment_events
    BEGIN SELECT RAISE(ABORT, 'deployment_events is append-only'); END;
    CREATE TRIGGER deployment_events_are_append_only_delete BEFORE DELETE ON deployment_events
    BEGIN SELECT RAISE(ABORT, 'deployment_events is append-only'); END;
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration. Refuses a database
/// written by a newer Loco.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        // The version is read inside the exclusive transaction so two processes opening a new
        // file at once cannot both apply the same migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Err(Error::storage(format!(
                "database schema version {current} is newer than this Loco supports ({SCHEMA_VERSION}); \
                 upgrade Loco to open it"
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}
