//! Every strategy through a platform that fails, hangs, slows down and loses instances (within a
//! fault budget, `platform::chaos`): each rollout ends `succeeded` or `rolled_back` with all
//! traffic on one fully healthy release, and the records and events say so.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loco_core::event_data::{EventData, RolloutTurn, StepProgressData};
use loco_core::platform::chaos::{ChaosConfig, ChaosPlatform, Faults, Operation};
use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{InstanceHealth, InstanceState, Platform, Target, TrafficWeight};
use loco_core::rollout::{HealthSpec, OnRestart, ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, EventKind, Status};

use crate::common::{request, temp_db};

/// Seeds run per strategy.
const SEEDS: u64 = 40;
/// Rollouts of one strategy running at once (each on its own engine and database).
const AT_ONCE: usize = 8;
/// Longer than any run with its faults may take; a run still going then is stuck.
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Up to three faults per run: errors, hangs and slow calls on every call a rollout makes, and
/// instances that die at one of their first three health checks. A stop is given at least
/// `time_limit::STOP_AT_LEAST` (30 s) before it counts as hung, longer than a run here may take,
/// so stops get errors and delays but no hangs.
fn chaos(seed: u64) -> ChaosConfig {
    let faults = Faults { error: 0.12, hang: 0.05, slow: 0.1 };
    ChaosConfig { latency: Duration::from_millis(20), ..ChaosConfig::new(seed) }
        .budget(1 + (seed % 3) as u32)
        .rollout_faults(faults)
        .faults(Operation::Stop, Faults { hang: 0.0, ..faults })
        .deaths(0.2, 3)
}

/// Quick health settings: a call may take 0.2 s (a query) or 0.63 s (a change) before it counts
/// as hung.
fn plan(strategy: Strategy, version: &str, instances: u32) -> RolloutPlan {
    RolloutPlan {
        platform: "sim".into(),
        strategy,
        release: ReleaseSpec { version: version.into(), ..ReleaseSpec::default() },
        instances,
        health: HealthSpec {
            timeout_seconds: 0.2,
            retries: 2,
            backoff_initial_seconds: 0.01,
            backoff_max_seconds: 0.02,
            interval_seconds: 0.02,
            ..HealthSpec::default()
        },
        analysis: None,
        scale_down_delay_seconds: 0.0,
        on_restart: OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

fn target() -> Target {
    Target { service: "api".into(), environment: "staging".into() }
}

fn only(version: &str) -> Vec<TrafficWeight> {
    vec![TrafficWeight { version: version.into(), percent: 100 }]
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Succeeded,
    RolledBack,
}

/// Returns `Err` with the message when `cond` is false.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Rolls out v1 without faults, then v2 with `strategy` under chaos seeded with `seed`, and
/// checks where it ended. `Err` says what is wrong, with the faults injected.
async fn run(strategy: Strategy, seed: u64) -> Result<Ending, String> {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let chaos = Arc::new(ChaosPlatform::new(sim.clone(), chaos(seed)));
    chaos.set_armed(false);
    let engine = Engine::builder().path(&path).platform(chaos.clone()).open().await.map_err(|e| e.to_string())?;
    let (old, new) = (1 + (seed % 3) as u32, 1 + (seed / 3 % 3) as u32);
    let v1 = approved(&engine).await;
    let first = engine.run_rollout(&v1, plan(Strategy::Immediate {}, "v1", old), "ops").await;
    ensure!(first.is_ok_and(|r| r.state == RolloutState::Succeeded), "v1 did not succeed without faults");

    chaos.set_armed(true);
    let id = approved(&engine).await;
    let outcome = tokio::time::timeout(RUN_LIMIT, engine.run_rollout(&id, plan(strategy, "v2", new), "ops")).await;
    chaos.set_armed(false);
    let faults: Vec<String> = chaos.injected().iter().map(ToString::to_string).collect();
    let checked = match outcome {
        Err(_) => Err(format!("still going after {RUN_LIMIT:?}")),
        Ok(Err(e)) => Err(format!("the rollout failed to run: {e}")),
        Ok(Ok(rollout)) => check(&engine, &sim, &id, &rollout, old, new).await,
    };
    let closed = tokio::time::timeout(RUN_LIMIT, engine.close()).await;
    let ending = checked.map_err(|why| format!("{why}; faults: {faults:?}"))?;
    ensure!(matches!(closed, Ok(Ok(()))), "the engine did not close: {closed:?}; faults: {faults:?}");
    Ok(ending)
}

async fn approved(engine: &Engine) -> String {
    let d = engine.create(request("api", "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

/// Checks one finished run: outcome, platform, records, events and audit agree.
async fn check(
    engine: &Engine,
    sim: &MemoryPlatform,
    id: &str,
    rollout: &loco_core::Rollout,
    old: u32,
    new: u32,
) -> Result<Ending, String> {
    let (ending, serving, desired, status) = match rollout.state {
        RolloutState::Succeeded => (Ending::Succeeded, "v2", new, Status::Succeeded),
        RolloutState::RolledBack => (Ending::RolledBack, "v1", old, Status::RolledBack),
        other => return Err(format!("ended {other} ({:?})", rollout.failure)),
    };
    let at = format!("{ending:?}");
    ensure!(sim.traffic(&target()) == only(serving), "{at}: traffic {:?}", sim.traffic(&target()));
    ensure!(rollout.progress.traffic == only(serving), "{at}: recorded traffic {:?}", rollout.progress.traffic);

    let running = sim.running(&target());
    let shown: Vec<(&str, &str)> = running.iter().map(|i| (i.id.as_str(), i.version.as_str())).collect();
    ensure!(running.iter().all(|i| i.version == serving), "{at}: instances of another version run: {shown:?}");
    ensure!(running.len() == desired as usize, "{at}: {} instance(s) run, {desired} wanted: {shown:?}", running.len());
    for instance in &running {
        let health = sim.health(&target(), instance).await.map_err(|e| e.to_string())?;
        ensure!(health == InstanceHealth::Running, "{at}: {} is {health:?}", instance.id);
    }
    let running_ids: BTreeSet<&str> = running.iter().map(|i| i.id.as_str()).collect();
    let recorded_new: BTreeSet<&str> = rollout
        .progress
        .instances
        .iter()
        .filter(|i| i.version == "v2" && i.state == InstanceState::Running)
        .map(|i| i.id.as_str())
        .collect();
    let expected_new = if ending == Ending::Succeeded { running_ids.clone() } else { BTreeSet::new() };
    ensure!(recorded_new == expected_new, "{at}: v2 recorded running {recorded_new:?}, platform runs {running_ids:?}");

    let deployment = engine.get(id).await.map_err(|e| e.to_string())?;
    ensure!(deployment.status == status, "{at}: the deployment is {}", deployment.status);
    let releases = engine.releases("api", "staging", 5).await.map_err(|e| e.to_string())?;
    let current = releases.iter().find(|r| r.retired_at.is_none());
    ensure!(current.is_some_and(|r| r.version == serving), "{at}: current release {:?}", current.map(|r| &r.version));
    let current_ids: BTreeSet<&str> =
        current.into_iter().flat_map(|r| r.instances.iter().map(|i| i.id.as_str())).collect();
    ensure!(current_ids == running_ids, "{at}: the current release records {current_ids:?}, {running_ids:?} run");

    let events = engine.events(id).await.map_err(|e| e.to_string())?;
    let last = events.iter().rev().find(|e| e.kind.is_lifecycle()).map(|e| e.kind);
    let want = if ending == Ending::Succeeded { EventKind::Succeeded } else { EventKind::RolledBack };
    ensure!(last == Some(want), "{at}: the last lifecycle event is {last:?}");
    let restored = events.iter().any(|e| {
        matches!(
            e.typed_data(),
            Ok(Some(EventData::StepProgress(StepProgressData::Turn(RolloutTurn::Restored { .. }))))
        )
    });
    ensure!(
        restored == (ending == Ending::RolledBack),
        "{at}: a restored event {}",
        if restored { "exists" } else { "is missing" }
    );
    let audit = engine.verify_audit().await.map_err(|e| e.to_string())?;
    ensure!(audit.valid, "{at}: the audit does not verify: {audit:?}");
    Ok(ending)
}

/// Runs every seed of `strategy`, [`AT_ONCE`] at a time, and fails listing every bad run.
async fn every_seed(strategy: &Strategy) {
    let started = Instant::now();
    let mut endings = Vec::new();
    let mut bad = String::new();
    let seeds: Vec<u64> = (0..SEEDS).collect();
    for batch in seeds.chunks(AT_ONCE) {
        let runs = batch.iter().map(|seed| {
            let strategy = strategy.clone();
            let seed = *seed;
            tokio::spawn(async move { (seed, run(strategy, seed).await) })
        });
        for joined in futures_util::future::join_all(runs).await {
            match joined.expect("a run panicked") {
                (_, Ok(ending)) => endings.push(ending),
                (seed, Err(why)) => writeln!(bad, "  seed {seed}: {why}").unwrap(),
            }
        }
    }
    let succeeded = endings.iter().filter(|e| **e == Ending::Succeeded).count();
    eprintln!(
        "{}: {SEEDS} seeds in {:.1} s: {succeeded} succeeded, {} rolled back",
        strategy.name(),
        started.elapsed().as_secs_f64(),
        endings.len() - succeeded
    );
    assert!(bad.is_empty(), "{} under chaos:\n{bad}", strategy.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn immediate_rollouts_end_clean_under_chaos() {
    every_seed(&Strategy::Immediate {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_rollouts_end_clean_under_chaos() {
    every_seed(&Strategy::Rolling { max_surge: 1, max_unavailable: 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blue_green_rollouts_end_clean_under_chaos() {
    every_seed(&Strategy::BlueGreen { switch_delay_seconds: 0.05 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn canary_rollouts_end_clean_under_chaos() {
    every_seed(&Strategy::Canary { steps: vec![10, 50], interval_seconds: 0.05 }).await;
}
