//! P6: full lifecycles (create → approve → start → succeed, each action a durable commit on a
//! `synchronous=FULL` file, one caller) from Rust, from Python and Node through Loco's bindings
//! when they are built, and from a plain pure-Python peer on the `sqlite3` module.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use loco_core::{Engine, NewDeployment};
use tokio::runtime::Runtime;

use crate::child::{self, Outcome};
use crate::raw::{OPERATOR, REVIEWER};
use crate::table::{Row, Target, thousands};
use crate::{Result, on_runtime, seed, stats};

/// Lifecycles run untimed first by every implementation.
const WARMUP: usize = 10;
/// The longest any one bench script may run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);

/// With [`CALLERS`] concurrent callers, Loco from Python (asyncio tasks) must be at least 5× faster
/// than the pure-Python peer (threads): a time ratio ≤ 0.2.
const PEER_TARGET: Target = Target::AtMost(0.2);

/// Concurrent callers of the embedding comparison: asyncio tasks through `loco.Engine`, threads
/// in the pure-Python peer.
const CALLERS: usize = 64;

/// Where the scripts are and how to run them.
pub struct Setup<'a> {
    /// The repository root (the scripts live in `bench/`).
    pub root: &'a Path,
    /// The Python interpreter.
    pub python: &'a str,
    /// The loco-node package directory.
    pub node_package: &'a Path,
    /// Lifecycles per run.
    pub count: usize,
    /// Repetitions of each implementation, interleaved.
    pub reps: usize,
}

/// P6 results.
pub struct Lifecycles {
    /// The P6 rows.
    pub rows: Vec<Row>,
    /// How it was run.
    pub note: String,
}

/// Seconds per run of each implementation; a binding that is not built yet says why.
#[derive(Default)]
struct Timings {
    rust: Vec<f64>,
    peer: Vec<f64>,
    /// The peer with [`CALLERS`] threads.
    peer_threads: Vec<f64>,
    /// Loco from Python with [`CALLERS`] asyncio tasks.
    python_tasks: Vec<f64>,
    python: Vec<(String, Vec<f64>)>,
    python_missing: Option<String>,
    /// The build profile the Python script reported measuring.
    python_build: Option<String>,
    node: Vec<f64>,
    node_missing: Option<String>,
    /// The build profile the Node script reported measuring.
    node_build: Option<String>,
}

/// Runs P6 in `dir`.
pub fn run(runtime: &Runtime, dir: &Path, setup: &Setup<'_>) -> Result<Lifecycles> {
    let mut t = Timings::default();
    for rep in 0..setup.reps {
        eprintln!("  P6 repetition {}/{}", rep + 1, setup.reps);
        measure_rep(runtime, dir, setup, rep, &mut t)?;
    }
    let note = format!(
        "P6: every implementation runs {WARMUP} untimed lifecycles, then {} timed ones, one caller, each on a fresh \
         `synchronous=FULL` WAL file; each lifecycle is 4 commits. The pure-Python peer is \
         `bench/peers/lifecycle_peer.py` (sqlite3 module, same two tables, one transaction per action, same \
         validation, transition and self-approval rules, SHA-256 event chain). The embedding comparison runs the \
         same lifecycles from {CALLERS} callers at once on one file: {CALLERS} asyncio tasks through one \
         `loco.Engine` (group commit shares fsyncs), {CALLERS} threads with a connection each in the peer (each \
         action an IMMEDIATE transaction with its own fsync).",
        thousands(setup.count as f64)
    );
    Ok(Lifecycles { rows: rows(&t, setup), note })
}

fn measure_rep(runtime: &Runtime, dir: &Path, setup: &Setup<'_>, rep: usize, t: &mut Timings) -> Result<()> {
    let count = setup.count;
    t.rust.push(rust_lifecycles(runtime, &dir.join(format!("p6-rust-{rep}.db")), count)?);
    let db = dir.join(format!("p6-peer-{rep}.db"));
    match script(Command::new(setup.python).arg(setup.root.join("bench/peers/lifecycle_peer.py")), &db, count)? {
        Outcome::Results(r) => t.peer.push(child::seconds(r.first().ok_or("the peer printed no RESULT line")?)?),
        Outcome::Unavailable(why) => return Err(format!("the pure-Python peer cannot run: {why}").into()),
    }
    let db = dir.join(format!("p6-peer-threads-{rep}.db"));
    let peer = setup.root.join("bench/peers/lifecycle_peer.py");
    match script(Command::new(setup.python).arg(&peer).arg("--threads").arg(CALLERS.to_string()), &db, count)? {
        Outcome::Results(r) => {
            t.peer_threads.push(child::seconds(r.first().ok_or("the threaded peer printed no RESULT line")?)?);
        }
        Outcome::Unavailable(why) => return Err(format!("the pure-Python peer cannot run: {why}").into()),
    }
    if t.python_missing.is_none() {
        let db = dir.join(format!("p6-python-{rep}"));
        let loco = setup.root.join("bench/py/loco_lifecycles.py");
        match script(Command::new(setup.python).arg(loco).arg("--tasks").arg(CALLERS.to_string()), &db, count)? {
            Outcome::Results(r) => {
                t.python_tasks.push(child::seconds(r.first().ok_or("the Python script printed no RESULT")?)?);
            }
            Outcome::Unavailable(why) => t.python_missing = Some(why),
        }
    }
    if t.python_missing.is_none() {
        // The script adds `-sync.db` / `-async.db` for its two variants.
        let db = dir.join(format!("p6-python-{rep}"));
        match script(Command::new(setup.python).arg(setup.root.join("bench/py/loco_lifecycles.py")), &db, count)? {
            Outcome::Results(results) => {
                for r in results {
                    let variant = r.get("variant").cloned().unwrap_or_else(|| "python".to_owned());
                    t.python_build.clone_from(&r.get("build").cloned());
                    let secs = child::seconds(&r)?;
                    match t.python.iter_mut().find(|(v, _)| *v == variant) {
                        Some((_, times)) => times.push(secs),
                        None => t.python.push((variant, vec![secs])),
                    }
                }
            }
            Outcome::Unavailable(why) => t.python_missing = Some(why),
        }
    }
    if t.node_missing.is_none() {
        let db = dir.join(format!("p6-node-{rep}.db"));
        let mut cmd = Command::new("node");
        cmd.arg(setup.root.join("bench/node/loco_lifecycles.js")).arg("--package").arg(setup.node_package);
        match script(&mut cmd, &db, count)? {
            Outcome::Results(r) => {
                let result = r.first().ok_or("the Node script printed no RESULT")?;
                t.node_build.clone_from(&result.get("build").cloned());
                t.node.push(child::seconds(result)?);
            }
            Outcome::Unavailable(why) => t.node_missing = Some(why),
        }
    }
    Ok(())
}

fn python_label(variant: &str, build: Option<&str>) -> String {
    let name = match variant {
        "sync" => "Python `loco.SyncEngine`".to_owned(),
        "async" => "Python `await loco.Engine`".to_owned(),
        other => format!("Python ({other})"),
    };
    format!("{name}{}", build_note(build))
}

/// How a row names the build of the binding it measured.
fn build_note(build: Option<&str>) -> &'static str {
    match build {
        Some("release") => " (release build)",
        Some(_) => " (**debug build**: not a fair number)",
        None => "",
    }
}

fn rows(t: &Timings, setup: &Setup<'_>) -> Vec<Row> {
    let (count, reps) = (setup.count, setup.reps);
    let rust_s = stats::median(&t.rust);
    let peer_s = stats::median(&t.peer);
    let n = thousands(count as f64);
    let cell = |secs: f64| format!("{secs:.2} s ({} lifecycles/s)", thousands(count as f64 / secs));
    let mut rows = Vec::new();
    if t.python.is_empty() {
        rows.push(Row::unmeasurable(
            "P6",
            format!("{n} lifecycles from Python vs from Rust (time ratio)"),
            &format!("Python binding not available ({})", t.python_missing.as_deref().unwrap_or("no result")),
            cell(rust_s),
            Target::AtMost(1.5),
        ));
    }
    for (variant, times) in &t.python {
        let secs = stats::median(times);
        rows.push(Row::measured(
            "P6",
            format!(
                "{n} lifecycles from {} vs from Rust (time ratio); median of {reps}",
                python_label(variant, t.python_build.as_deref())
            ),
            cell(secs),
            cell(rust_s),
            secs / rust_s,
            Target::AtMost(1.5),
        ));
    }
    if t.node.is_empty() {
        rows.push(Row::unmeasurable(
            "P6",
            format!("{n} lifecycles from Node vs from Rust (time ratio)"),
            &format!("Node binding not available ({})", t.node_missing.as_deref().unwrap_or("no result")),
            cell(rust_s),
            Target::AtMost(1.5),
        ));
    } else {
        let secs = stats::median(&t.node);
        let addon = build_note(t.node_build.as_deref().or_else(|| node_addon_profile(setup.root, setup.node_package)));
        rows.push(Row::measured(
            "P6",
            format!("{n} lifecycles from Node `Engine`{addon} vs from Rust (time ratio); median of {reps}"),
            cell(secs),
            cell(rust_s),
            secs / rust_s,
            Target::AtMost(1.5),
        ));
    }
    let threads_s = stats::median(&t.peer_threads);
    let concurrent = format!(
        "{n} lifecycles by {CALLERS} asyncio tasks through {} vs the pure-Python peer with {CALLERS} threads on one \
         file (time ratio); median of {reps}",
        python_label("async", t.python_build.as_deref())
    );
    if t.python_tasks.is_empty() {
        rows.push(Row::unmeasurable("P6", concurrent, "Python binding not available", cell(threads_s), PEER_TARGET));
    } else {
        let secs = stats::median(&t.python_tasks);
        rows.push(Row::measured("P6", concurrent, cell(secs), cell(threads_s), secs / threads_s, PEER_TARGET));
    }
    // One caller each: both wait for an fsync per action, which no implementation avoids.
    if let Some((variant, times)) = t.python.first() {
        let secs = stats::median(times);
        rows.push(Row::measured(
            "P6",
            format!(
                "{n} lifecycles from {} vs the pure-Python peer, one caller each (fsync-bound; time ratio); median \
                 of {reps}",
                python_label(variant, t.python_build.as_deref())
            ),
            cell(secs),
            cell(peer_s),
            secs / peer_s,
            Target::None,
        ));
    }
    rows.push(Row::measured(
        "P6",
        format!("{n} lifecycles from Rust (`Engine`) vs the pure-Python peer (time ratio); median of {reps}"),
        cell(rust_s),
        cell(peer_s),
        rust_s / peer_s,
        Target::None,
    ));
    rows
}

/// Which cargo profile built the Node addon: napi-rs hard-links
/// `target/<triple>/<profile>/libloco_node.so` to `<package>/*.node`.
fn node_addon_profile(root: &Path, package: &Path) -> Option<&'static str> {
    use std::os::unix::fs::MetadataExt;
    let addon = std::fs::read_dir(package)
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "node"))?;
    let inode = std::fs::metadata(addon).ok()?.ino();
    ["debug", "release"].into_iter().find(|profile| {
        let built = root.join("target/x86_64-unknown-linux-gnu").join(profile).join("libloco_node.so");
        std::fs::metadata(built).is_ok_and(|m| m.ino() == inode)
    })
}

fn script(cmd: &mut Command, db: &Path, count: usize) -> Result<Outcome> {
    cmd.arg("--db").arg(db).arg("--count").arg(count.to_string()).arg("--warmup").arg(WARMUP.to_string());
    child::run_script(cmd, SCRIPT_LIMIT)
}

fn rust_lifecycles(runtime: &Runtime, path: &Path, count: usize) -> Result<f64> {
    let engine = runtime.block_on(Engine::open(path))?;
    let e = engine.clone();
    let secs = on_runtime(runtime, async move {
        let one = |i: usize| {
            let e = e.clone();
            async move {
                let d = e
                    .create(
                        NewDeployment {
                            service: seed::service_name(i % seed::SERVICES),
                            environment: "staging".to_owned(),
                            version: format!("1.{i}.0"),
                            requester: seed::REQUESTER.to_owned(),
                            work_refs: vec![format!("PAY-{i}")],
                            rollback_plan: "redeploy the previous version".to_owned(),
                            risk: None,
                            commit: None,
                        },
                        None,
                    )
                    .await?;
                e.approve(&d.id, REVIEWER, None).await?;
                e.start(&d.id, OPERATOR, None).await?;
                e.succeed(&d.id, OPERATOR, None).await?;
                Ok::<_, loco_core::Error>(())
            }
        };
        for i in 0..WARMUP {
            one(i).await?;
        }
        let started = Instant::now();
        for i in WARMUP..WARMUP + count {
            one(i).await?;
        }
        Ok::<_, loco_core::Error>(started.elapsed().as_secs_f64())
    })??;
    runtime.block_on(engine.close())?;
    Ok(secs)
}
