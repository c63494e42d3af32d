//! P8: rolling back to a release whose instances are still running (within the plan's
//! `scale_down_delay_seconds`) and to one whose instances were stopped, on the local platform with
//! real demo-service processes: from the `rollback` call to the first request through the proxy
//! that the restored release answers, and the platform restore the engine records.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loco_core::event_data::{EventData, RolloutTurn, StepProgressData};
use loco_core::{Engine, NewDeployment, RolloutPlan, RolloutState, Status};
use tokio::runtime::Runtime;

use crate::raw::{OPERATOR, REVIEWER};
use crate::stats::Latencies;
use crate::table::{Row, Target, micros};
use crate::{Result, on_runtime, seed};

/// How long the previous release is kept after a retained-case rollout: far longer than a
/// repetition, so the rollback always finds it running.
const RETAINED_DELAY_SECONDS: f64 = 600.0;
/// Answers from the current release the poller must have seen before the rollback is called, so
/// its first request (connection set-up, the proxy's first route lookup) is not what is timed.
const ANSWERS_BEFORE_ROLLBACK: usize = 3;
/// The longest a poller runs; the engine gives restored instances 60 s to pass their checks.
const POLL_LIMIT: Duration = Duration::from_secs(90);
/// Socket read/write timeout of one polling request.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The issue's target: traffic back on a retained release in under a second.
const TARGET: Duration = Duration::from_secs(1);

/// How much P8 does.
#[derive(Debug, Clone, Copy)]
pub struct RestoreScale {
    /// Timed rollbacks of each kind (retained and cold), after one untimed rollback of each.
    pub reps: usize,
}

/// What P8 runs.
pub struct Setup<'a> {
    /// The repository root (for `examples/demo-service/app.py`).
    pub root: &'a Path,
    /// The Python interpreter that runs the demo service.
    pub python: &'a str,
}

/// P8 results.
pub struct Restore {
    /// The P8 rows.
    pub rows: Vec<Row>,
    /// How they were run.
    pub note: String,
}

/// Whether the release rolled back to still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// v2 rolled out with a scale-down delay: v1's instances still run without traffic.
    Retained,
    /// v2 rolled out without one: v1's instances were stopped and must be started and checked.
    Cold,
}

impl Kind {
    fn scale_down_delay(self) -> f64 {
        match self {
            Kind::Retained => RETAINED_DELAY_SECONDS,
            Kind::Cold => 0.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Retained => "retained",
            Kind::Cold => "cold",
        }
    }
}

/// One timed rollback.
#[derive(Debug)]
struct Sample {
    /// From the `rollback` call to the first answer from v1 through the proxy.
    to_first_answer: Duration,
    /// From the `rollback` call to its return.
    call: Duration,
    /// The platform restore the engine recorded (`restore_ms`).
    restore: Duration,
    /// Round trips of the poller's requests that were answered (its resolution).
    round_trips: Vec<Duration>,
    /// Requests the poller sent, and those that failed (not 200, or no answer).
    requests: usize,
    failed: usize,
}

/// The samples of one kind.
#[derive(Default)]
struct Side {
    to_first_answer: Latencies,
    call: Latencies,
    restore: Latencies,
    round_trips: Latencies,
    requests: usize,
    failed: usize,
}

impl Side {
    fn push(&mut self, s: Sample) {
        self.to_first_answer.push(s.to_first_answer);
        self.call.push(s.call);
        self.restore.push(s.restore);
        for trip in s.round_trips {
            self.round_trips.push(trip);
        }
        self.requests += s.requests;
        self.failed += s.failed;
    }

    /// `p50 … / p95 …` of the first answer, with the recorded restore.
    fn cell(&mut self) -> String {
        let (p50, p95) = (self.to_first_answer.percentile(50.0), self.to_first_answer.percentile(95.0));
        let (r50, r95) = (self.restore.percentile(50.0), self.restore.percentile(95.0));
        format!("p50 {} / p95 {} (`restore_ms` p50 {} / p95 {})", micros(p50), micros(p95), micros(r50), micros(r95))
    }

    /// The call's own duration, the poller's round trip and the requests that failed, for the
    /// note.
    fn detail(&mut self, kind: Kind) -> String {
        format!(
            "{}: the `rollback` call returned after p50 {} / p95 {}; a polling request took p50 {} / p95 {}; {} of {} \
             polling requests failed",
            kind.name(),
            micros(self.call.percentile(50.0)),
            micros(self.call.percentile(95.0)),
            micros(self.round_trips.percentile(50.0)),
            micros(self.round_trips.percentile(95.0)),
            self.failed,
            self.requests
        )
    }
}

/// Runs P8 in `dir`: retained and cold rollbacks alternate, each on a fresh engine, database and
/// state directory.
pub fn run(runtime: &Runtime, dir: &Path, setup: &Setup<'_>, scale: RestoreScale) -> Result<Restore> {
    let app = setup.root.join("examples/demo-service/app.py");
    let app = app.to_str().ok_or("the demo service's path is not UTF-8")?;
    let command = vec![setup.python.to_owned(), app.to_owned()];
    let (mut retained, mut cold) = (Side::default(), Side::default());
    eprintln!("  P8 {} retained and {} cold rollbacks (local platform, real processes)", scale.reps, scale.reps);
    for rep in 0..=scale.reps {
        // Alternate which kind goes first, so a burst of outside load hits both.
        let kinds = if rep % 2 == 0 { [Kind::Retained, Kind::Cold] } else { [Kind::Cold, Kind::Retained] };
        for kind in kinds {
            let rep_dir = dir.join(format!("p8-{}-{rep}", kind.name()));
            let sample = rollback_once(runtime, &rep_dir, &command, kind)?;
            std::fs::remove_dir_all(&rep_dir)?;
            // Repetition 0 is the untimed warmup.
            if rep > 0 {
                match kind {
                    Kind::Retained => retained.push(sample),
                    Kind::Cold => cold.push(sample),
                }
            }
        }
    }

    let p95 = retained.to_first_answer.percentile(95.0);
    let n = scale.reps;
    let rows = vec![
        Row {
            id: "P8",
            measure: format!(
                "rollback to a retained release (v2 rolled out with `scale_down_delay_seconds` {RETAINED_DELAY_SECONDS}, \
                 so v1's instance still runs without traffic): from the `rollback` call to the first request through \
                 the proxy answered by v1, p50 / p95 over {n} rollbacks (local platform, real processes); baseline \
                 the same without the delay; ratio = p95 ÷ the 1 s target"
            ),
            loco: retained.cell(),
            baseline: format!("cold: {}", cold.cell()),
            ratio: Some(p95.as_secs_f64() / TARGET.as_secs_f64()),
            target: Target::Below(TARGET.as_secs_f64() * 1e3, "1 s (p95)"),
            value: Some(p95.as_secs_f64() * 1e3),
        },
        Row {
            id: "P8",
            measure: format!(
                "the same without a scale-down delay (cold: v1's instance was stopped, so it is started and \
                 health-checked before traffic moves), p50 / p95 over {n} rollbacks"
            ),
            loco: cold.cell(),
            baseline: "—".to_owned(),
            ratio: None,
            target: Target::None,
            value: None,
        },
    ];
    let note = format!(
        "P8: each rollback gets a fresh engine, database and local-platform state directory: v1 (immediate, one \
         instance of `examples/demo-service/app.py`), then v2 (immediate, `scale_down_delay_seconds` \
         {RETAINED_DELAY_SECONDS} for retained, 0 for cold), then `Engine::rollback` of v2; health probe `GET \
         /health`, retries every 0.05 s doubling to 0.2 s. A thread sends `GET /` through the proxy back to back \
         (one connection per request) from before the call; the time is to the first response carrying \
         `x-loco-version: v1`. `restore_ms` is the engine's own record of the platform restore (start or keep v1, \
         health-check it, move traffic, stop v2). Retained rollbacks are checked to serve from v1's original process, \
         cold ones from a new one. One untimed rollback of each kind first; the kinds alternate. {}; {}. The engine \
         is closed after each rollback (no process outlives it).",
        retained.detail(Kind::Retained),
        cold.detail(Kind::Cold)
    );
    Ok(Restore { rows, note })
}

/// One engine in `dir`: v1, then v2 with `kind`'s scale-down delay, then a timed rollback. The
/// engine is closed (stopping every process it started) whatever happened.
fn rollback_once(runtime: &Runtime, dir: &Path, command: &[String], kind: Kind) -> Result<Sample> {
    std::fs::create_dir_all(dir)?;
    let engine =
        runtime.block_on(Engine::builder().path(dir.join("loco.db")).local_platform(dir.join("state")).open())?;
    let sample = timed_rollback(runtime, &engine, command, kind);
    let closed = runtime.block_on(engine.close());
    let sample = sample?;
    closed?;
    Ok(sample)
}

fn timed_rollback(runtime: &Runtime, engine: &Engine, command: &[String], kind: Kind) -> Result<Sample> {
    let (e, command) = (engine.clone(), command.to_vec());
    let (endpoint, v1_pids, v2) = on_runtime(runtime, async move {
        let v1 = deploy(&e, "v1", plan(&command, "v1", 0.0)?).await?;
        let endpoint = v1.progress.endpoint.clone().ok_or("v1's rollout has no proxy endpoint")?;
        let v2 = deploy(&e, "v2", plan(&command, "v2", kind.scale_down_delay())?).await?;
        Ok::<_, crate::BoxError>((endpoint, pids(&v1, "v1"), v2.deployment_id))
    })??;

    let poller = Poller::start(endpoint, "v1");
    if let Err(e) = poller.wait_for_answers(ANSWERS_BEFORE_ROLLBACK) {
        poller.cancel();
        return Err(e);
    }
    let e = engine.clone();
    let id = v2.clone();
    let called = on_runtime(runtime, async move {
        let called = Instant::now();
        let rolled_back = e.rollback(&id, OPERATOR, "P8: timed rollback").await?;
        Ok::<_, loco_core::Error>((called, called.elapsed(), rolled_back.status))
    })
    .and_then(|r| r.map_err(Into::into));
    let (called, call, status) = match called {
        Ok(done) => done,
        Err(e) => {
            poller.cancel();
            return Err(e);
        }
    };
    let seen = poller.wait()?;
    if status != Status::RolledBack {
        return Err(format!("P8 ({}): v2 is {status} after the rollback, not rolled_back", kind.name()).into());
    }
    let first = seen.first_restored.ok_or_else(|| {
        format!("P8 ({}): no request was answered by v1 within {} s", kind.name(), POLL_LIMIT.as_secs())
    })?;
    let to_first_answer = first.checked_duration_since(called).ok_or("v1 answered before the rollback was called")?;

    let e = engine.clone();
    let (serving, restore_ms) = on_runtime(runtime, async move {
        let current = e.releases("shop", "staging", 1).await?;
        let serving = current.first().filter(|r| r.version == "v1").ok_or("v1 is not the current release")?;
        let serving: Vec<u32> = serving.instances.iter().filter_map(|i| i.pid).collect();
        Ok::<_, crate::BoxError>((serving, restore_ms(&e, &v2).await?))
    })??;
    let kept = !serving.is_empty() && serving == v1_pids;
    if kept != (kind == Kind::Retained) {
        return Err(format!(
            "P8 ({}): v1 serves from pids {serving:?}, its original ones were {v1_pids:?}",
            kind.name()
        )
        .into());
    }
    Ok(Sample {
        to_first_answer,
        call,
        restore: Duration::from_secs_f64(restore_ms / 1e3),
        round_trips: seen.round_trips,
        requests: seen.requests,
        failed: seen.failed,
    })
}

/// An immediate plan on the local platform running `command`, checked with `GET /health`.
fn plan(command: &[String], version: &str, scale_down_delay: f64) -> Result<RolloutPlan> {
    let mut plan = RolloutPlan::from_json(&format!(
        r#"{{"platform": "local", "strategy": {{"type": "immediate"}}, "release": {{"version": "{version}"}},
            "instances": 1, "scale_down_delay_seconds": {scale_down_delay},
            "health": {{"probes": [{{"type": "http", "path": "/health"}}], "timeout_seconds": 2, "retries": 20,
                        "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.2, "interval_seconds": 0.1}}}}"#
    ))?;
    plan.release.command = command.to_vec();
    Ok(plan)
}

/// Creates, approves and rolls out `version` of shop/staging; the rollout must succeed.
async fn deploy(engine: &Engine, version: &str, plan: RolloutPlan) -> Result<loco_core::Rollout> {
    let new = NewDeployment {
        service: "shop".to_owned(),
        environment: "staging".to_owned(),
        version: version.to_owned(),
        requester: seed::REQUESTER.to_owned(),
        work_refs: vec!["PAY-1".to_owned()],
        rollback_plan: "roll back to the previous release".to_owned(),
        risk: None,
        commit: None,
    };
    let d = engine.create(new, None).await?;
    engine.approve(&d.id, REVIEWER, None).await?;
    let rollout = engine.run_rollout(&d.id, plan, OPERATOR).await?;
    if rollout.state != RolloutState::Succeeded {
        return Err(format!("the rollout of {version} ended {:?}: {:?}", rollout.state, rollout.failure).into());
    }
    Ok(rollout)
}

fn pids(rollout: &loco_core::Rollout, version: &str) -> Vec<u32> {
    rollout.progress.instances.iter().filter(|i| i.version == version).filter_map(|i| i.pid).collect()
}

/// The `restore_ms` the engine recorded for the rollback of deployment `id`.
async fn restore_ms(engine: &Engine, id: &str) -> Result<f64> {
    for event in engine.events(id).await? {
        if let Some(EventData::StepProgress(StepProgressData::Turn(RolloutTurn::Restored { restore_ms, .. }))) =
            event.typed_data()?
        {
            return Ok(restore_ms);
        }
    }
    Err(format!("deployment {id} has no `restored` rollout turn").into())
}

/// What a poller saw.
struct Polled {
    /// When the first response from the awaited version arrived.
    first_restored: Option<Instant>,
    /// How long each answered request took.
    round_trips: Vec<Duration>,
    requests: usize,
    failed: usize,
}

/// A thread sending `GET /` through the proxy back to back until the awaited version answers.
struct Poller {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    thread: JoinHandle<Polled>,
}

impl Poller {
    fn start(endpoint: String, awaited: &'static str) -> Self {
        let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (stop_flag, answers) = (stop.clone(), answered.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut polled = Polled { first_restored: None, round_trips: Vec::new(), requests: 0, failed: 0 };
            while !stop_flag.load(Ordering::Relaxed) && started.elapsed() < POLL_LIMIT {
                polled.requests += 1;
                let sent = Instant::now();
                let answer = get(&endpoint);
                let answered = Instant::now();
                match answer {
                    Ok((200, version)) => {
                        polled.round_trips.push(answered - sent);
                        if version == awaited {
                            polled.first_restored = Some(answered);
                            break;
                        }
                        answers.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => polled.failed += 1,
                }
            }
            polled
        });
        Self { stop, answered, thread }
    }

    /// Waits until the current release answered `n` requests.
    fn wait_for_answers(&self, n: usize) -> Result<()> {
        let deadline = Instant::now() + IO_TIMEOUT;
        while self.answered.load(Ordering::Relaxed) < n {
            if self.thread.is_finished() || Instant::now() > deadline {
                return Err("P8: the proxy did not answer before the rollback".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Waits for the thread to see the awaited version (or give up after [`POLL_LIMIT`]).
    fn wait(self) -> Result<Polled> {
        self.thread.join().map_err(|_| "P8: the polling thread panicked".into())
    }

    fn cancel(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// `GET /` through the proxy on a fresh connection: the status and the `x-loco-version` answer.
fn get(endpoint: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(endpoint)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(format!("GET / HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = response
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-loco-version").then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, version))
}
