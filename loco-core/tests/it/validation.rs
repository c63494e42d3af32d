//! Pre-deployment validation inside real rollouts: a failed report refuses the start (recorded
//! alone, the deployment still approved, nothing running), a passed one is recorded just before
//! `started`; smoke tests run after `post_deploy` against the new release and roll back on
//! failure; a registered service brings its scripts and checks to plans from the network.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use loco_core::platform::memory::MemoryPlatform;
use loco_core::platform::{InstanceState, Platform, Target};
use loco_core::rollout::{RolloutPlan, RolloutState, ValidationSpec};
use loco_core::service::ServiceDefinition;
use loco_core::{ActionInput, Engine, Error, ErrorCode, EventKind, Status};
use serde_json::{Value, json};

use crate::common::{request, temp_db};

fn plan(version: &str, env: &Value, validation: &Value, scripts: &Value) -> RolloutPlan {
    let plan = json!({
        "platform": "sim",
        "strategy": {"type": "immediate"},
        "release": {"version": version, "env": env},
        "health": {"interval_seconds": 0.05},
        "validation": validation,
        "scripts": scripts,
    });
    RolloutPlan::from_json(&plan.to_string()).unwrap()
}

fn required_database_url() -> Value {
    json!({"config": {"required": ["DATABASE_URL"]}})
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

async fn running_versions(sim: &MemoryPlatform) -> Vec<String> {
    let target = Target { service: "shop".into(), environment: "staging".into() };
    let status = sim.status(&target).await.unwrap();
    let mut versions: Vec<String> =
        status.instances.into_iter().filter(|i| i.state == InstanceState::Running).map(|i| i.version).collect();
    versions.sort();
    versions
}

async fn kinds(engine: &Engine, id: &str) -> Vec<EventKind> {
    engine.events(id).await.unwrap().iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_failed_validation_refuses_the_start_and_records_its_report() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let id = approved(&engine).await;
    let refused = engine
        .start_rollout(&id, plan("1.0.0", &json!({"MODE": "fast"}), &required_database_url(), &json!({})), "ops")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorCode::ValidationFailed);
    assert_eq!(refused.code(), "validation_failed");
    let Error::ValidationFailed { id: refused_id, report, details } = &refused else { panic!("{refused:?}") };
    assert_eq!(refused_id, &id);
    assert!(!report.passed);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        (report.findings[0].rule.as_str(), report.findings[0].location.as_str(), report.findings[0].blocking),
        ("missing_variable", "release.env.DATABASE_URL", true)
    );
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].field, "release.env.DATABASE_URL");
    assert_eq!(refused.report(), Some(report.as_ref()));

    assert_eq!(engine.get(&id).await.unwrap().status, Status::Approved, "the start was refused");
    assert_eq!(engine.rollout(&id).await.unwrap_err().kind(), ErrorCode::NotFound, "no rollout was recorded");
    assert!(running_versions(&sim).await.is_empty(), "nothing started");
    assert_eq!(kinds(&engine, &id).await, [EventKind::Created, EventKind::Approved, EventKind::Validation]);
    let recorded = engine.events(&id).await.unwrap().pop().unwrap();
    assert_eq!((recorded.actor.as_str(), recorded.to_status), ("ops", None));
    let data = serde_json::to_value(recorded.data.unwrap()).unwrap();
    assert_eq!(data["passed"], json!(false));
    assert_eq!(data["findings"][0]["rule"], json!("missing_variable"));
    let metrics = engine.metrics().render();
    assert!(
        metrics.lines().any(|l| l.starts_with("sparki_deployment_validation_errors_total{")
            && l.contains("error_type=\"config.missing_variable\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );

    // Fixed, the same deployment starts; the passed report is recorded just before `started`.
    let fixed = json!({"MODE": "fast", "DATABASE_URL": "postgres://db/shop"});
    let rollout = engine.run_rollout(&id, plan("1.0.0", &fixed, &required_database_url(), &json!({})), "ops").await;
    assert_eq!(rollout.unwrap().state, RolloutState::Succeeded);
    let kinds = kinds(&engine, &id).await;
    let started = kinds.iter().position(|k| *k == EventKind::Started).unwrap();
    assert_eq!(
        kinds[..=started],
        [EventKind::Created, EventKind::Approved, EventKind::Validation, EventKind::Validation, EventKind::Started]
    );
    assert!(engine.verify_audit().await.unwrap().valid);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn validating_a_plan_alone_records_nothing() {
    let (_dir, path) = temp_db();
    let (engine, _sim) = engine(&path).await;
    let id = approved(&engine).await;
    let report = engine.validate_plan(plan("1.0.0", &json!({}), &required_database_url(), &json!({}))).await.unwrap();
    assert!(!report.passed);
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.checks[0].check.as_str(), "config");
    let report = engine
        .validate_plan(plan("1.0.0", &json!({"DATABASE_URL": "x"}), &required_database_url(), &json!({})))
        .await
        .unwrap();
    assert!(report.passed, "{report:?}");
    // A plan without checks has an empty, passed report, and starting it records no validation.
    let nothing = engine.validate_plan(plan("1.0.0", &json!({}), &json!({}), &json!({}))).await.unwrap();
    assert_eq!((nothing.passed, nothing.checks.len()), (true, 0));
    assert_eq!(kinds(&engine, &id).await, [EventKind::Created, EventKind::Approved]);
    engine.run_rollout(&id, plan("1.0.0", &json!({}), &json!({}), &json!({})), "ops").await.unwrap();
    assert!(!kinds(&engine, &id).await.contains(&EventKind::Validation));
    // A broken spec is a plain validation error naming the field, before any check runs.
    let bad = json!({"platform": "sim", "strategy": {"type": "immediate"}, "release": {"version": "2"},
                     "validation": {"dependencies": [{"name": "npm", "format": "yarn", "command": ["x"]}]}});
    let error = RolloutPlan::from_json(&bad.to_string()).unwrap_err();
    assert_eq!(error.kind(), ErrorCode::ValidationError);
    assert!(error.details()[0].field.starts_with("validation.dependencies"), "{error}");
    engine.close().await.unwrap();
}

#[tokio::test]
async fn a_failing_smoke_test_after_post_deploy_rolls_back() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let id = approved(&engine).await;
    let first = engine.run_rollout(&id, plan("1.0.0", &json!({}), &json!({}), &json!({})), "ops").await.unwrap();
    assert_eq!(first.state, RolloutState::Succeeded);

    let scripts = json!({"post_deploy": [{"name": "warm", "inline": "echo warmed"}]});
    let validation = json!({"smoke_tests": [
        {"name": "ping", "inline": "echo ok"},
        {"name": "checkout", "inline": "echo 'POST /checkout -> 500' >&2; exit 3"},
        {"name": "never", "inline": "echo not reached"}
    ]});
    let id = approved(&engine).await;
    let rollout = engine.run_rollout(&id, plan("2.0.0", &json!({}), &validation, &scripts), "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    let failure = rollout.failure.unwrap();
    assert_eq!(failure.code.as_str(), "smoke_test_failed");
    assert_eq!(failure.message, "smoke_test script 'checkout' exited with code 3");
    assert_eq!(running_versions(&sim).await, ["1.0.0"]);
    let scripts: Vec<(String, String, bool)> = engine
        .events(&id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::Script)
        .map(|e| {
            let d = serde_json::to_value(e.data.as_ref().unwrap()).unwrap();
            (d["hook"].as_str().unwrap().to_owned(), d["name"].as_str().unwrap().to_owned(), d["ok"] == json!(true))
        })
        .collect();
    assert_eq!(
        scripts,
        [
            ("post_deploy".to_owned(), "warm".to_owned(), true),
            ("smoke_test".to_owned(), "ping".to_owned(), true),
            ("smoke_test".to_owned(), "checkout".to_owned(), false),
        ]
    );
    engine.close().await.unwrap();
}

#[tokio::test]
async fn smoke_tests_reach_the_new_release_through_the_local_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::local::local_engine(dir.path()).await;
    // 200 with the version being deployed, or the test fails (and the rollout rolls back).
    let smoke = |expect: &str| {
        json!({"smoke_tests": [{"name": "version", "language": "python", "timeout_seconds": 20, "inline": format!(
            "import json, os, sys, urllib.request\n\
             body = json.load(urllib.request.urlopen(os.environ['LOCO_APP_URL'] + '/', timeout=5))\n\
             print('serving', body['version'])\n\
             sys.exit(0 if body['version'] == {expect} else 1)\n")}]})
    };
    let mut good =
        crate::local::plan(loco_core::rollout::Strategy::Immediate {}, crate::local::release("1.0.0", &[]), 1);
    good.validation = serde_json::from_value::<ValidationSpec>(smoke("os.environ['LOCO_BUILD_ID']")).unwrap();
    let id = crate::local::approved(&engine).await;
    let rollout = engine.run_rollout(&id, good, "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded, "{:?}", rollout.failure);
    let endpoint = rollout.progress.endpoint.clone().unwrap();

    let mut bad =
        crate::local::plan(loco_core::rollout::Strategy::Immediate {}, crate::local::release("2.0.0", &[]), 1);
    bad.validation = serde_json::from_value::<ValidationSpec>(smoke("'9.9.9'")).unwrap();
    let id = crate::local::approved(&engine).await;
    let rollout = engine.run_rollout(&id, bad, "ops").await.unwrap();
    assert_eq!(rollout.state, RolloutState::RolledBack);
    assert_eq!(rollout.failure.unwrap().code.as_str(), "smoke_test_failed");
    let events = engine.events(&id).await.unwrap();
    let smoke_event = events.iter().find(|e| e.kind == EventKind::Script).unwrap();
    let data = serde_json::to_value(smoke_event.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["tail"], json!(["serving 2.0.0"]), "the test reached the new release");
    let (status, version) = crate::local::get(&endpoint).await;
    assert_eq!((status, version.as_str()), (200, "1.0.0"), "the previous release serves again");
    tokio::time::timeout(Duration::from_secs(30), engine.close()).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_registered_service_brings_its_scripts_and_checks_to_network_plans() {
    let (_dir, path) = temp_db();
    let (engine, sim) = engine(&path).await;
    let service = ServiceDefinition::from_json(
        &json!({
            "name": "shop",
            "command": ["python3", "app.py"],
            "allowed_env": ["DATABASE_URL", "DB_PASSWORD"],
            "scripts": {"pre_deploy": [{"name": "migrate", "inline": "echo migrating", "secrets": ["DB_PASSWORD"]}]},
            "validation": {"config": {"required": ["DATABASE_URL"]}},
        })
        .to_string(),
    )
    .unwrap();
    engine.register_service(service, "admin").await.unwrap();
    let session = engine.session(None);
    let network_plan = |env: Value| {
        let plan = json!({"platform": "sim", "strategy": {"type": "immediate"},
                          "release": {"version": "1.0.0", "service": "shop", "env": env,
                                      "secret_env": {"DB_PASSWORD": "pw"}}});
        RolloutPlan::from_json(&plan.to_string()).unwrap()
    };
    let id = approved(&engine).await;
    let refused = session.start_rollout(&id, Some(network_plan(json!({}))), ActionInput::new("ops")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorCode::ValidationFailed, "the service's checks apply: {refused}");
    let report = session.validate_plan(network_plan(json!({"DATABASE_URL": "postgres://db"}))).await.unwrap();
    assert!(report.passed);

    session
        .start_rollout(&id, Some(network_plan(json!({"DATABASE_URL": "postgres://db"}))), ActionInput::new("ops"))
        .await
        .unwrap();
    let rollout = engine.wait_rollout(&id).await.unwrap();
    assert_eq!(rollout.state, RolloutState::Succeeded);
    assert_eq!(running_versions(&sim).await, ["1.0.0"]);
    let events = engine.events(&id).await.unwrap();
    let script = events.iter().find(|e| e.kind == EventKind::Script).expect("the service's pre_deploy ran");
    assert_eq!(serde_json::to_value(script.data.as_ref().unwrap()).unwrap()["name"], json!("migrate"));

    // What reads files or runs programs may come from the registry only.
    let smuggled = json!({"platform": "sim", "strategy": {"type": "immediate"}, "release": {"version": "2"},
        "validation": {"artifact": {"path": "/etc"}, "smoke_tests": [{"name": "x", "inline": "id"}],
                       "dependencies": [{"name": "d", "format": "npm_audit", "command": ["sh", "-c", "id"]}]}});
    let plan = RolloutPlan::from_json(&smuggled.to_string()).unwrap();
    let error = session.validate_plan(plan).await.unwrap_err();
    let fields: Vec<&str> = error.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["validation.artifact", "validation.dependencies", "validation.smoke_tests"]);
    engine.close().await.unwrap();
}
