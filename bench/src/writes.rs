//! P1 and P2: durable transitions per second through [`Engine`] with 1 caller (a task on the
//! runtime, and a thread blocked in `block_on`) and with 64 concurrent callers (group commit),
//! against raw rusqlite doing the same UPDATE + INSERT (and, on start and succeed, the deploy
//! lock's INSERT and DELETE) one transaction at a time and 64 transitions per transaction (the
//! group-commit ceiling), all on the same schema, pragmas and disk, interleaved repetition by
//! repetition.

use std::path::Path;
use std::time::Instant;

use loco_core::Engine;
use tokio::runtime::Runtime;

use crate::raw::{OPERATOR, REVIEWER, ROLLBACK_NOTE, RawWriter, STEPS_PER_DEPLOYMENT};
use crate::table::{Row, Target, rate, thousands};
use crate::{Result, on_runtime, seed, stats};

/// Concurrent callers in P2 (and the raw batch size it is compared with).
pub const CALLERS: usize = 64;
/// Deployments taken through the lifecycle untimed on each side before measuring.
const WARMUP_DEPLOYMENTS: usize = 32;

/// How much P1/P2 write.
#[derive(Debug, Clone, Copy)]
pub struct WritesScale {
    /// Interleaved repetitions; each side reports its median.
    pub reps: usize,
    /// Deployments per P1 repetition per side (×4 transitions).
    pub p1_deployments: usize,
    /// Deployments per caller per P2 repetition (×4 transitions × 64 callers).
    pub p2_deployments_per_caller: usize,
}

/// P1/P2 results: the table rows and Loco's 64-caller rate (P7 compares with it).
pub struct Writes {
    /// The P1 and P2 rows.
    pub rows: Vec<Row>,
    /// Median transitions/s through `Engine` with 64 callers.
    pub engine_64_rate: f64,
    /// How the files were populated.
    pub note: String,
}

/// The service and environment of the `i`-th deployment of the P1/P2 files: [`CALLERS`] services
/// in turn, so the deployments in flight at once (dealt round-robin to the callers, or 64
/// consecutive ones in a raw transaction) are of different services, as each must be — one
/// started deployment per service and environment holds its deploy lock.
fn target(i: usize) -> (String, &'static str) {
    (seed::service_name(i % CALLERS), "staging")
}

/// A supply of populated, still-pending deployments.
struct Pool(std::vec::IntoIter<String>);

impl Pool {
    fn take(&mut self, n: usize) -> Result<Vec<String>> {
        let ids: Vec<String> = self.0.by_ref().take(n).collect();
        if ids.len() < n { Err("ran out of populated deployments".into()) } else { Ok(ids) }
    }
}

/// Runs P1 and P2 in `dir`.
pub fn run(runtime: &Runtime, dir: &Path, scale: WritesScale) -> Result<Writes> {
    let engine_path = dir.join("writes-engine.db");
    let raw_path = dir.join("writes-raw.db");
    let p2_per_rep = CALLERS * scale.p2_deployments_per_caller;
    let needed = WARMUP_DEPLOYMENTS + scale.reps * (2 * scale.p1_deployments + p2_per_rep);
    let mut populate_secs = 0.0;
    let mut pools = Vec::new();
    for path in [&engine_path, &raw_path] {
        seed::create_schema(runtime, path)?;
        let populated = seed::populate_with(path, needed, target)?;
        populate_secs += populated.elapsed.as_secs_f64();
        pools.push(Pool(populated.ids.into_iter()));
    }
    let (mut raw_ids, mut engine_ids) = (pools.pop().ok_or("no pool")?, pools.pop().ok_or("no pool")?);

    let engine = runtime.block_on(Engine::open(&engine_path))?;
    let mut raw = RawWriter::open(&raw_path)?;
    sequential(runtime, &engine, engine_ids.take(WARMUP_DEPLOYMENTS)?)?;
    raw.transitions(&raw_ids.take(WARMUP_DEPLOYMENTS)?, 1)?;

    let mut samples = Samples::default();
    let Samples { p1_engine, p1_blocked, p1_raw, p2_engine, p2_raw64 } = &mut samples;
    for rep in 0..scale.reps {
        eprintln!("  P1/P2 repetition {}/{}", rep + 1, scale.reps);
        // Alternate which side goes first so drift in the machine's load is shared.
        for side in if rep % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] } {
            if side == 0 {
                p1_engine.push(sequential(runtime, &engine, engine_ids.take(scale.p1_deployments)?)?);
            } else if side == 1 {
                p1_blocked.push(sequential_blocked(runtime, &engine, &engine_ids.take(scale.p1_deployments)?)?);
            } else {
                let ids = raw_ids.take(scale.p1_deployments)?;
                let started = Instant::now();
                let n = raw.transitions(&ids, 1)?;
                p1_raw.push(n as f64 / started.elapsed().as_secs_f64());
            }
        }
        for side in if rep % 2 == 0 { [0, 1] } else { [1, 0] } {
            if side == 0 {
                p2_engine.push(concurrent(runtime, &engine, &engine_ids.take(p2_per_rep)?)?);
            } else {
                let ids = raw_ids.take(p2_per_rep)?;
                let started = Instant::now();
                let n = raw.transitions(&ids, CALLERS)?;
                p2_raw64.push(n as f64 / started.elapsed().as_secs_f64());
            }
        }
    }
    runtime.block_on(engine.close())?;
    let (rows, e64) = samples.rows(scale);
    let note = format!(
        "P1/P2 files: the engine created its schema, then {} pending deployments per file were bulk-inserted \
         (with their `created` events and a valid audit chain) in {populate_secs:.1} s; each deployment then goes \
         approve → start → succeed → rollback (4 durable transitions). {WARMUP_DEPLOYMENTS} deployments per side \
         were run untimed first.",
        thousands(needed as f64)
    );
    Ok(Writes { rows, engine_64_rate: e64, note })
}

/// Each repetition's rate, per side.
#[derive(Default)]
struct Samples {
    p1_engine: Vec<f64>,
    p1_blocked: Vec<f64>,
    p1_raw: Vec<f64>,
    p2_engine: Vec<f64>,
    p2_raw64: Vec<f64>,
}

impl Samples {
    /// The P1 and P2 rows, and Loco's median 64-caller rate.
    fn rows(&self, scale: WritesScale) -> (Vec<Row>, f64) {
        let Self { p1_engine, p1_blocked, p1_raw, p2_engine, p2_raw64 } = self;
        let p2_per_rep = CALLERS * scale.p2_deployments_per_caller;
        let (e1, b1, r1) = (stats::median(p1_engine), stats::median(p1_blocked), stats::median(p1_raw));
        let (e64, r64) = (stats::median(p2_engine), stats::median(p2_raw64));
        let reps = scale.reps;
        let p1_n = thousands((scale.p1_deployments * STEPS_PER_DEPLOYMENT) as f64);
        let p2_n = thousands((p2_per_rep * STEPS_PER_DEPLOYMENT) as f64);
        let rows = vec![
            Row::measured(
                "P1",
                format!(
                    "durable transitions/s, 1 caller (a task on the runtime), `synchronous=FULL` (state UPDATE + \
                     event INSERT per commit, plus the deploy lock's INSERT on start and DELETE on succeed); \
                     baseline raw rusqlite, same statements, schema and pragmas; median of {reps} × {p1_n}"
                ),
                spread(e1, p1_engine, "tx/s"),
                spread(r1, p1_raw, "tx/s"),
                e1 / r1,
                Target::AtLeast(0.9),
            ),
            Row::measured(
                "P1",
                format!(
                    "the same, the caller a thread blocked in `block_on` (a script, the CLI, Python's `SyncEngine`), \
                 which commits its own write when the writer is idle; median of {reps} × {p1_n}"
                ),
                spread(b1, p1_blocked, "tx/s"),
                spread(r1, p1_raw, "tx/s"),
                b1 / r1,
                Target::AtLeast(0.9),
            ),
            Row::measured(
                "P2",
                format!(
                    "transitions/s, {CALLERS} concurrent callers each acknowledged after commit (group commit) vs \
                 raw rusqlite 1 caller (P1's baseline); median of {reps} × {p2_n}"
                ),
                spread(e64, p2_engine, "tx/s"),
                spread(r1, p1_raw, "tx/s"),
                e64 / r1,
                Target::AtLeast(10.0),
            ),
            Row::measured(
                "P2",
                format!(
                    "same {CALLERS}-caller rate vs raw rusqlite writing {CALLERS} transitions per transaction \
                 (the group-commit ceiling); median of {reps} × {p2_n}"
                ),
                spread(e64, p2_engine, "tx/s"),
                spread(r64, p2_raw64, "transitions/s"),
                e64 / r64,
                Target::AtLeast(0.5),
            ),
        ];
        (rows, e64)
    }
}

/// A median with the range of the repetitions, e.g. `4,712 tx/s (4,600–4,801)`.
pub fn spread(median: f64, samples: &[f64], unit: &str) -> String {
    if samples.len() < 2 {
        return rate(median, unit);
    }
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(0.0, f64::max);
    format!("{} ({}–{})", rate(median, unit), thousands(lo), thousands(hi))
}

/// One deployment's four transitions through the engine.
async fn lifecycle(engine: &Engine, id: &str) -> loco_core::Result<()> {
    engine.approve(id, REVIEWER, None).await?;
    engine.start(id, OPERATOR, None).await?;
    engine.succeed(id, OPERATOR, None).await?;
    engine.rollback(id, OPERATOR, ROLLBACK_NOTE).await?;
    Ok(())
}

/// One caller, a thread blocked in `block_on` (not a task on the runtime), one transition at a
/// time; returns transitions/s.
fn sequential_blocked(runtime: &Runtime, engine: &Engine, ids: &[String]) -> Result<f64> {
    Ok(runtime.block_on(one_by_one(engine, ids))?)
}

/// One caller, a task on the runtime, one transition at a time; returns transitions/s.
fn sequential(runtime: &Runtime, engine: &Engine, ids: Vec<String>) -> Result<f64> {
    let engine = engine.clone();
    Ok(on_runtime(runtime, async move { one_by_one(&engine, &ids).await })??)
}

/// Takes `ids` through the lifecycle one after another; returns transitions/s.
async fn one_by_one(engine: &Engine, ids: &[String]) -> loco_core::Result<f64> {
    let started = Instant::now();
    for id in ids {
        lifecycle(engine, id).await?;
    }
    Ok((ids.len() * STEPS_PER_DEPLOYMENT) as f64 / started.elapsed().as_secs_f64())
}

/// [`CALLERS`] tasks, each taking its share of `ids` through the lifecycle; returns transitions/s.
///
/// The shares are dealt round-robin (caller `c` takes `ids[c]`, `ids[c + 64]`, …), so the
/// deployments in flight at any moment are neighbours in creation order, as recent deployments
/// are in a real engine and as the raw 64-per-transaction ceiling's chunks are: both sides touch
/// the same pages. (Contiguous shares would keep 64 far-apart corners of the table dirty at
/// once, a locality the ceiling never pays for.)
fn concurrent(runtime: &Runtime, engine: &Engine, ids: &[String]) -> Result<f64> {
    let total = ids.len() * STEPS_PER_DEPLOYMENT;
    let engine = engine.clone();
    let mut shares: Vec<Vec<String>> = vec![Vec::new(); CALLERS.min(ids.len())];
    for (i, id) in ids.iter().enumerate() {
        shares[i % CALLERS].push(id.clone());
    }
    on_runtime(runtime, async move {
        let started = Instant::now();
        let tasks: Vec<_> = shares
            .into_iter()
            .map(|chunk| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    for id in &chunk {
                        lifecycle(&engine, id).await?;
                    }
                    Ok::<_, loco_core::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        Ok(total as f64 / started.elapsed().as_secs_f64())
    })?
}
