//! Deployment scripts inside real rollouts: `pre_deploy` runs before anything starts (its
//! failure deploys nothing), `post_deploy` after full traffic (its failure rolls back),
//! `on_failure` and `on_rollback` around a rollback; every script is a `script` event, its
//! environment is exact, its secrets never reach the database, and its output can be followed.

use std::path::Path;
use std::sync::Arc;

use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{InstanceState, Platform, Target};
use loco_core::rollout::{RolloutPlan, RolloutState};
use loco_core::{Engine, EventKind, Status};
use serde_json::{Value, json};

use crate::common::{request, temp_db};

fn plan(version: &str, scripts: &Value) -> RolloutPlan {
    let plan = json!({
        "platform": "sim",
        "strategy": {"type": "immediate"},
        "release": {"version": version, "secret_env": {"DB_PASSWORD": "pw-7f3a9c-never-stored"}},
        "health": {"interval_seconds": 0.05},
        "scripts": scripts,
    });
    RolloutPlan::from_json(&plan.to_string()).unwrap()
}

async fn engine(path: &Path) -> (Engine, Arc<MemoryPlatform>) {
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(path).platform(sim.clone()).open().await.unwrap();
    (engine, sim)
}

async fn approved(engine: &Engine) -> String {
    let d = engine.create(request("shop", "staging"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

/// The `script` events of a deployment as (hook, name, ok, continued).
async fn script_events(engine: &Engine, id: &str) -> Vec<(String, String, bool, bool)> {
    let events = engine.events(id).await.unwrap();
    events
        .iter()
        .filter(|e| e.kind == EventKind::Script)
        .map(|e| {
            let d = serde_json::to_value(e.data.as_ref().unwrap()).unwrap();
            let text = |k: &str| d[k].as_str().unwrap().to_owned();
            (text("hook"), text("name"), d["ok"].as_bool().unwrap(), d["continued"].as_bool().unwrap())
        })
        .collect()
}

/// The versions of the instances that run.
async fn running_versions(sim: &MemoryPlatform) -> Vec<String> {
    let target = Target { service: "shop".into(), environment: "staging".into() };
    let status = sim.status(&target).await.unwrap();
    let mut versions: Vec<String> =
        status.instances.into_iter().filter(|i| i.state == InstanceState::Running).map(|i| i.version).collect();
    versions.sort();
    versions
}

#[tokio::test]
async fn a_pre_deploy_migration_runs_first_with_exactly_its_environment() {
    let (dir, path) = temp_db();
    let (engine, _sim) = engine(&path).await;
    let scratch = tempfile::tempdir().unwrap();
    let dump = scratch.path().join("env.txt");
    let scripts = json!({"pre_deploy": [{
        "name": "migrate",
        "inline": format!("env | sort > {}; echo migrated with $DB_PASSWORD", dump.display()),
        "env": {"MIGRATIONS": "db/migrations"},
        "secrets": ["DB_PASSWORD"],
    }]});
    let id = approved(&engine).await;
    let rollout = engine.run_rollout(&id, plan("1.0.0", &scripts), "deployer@example.com").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded);

    let env = std::fs::read_to_string(&dump).unwrap();
    let mut names: Vec<&str> = env.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    names.retain(|n| !matches!(*n, "PWD" | "SHLVL" | "_"));
    let mut expected: Vec<&str> = loco_core::rollout::LOCO_SCRIPT_ENV.to_vec();
    expected.extend(["DB_PASSWORD", "MIGRATIONS", "PATH"]);
    expected.sort_unstable();
    assert_eq!(names, expected, "{env}");
    for line in ["LOCO_DEPLOYMENT_ID=", "LOCO_STAGE=staging", "LOCO_STRATEGY=immediate", "LOCO_APP_NAME=shop"] {
        assert!(env.lines().any(|l| l.starts_with(line)), "{line} in {env}");
    }
    assert!(env.contains("LOCO_DEPLOYED_BY=deployer@example.com") && env.contains(&format!("LOCO_DEPLOYMENT_ID={id}")));
    assert!(env.contains("DB_PASSWORD=pw-7f3a9c-never-stored"), "the script itself gets the secret");

    let events = engine.events(&id).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    let script_at = kinds.iter().position(|k| *k == EventKind::Script).unwrap();
    let first_step = kinds.iter().position(|k| *k == EventKind::StepProgress).unwrap();
    assert!(script_at < first_step, "the script ran before any step: {kinds:?}");
    let data = serde_json::to_value(events[script_at].data.as_ref().unwrap()).unwrap();
    assert_eq!(
        (data["hook"].as_str(), data["exit_code"].as_i64(), data["lines"].as_u64()),
        (Some("pre_deploy"), Some(0), Some(1))
    );
    assert_eq!(data["tail"], json!(["migrated with ***"]));
    engine.close().await.unwrap();
    // Neither the sealed secret nor the script's output carries its value into the database.
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(22).any(|w| w == b"pw-7f3a9c-never-stored"), "the secret reached a file");
    }
}

#[tokio::test]
async fn a_failing_pre_deploy_deploys_nothing_and_runs_on_failure() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let id = approved(&engine).await;
    assert_eq!(engine.run_rollout(&id, plan("1.0.0", &json!({})), "ops").await.unwrap().state, RolloutState::Succeeded);

    let scripts = json!({
        "pre_deploy": [
            {"name": "lint", "inline": "exit 1", "continue_on_error": true},
            {"name": "migrate", "inline": "echo migration 42 failed >&2; exit 4"},
            {"name": "never", "inline": "echo should not run"}
        ],
        "on_failure": [{"name": "page", "inline": "echo paging on-call"}],
        "on_rollback": [{"name": "notify", "language": "python", "inline": "print('rolled back')"}],
    });
    let id = approved(&engine).await;
    let rollout = engine.run_rollout(&id, plan("2.0.0", &scripts), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert_eq!(failure.code.as_str(), "script_failed");
    assert_eq!(failure.message, "pre_deploy script 'migrate' exited with code 4");
    assert_eq!(engine.get(&id).await.unwrap().status, Status::RolledBack);
    assert_eq!(running_versions(&sim).await, ["1.0.0"], "2.0.0 never started");
    assert_eq!(
        script_events(&engine, &id).await,
        [
            ("pre_deploy".into(), "lint".into(), false, true),
            ("pre_deploy".into(), "migrate".into(), false, false),
            ("on_failure".into(), "page".into(), true, false),
            ("on_rollback".into(), "notify".into(), true, false),
        ]
    );
}

#[tokio::test]
async fn a_failing_post_deploy_smoke_test_rolls_back_and_its_output_can_be_followed() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let id = approved(&engine).await;
    engine.run_rollout(&id, plan("1.0.0", &json!({})), "ops").await.unwrap();

    let scripts = json!({"post_deploy": [{
        "name": "smoke",
        "inline": "echo GET /checkout; sleep 0.3; echo 'GET /checkout -> 500'; exit 1",
    }]});
    let id = approved(&engine).await;
    engine.start_rollout(&id, plan("2.0.0", &scripts), "ops").await.unwrap();
    // Follow the smoke test while it runs.
    let mut follower = loop {
        match engine.follow_logs(&id, "script:post_deploy:smoke").await {
            Ok(follower) => break follower,
            Err(e) => {
                assert_eq!(e.code(), "validation_error", "{e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    let mut seen = Vec::new();
    while let Some(line) = follower.next().await {
        seen.push(line.line);
    }
    assert_eq!(seen, ["GET /checkout", "GET /checkout -> 500"]);
    let rollout = engine.wait_rollout(&id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.unwrap().message, "post_deploy script 'smoke' exited with code 1");
    assert_eq!(running_versions(&sim).await, ["1.0.0"]);
    assert_eq!(rollout.progress.traffic[0].version, "1.0.0");

    let err = engine.follow_logs(&id, "script:post_deploy:other").await.err().unwrap();
    assert_eq!(err.details()[0].field, "instance_id");
}

#[tokio::test]
async fn scripts_are_checked_with_the_plan_and_refused_over_the_network() {
    let bad = json!({
        "platform": "sim", "strategy": {"type": "immediate"}, "release": {"version": "1"},
        "scripts": {"pre_deploy": [
            {"name": "both", "inline": "true", "file": "x.sh"},
            {"name": "both", "inline": "true", "timeout_seconds": 0, "env": {"PATH": "/tmp", "1X": "y"},
             "secrets": ["MISSING"]}
        ]}
    });
    let err = RolloutPlan::from_json(&bad.to_string()).err().unwrap();
    let fields: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "scripts.pre_deploy[0].inline",
            "scripts.pre_deploy[1].name",
            "scripts.pre_deploy[1].timeout_seconds",
            "scripts.pre_deploy[1].env.1X",
            "scripts.pre_deploy[1].env.PATH",
            "scripts.pre_deploy[1].secrets",
        ]
    );
    let remote = plan("1", &json!({"post_deploy": [{"name": "smoke", "inline": "true"}]}));
    let err = remote.check_remote().err().unwrap();
    assert_eq!(err.details()[0].field, "scripts");
}

/// Waits until the deployment's rollout shows `step`.
async fn wait_for_step(engine: &Engine, id: &str, step: &str) {
    for _ in 0..500 {
        if engine.rollout(id).await.is_ok_and(|r| r.progress.step == step) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the rollout never reached '{step}'");
}

#[tokio::test]
async fn a_rollback_requested_during_a_script_stops_it_at_once() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let id = approved(&engine).await;
    engine.run_rollout(&id, plan("1.0.0", &json!({})), "ops").await.unwrap();

    let scripts = json!({"post_deploy": [{"name": "soak", "inline": "echo soaking; sleep 60"}]});
    let id = approved(&engine).await;
    engine.start_rollout(&id, plan("2.0.0", &scripts), "ops").await.unwrap();
    wait_for_step(&engine, &id, "post_deploy script soak").await;
    // Asked once the script has written its line (the step is recorded before it starts).
    let mut output = loop {
        match engine.follow_logs(&id, "script:post_deploy:soak").await {
            Ok(follower) => break follower,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    };
    assert_eq!(output.next().await.unwrap().line, "soaking");
    let asked = std::time::Instant::now();
    let d = engine.rollback(&id, "carol", "customers report errors").await.unwrap();
    assert_eq!(d.status, Status::RolledBack);
    assert!(asked.elapsed() < std::time::Duration::from_secs(10), "took {:?}", asked.elapsed());
    assert_eq!(running_versions(&sim).await, ["1.0.0"]);
    let events = engine.events(&id).await.unwrap();
    let script = events.iter().find(|e| e.kind == EventKind::Script).unwrap();
    let data = serde_json::to_value(script.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["error"], "stopped: the rollout was interrupted");
    assert_eq!(data["tail"], json!(["soaking"]));
}

#[tokio::test]
async fn closing_the_engine_mid_script_hands_the_rollout_to_the_next_engine() {
    let (_dir, path) = temp_db();
    let (engine, _sim) = engine(&path).await;
    let scripts = json!({"pre_deploy": [{"name": "slow-migration", "inline": "sleep 60"}]});
    let id = approved(&engine).await;
    engine.start_rollout(&id, plan("1.0.0", &scripts), "ops").await.unwrap();
    wait_for_step(&engine, &id, "pre_deploy script slow-migration").await;
    let closing = std::time::Instant::now();
    engine.close().await.unwrap();
    assert!(closing.elapsed() < std::time::Duration::from_secs(10), "close waited for the script");

    let (next, _) = self::engine(&path).await;
    let rollout = next.rollout(&id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack, "recovered at open: {:?}", rollout.failure);
    assert_eq!(rollout.failure.unwrap().code.as_str(), "engine_restarted");
}
