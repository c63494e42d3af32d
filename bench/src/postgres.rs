//! P10: durable lifecycle transitions on PostgreSQL. P10a: 64 concurrent callers through one
//! [`Engine`] against a raw tokio-postgres baseline issuing the same statements with the same
//! isolation over 64 connections; P10b: the same 64 callers spread over two engines (two replicas
//! in this process, each with its own pool) on one schema. Each side works in its own fresh schema,
//! created and dropped here; the sides alternate repetition by repetition.
//!
//! Every write on PostgreSQL — Loco's and the baseline's — is one READ COMMITTED transaction that
//! first locks the one row of `chain_head` (`SELECT … FOR UPDATE`) and holds it until its commit is
//! flushed, so every transition of the cluster is serialized on that row whatever the number of
//! callers, connections or replicas.

use std::time::{Duration, Instant};

use loco_core::{Engine, NewDeployment, Status, Timestamp};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, IsolationLevel, NoTls, Statement};

use crate::raw::{OPERATOR, REVIEWER, ROLLBACK_NOTE, STEPS_PER_DEPLOYMENT};
use crate::table::{Row, Target, thousands};
use crate::writes::spread;
use crate::{Result, on_runtime, seed, stats};

/// The database when `LOCO_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Concurrent callers on every side (and the raw baseline's connections).
pub const CALLERS: usize = 64;
/// Replicas in P10b.
const REPLICAS: usize = 2;
/// Deployments taken through the lifecycle untimed, one per caller, after a side opens.
const WARMUP_DEPLOYMENTS: usize = CALLERS;
/// How long connecting to PostgreSQL may take before the rows say it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much P10 writes.
#[derive(Debug, Clone, Copy)]
pub struct PostgresScale {
    /// Interleaved repetitions; each side reports its median.
    pub reps: usize,
    /// Deployments per caller per repetition (×4 transitions × 64 callers).
    pub deployments_per_caller: usize,
}

/// P10 results.
pub struct Postgres {
    /// The P10a and P10b rows.
    pub rows: Vec<Row>,
    /// How they were measured.
    pub note: String,
}

/// The sides, in the order of the first repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Engine,
    Raw,
    Replicas,
}

const SIDES: [Side; 3] = [Side::Engine, Side::Raw, Side::Replicas];

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Engine => "engine",
            Side::Raw => "raw",
            Side::Replicas => "replicas",
        }
    }
}

/// One lifecycle step as the raw baseline writes it.
struct Step {
    kind: &'static str,
    from: &'static str,
    to: &'static str,
    actor: &'static str,
    note: Option<&'static str>,
    review: bool,
}

/// approve → start → succeed → rollback, as P2 does.
const STEPS: [Step; STEPS_PER_DEPLOYMENT] = [
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

/// The columns Loco reads for a deployment, in Loco's order (`status` is the 10th).
const COLUMNS: &str = "seq, id, service, environment, version, requester, work_refs, rollback_plan, risk, status, \
     reviewed_by, reviewed_at, created_at, updated_at";

/// Runs P10a and P10b against `LOCO_TEST_POSTGRES_URL` (default [`DEFAULT_URL`]); the rows say
/// "not yet measurable" when PostgreSQL cannot be reached.
pub fn run(runtime: &Runtime, scale: PostgresScale) -> Result<Postgres> {
    let url = std::env::var("LOCO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    on_runtime(runtime, async move {
        let admin = match connect(&url, "loco-bench-admin").await {
            Ok(admin) => admin,
            Err(e) => {
                let why = format!(
                    "PostgreSQL not reachable at {} ({}); set LOCO_TEST_POSTGRES_URL",
                    loco_core::shown_location(&url),
                    describe(&*e)
                );
                return Ok(unmeasurable(&why, scale));
            }
        };
        let schemas = Schemas::create(&admin.0).await?;
        let measured = measure(&url, &schemas, scale).await;
        let dropped = schemas.drop(&admin.0).await;
        let (rows, note) = measured?;
        dropped?;
        let settings = server_settings(&admin.0).await?;
        Ok(Postgres {
            rows,
            note: format!("P10: PostgreSQL {settings} at {}; {note}", loco_core::shown_location(&url)),
        })
    })?
}

/// What a side measured in each repetition, and how its schema was seeded.
#[derive(Default)]
struct Measured {
    engine: Vec<f64>,
    raw: Vec<f64>,
    replicas: Vec<f64>,
    seeded: Vec<String>,
}

async fn measure(url: &str, schemas: &Schemas, scale: PostgresScale) -> Result<(Vec<Row>, String)> {
    let per_rep = CALLERS * scale.deployments_per_caller;
    let needed = scale.reps * (WARMUP_DEPLOYMENTS + per_rep);
    let mut m = Measured::default();
    let mut pools = Vec::new();
    for side in SIDES {
        let url = schemas.url(url, side);
        let started = Instant::now();
        let ids = match side {
            Side::Engine | Side::Replicas => seed_through_engine(&url, needed).await?,
            Side::Raw => seed_raw(&url, needed).await?,
        };
        let how = if side == Side::Raw { "plain INSERTs" } else { "the engine, 64 callers" };
        m.seeded.push(format!("{} {:.1} s ({how})", side.name(), started.elapsed().as_secs_f64()));
        pools.push(ids.into_iter());
    }
    for rep in 0..scale.reps {
        eprintln!("  P10 repetition {}/{}", rep + 1, scale.reps);
        // Rotate which side goes first so drift in the machine's load is shared.
        for k in 0..SIDES.len() {
            let side = SIDES[(rep + k) % SIDES.len()];
            let pool = &mut pools[SIDES.iter().position(|s| *s == side).ok_or("no side")?];
            let warmup = take(pool, WARMUP_DEPLOYMENTS)?;
            let ids = take(pool, per_rep)?;
            let url = schemas.url(url, side);
            match side {
                Side::Engine => m.engine.push(engine_rep(&url, 1, warmup, ids).await?),
                Side::Replicas => m.replicas.push(engine_rep(&url, REPLICAS, warmup, ids).await?),
                Side::Raw => m.raw.push(raw_rep(&url, warmup, ids).await?),
            }
        }
    }
    let (engine, raw, replicas) = (stats::median(&m.engine), stats::median(&m.raw), stats::median(&m.replicas));
    let (reps, n) = (scale.reps, thousands((per_rep * STEPS_PER_DEPLOYMENT) as f64));
    let rows = vec![
        Row::measured(
            "P10a",
            format!("{P10A_MEASURE}; median of {reps} × {n}"),
            spread(engine, &m.engine, "tx/s"),
            spread(raw, &m.raw, "tx/s"),
            engine / raw,
            P10A_TARGET,
        ),
        Row::measured(
            "P10b",
            format!("{P10B_MEASURE}; median of {reps} × {n}"),
            spread(replicas, &m.replicas, "tx/s"),
            format!("{} (P10a, 1 engine)", spread(engine, &m.engine, "tx/s")),
            replicas / engine,
            Target::None,
        ),
    ];
    let note = format!(
        "each side in its own fresh schema (created and dropped by the bench), seeded untimed with {} pending \
         deployments ({}); in each repetition a side opens (engines with their default pool of 8 connections \
         plus a LISTEN connection each; the raw side 64 connections with its statements prepared), takes {WARMUP_DEPLOYMENTS} \
         deployments through the lifecycle untimed, then {CALLERS} callers (dealt deployments round-robin) each \
         take {} deployments through approve → start → succeed → rollback, a transaction per transition. The raw \
         transaction: `START TRANSACTION ISOLATION LEVEL READ COMMITTED`, `SELECT seq, hash FROM chain_head WHERE id \
         = 1 FOR UPDATE`, read the deployment row (status checked), `UPDATE deployments`, `INSERT INTO \
         deployment_events` with a SHA-256 link over the previous hash (and the deploy lock's `INSERT` on start, \
         `DELETE` on succeed), `UPDATE chain_head`, `COMMIT`; Loco's adds \
         the rollout-state read, its rule checks and audit hash, and `pg_notify`. Every write of the cluster holds \
         the one `chain_head` row lock from its first query until its commit is flushed, so transitions are \
         serialized across callers, connections and replicas: the rate is bounded by 1 ÷ (the statements' round \
         trips after the lock + the commit's WAL flush), and neither 64 connections nor a second replica adds \
         parallelism; sides rotate which goes first in each repetition.",
        thousands(needed as f64),
        m.seeded.join(", "),
        scale.deployments_per_caller,
    );
    Ok((rows, note))
}

const P10A_MEASURE: &str = "durable transitions/s on PostgreSQL, 64 concurrent callers through `Engine` (one READ \
     COMMITTED transaction per transition, serialized on the `chain_head` row lock) vs raw tokio-postgres issuing \
     the same statements over 64 connections";
const P10A_TARGET: Target = Target::AtLeast(0.5);
const P10B_MEASURE: &str = "the same 64 callers spread over two `Engine` replicas (each its own pool) on one schema, \
     vs one engine (P10a)";

/// Both rows, when PostgreSQL cannot be reached.
fn unmeasurable(why: &str, scale: PostgresScale) -> Postgres {
    let baseline = "not run".to_owned();
    let rows = vec![
        Row::unmeasurable("P10a", P10A_MEASURE, why, baseline.clone(), P10A_TARGET),
        Row::unmeasurable("P10b", P10B_MEASURE, why, baseline, Target::None),
    ];
    let note = format!(
        "P10: not run ({why}); it needs a PostgreSQL server where the bench may create and drop schemas \
         ({} repetitions of {} transitions per side when it runs).",
        scale.reps,
        thousands((CALLERS * scale.deployments_per_caller * STEPS_PER_DEPLOYMENT) as f64)
    );
    Postgres { rows, note }
}

fn take(pool: &mut std::vec::IntoIter<String>, n: usize) -> Result<Vec<String>> {
    let ids: Vec<String> = pool.by_ref().take(n).collect();
    if ids.len() < n { Err("ran out of seeded deployments".into()) } else { Ok(ids) }
}

/// A connection and the task driving it (aborted when dropped).
struct Connection(Client, JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.1.abort();
    }
}

async fn connect(url: &str, application: &str) -> Result<Connection> {
    let mut config: Config = url.parse()?;
    config.connect_timeout(CONNECT_TIMEOUT).application_name(application);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT * 2, config.connect(NoTls))
        .await
        .map_err(|_| format!("no connection within {} s", (CONNECT_TIMEOUT * 2).as_secs()))??;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Connection(client, task))
}

/// An error with its causes, `error connecting to server: Connection refused (os error 111)`.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// `PostgreSQL 15.4 (synchronous_commit=on, fsync=on, wal_sync_method=fdatasync)`.
async fn server_settings(client: &Client) -> Result<String> {
    let mut values = Vec::new();
    for name in ["server_version", "synchronous_commit", "fsync", "wal_sync_method"] {
        let row = client.query_one(&format!("SHOW {name}"), &[]).await?;
        values.push(row.try_get::<_, String>(0)?);
    }
    Ok(format!("{} (synchronous_commit={}, fsync={}, wal_sync_method={})", values[0], values[1], values[2], values[3]))
}

/// The three fresh schemas of one run.
struct Schemas {
    prefix: String,
}

impl Schemas {
    async fn create(admin: &Client) -> Result<Self> {
        let schemas = Self { prefix: format!("loco_bench_{}", ulid::Ulid::new().to_string().to_lowercase()) };
        for side in SIDES {
            if let Err(e) = admin.batch_execute(&format!("CREATE SCHEMA {}", schemas.name(side))).await {
                let _ = schemas.drop(admin).await;
                return Err(e.into());
            }
        }
        Ok(schemas)
    }

    fn name(&self, side: Side) -> String {
        format!("{}_{}", self.prefix, side.name())
    }

    /// `url` with the side's schema as its `search_path`, and a name in `pg_stat_activity`.
    fn url(&self, url: &str, side: Side) -> String {
        let join = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{join}options=-csearch_path%3D{}&application_name=loco-bench-p10-{}",
            self.name(side),
            side.name()
        )
    }

    async fn drop(&self, admin: &Client) -> Result<()> {
        let names: Vec<String> = SIDES.iter().map(|s| self.name(*s)).collect();
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", names.join(", "))).await?;
        Ok(())
    }
}

/// The `i`-th seeded deployment's request ([`CALLERS`] services in turn, staging: the callers,
/// dealt deployments round-robin, each start a service of their own, as the deploy lock needs).
fn new_deployment(i: usize) -> NewDeployment {
    NewDeployment {
        service: seed::service_name(i % CALLERS),
        environment: "staging".to_owned(),
        version: format!("1.{i}.0"),
        requester: seed::REQUESTER.to_owned(),
        work_refs: vec![format!("PAY-{i}")],
        rollback_plan: "redeploy the previous version".to_owned(),
        risk: None,
        commit: None,
    }
}

/// Creates `count` pending deployments through an engine on `url` with [`CALLERS`] concurrent
/// callers; returns their ids, roughly in creation order.
async fn seed_through_engine(url: &str, count: usize) -> Result<Vec<String>> {
    let engine = Engine::builder().location(url).open().await?;
    let tasks: Vec<JoinHandle<loco_core::Result<Vec<String>>>> = (0..CALLERS)
        .map(|c| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in (c..count).step_by(CALLERS) {
                    ids.push(engine.create(new_deployment(i), None).await?.id);
                }
                Ok(ids)
            })
        })
        .collect();
    let mut shares = Vec::new();
    for task in tasks {
        shares.push(task.await??);
    }
    engine.close().await?;
    Ok((0..count).filter_map(|i| shares[i % CALLERS].get(i / CALLERS).cloned()).collect())
}

/// Lets an engine create its schema at `url`, then inserts `count` pending deployments, each with
/// its `created` event in a valid chain, with plain prepared INSERTs in one transaction.
async fn seed_raw(url: &str, count: usize) -> Result<Vec<String>> {
    Engine::builder().location(url).open().await?.close().await?;
    let mut conn = connect(url, "loco-bench-p10-seed").await?;
    let tx = conn.0.transaction().await?;
    let insert_deployment = tx
        .prepare(
            "INSERT INTO deployments (id, service, environment, version, requester, work_refs, rollback_plan, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .await?;
    let insert_event = tx
        .prepare(
            "INSERT INTO deployment_events (seq, id, deployment_id, kind, actor, to_status, at, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    let head = tx.query_one("SELECT seq, hash FROM chain_head WHERE id = 1", &[]).await?;
    let (mut seq, mut hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let new = new_deployment(i);
        let id = format!("dep_{}", ulid::Ulid::new());
        let at = Timestamp::now().to_string();
        let status = Status::PendingApproval.as_str();
        let work_refs = format!("[\"{}\"]", new.work_refs[0]);
        tx.execute(
            &insert_deployment,
            &[
                &id,
                &new.service,
                &new.environment,
                &new.version,
                &new.requester,
                &work_refs,
                &new.rollback_plan,
                &status,
                &at,
            ],
        )
        .await?;
        seq += 1;
        let event_id = format!("evt_{}", ulid::Ulid::new());
        hash = link(&hash, seq, &event_id, &id, "created", &new.requester, None, None, status, &at);
        tx.execute(&insert_event, &[&seq, &event_id, &id, &"created", &new.requester, &status, &at, &hash]).await?;
        ids.push(id);
    }
    tx.execute("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1", &[&seq, &hash]).await?;
    tx.commit().await?;
    Ok(ids)
}

/// The raw baseline's chain link: SHA-256 over the previous hash and the event's fields.
#[allow(clippy::too_many_arguments)] // One event's fields, as the INSERT takes them.
fn link(
    prev: &str,
    seq: i64,
    event_id: &str,
    deployment: &str,
    kind: &str,
    actor: &str,
    note: Option<&str>,
    from: Option<&str>,
    to: &str,
    at: &str,
) -> String {
    let fields = format!(
        "{seq}\u{1f}{event_id}\u{1f}{deployment}\u{1f}{kind}\u{1f}{actor}\u{1f}{}\u{1f}{}\u{1f}{to}\u{1f}{at}",
        note.unwrap_or(""),
        from.unwrap_or("")
    );
    loco_core::audit::sha256_hex(&[prev.as_bytes(), fields.as_bytes()])
}

/// The deployments each caller takes: caller `c` gets `ids[c]`, `ids[c + 64]`, ….
fn deal(ids: Vec<String>) -> Vec<Vec<String>> {
    let mut shares = vec![Vec::new(); CALLERS];
    for (i, id) in ids.into_iter().enumerate() {
        shares[i % CALLERS].push(id);
    }
    shares
}

/// One deployment's four transitions through an engine.
async fn lifecycle(engine: &Engine, id: &str) -> loco_core::Result<()> {
    engine.approve(id, REVIEWER, None).await?;
    engine.start(id, OPERATOR, None).await?;
    engine.succeed(id, OPERATOR, None).await?;
    engine.rollback(id, OPERATOR, ROLLBACK_NOTE).await?;
    Ok(())
}

/// Opens `replicas` engines on `url`, runs `warmup` untimed and `ids` timed with [`CALLERS`]
/// callers (caller `c` on engine `c % replicas`), closes them; returns transitions/s.
async fn engine_rep(url: &str, replicas: usize, warmup: Vec<String>, ids: Vec<String>) -> Result<f64> {
    let mut engines = Vec::new();
    for _ in 0..replicas {
        engines.push(Engine::builder().location(url).open().await?);
    }
    engine_callers(&engines, warmup).await?;
    let total = ids.len() * STEPS_PER_DEPLOYMENT;
    let started = Instant::now();
    engine_callers(&engines, ids).await?;
    let rate = total as f64 / started.elapsed().as_secs_f64();
    for engine in engines {
        engine.close().await?;
    }
    Ok(rate)
}

async fn engine_callers(engines: &[Engine], ids: Vec<String>) -> Result<()> {
    let tasks: Vec<_> = deal(ids)
        .into_iter()
        .enumerate()
        .map(|(c, share)| {
            let engine = engines[c % engines.len()].clone();
            tokio::spawn(async move {
                for id in &share {
                    lifecycle(&engine, id).await?;
                }
                Ok::<_, loco_core::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// One raw baseline connection with its statements prepared.
struct RawConn {
    conn: Connection,
    lock_head: Statement,
    read: Statement,
    update: Statement,
    insert: Statement,
    move_head: Statement,
    lock: Statement,
    unlock: Statement,
}

impl RawConn {
    async fn open(url: &str) -> Result<Self> {
        let conn = connect(url, "loco-bench-p10-raw").await?;
        let c = &conn.0;
        Ok(Self {
            lock_head: c.prepare("SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE").await?,
            read: c.prepare(&format!("SELECT {COLUMNS} FROM deployments WHERE id = $1")).await?,
            update: c
                .prepare(
                    "UPDATE deployments SET status = $1, updated_at = $2, reviewed_by = $3, reviewed_at = $4 \
                     WHERE id = $5",
                )
                .await?,
            insert: c
                .prepare(
                    "INSERT INTO deployment_events \
                     (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash, data) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .await?,
            move_head: c.prepare("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1").await?,
            lock: c
                .prepare(
                    "INSERT INTO deploy_locks (service, environment, deployment_id, holder, since) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await?,
            unlock: c
                .prepare("DELETE FROM deploy_locks WHERE service = $1 AND environment = $2 AND deployment_id = $3")
                .await?,
            conn,
        })
    }

    /// One transition: lock the head, read the row, update it, append the event, move the head.
    async fn transition(&mut self, id: &str, step: &Step) -> Result<()> {
        let tx = self.conn.0.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await?;
        let head = tx.query_one(&self.lock_head, &[]).await?;
        let (seq, prev): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let row = tx.query_one(&self.read, &[&id]).await?;
        let status: &str = row.try_get(9)?;
        if status != step.from {
            return Err(format!("raw baseline: {id} is {status}, not {}", step.from).into());
        }
        let now = Timestamp::now().to_string();
        let (reviewed_by, reviewed_at): (Option<String>, Option<String>) = if step.review {
            (Some(REVIEWER.to_owned()), Some(now.clone()))
        } else {
            (row.try_get(10)?, row.try_get(11)?)
        };
        let (service, environment): (String, String) = (row.try_get(2)?, row.try_get(3)?);
        match step.kind {
            "started" => _ = tx.execute(&self.lock, &[&service, &environment, &id, &step.actor, &now]).await?,
            "succeeded" => _ = tx.execute(&self.unlock, &[&service, &environment, &id]).await?,
            _ => {}
        }
        tx.execute(&self.update, &[&step.to, &now, &reviewed_by, &reviewed_at, &id]).await?;
        let seq = seq + 1;
        let event_id = format!("evt_{}", ulid::Ulid::new());
        let hash = link(&prev, seq, &event_id, id, step.kind, step.actor, step.note, Some(step.from), step.to, &now);
        tx.execute(
            &self.insert,
            &[
                &seq,
                &event_id,
                &id,
                &step.kind,
                &step.actor,
                &step.note,
                &step.from,
                &step.to,
                &now,
                &hash,
                &Option::<String>::None,
            ],
        )
        .await?;
        tx.execute(&self.move_head, &[&seq, &hash]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Opens [`CALLERS`] raw connections on `url`, runs `warmup` untimed and `ids` timed, one caller
/// per connection, then closes them; returns transitions/s.
async fn raw_rep(url: &str, warmup: Vec<String>, ids: Vec<String>) -> Result<f64> {
    let mut conns = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        conns.push(RawConn::open(url).await?);
    }
    let conns = raw_callers(conns, warmup).await?;
    let total = ids.len() * STEPS_PER_DEPLOYMENT;
    let started = Instant::now();
    let conns = raw_callers(conns, ids).await?;
    let rate = total as f64 / started.elapsed().as_secs_f64();
    drop(conns);
    Ok(rate)
}

/// Each connection's caller takes its share of `ids` through the lifecycle; the connections
/// come back for the next round.
async fn raw_callers(conns: Vec<RawConn>, ids: Vec<String>) -> Result<Vec<RawConn>> {
    let tasks: Vec<JoinHandle<Result<RawConn>>> = conns
        .into_iter()
        .zip(deal(ids))
        .map(|(mut conn, share)| {
            tokio::spawn(async move {
                for id in &share {
                    for step in &STEPS {
                        conn.transition(id, step).await?;
                    }
                }
                Ok(conn)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(CALLERS);
    for task in tasks {
        conns.push(task.await??);
    }
    Ok(conns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_urls_set_the_search_path() {
        let schemas = Schemas { prefix: "loco_bench_x".to_owned() };
        assert_eq!(
            schemas.url("postgres://u@h/db", Side::Raw),
            "postgres://u@h/db?options=-csearch_path%3Dloco_bench_x_raw&application_name=loco-bench-p10-raw"
        );
        assert!(schemas.url("postgres://u@h/db?sslmode=disable", Side::Engine).contains("disable&options="));
    }

    #[test]
    fn deployments_are_dealt_round_robin() {
        let shares = deal((0..130).map(|i| i.to_string()).collect());
        assert_eq!(shares.len(), CALLERS);
        assert_eq!(shares[0], ["0", "64", "128"]);
        assert_eq!(shares[63], ["63", "127"]);
    }
}
