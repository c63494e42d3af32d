//! The PostgreSQL schema as a list of forward migrations, recorded in `loco_schema_version` and
//! each applied once, in its own transaction, under an advisory lock so replicas starting together
//! do not race.

use loco_types::Error;

use super::error::Result;
use super::pool::Conn;

/// The advisory lock every migrating process holds (`'loco'` in ASCII): one migrates at a time.
const MIGRATION_LOCK: i64 = 0x6c6f_636f;

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`. Times are the RFC 3339
/// text the core renders (so they round-trip exactly) and JSON is stored as the text that was
/// hashed or written; columns that lists are sorted by compare bytewise (`COLLATE "C"`), as SQLite
/// does.
const MIGRATIONS: &[&str] = &[
    // v1: everything SQLite's v1..v7 hold, plus the head of the audit chain as one locked row.
    r#"
    CREATE TABLE deployments (
        seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order; the keyset for paging
        id              text NOT NULL UNIQUE,
        service         text NOT NULL,
        environment     text NOT NULL,
        version         text NOT NULL,
        requester       text NOT NULL,
        work_refs       text NOT NULL,                -- JSON array of strings
        rollback_plan   text NOT NULL,
        risk            text,
        status          text NOT NULL,
        reviewed_by     text,
        reviewed_at     text,
        created_at      text NOT NULL,
        updated_at      text NOT NULL,
        idempotency_key text UNIQUE,
        request_hash    text
    );
    CREATE INDEX deployments_by_service_env ON deployments (service, environment, seq);
    CREATE INDEX deployments_by_service ON deployments (service, seq);
    CREATE INDEX deployments_by_env ON deployments (environment, seq);
    CREATE INDEX deployments_by_status ON deployments (status, seq);

    CREATE TABLE deployment_events (
        seq           bigint PRIMARY KEY,             -- global order, 1, 2, 3, ... without gaps
        id            text NOT NULL UNIQUE,
        deployment_id text NOT NULL REFERENCES deployments (id),
        kind          text NOT NULL,
        actor         text NOT NULL,
        note          text,
        from_status   text,
        to_status     text,
        at            text NOT NULL,
        hash          text NOT NULL,
        data          text                            -- canonical JSON, exactly as hashed
    );
    CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, seq);

    CREATE FUNCTION loco_deployment_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'deployment_events is append-only';
    END $$;
    CREATE TRIGGER deployment_events_are_append_only BEFORE UPDATE OR DELETE ON deployment_events
        FOR EACH ROW EXECUTE FUNCTION loco_deployment_events_are_append_only();
    CREATE TRIGGER deployment_events_are_never_truncated BEFORE TRUNCATE ON deployment_events
        FOR EACH STATEMENT EXECUTE FUNCTION loco_deployment_events_are_append_only();

    -- The last event's seq and hash. Every write locks this row first (SELECT ... FOR UPDATE), so
    -- appends from every process are totally ordered and the chain never forks or skips.
    CREATE TABLE chain_head (
        id   integer PRIMARY KEY CHECK (id = 1),
        seq  bigint NOT NULL,
        hash text NOT NULL
    );
    INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '');

    CREATE TABLE rollouts (
        deployment_id text PRIMARY KEY REFERENCES deployments (id),
        service       text NOT NULL,
        environment   text NOT NULL,
        platform      text NOT NULL,
        plan          text NOT NULL,                  -- JSON RolloutPlan
        state         text NOT NULL,
        progress      text NOT NULL,                  -- JSON RolloutProgress
        previous      text,                           -- JSON Release restored on rollback
        failure       text,                           -- JSON RolloutFailure
        actor         text NOT NULL,
        owner         text NOT NULL,                  -- the engine process running it
        heartbeat_at  text NOT NULL,
        started_at    text COLLATE "C" NOT NULL,
        updated_at    text NOT NULL,
        finished_at   text,
        lease         bigint NOT NULL DEFAULT 0       -- the owner's fencing token
    );
    -- At most one active rollout per service+environment, enforced by the database itself.
    CREATE UNIQUE INDEX rollouts_one_active_per_target ON rollouts (service, environment)
        WHERE state IN ('running', 'paused', 'rolling_back');
    CREATE INDEX rollouts_by_state ON rollouts (state);

    CREATE TABLE releases (
        seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        service       text NOT NULL,
        environment   text NOT NULL,
        version       text NOT NULL,
        deployment_id text NOT NULL REFERENCES deployments (id),
        platform      text NOT NULL,
        spec          text NOT NULL,                  -- JSON ReleaseSpec
        instances     text NOT NULL,                  -- JSON [Instance]
        activated_at  text NOT NULL,
        retired_at    text
    );
    CREATE INDEX releases_by_target ON releases (service, environment, seq);

    CREATE TABLE tokens (
        id          text COLLATE "C" PRIMARY KEY,
        name        text NOT NULL,
        subject     text NOT NULL,
        grants      text NOT NULL,                    -- JSON [Grant]
        token_hash  text NOT NULL UNIQUE,             -- sha256 of the secret, hex
        created_by  text NOT NULL,
        created_at  text COLLATE "C" NOT NULL,
        expires_at  text,
        revoked_at  text
    );

    CREATE TABLE services (
        name        text COLLATE "C" PRIMARY KEY,
        definition  text NOT NULL,                    -- JSON ServiceDefinition
        updated_by  text NOT NULL,
        updated_at  text NOT NULL
    );

    CREATE TABLE thresholds (
        environment text COLLATE "C" PRIMARY KEY,     -- lower case
        document    text NOT NULL,                    -- JSON Thresholds
        updated_at  text NOT NULL
    );

    CREATE TABLE platforms (
        name        text COLLATE "C" PRIMARY KEY,
        settings    text NOT NULL,                    -- JSON PlatformSettings
        token       text NOT NULL,                    -- sealed
        created_by  text NOT NULL,
        created_at  text NOT NULL
    );
    "#,
    // v2: the request each event was recorded for (hashed into the chain when present).
    "
    ALTER TABLE deployment_events ADD COLUMN request_id text;
    ",
    // v3: freeze windows (policy), by name.
    "
    CREATE TABLE freeze_windows (
        name        text PRIMARY KEY,
        definition  text NOT NULL,                    -- JSON FreezeWindow
        updated_by  text NOT NULL,
        updated_at  text NOT NULL
    );
    ",
    // v4: deploy locks, one per service and environment, held by a started deployment. A
    // schema from before them gets one per target that has a started deployment (the newest).
    "
    CREATE TABLE deploy_locks (
        service       text NOT NULL,
        environment   text NOT NULL,
        deployment_id text NOT NULL,
        holder        text NOT NULL,                  -- who started the deployment
        since         text NOT NULL,
        PRIMARY KEY (service, environment)
    );
    INSERT INTO deploy_locks (service, environment, deployment_id, holder, since)
        SELECT DISTINCT ON (d.service, d.environment) d.service, d.environment, d.id,
               COALESCE((SELECT e.actor FROM deployment_events e
                         WHERE e.deployment_id = d.id AND e.kind = 'started' ORDER BY e.seq DESC LIMIT 1),
                        d.requester),
               d.updated_at
        FROM deployments d WHERE d.status = 'started'
        ORDER BY d.service, d.environment, d.seq DESC;
    ",
    // v5: the commit a deployment ships; at most one open deployment per service, environment,
    // version and commit (creating it again returns that one).
    "
    ALTER TABLE deployments ADD COLUMN commit_id text;
    CREATE UNIQUE INDEX deployments_open_by_commit ON deployments (service, environment, version, commit_id)
        WHERE commit_id IS NOT NULL AND status IN ('pending_approval', 'approved', 'started');
    ",
    // v6: approval gates (policy), one per environment, keyed by its lower-cased name.
    "
    CREATE TABLE approval_gates (
        environment text PRIMARY KEY,
        definition  text NOT NULL,                    -- JSON ApprovalGate
        updated_by  text NOT NULL,
        updated_at  text NOT NULL
    );
    ",
    // v7: pipelines (policy), one per service: its stages in order.
    "
    CREATE TABLE pipelines (
        service     text PRIMARY KEY,
        definition  text NOT NULL,                    -- JSON Pipeline
        updated_by  text NOT NULL,
        updated_at  text NOT NULL
    );
    ",
    // v8: service.yaml manifests, every applied version; a pipeline set by one records which.
    "
    CREATE TABLE manifests (
        service     text NOT NULL,
        version     integer NOT NULL,
        digest      text NOT NULL,                    -- SHA-256 of text
        text        text NOT NULL,                    -- as applied
        definition  text NOT NULL,                    -- JSON Manifest
        applied_by  text NOT NULL,
        applied_at  text NOT NULL,
        PRIMARY KEY (service, version)
    );
    ALTER TABLE pipelines ADD COLUMN manifest_version integer;
    ",
    // v9: reviewer groups, which approval gates name.
    "
    CREATE TABLE reviewer_groups (
        name        text PRIMARY KEY,                 -- gate::group_key(name)
        definition  text NOT NULL,                    -- JSON ReviewerGroup
        updated_by  text NOT NULL,
        updated_at  text NOT NULL
    );
    ",
    // v10: scheduled starts, one row per deployment (its latest schedule).
    "
    CREATE TABLE scheduled_starts (
        deployment_id  text PRIMARY KEY,
        state          text NOT NULL,                 -- pending, started, refused, cancelled
        at             text NOT NULL,                 -- when it starts, RFC 3339 UTC
        definition     text NOT NULL                  -- JSON ScheduledStart
    );
    CREATE INDEX scheduled_starts_due ON scheduled_starts (state, at);
    ",
    // v11: approval gates per environment and service: '' is the environment-wide gate (every
    // gate so far), a service name that service's own, which takes precedence.
    "
    ALTER TABLE approval_gates ADD COLUMN service text NOT NULL DEFAULT '';  -- gate::service_key(service)
    ALTER TABLE approval_gates DROP CONSTRAINT approval_gates_pkey;
    ALTER TABLE approval_gates ADD PRIMARY KEY (environment, service);
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema in the connection's `search_path` up to [`SCHEMA_VERSION`]. Refuses a schema
/// written by a newer Loco.
pub(crate) async fn migrate(conn: &mut Conn) -> Result<()> {
    loop {
        conn.begin("BEGIN").await?;
        match apply_next(conn).await {
            Ok(done) => {
                conn.commit().await?;
                if done {
                    return Ok(());
                }
            }
            Err(e) => {
                conn.rollback().await;
                return Err(e);
            }
        }
    }
}

/// Applies the first missing migration; `true` when none was missing.
async fn apply_next(conn: &mut Conn) -> Result<bool> {
    // Held until this transaction ends: the version is read and moved by one process at a time.
    conn.query("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    conn.batch(
        "CREATE TABLE IF NOT EXISTS loco_schema_version (
            version    bigint PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let current: i64 =
        conn.query_one("SELECT coalesce(max(version), 0)::bigint FROM loco_schema_version", &[]).await?.try_get(0)?;
    if current > SCHEMA_VERSION {
        return Err(Error::storage(format!(
            "database schema version {current} is newer than this Loco supports ({SCHEMA_VERSION}); upgrade Loco to \
             open it"
        ))
        .into());
    }
    let Some(sql) = usize::try_from(current).ok().and_then(|i| MIGRATIONS.get(i)) else {
        return Ok(true);
    };
    conn.batch(sql).await?;
    conn.execute("INSERT INTO loco_schema_version (version) VALUES ($1)", &[&(current + 1)]).await?;
    Ok(false)
}
