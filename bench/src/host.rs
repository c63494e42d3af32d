//! P6, host platforms: immediate rollouts, one after another, on a platform written in Python and
//! on one written in JavaScript (each doing trivial in-memory work, through Loco's bindings),
//! against the same rollouts from Rust on the in-process `MemoryPlatform`; and what one call into
//! a host function costs against one into Rust, from rollouts whose health checks call a
//! do-nothing probe many times.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use loco_core::platform::extensions::HealthProbe;
use loco_core::platform::{Instance, PlatformResult, Target};

use loco_core::platform::memory::MemoryPlatform;
use loco_core::{Engine, RolloutPlan, RolloutState};
use tokio::runtime::Runtime;

use crate::child::{self, Outcome};
use crate::raw::{OPERATOR, REVIEWER};
use crate::table::{Row, Target as Goal, micros, thousands};
use crate::{BoxError, Result, on_runtime, rollouts};

/// Rollouts run untimed first by every implementation.
const WARMUP: usize = 10;
/// The longest one host script may run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);
/// A rollout on a host platform may take at most twice as long as on `MemoryPlatform`.
const ROLLOUT_TARGET: Goal = Goal::AtMost(2.0);

/// Where the scripts are and how to run them.
pub struct Setup<'a> {
    /// The repository root (the scripts live in `bench/`).
    pub root: &'a Path,
    /// The Python interpreter.
    pub python: &'a str,
    /// The loco-node package directory.
    pub node_package: &'a Path,
    /// Rollouts per run.
    pub count: usize,
}

/// The host-platform rows of P6.
pub struct HostRollouts {
    /// The rows.
    pub rows: Vec<Row>,
    /// How they were run.
    pub note: String,
}

/// One timed run: seconds, the rollouts it made and the host calls counted.
#[derive(Clone, Copy)]
struct Phase {
    seconds: f64,
    rollouts: f64,
    calls: f64,
}

impl Phase {
    fn per_rollout(self) -> f64 {
        self.seconds / self.rollouts
    }
}

/// A run of plain rollouts, then one of rollouts whose health checks each call a probe
/// [`PROBES`] times (a host's function, or a Rust `HealthProbe` for the baseline).
#[derive(Clone, Copy)]
struct Hosted {
    plain: Phase,
    probes: Phase,
}

impl Hosted {
    /// What one probe call adds: the extra time of a probing rollout over a plain one, per call.
    fn per_probe_call(self) -> f64 {
        (self.probes.per_rollout() - self.plain.per_rollout()).max(0.0) / (self.probes.calls / self.probes.rollouts)
    }
}

/// Probes per health check in the probing phase.
const PROBES: usize = 50;

/// Runs the rows in `dir`.
pub fn run(runtime: &Runtime, dir: &Path, setup: &Setup<'_>) -> Result<HostRollouts> {
    let count = setup.count;
    let rust = rust_rollouts(runtime, &dir.join("p6-host-rust.db"), count)?;
    let python = script(
        Command::new(setup.python).arg(setup.root.join("bench/py/host_rollouts.py")),
        &dir.join("p6-host-python.db"),
        count,
    )?;
    let mut node_cmd = Command::new("node");
    node_cmd.arg(setup.root.join("bench/node/host_rollouts.js")).arg("--package").arg(setup.node_package);
    let javascript = script(&mut node_cmd, &dir.join("p6-host-node.db"), count)?;
    let rollouts = thousands(count as f64);
    let cell = |p: Phase| format!("{:.2} ms per rollout ({:.2} s)", p.per_rollout() * 1000.0, p.seconds);
    let per_call_cell = |secs: f64| micros(Duration::from_secs_f64(secs));
    let mut rows = Vec::new();
    for (language, hosted) in [("Python", python), ("Node", javascript)] {
        let measure =
            format!("{rollouts} immediate rollouts on a {language} host platform vs on `MemoryPlatform` from Rust");
        let per_call =
            format!("one call into a {language} host function (a health probe) vs into a Rust `HealthProbe`");
        match hosted {
            Err(why) => {
                rows.push(Row::unmeasurable("P6", measure, &why, cell(rust.plain), ROLLOUT_TARGET));
                rows.push(Row::unmeasurable("P6", per_call, &why, per_call_cell(rust.per_probe_call()), Goal::None));
            }
            Ok(h) => {
                let ratio = h.plain.per_rollout() / rust.plain.per_rollout();
                rows.push(Row::measured("P6", measure, cell(h.plain), cell(rust.plain), ratio, ROLLOUT_TARGET));
                // A Rust probe call costs well under a microsecond, below the noise of durable
                // rollouts, so the row reports the host's cost as it is rather than a ratio.
                let (host, base) = (per_call_cell(h.per_probe_call()), per_call_cell(rust.per_probe_call()));
                rows.push(Row::absolute("P6", per_call, host, base, h.per_probe_call(), Goal::None));
            }
        }
    }
    let note = format!(
        "P6 host platforms: {rollouts} immediate rollouts of one instance each (after {WARMUP} untimed), one after \
         another on one service, each run on a fresh `synchronous=FULL` file: create, approve, run the rollout \
         (deploy, health, traffic 100 %, stop the previous release; every step a durable commit). The Python \
         platform (`bench/py/host_rollouts.py`, async methods under `await loco.Engine`) and the JavaScript one \
         (`bench/node/host_rollouts.js`) keep instances in a map, as `MemoryPlatform` does in Rust. Per call: a \
         tenth as many rollouts again, each health check calling a do-nothing probe {PROBES} times (a plain \
         Python function, a JavaScript function, a Rust `HealthProbe`); the added time per rollout divided by the \
         probe calls made."
    );
    Ok(HostRollouts { rows, note })
}

/// Runs one host script; `Err` says why its rows cannot be measured (the binding is not built).
fn script(cmd: &mut Command, db: &Path, count: usize) -> Result<std::result::Result<Hosted, String>> {
    cmd.arg("--db").arg(db).arg("--count").arg(count.to_string()).arg("--warmup").arg(WARMUP.to_string());
    match child::run_script(cmd, SCRIPT_LIMIT)? {
        Outcome::Unavailable(why) => Ok(Err(why)),
        Outcome::Results(results) => {
            let phase = |name: &str| -> Result<Phase> {
                let r = results
                    .iter()
                    .find(|r| r.get("phase").is_some_and(|p| p == name))
                    .ok_or_else(|| format!("the host script printed no `phase={name}` RESULT line"))?;
                let number = |key: &str| -> Result<f64> {
                    Ok(r.get(key).ok_or_else(|| format!("no {key}= in the RESULT line"))?.parse()?)
                };
                Ok(Phase { seconds: child::seconds(r)?, rollouts: number("rollouts")?, calls: number("calls")? })
            };
            Ok(Ok(Hosted { plain: phase("plain")?, probes: phase("probes")? }))
        }
    }
}

fn plan(version: &str, probes: usize) -> Result<RolloutPlan> {
    let probes = vec![r#"{"type": "host", "name": "noop"}"#; probes].join(", ");
    Ok(RolloutPlan::from_json(&format!(
        r#"{{"platform": "bench", "strategy": {{"type": "immediate"}}, "release": {{"version": "{version}"}},
            "instances": 1, "health": {{"probes": [{probes}]}}}}"#
    ))?)
}

/// The Rust baseline's probe: does nothing but count.
#[derive(Default)]
struct NoopProbe(AtomicU64);

#[async_trait]
impl HealthProbe for NoopProbe {
    fn name(&self) -> &'static str {
        "noop"
    }

    async fn check(&self, _target: &Target, _instance: &Instance) -> PlatformResult<()> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn rust_rollouts(runtime: &Runtime, path: &Path, count: usize) -> Result<Hosted> {
    let probe = Arc::new(NoopProbe::default());
    let builder = Engine::builder().path(path).platform(Arc::new(MemoryPlatform::new("bench"))).probe(probe.clone());
    let engine = runtime.block_on(builder.open())?;
    let e = engine.clone();
    let hosted = on_runtime(runtime, async move {
        let one = |i: usize, probes: usize| {
            let e = e.clone();
            async move {
                let version = format!("1.{i}.0");
                let d = e.create(rollouts::new_deployment("host-bench".to_owned(), &version), None).await?;
                e.approve(&d.id, REVIEWER, None).await?;
                let rollout = e.run_rollout(&d.id, plan(&version, probes)?, OPERATOR).await?;
                if rollout.state != RolloutState::Succeeded {
                    return Err(format!("rollout {i} ended {:?}", rollout.state).into());
                }
                Ok::<_, BoxError>(())
            }
        };
        for i in 0..WARMUP {
            one(i, 0).await?;
        }
        let started = Instant::now();
        for i in WARMUP..WARMUP + count {
            one(i, 0).await?;
        }
        let plain = Phase { seconds: started.elapsed().as_secs_f64(), rollouts: count as f64, calls: 0.0 };
        let some = (count / 10).max(1);
        let started = Instant::now();
        for i in WARMUP + count..WARMUP + count + some {
            one(i, PROBES).await?;
        }
        let calls = probe.0.load(Ordering::Relaxed) as f64;
        let probes = Phase { seconds: started.elapsed().as_secs_f64(), rollouts: some as f64, calls };
        Ok::<_, BoxError>(Hosted { plain, probes })
    })??;
    runtime.block_on(engine.close())?;
    Ok(hosted)
}
