//! The orchestrator against the simulated platform: every strategy, failures at a given step,
//! conflicts, the concurrency limit, manual rollbacks, failed rollbacks and crash recovery.

use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{InstanceState, Target, TrafficWeight};
use loco_core::rollout::{ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, EventKind, Status};

use crate::common::{orphan, request, temp_db};

fn plan(strategy: Strategy, version: &str, instances: u32) -> RolloutPlan {
    RolloutPlan {
        platform: "sim".into(),
        strategy,
        release: ReleaseSpec { version: version.into(), ..ReleaseSpec::default() },
        instances,
        health: loco_core::rollout::HealthSpec {
            retries: 1,
            backoff_initial_seconds: 0.01,
            interval_seconds: 0.02,
            ..Default::default()
        },
        analysis: None,
        scale_down_delay_seconds: 0.0,
        on_restart: loco_core::rollout::OnRestart::default(),
        scripts: loco_core::rollout::ScriptHooks::default(),
        validation: loco_core::rollout::ValidationSpec::default(),
    }
}

fn canary(steps: Vec<u8>, interval: f64) -> Strategy {
    Strategy::Canary { steps, interval_seconds: interval }
}

fn target(service: &str) -> Target {
    Target { service: service.into(), environment: "staging".into() }
}

fn only(version: &str) -> Vec<TrafficWeight> {
    vec![TrafficWeight { version: version.into(), percent: 100 }]
}

async fn engine_with(sim: &Arc<MemoryPlatform>, path: &std::path::Path) -> Engine {
    Engine::builder().path(path).platform(sim.clone()).open().await.unwrap()
}

/// Creates and approves a deployment of `service`.
async fn approved(engine: &Engine, service: &str) -> String {
    let d = engine.create(request(service, "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

/// Rolls out `version` of `service` with the immediate strategy and checks it succeeded.
async fn release(engine: &Engine, service: &str, version: &str, instances: u32) -> String {
    let id = approved(engine, service).await;
    let r = engine.run_rollout(&id, plan(Strategy::Immediate {}, version, instances), "ops").await.unwrap();
    assert_eq!(r.state, RolloutState::Succeeded, "{r:?}");
    id
}

fn kinds(events: &[loco_core::Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn every_strategy_moves_all_traffic_to_a_good_release_and_stops_the_old_one() {
    let strategies = [
        Strategy::Immediate {},
        Strategy::Rolling { max_surge: 1, max_unavailable: 0 },
        Strategy::BlueGreen { switch_delay_seconds: 0.05 },
        canary(vec![10, 50], 0.05),
    ];
    for strategy in strategies {
        let (_dir, path) = temp_db();
        let sim = Arc::new(MemoryPlatform::new("sim"));
        let engine = engine_with(&sim, &path).await;
        release(&engine, "api", "v1", 3).await;
        let id = approved(&engine, "api").await;
        let name = strategy.name();
        let rollout = engine.run_rollout(&id, plan(strategy, "v2", 3), "ops").await.unwrap();

        assert_eq!(rollout.state, RolloutState::Succeeded, "{name}");
        assert_eq!(engine.get(&id).await.unwrap().status, Status::Succeeded, "{name}");
        assert_eq!(sim.traffic(&target("api")), only("v2"), "{name}");
        let running = sim.running(&target("api"));
        assert_eq!(running.len(), 3, "{name}: only the new instances run");
        assert!(running.iter().all(|i| i.version == "v2"), "{name}");
        assert_eq!(rollout.progress.completed_steps, rollout.progress.total_steps, "{name}");
        assert_eq!(rollout.progress.traffic, only("v2"));

        let events = engine.events(&id).await.unwrap();
        let steps = events.iter().filter(|e| e.kind == EventKind::StepProgress).count();
        assert_eq!(steps as u32, rollout.progress.total_steps, "{name}: one step_progress per step");
        assert_eq!(events.first().unwrap().kind, EventKind::Created);
        assert_eq!(events.last().unwrap().kind, EventKind::Succeeded);
        assert_eq!(
            events.iter().filter(|e| e.kind == EventKind::HealthCheck).count(),
            3,
            "{name}: each new instance checked once"
        );
        let releases = engine.releases("api", "staging", 10).await.unwrap();
        assert_eq!(releases.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["v2", "v1"]);
        assert!(releases[0].retired_at.is_none() && releases[1].retired_at.is_some());
        assert!(engine.verify_audit().await.unwrap().valid);
        engine.close().await.unwrap();
    }
}

#[tokio::test]
async fn wait_rollout_returns_once_the_rollout_ends() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    let id = approved(&engine, "api").await;
    drop(engine.start_rollout(&id, plan(canary(vec![50], 0.2), "v1", 1), "ops").await.unwrap());
    let done = tokio::time::timeout(Duration::from_secs(5), engine.wait_rollout(&id)).await.unwrap().unwrap();
    assert_eq!(done.state, RolloutState::Succeeded);
    assert_eq!(
        engine.wait_rollout(&id).await.unwrap().state,
        RolloutState::Succeeded,
        "already ended: returns at once"
    );
    assert_eq!(engine.wait_rollout("dep_nope").await.unwrap_err().code(), "not_found");
}

#[tokio::test]
async fn canary_steps_shift_traffic_in_order() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    engine.run_rollout(&id, plan(canary(vec![5, 25, 50], 0.01), "v2", 1), "ops").await.unwrap();
    let shifts: Vec<String> = sim.calls().into_iter().filter(|c| c.starts_with("set_traffic")).collect();
    assert_eq!(
        shifts,
        [
            "set_traffic api/staging v1=100",
            "set_traffic api/staging v2=5,v1=95",
            "set_traffic api/staging v2=25,v1=75",
            "set_traffic api/staging v2=50,v1=50",
            "set_traffic api/staging v2=100",
        ]
    );
}

#[tokio::test]
async fn a_release_failing_its_checks_is_rolled_back_with_the_story_in_order() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 2).await;
    let id = approved(&engine, "api").await;
    sim.crash_version("v2");
    let rollout = engine.run_rollout(&id, plan(canary(vec![25], 0.05), "v2", 2), "ops").await.unwrap();

    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert_eq!((failure.code.as_str(), failure.step), ("health_check_failed", Some(2)));
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert_eq!(sim.traffic(&target("api")), only("v1"));
    let running = sim.running(&target("api"));
    assert!(running.len() == 2 && running.iter().all(|i| i.version == "v1"), "{running:?}");

    let events = engine.events(&id).await.unwrap();
    assert_eq!(
        kinds(&events),
        [
            EventKind::Created,
            EventKind::Approved,
            EventKind::Started,
            EventKind::StepProgress, // start 1 canary instance
            EventKind::HealthCheck,  // it exited
            EventKind::Failed,
            EventKind::StepProgress, // rolling back
            EventKind::StepProgress, // restored v1 to 100%
            EventKind::RolledBack,
        ]
    );
    assert_eq!(events[4].data.as_ref().unwrap()["ok"], false);
    assert_eq!(events[5].actor, "loco");
    assert!(events[7].note.as_deref().unwrap().starts_with("restored v1 to 100% of traffic"), "{:?}", events[7].note);
    assert!(events[7].data.as_ref().unwrap()["trigger_to_rollback_call_ms"].as_f64().is_some());
    assert!(events[8].note.as_deref().unwrap().starts_with("automatic rollback"), "{:?}", events[8].note);
    // The previous release is current again; the failed one never became a release.
    let releases = engine.releases("api", "staging", 10).await.unwrap();
    assert_eq!(releases[0].version, "v1");
    assert!(releases[0].retired_at.is_none());
    assert!(engine.verify_audit().await.unwrap().valid);
}

#[tokio::test]
async fn a_canary_that_breaks_while_observed_rolls_back_at_that_step() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    let handle = engine.start_rollout(&id, plan(canary(vec![10, 50], 5.0), "v2", 1), "ops").await.unwrap();
    // Break the canary once it takes 10 % of traffic.
    while !sim.traffic(&target("api")).iter().any(|w| w.version == "v2" && w.percent == 10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.crash_version("v2");
    let rollout = tokio::time::timeout(Duration::from_secs(5), engine.wait_rollout(&handle.deployment_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.as_ref().unwrap().step, Some(4), "failed while observing the 10% step");
    assert_eq!(sim.traffic(&target("api")), only("v1"));
    assert!(!sim.calls().iter().any(|c| c.contains("v2=50")), "never reached the 50% step");
}

#[tokio::test]
async fn a_first_release_that_fails_is_taken_down() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    let id = approved(&engine, "api").await;
    sim.fail_deploys_of("v1");
    let rollout = engine.run_rollout(&id, plan(Strategy::Immediate {}, "v1", 1), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.unwrap().code.as_str(), "step_failed");
    assert!(sim.running(&target("api")).is_empty());
    assert!(engine.releases("api", "staging", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn one_active_rollout_per_service_and_environment() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    let first = approved(&engine, "api").await;
    let second = approved(&engine, "api").await;
    let other = approved(&engine, "web").await;
    let slow = plan(canary(vec![50], 0.3), "v1", 1);
    let running = engine.start_rollout(&first, slow.clone(), "ops").await.unwrap();

    let err = engine.start_rollout(&second, slow.clone(), "ops").await.err().unwrap();
    assert_eq!(err.code(), "rollout_conflict");
    assert!(err.to_string().contains(&first), "{err}");
    assert_eq!(engine.get(&second).await.unwrap().status, Status::Approved, "the refused rollout wrote nothing");
    assert_eq!(engine.rollout(&second).await.unwrap_err().code(), "not_found");

    // Another service is independent; manual lifecycle moves of a running rollout are refused.
    let other = engine.start_rollout(&other, slow.clone(), "ops").await.unwrap();
    let err = engine.succeed(&first, "ops", None).await.unwrap_err();
    assert_eq!(err.code(), "rollout_in_progress");
    assert_eq!(engine.wait_rollout(&running.deployment_id).await.unwrap().state, RolloutState::Succeeded);
    assert_eq!(engine.wait_rollout(&other.deployment_id).await.unwrap().state, RolloutState::Succeeded);
    // Once it finished, the next one may go.
    let next = engine.run_rollout(&second, plan(Strategy::Immediate {}, "v2", 1), "ops").await.unwrap();
    assert_eq!(next.state, RolloutState::Succeeded);
}

#[tokio::test]
async fn the_concurrency_limit_queues_rollouts() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim.clone()).max_concurrent_rollouts(1).open().await.unwrap();
    let mut handles = Vec::new();
    for service in ["a", "b", "c"] {
        let id = approved(&engine, service).await;
        handles.push(engine.start_rollout(&id, plan(canary(vec![50], 0.05), "v1", 1), "ops").await.unwrap());
    }
    for h in handles {
        assert_eq!(engine.wait_rollout(&h.deployment_id).await.unwrap().state, RolloutState::Succeeded);
    }
    // With one slot, each service's calls form one unbroken run.
    let services: Vec<String> =
        sim.calls().iter().map(|c| c.split(' ').nth(1).unwrap_or_default().to_owned()).collect();
    let mut runs = services.clone();
    runs.dedup();
    assert_eq!(runs.len(), 3, "interleaved calls: {services:?}");
}

#[tokio::test]
async fn bad_rollout_requests_are_refused_before_anything_is_written() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    let id = approved(&engine, "api").await;
    let mut unknown = plan(Strategy::Immediate {}, "v1", 1);
    unknown.platform = "railway".into();
    let cases = [
        (unknown, "ops", "platform"),
        (plan(Strategy::Rolling { max_surge: 0, max_unavailable: 0 }, "v1", 1), "ops", "strategy.max_surge"),
        (plan(canary(vec![50, 20], 1.0), "v1", 1), "ops", "strategy.steps[1]"),
        (plan(Strategy::Immediate {}, "v1", 0), "ops", "instances"),
        (plan(Strategy::Immediate {}, "v1", 1), " ", "actor"),
    ];
    for (plan, actor, field) in cases {
        let err = engine.start_rollout(&id, plan, actor).await.err().unwrap();
        assert_eq!((err.code(), err.details()[0].field.as_str()), ("validation_error", field));
    }
    let pending = engine.create(request("api", "staging"), None).await.unwrap();
    let err = engine.start_rollout(&pending.id, plan(Strategy::Immediate {}, "v1", 1), "ops").await.err().unwrap();
    assert_eq!(err.code(), "invalid_transition");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Approved);
    assert!(sim.calls().is_empty(), "the platform was never called");
    // The same version label as the one serving is refused (traffic is split by version).
    release(&engine, "api", "v1", 1).await;
    let again = approved(&engine, "api").await;
    let err = engine.start_rollout(&again, plan(Strategy::Immediate {}, "v1", 1), "ops").await.err().unwrap();
    assert_eq!(err.details()[0].field, "release.version");
}

#[tokio::test]
async fn a_strategy_the_platform_cannot_honour_is_refused_naming_the_capability() {
    use loco_core::platform::{Capabilities, TrafficControl};
    let (_dir, path) = temp_db();
    let swap = Capabilities { traffic: TrafficControl::AtomicSwap, native_rollback: true, logs: true, metrics: false };
    let sim = Arc::new(MemoryPlatform::new("sim").with_capabilities(swap));
    let engine = engine_with(&sim, &path).await;
    let id = approved(&engine, "api").await;
    for strategy in [canary(vec![10, 50], 1.0), Strategy::Rolling { max_surge: 1, max_unavailable: 0 }] {
        let name = strategy.name();
        let err = engine.start_rollout(&id, plan(strategy, "v1", 2), "ops").await.err().unwrap();
        assert_eq!((err.code(), err.details()[0].field.as_str()), ("validation_error", "strategy"));
        let message = &err.details()[0].message;
        assert!(message.contains("traffic: atomic_swap") && message.contains(name), "{message}");
    }
    assert!(sim.calls().is_empty(), "the platform was never called");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Approved, "nothing was written");
    // What an atomic-swap platform can do runs.
    let done = engine.run_rollout(&id, plan(Strategy::BlueGreen { switch_delay_seconds: 0.0 }, "v1", 1), "ops").await;
    assert_eq!(done.unwrap().state, RolloutState::Succeeded);

    let (_dir2, path2) = temp_db();
    let count = Capabilities { traffic: TrafficControl::InstanceCount, ..swap };
    let machines = Arc::new(MemoryPlatform::new("sim").with_capabilities(count));
    let engine = engine_with(&machines, &path2).await;
    let id = approved(&engine, "api").await;
    let err = engine.start_rollout(&id, plan(canary(vec![25], 0.01), "v1", 1), "ops").await.err().unwrap();
    assert!(err.details()[0].message.contains("instances >= 2"), "{err}");
    let done = engine.run_rollout(&id, plan(canary(vec![25], 0.01), "v1", 4), "ops").await.unwrap();
    assert_eq!(done.state, RolloutState::Succeeded, "a canary by instance count runs with 4 instances");
}

#[tokio::test]
async fn rollback_during_a_running_canary_restores_the_old_release() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    let handle = engine.start_rollout(&id, plan(canary(vec![20, 60], 30.0), "v2", 1), "ops").await.unwrap();
    while !sim.traffic(&target("api")).iter().any(|w| w.version == "v2") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let d = tokio::time::timeout(Duration::from_secs(5), engine.rollback(&id, "carol", "latency looks off"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, Status::RolledBack);
    let rollout = engine.wait_rollout(&handle.deployment_id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.unwrap().code.as_str(), "rollback_requested");
    assert_eq!(sim.traffic(&target("api")), only("v1"));
    let last = engine.events(&id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str(), last.note.as_deref()),
        (EventKind::RolledBack, "carol", Some("latency looks off"))
    );
}

#[tokio::test]
async fn rollback_after_success_brings_the_previous_release_back() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 2).await;
    let v2 = release(&engine, "api", "v2", 2).await;
    assert!(sim.running(&target("api")).iter().all(|i| i.version == "v2"));

    let d = engine.rollback(&v2, "carol", "customers report errors").await.unwrap();
    assert_eq!(d.status, Status::RolledBack);
    assert_eq!(sim.traffic(&target("api")), only("v1"));
    let running = sim.running(&target("api"));
    assert_eq!(running.len(), 2, "v1 was started again in full: {running:?}");
    assert!(running.iter().all(|i| i.version == "v1"));
    let releases = engine.releases("api", "staging", 10).await.unwrap();
    assert_eq!(releases[0].version, "v1", "v1 is current again");
    assert_eq!(
        engine
            .rollout(&v2)
            .await
            .unwrap()
            .progress
            .instances
            .iter()
            .filter(|i| i.state == InstanceState::Stopped)
            .count(),
        4
    );
}

#[tokio::test]
async fn a_failed_rollback_is_recorded_and_can_be_retried() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    sim.crash_version("v2");
    sim.fail_rollbacks(true);
    let rollout = engine.run_rollout(&id, plan(Strategy::Immediate {}, "v2", 1), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RollbackFailed);
    assert_eq!(rollout.failure.as_ref().unwrap().code.as_str(), "rollback_failed");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::Failed);

    let err = engine.rollback(&id, "carol", "retry").await.unwrap_err();
    assert_eq!(err.code(), "rollback_failed");
    sim.fail_rollbacks(false);
    assert_eq!(engine.rollback(&id, "carol", "retry").await.unwrap().status, Status::RolledBack);
    assert_eq!(sim.traffic(&target("api")), only("v1"));
    assert_eq!(engine.rollout(&id).await.unwrap().state, RolloutState::RolledBack);
}

#[tokio::test]
async fn an_interrupted_rollout_is_rolled_back_by_the_next_engine() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    let _handle = engine.start_rollout(&id, plan(canary(vec![30], 60.0), "v2", 1), "ops").await.unwrap();
    while !sim.traffic(&target("api")).iter().any(|w| w.version == "v2") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    engine.close().await.unwrap(); // suspends the rollout mid-canary, as a crash would
    orphan(&path, &id);
    assert_eq!(Engine::open(&path).await.unwrap().rollout(&id).await.unwrap().state, RolloutState::Running);

    let restarted = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&restarted, &path).await; // recovers while opening
    let rollout = engine.rollout(&id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.unwrap().code.as_str(), "engine_restarted");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert_eq!(restarted.traffic(&target("api")), only("v1"));
    assert_eq!(restarted.running(&target("api")).len(), 1, "a replacement v1 instance serves");
    assert!(engine.recover_rollouts().await.unwrap().is_empty(), "nothing left to recover");
    assert!(engine.verify_audit().await.unwrap().valid);
}

#[tokio::test]
async fn an_interrupted_rollout_whose_steps_all_finished_is_marked_succeeded() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    let id = release(&engine, "api", "v1", 1).await;
    let id2 = approved(&engine, "api").await;
    let done = engine.run_rollout(&id2, plan(Strategy::Immediate {}, "v2", 1), "ops").await.unwrap();
    engine.close().await.unwrap();
    // Rewind the record to "all steps done, not yet marked succeeded", as after a crash right there.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE rollouts SET state = 'running', finished_at = NULL WHERE deployment_id = ?1", [&id2]).unwrap();
    raw.execute("UPDATE deployments SET status = 'started' WHERE id = ?1", [&id2]).unwrap();
    raw.execute("UPDATE releases SET retired_at = NULL WHERE deployment_id = ?1", [&id]).unwrap();
    raw.execute("DELETE FROM releases WHERE deployment_id = ?1", [&id2]).unwrap();
    drop(raw);
    orphan(&path, &id2);
    let engine = engine_with(&Arc::new(MemoryPlatform::new("sim")), &path).await;
    let rollout = engine.rollout(&id2).await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded);
    assert_eq!(rollout.progress.completed_steps, done.progress.total_steps);
    assert_eq!(engine.get(&id2).await.unwrap().status, Status::Succeeded);
    assert_eq!(engine.releases("api", "staging", 1).await.unwrap()[0].version, "v2");
}

#[tokio::test]
async fn rollouts_are_counted_in_the_metrics() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = engine_with(&sim, &path).await;
    release(&engine, "api", "v1", 1).await;
    let id = approved(&engine, "api").await;
    sim.crash_version("v2");
    engine.run_rollout(&id, plan(canary(vec![50], 0.01), "v2", 1), "ops").await.unwrap();
    let text = engine.metrics().render();
    for series in [
        r#"sparki_deployment_total{stage="staging",platform="sim",strategy="immediate",status="succeeded"} 1"#,
        r#"sparki_deployment_total{stage="staging",platform="sim",strategy="canary",status="failed"} 1"#,
        r#"sparki_deployment_total{stage="staging",platform="sim",strategy="canary",status="rolled_back"} 1"#,
        r#"sparki_deployment_rollback_total{trigger_reason="health_check_failed",automatic="true"} 1"#,
        r#"sparki_deployment_duration_seconds_count{stage="staging",platform="sim",strategy="canary"} 1"#,
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    // Every health check is observed: v1's instance passed one, v2's failed one (no probes in
    // the plan: the platform's own health decides).
    let checks = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"sparki_deployment_health_check_duration_seconds_count{stage="staging",check_type="platform"} "#,
            )
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(checks.is_some_and(|n| n >= 2), "{text}");
    let bucket = |le: &str| {
        text.lines().any(|l| {
            l.starts_with("sparki_deployment_health_check_duration_seconds_bucket{")
                && l.contains(r#"check_type="platform""#)
                && l.contains(&format!(r#"le="{le}""#))
        })
    };
    assert!(bucket("0.01") && bucket("120.0") && bucket("+Inf"), "{text}");
    assert!(text.lines().any(|l| l == "loco_rollouts_executing 0"), "both rollouts ended: {text}");
}

/// The CPU time the calling thread has used, in clock ticks (utime + stime of
/// `/proc/thread-self/stat`).
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // The fields after the command name (in parentheses, which may hold spaces) start at the
    // third, the state; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A canary step without metric analysis sleeps between its health checks until its window ends.
/// It used to wake at once, again and again, from its first health interval on (a poll time that
/// never moved without a metric source), burning a core for the rest of every window.
#[test]
fn an_observation_window_without_metrics_sleeps_between_health_checks() {
    // One thread runs the engine and every rollout task, so its CPU time is the rollout's.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (_dir, path) = temp_db();
        let sim = Arc::new(MemoryPlatform::new("sim"));
        let engine = engine_with(&sim, &path).await;
        release(&engine, "api", "v1", 1).await;
        let id = approved(&engine, "api").await;
        let mut canary_plan = plan(canary(vec![50], 2.0), "v2", 1);
        canary_plan.health.interval_seconds = 1.0;
        let (before, started) = (thread_cpu_ticks(), std::time::Instant::now());
        let rollout = engine.run_rollout(&id, canary_plan, "ops").await.unwrap();
        let (ticks, took) = (thread_cpu_ticks() - before, started.elapsed());
        assert_eq!(rollout.state, RolloutState::Succeeded, "{rollout:?}");
        assert!(took >= Duration::from_secs(2), "the 2 s window was observed: {took:?}");
        // 100 ticks a second: a loop spinning through half the window takes about 100.
        assert!(ticks < 40, "{ticks} ticks of CPU over {took:?}: the window was not slept through");
    });
}
