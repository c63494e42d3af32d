//! Freeze windows through the engine on real SQLite files: the conformance vectors of
//! `tests/conformance/freeze.json`, starts refused during a window (plain and rollout), an
//! admin's override recorded before `started` in the audit chain, rollbacks never frozen, and
//! the windows kept across reopening.

use std::sync::Arc;

use loco_core::freeze::{FreezeSchedule, FreezeWindow};
use loco_core::platform::memory::MemoryPlatform;
use loco_core::rollout::RolloutPlan;
use loco_core::{ActionInput, Engine, Error, EventKind, Status, Timestamp};
use serde_json::Value;

use crate::common::{request, temp_db};

/// A window in force from long ago until 23 hours from now, over `environments`.
fn now_frozen(name: &str, environments: &[&str]) -> FreezeWindow {
    let now = Timestamp::now();
    FreezeWindow {
        name: name.into(),
        environments: environments.iter().map(|e| (*e).to_owned()).collect(),
        reason: "release freeze for the board meeting".into(),
        schedule: FreezeSchedule::Once {
            start: Timestamp::parse("2000-01-01T00:00:00Z").unwrap(),
            end: now.after(std::time::Duration::from_secs(23 * 3600)),
        },
    }
}

/// A request for `service` in `environment` (production ones state their risk).
fn for_env(service: &str, environment: &str) -> loco_core::NewDeployment {
    let risk = (environment.eq_ignore_ascii_case("production")).then(|| "low: config only".to_owned());
    loco_core::NewDeployment { risk, ..request(service, environment) }
}

async fn approved(engine: &Engine, service: &str, environment: &str) -> String {
    let d = engine.create(for_env(service, environment), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    d.id
}

async fn kinds(engine: &Engine, id: &str) -> Vec<EventKind> {
    engine.events(id).await.unwrap().iter().map(|e| e.kind).collect()
}

/// Runs every vector of `tests/conformance/freeze.json` through `Engine::set_freeze_window` and
/// `Engine::active_freeze`.
#[tokio::test]
async fn freeze_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/freeze.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 40, "the vectors are there");
    for vector in vectors {
        let name = vector["name"].as_str().expect("name");
        let expect = &vector["expect"];
        let (_dir, path) = temp_db();
        let engine = Engine::open(&path).await.expect("open");
        let mut outcome = Ok(());
        for window in vector["windows"].as_array().expect("windows") {
            outcome = match FreezeWindow::from_json(&window.to_string()) {
                Ok(window) => engine.set_freeze_window(window, "admin").await.map(drop),
                Err(e) => Err(e),
            };
            if outcome.is_err() {
                break;
            }
        }
        if let Some(code) = expect["error"].as_str() {
            let e = outcome.expect_err(name);
            assert_eq!(e.code(), code, "{name}: {e}");
            let fields: Vec<&str> = e.details().iter().map(|d| d.field.as_str()).collect();
            let expected: Vec<&str> =
                expect["fields"].as_array().expect("fields").iter().map(|f| f.as_str().expect("field")).collect();
            assert_eq!(fields, expected, "{name}: fields");
            assert!(engine.freeze_windows().await.unwrap().is_empty(), "{name}: nothing was stored");
        } else {
            outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
            let at = Timestamp::parse(vector["at"].as_str().expect("at")).expect("at");
            let environment = vector["environment"].as_str().expect("environment");
            let active = engine.active_freeze(environment, Some(at)).await.expect("active");
            let found = active.map(
                |a| serde_json::json!({"window": a.window, "start": a.start.to_string(), "end": a.end.to_string()}),
            );
            assert_eq!(found.unwrap_or(Value::Null), expect["active"], "{name}");
        }
        engine.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_start_during_a_freeze_is_refused_naming_the_window_and_writes_nothing() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    engine.set_freeze_window(now_frozen("board-meeting", &["production"]), "root").await.unwrap();
    let frozen = approved(&engine, "api", "production").await;
    let free = approved(&engine, "api", "staging").await;

    let e = engine.start(&frozen, "ops", None).await.unwrap_err();
    assert_eq!(e.code(), "policy_violation", "{e}");
    let Error::PolicyViolation { rule, name, environment, until, details } = &e else { panic!("{e:?}") };
    assert_eq!((rule.as_str(), name.as_str(), environment.as_str()), ("freeze_window", "board-meeting", "production"));
    assert!(until.is_some());
    assert_eq!(details[0].field, "freeze_window");
    assert!(e.to_string().contains("release freeze for the board meeting"), "{e}");
    assert_eq!(engine.get(&frozen).await.unwrap().status, Status::Approved);
    assert_eq!(kinds(&engine, &frozen).await, [EventKind::Created, EventKind::Approved], "nothing was written");

    // Another environment is not frozen; an impossible start reports the lifecycle, not the window.
    assert_eq!(engine.start(&free, "ops", None).await.unwrap().status, Status::Started);
    let pending = engine.create(for_env("api", "production"), None).await.unwrap();
    assert_eq!(engine.start(&pending.id, "ops", None).await.unwrap_err().code(), "invalid_transition");

    // Once the window is removed, the start goes ahead.
    engine.remove_freeze_window("board-meeting").await.unwrap();
    assert_eq!(engine.remove_freeze_window("board-meeting").await.unwrap_err().code(), "not_found");
    assert_eq!(engine.start(&frozen, "ops", None).await.unwrap().status, Status::Started);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn an_override_is_recorded_before_started_with_its_reason_and_the_chain_verifies() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    engine.set_freeze_window(now_frozen("board-meeting", &["Production"]), "root").await.unwrap();
    let id = approved(&engine, "api", "production").await;
    let blank = ActionInput::new("root").overriding("  ");
    let e = engine.apply(&id, loco_core::Action::Start, blank).await.unwrap_err();
    assert_eq!((e.code(), e.details()[0].field.as_str()), ("validation_error", "override_reason"));
    let approve_override = ActionInput::new("carol").overriding("why not");
    let other = engine.create(for_env("web", "production"), None).await.unwrap();
    let e = engine.apply(&other.id, loco_core::Action::Approve, approve_override).await.unwrap_err();
    assert_eq!(e.details()[0].field, "override_reason", "only a start may override");

    let input = ActionInput::new("root").overriding("hotfix for INC-7");
    let started = engine.apply(&id, loco_core::Action::Start, input).await.unwrap();
    assert_eq!(started.status, Status::Started);
    let events = engine.events(&id).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Created, EventKind::Approved, EventKind::PolicyOverride, EventKind::Started]);
    let record = &events[2];
    assert_eq!((record.actor.as_str(), record.note.as_deref()), ("root", Some("hotfix for INC-7")));
    let data = record.data.as_ref().unwrap();
    assert_eq!((data["rule"].as_str(), data["name"].as_str()), (Some("freeze_window"), Some("board-meeting")));
    assert_eq!(data["environment"], "production");
    engine.close().await.unwrap();

    // The windows and the record survive reopening, and the audit covers the override.
    let engine = Engine::open(&path).await.unwrap();
    assert_eq!(engine.freeze_windows().await.unwrap().len(), 1);
    assert!(engine.verify_audit().await.unwrap().valid);
    // Rolling back is never frozen.
    assert_eq!(engine.rollback(&id, "ops", "undo the hotfix").await.unwrap().status, Status::RolledBack);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn rollouts_are_frozen_too_and_an_override_lets_one_through() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim.clone()).open().await.unwrap();
    engine.set_freeze_window(now_frozen("holidays", &["production"]), "root").await.unwrap();
    let plan = || {
        RolloutPlan::from_json(
            r#"{"platform": "sim", "strategy": {"type": "immediate"}, "release": {"version": "2.0.0"},
                "health": {"interval_seconds": 0.05}}"#,
        )
        .unwrap()
    };
    let id = approved(&engine, "shop", "production").await;
    let e = engine.start_rollout(&id, plan(), "ops").await.unwrap_err();
    assert_eq!(e.code(), "policy_violation", "{e}");
    assert_eq!(engine.rollout(&id).await.unwrap_err().code(), "not_found", "no rollout was recorded");
    let e = engine.run_rollout(&id, plan(), "ops").await.unwrap_err();
    assert_eq!(e.code(), "policy_violation");

    let input = ActionInput::new("root").overriding("security patch CVE-2026-1234");
    engine.start_rollout_with(&id, Some(plan()), input).await.unwrap();
    let done = engine.wait_rollout(&id).await.unwrap();
    assert_eq!(done.state, loco_core::RolloutState::Succeeded);
    let kinds = kinds(&engine, &id).await;
    let start = kinds.iter().position(|k| *k == EventKind::Started).unwrap();
    assert_eq!(kinds[start - 1], EventKind::PolicyOverride, "{kinds:?}");
    assert!(engine.verify_audit().await.unwrap().valid);
    engine.close().await.unwrap();
}
