//! The SQLite schema as a list of forward migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use loco_types::Error;

use crate::error::Result;

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
    // v2: rollouts (orchestration progress, one per deployment) and the release history per
    // service+environment; structured data on events.
    "
    ALTER TABLE deployment_events ADD COLUMN data TEXT;       -- JSON, rollout events only

    CREATE TABLE rollouts (
        deployment_id TEXT PRIMARY KEY REFERENCES deployments (id),
        service       TEXT NOT NULL,
        environment   TEXT NOT NULL,
        platform      TEXT NOT NULL,
        plan          TEXT NOT NULL,                  -- JSON RolloutPlan
        state         TEXT NOT NULL,
        progress      TEXT NOT NULL,                  -- JSON RolloutProgress
        previous      TEXT,                           -- JSON Release restored on rollback
        failure       TEXT,                           -- JSON RolloutFailure
        actor         TEXT NOT NULL,
        owner         TEXT NOT NULL,                  -- the engine process running it
        heartbeat_at  TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        finished_at   TEXT
    );
    -- At most one active rollout per service+environment, enforced by the database itself.
    CREATE UNIQUE INDEX rollouts_one_active_per_target ON rollouts (service, environment)
        WHERE state IN ('running', 'rolling_back');
    CREATE INDEX rollouts_by_state ON rollouts (state);

    CREATE TABLE releases (
        seq           INTEGER PRIMARY KEY,
        service       TEXT NOT NULL,
        environment   TEXT NOT NULL,
        version       TEXT NOT NULL,
        deployment_id TEXT NOT NULL REFERENCES deployments (id),
        platform      TEXT NOT NULL,
        spec          TEXT NOT NULL,                  -- JSON ReleaseSpec
        instances     TEXT NOT NULL,                  -- JSON [Instance]
        activated_at  TEXT NOT NULL,
        retired_at    TEXT
    );
    CREATE INDEX releases_by_target ON releases (service, environment, seq);
    ",
    // v3: a paused rollout (waiting for a person after a high-severity analysis) still holds
    // its service+environment.
    "
    DROP INDEX rollouts_one_active_per_target;
    CREATE UNIQUE INDEX rollouts_one_active_per_target ON rollouts (service, environment)
        WHERE state IN ('running', 'paused', 'rolling_back');
    ",
    // v4: API tokens (only a hash of each secret) and the service registry.
    "
    CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        grants      TEXT NOT NULL,                    -- JSON [Grant]
        token_hash  TEXT NOT NULL UNIQUE,             -- sha256 of the secret, hex
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT,
        revoked_at  TEXT
    );
    CREATE TABLE services (
        name        TEXT PRIMARY KEY,
        definition  TEXT NOT NULL,                    -- JSON ServiceDefinition
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
    // v5 (rollout leases): the owner's fencing token, grown on every hand-over.
    "
    ALTER TABLE rollouts ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
    ",
    // v6: analysis thresholds set at runtime, per environment.
    "
    CREATE TABLE thresholds (
        environment TEXT PRIMARY KEY,                 -- lower case
        document    TEXT NOT NULL,                    -- JSON Thresholds
        updated_at  TEXT NOT NULL
    );
    ",
    // v7: configured cloud platforms; the API token sealed by the engine's vault.
    "
    CREATE TABLE platforms (
        name        TEXT PRIMARY KEY,
        settings    TEXT NOT NULL,                    -- JSON PlatformSettings
        token       TEXT NOT NULL,                    -- sealed
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    ",
    // v8: the request each event was recorded for (hashed into the chain when present).
    "
    ALTER TABLE deployment_events ADD COLUMN request_id TEXT;
    ",
    // v9: freeze windows (policy), by name.
    "
    CREATE TABLE freeze_windows (
        name        TEXT PRIMARY KEY,
        definition  TEXT NOT NULL,                    -- JSON FreezeWindow
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
    // v10: deploy locks, one per service and environment, held by a started deployment. A
    // database from before them gets one per target that has a started deployment (the newest).
    "
    CREATE TABLE deploy_locks (
        service       TEXT NOT NULL,
        environment   TEXT NOT NULL,
        deployment_id TEXT NOT NULL,
        holder        TEXT NOT NULL,                  -- who started the deployment
        since         TEXT NOT NULL,
        PRIMARY KEY (service, environment)
    );
    INSERT OR IGNORE INTO deploy_locks (service, environment, deployment_id, holder, since)
        SELECT d.service, d.environment, d.id,
               COALESCE((SELECT e.actor FROM deployment_events e
                         WHERE e.deployment_id = d.id AND e.kind = 'started' ORDER BY e.seq DESC LIMIT 1),
                        d.requester),
               d.updated_at
        FROM deployments d WHERE d.status = 'started' ORDER BY d.seq DESC;
    ",
    // v11: the commit a deployment ships; at most one open deployment per service, environment,
    // version and commit (creating it again returns that one).
    "
    ALTER TABLE deployments ADD COLUMN commit_id TEXT;
    CREATE UNIQUE INDEX deployments_open_by_commit ON deployments (service, environment, version, commit_id)
        WHERE commit_id IS NOT NULL AND status IN ('pending_approval', 'approved', 'started');
    ",
    // v12: approval gates (policy), one per environment, keyed by its lower-cased name.
    "
    CREATE TABLE approval_gates (
        environment TEXT PRIMARY KEY,
        definition  TEXT NOT NULL,                    -- JSON ApprovalGate
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
    // v13: pipelines (policy), one per service: its stages in order.
    "
    CREATE TABLE pipelines (
        service     TEXT PRIMARY KEY,
        definition  TEXT NOT NULL,                    -- JSON Pipeline
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
    // v14: service.yaml manifests, every applied version; a pipeline set by one records which.
    "
    CREATE TABLE manifests (
        service     TEXT NOT NULL,
        version     INTEGER NOT NULL,
        digest      TEXT NOT NULL,                    -- SHA-256 of text
        text        TEXT NOT NULL,                    -- as applied
        definition  TEXT NOT NULL,                    -- JSON Manifest
        applied_by  TEXT NOT NULL,
        applied_at  TEXT NOT NULL,
        PRIMARY KEY (service, version)
    );
    ALTER TABLE pipelines ADD COLUMN manifest_version INTEGER;
    ",
    // v15: reviewer groups, which approval gates name.
    "
    CREATE TABLE reviewer_groups (
        name        TEXT PRIMARY KEY,                 -- gate::group_key(name)
        definition  TEXT NOT NULL,                    -- JSON ReviewerGroup
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
    // v16: scheduled starts, one row per deployment (its latest schedule).
    "
    CREATE TABLE scheduled_starts (
        deployment_id  TEXT PRIMARY KEY,
        state          TEXT NOT NULL,                 -- pending, started, refused, cancelled
        at             TEXT NOT NULL,                 -- when it starts, RFC 3339 UTC
        definition     TEXT NOT NULL                  -- JSON ScheduledStart
    );
    CREATE INDEX scheduled_starts_due ON scheduled_starts (state, at);
    ",
    // v17: approval gates per environment and service: '' is the environment-wide gate (every
    // gate so far), a service name that service's own, which takes precedence.
    "
    CREATE TABLE approval_gates_by_service (
        environment TEXT NOT NULL,                    -- gate::key(environment)
        service     TEXT NOT NULL,                    -- gate::service_key(service)
        definition  TEXT NOT NULL,                    -- JSON ApprovalGate
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (environment, service)
    );
    INSERT INTO approval_gates_by_service (environment, service, definition, updated_by, updated_at)
        SELECT environment, '', definition, updated_by, updated_at FROM approval_gates;
    DROP TABLE approval_gates;
    ALTER TABLE approval_gates_by_service RENAME TO approval_gates;
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
            ))
            .into());
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_migrates_forward_keeping_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, status, \
             created_at, updated_at) VALUES ('dep_1', 'api', 'dev', '1', 'a', '[\"X\"]', 'r', 'pending_approval', 't', 't');
             INSERT INTO deployment_events (seq, id, deployment_id, kind, actor, at, hash)
             VALUES (1, 'evt_1', 'dep_1', 'created', 'a', 't', 'h');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let (kind, data): (String, Option<String>) = conn
            .query_row("SELECT kind, data FROM deployment_events WHERE seq = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((kind.as_str(), data), ("created", None));
        let rollouts: i64 = conn.query_row("SELECT count(*) FROM rollouts", [], |r| r.get(0)).unwrap();
        assert_eq!(rollouts, 0);
        migrate(&mut conn).unwrap(); // idempotent
    }
}
