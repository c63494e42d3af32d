//! Helpers the cloud platform end-to-end tests share (Fly.io, Render, Railway, Vercel and
//! configured platforms): approved deployments, cloud plans with fast health settings, rollouts
//! with the requests they made, request tallies, and scanning the database files for a token.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::{Platform, Target};
use loco_core::rollout::{HealthSpec, OnRestart, ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, Rollout, Status};
use loco_fakes::Server;

use crate::common::request;

/// Creates a staging deployment of `service` and approves it; returns its id.
pub async fn approved(engine: &Engine, service: &str) -> String {
    let d = engine.create(request(service, "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

/// Health for platforms whose own status is the health (Render, Railway, Vercel): no probes,
/// patient retries and quick polls (each poll advances the fake by one status).
pub fn status_health() -> HealthSpec {
    HealthSpec {
        probes: Vec::new(),
        timeout_seconds: 5.0,
        retries: 30,
        backoff_initial_seconds: 0.005,
        backoff_max_seconds: 0.02,
        interval_seconds: 0.02,
    }
}

/// Health for Fly.io machines: no probes (Fly's own checks are what `health` reports), and
/// `retries` quick retries.
pub fn machine_health(retries: u32) -> HealthSpec {
    HealthSpec {
        timeout_seconds: 3.0,
        retries,
        backoff_initial_seconds: 0.01,
        backoff_max_seconds: 0.05,
        interval_seconds: 0.05,
        ..HealthSpec::default()
    }
}

/// A plan releasing `release` on `instances` instances of `platform`, with no analysis, no
/// scale-down delay and the default restart policy.
pub fn cloud_plan(
    platform: &str,
    strategy: Strategy,
    release: ReleaseSpec,
    instances: u32,
    health: HealthSpec,
) -> RolloutPlan {
    RolloutPlan {
        platform: platform.into(),
        strategy,
        release,
        instances,
        health,
        analysis: None,
        scale_down_delay_seconds: 0.0,
        on_restart: OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

/// Blue-green with a short switch delay.
pub fn blue_green() -> Strategy {
    Strategy::BlueGreen { switch_delay_seconds: 0.05 }
}

/// The target every cloud test deploys: `shop` in `staging`.
pub fn target() -> Target {
    Target { service: "shop".into(), environment: "staging".into() }
}

/// An engine on the database file at `path` with `platform` registered.
pub async fn open_engine<P: Platform + 'static>(platform: &Arc<P>, path: &Path) -> Engine {
    Engine::builder().path(path).platform(platform.clone()).open().await.expect("open the engine")
}

/// Runs a rollout of an approved `shop` deployment to its end; returns its deployment id, the
/// rollout and how many requests it made to the fake.
pub async fn roll_out(engine: &Engine, fake: &Server, plan: RolloutPlan) -> (String, Rollout, usize) {
    let before = fake.recorder().requests().len();
    let id = approved(engine, "shop").await;
    let rollout = engine.run_rollout(&id, plan, "ops").await.unwrap();
    (id, rollout, fake.recorder().requests().len() - before)
}

/// `path` with every segment starting with one of `id_prefixes` replaced by `{id}`.
pub fn path_shape(path: &str, id_prefixes: &[&str]) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .map(|p| if id_prefixes.iter().any(|prefix| p.starts_with(prefix)) { "{id}" } else { p })
        .collect();
    shape.join("/")
}

/// The keys in first-seen order with how often each came: `KEY xN, …`.
pub fn tally(keys: impl IntoIterator<Item = String>) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for key in keys {
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.iter().map(|(k, n)| format!("{k} x{n}")).collect::<Vec<_>>().join(", ")
}

/// Whether any file in the directory of the database at `path` (the database, its `-wal` and
/// `-shm`) holds `needle`'s bytes.
pub fn database_files_contain(path: &Path, needle: &str) -> bool {
    let dir = path.parent().expect("the database's directory");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

/// Checks that canary and rolling plans (as `plan` makes them) are refused up front naming
/// `atomic_swap`, leaving deployment `id` approved and the fake never called.
pub async fn assert_splits_refused(
    engine: &Engine,
    fake: &Server,
    id: &str,
    provider: &str,
    plan: impl Fn(Strategy) -> RolloutPlan,
) {
    for strategy in [
        Strategy::Canary { steps: vec![10, 50], interval_seconds: 1.0 },
        Strategy::Rolling { max_surge: 1, max_unavailable: 0 },
    ] {
        let name = strategy.name();
        let err = engine.start_rollout(id, plan(strategy), "ops").await.err().unwrap();
        assert_eq!((err.code(), err.details()[0].field.as_str()), ("validation_error", "strategy"), "{name}");
        let message = err.details()[0].message.clone();
        assert!(message.contains("atomic_swap") && message.contains(name), "{name}: {message}");
    }
    assert_eq!(engine.get(id).await.unwrap().status, Status::Approved);
    assert!(fake.recorder().requests().is_empty(), "{provider} was never called");
}

/// Waits until the rollout of `id` has completed `steps` steps.
pub async fn wait_for_steps(engine: &Engine, id: &str, steps: u32) {
    while engine.rollout(id).await.unwrap().progress.completed_steps < steps {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Checks that `rollout` was rolled back because its engine went away.
pub fn assert_rolled_back_on_restart(rollout: &Rollout) {
    assert_eq!(rollout.state, RolloutState::RolledBack, "{rollout:?}");
    assert_eq!(rollout.failure.as_ref().unwrap().code.as_str(), "engine_restarted");
}

/// Checks that `version` is the current release, nothing is left to recover and the audit
/// chain holds.
pub async fn assert_settled_on(engine: &Engine, version: &str) {
    assert_eq!(engine.releases("shop", "staging", 1).await.unwrap()[0].version, version);
    assert!(engine.recover_rollouts().await.unwrap().is_empty(), "nothing left to recover");
    assert!(engine.verify_audit().await.unwrap().valid);
}

/// What the engine recorded about deployments `ids` (events and rollouts) and the releases, as
/// JSON text.
pub async fn recorded(engine: &Engine, ids: &[&str]) -> String {
    let mut seen = String::new();
    for id in ids {
        seen += &serde_json::to_string(&engine.events(id).await.unwrap()).unwrap();
        seen += &serde_json::to_string(&engine.rollout(id).await.unwrap()).unwrap();
    }
    seen += &serde_json::to_string(&engine.releases("shop", "staging", 10).await.unwrap()).unwrap();
    seen
}

/// Checks that none of `tokens` is in `seen` nor in any file of the database at `path`.
pub fn assert_tokens_kept_out(seen: &str, path: &Path, tokens: &[&str]) {
    for token in tokens {
        assert!(!seen.contains(token), "a token is in the records");
        assert!(!database_files_contain(path, token), "a token is in a database file");
    }
}

/// The HTTP tuning of every adapter under test: short timeouts and backoffs, so injected faults
/// are got over quickly.
pub(crate) fn quick_http() -> loco_core::platform::http::HttpTuning {
    loco_core::platform::http::HttpTuning {
        request_timeout: Duration::from_secs(3),
        backoff: Duration::from_millis(10),
        ..loco_core::platform::http::HttpTuning::default()
    }
}
