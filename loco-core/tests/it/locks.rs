//! Deploy locks through the engine on real SQLite files: the conformance vectors of
//! `tests/conformance/locks.json`, a rollout holding its target until it ends, concurrent starts
//! of which exactly one wins, and a database from before locks getting one per started target.

use std::collections::BTreeMap;
use std::sync::Arc;

use loco_core::platform::memory::MemoryPlatform;
use loco_core::rollout::RolloutPlan;
use loco_core::{Engine, Error, EventKind, NewDeployment, Status};
use serde_json::{Value, json};

use crate::common::temp_db;

fn new(service: &str, environment: &str) -> NewDeployment {
    NewDeployment {
        service: service.into(),
        environment: environment.into(),
        version: "1.0.0".into(),
        requester: "alice".into(),
        work_refs: vec!["LOCK-1".into()],
        rollback_plan: "redeploy".into(),
        risk: Some("low".into()),
        commit: None,
    }
}

fn text<'a>(step: &'a Value, key: &str) -> &'a str {
    step[key].as_str().unwrap_or_else(|| panic!("'{key}' in {step}"))
}

/// The locks held, as the vectors write them: `[service, environment, ref, holder]`.
async fn locks_as_refs(engine: &Engine, refs: &BTreeMap<String, String>) -> Value {
    let name = |id: &str| refs.iter().find(|(_, v)| v.as_str() == id).map_or(id.to_owned(), |(k, _)| k.clone());
    let locks = engine.locks().await.expect("locks");
    Value::Array(
        locks.into_iter().map(|l| json!([l.service, l.environment, name(&l.deployment_id), l.holder])).collect(),
    )
}

/// Runs every vector of `tests/conformance/locks.json` through the engine.
#[tokio::test]
async fn lock_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/locks.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 20, "the vectors are there");
    for vector in vectors {
        let name = text(vector, "name");
        let (_dir, path) = temp_db();
        let engine = Engine::open(&path).await.expect("open");
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        for (n, step) in vector["steps"].as_array().expect("steps").iter().enumerate() {
            let at = format!("{name}, step {n}");
            let id = || refs.get(text(step, "ref")).cloned().unwrap_or_default();
            let actor = step["actor"].as_str().unwrap_or("dana");
            let outcome: Result<Value, Error> = match text(step, "op") {
                "create" => {
                    let created = engine.create(new(text(step, "service"), text(step, "environment")), None).await;
                    created.map(|d| {
                        refs.insert(text(step, "ref").to_owned(), d.id);
                        Value::Null
                    })
                }
                "approve" => engine.approve(&id(), "bob", None).await.map(|_| Value::Null),
                "start" => engine.start(&id(), actor, None).await.map(|_| Value::Null),
                "succeed" => engine.succeed(&id(), actor, None).await.map(|_| Value::Null),
                "fail" => engine.fail(&id(), actor, "vector").await.map(|_| Value::Null),
                "rollback" => engine.rollback(&id(), actor, "vector").await.map(|_| Value::Null),
                "release" => {
                    let (service, environment) = (text(step, "service"), text(step, "environment"));
                    let released = engine.release_lock(service, environment, "root", text(step, "reason")).await;
                    released.map(|l| json!([l.service, l.environment, l.deployment_id, l.holder]))
                }
                op => panic!("{at}: unknown op {op}"),
            };
            let expect = &step["expect"];
            if expect.is_null() {
                outcome.unwrap_or_else(|e| panic!("{at}: {e}"));
                continue;
            }
            match (expect["error"].as_str(), outcome) {
                (Some(code), Err(e)) => {
                    assert_eq!(e.code(), code, "{at}: {e}");
                    let fields: Vec<&str> = e.details().iter().map(|d| d.field.as_str()).collect();
                    assert_eq!(json!(fields), expect["fields"], "{at}: fields");
                    if let Some(holder) = expect["holder"].as_str() {
                        let Error::PolicyViolation { name, .. } = &e else { panic!("{at}: {e:?}") };
                        assert_eq!(name, &refs[holder], "{at}: the holder is named");
                    }
                }
                (Some(code), Ok(value)) => panic!("{at}: expected {code}, got {value}"),
                (None, Err(e)) => panic!("{at}: {e}"),
                (None, Ok(value)) => {
                    if let Some(released) = expect.get("released") {
                        let mut expected = released.clone();
                        expected[2] = json!(refs[released[2].as_str().expect("ref")]);
                        assert_eq!(value, expected, "{at}: released");
                    }
                }
            }
            if let Some(locks) = expect.get("locks") {
                assert_eq!(&locks_as_refs(&engine, &refs).await, locks, "{at}: locks");
            }
            for (r, status) in expect["statuses"].as_object().into_iter().flatten() {
                let found = engine.get(&refs[r]).await.expect("get").status;
                assert_eq!(found.as_str(), status, "{at}: status of {r}");
            }
        }
        assert!(engine.verify_audit().await.expect("verify").valid, "{name}: the audit chain holds");
        engine.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_rollout_holds_its_target_until_it_ends_and_a_plain_start_blocks_a_rollout() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim).open().await.unwrap();
    let plan = |version: &str| {
        RolloutPlan::from_json(&format!(
            r#"{{"platform": "sim", "strategy": {{"type": "immediate"}}, "release": {{"version": "{version}"}},
                "health": {{"interval_seconds": 0.05}}}}"#
        ))
        .unwrap()
    };
    let approved = || async {
        let d = engine.create(new("shop", "production"), None).await.unwrap();
        engine.approve(&d.id, "bob", None).await.unwrap().id
    };
    let (plain_start, rolled) = (approved().await, approved().await);
    engine.start(&plain_start, "dana", None).await.unwrap();
    let e = engine.start_rollout(&rolled, plan("2.0.0"), "erin").await.unwrap_err();
    let Error::PolicyViolation { rule, name, .. } = &e else { panic!("{e:?}") };
    assert_eq!((rule.as_str(), name.as_str()), ("deploy_lock", plain_start.as_str()));
    assert_eq!(engine.rollout(&rolled).await.unwrap_err().code(), "not_found", "no rollout was recorded");

    engine.succeed(&plain_start, "dana", None).await.unwrap();
    engine.start_rollout(&rolled, plan("2.0.0"), "erin").await.unwrap();
    let held = engine.locks().await.unwrap();
    assert_eq!((held.len(), held[0].deployment_id.as_str(), held[0].holder.as_str()), (1, rolled.as_str(), "erin"));
    let done = engine.wait_rollout(&rolled).await.unwrap();
    assert_eq!(done.state, loco_core::RolloutState::Succeeded);
    assert!(engine.locks().await.unwrap().is_empty(), "the rollout's end gave the lock back");
    engine.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_starts_on_one_target_exactly_one_wins() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..32 {
        let d = engine.create(new("web", "production"), None).await.unwrap();
        ids.push(engine.approve(&d.id, "bob", None).await.unwrap().id);
    }
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (engine, id) = (engine.clone(), id.clone());
            tokio::spawn(async move { engine.start(&id, "dana", None).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(d) => winners.push(d.id),
            Err(e) => assert_eq!(e.code(), "policy_violation", "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let started = engine.list(&loco_core::ListQuery { status: Some(Status::Started), ..Default::default() }).await;
    assert_eq!(started.unwrap().items.len(), 1);
    let locks = engine.locks().await.unwrap();
    assert_eq!(locks.iter().map(|l| l.deployment_id.clone()).collect::<Vec<_>>(), winners);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn a_database_from_before_locks_gets_one_per_started_target_when_opened() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let d = engine.create(new("web", "production"), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    engine.start(&d.id, "dana", None).await.unwrap();
    let done = engine.create(new("api", "production"), None).await.unwrap();
    engine.approve(&done.id, "bob", None).await.unwrap();
    engine.start(&done.id, "dana", None).await.unwrap();
    engine.succeed(&done.id, "dana", None).await.unwrap();
    let before = engine.locks().await.unwrap();
    engine.close().await.unwrap();
    {
        // What a database written before version 10 looks like: no lock table, nor anything a
        // later migration adds (each new migration's objects are dropped here too).
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX deployments_open_by_commit; ALTER TABLE deployments DROP COLUMN commit_id; \
             DROP TABLE deploy_locks; DROP TABLE approval_gates; DROP TABLE pipelines; DROP TABLE manifests; \
             DROP TABLE reviewer_groups; DROP TABLE scheduled_starts; PRAGMA user_version = 9;",
        )
        .unwrap();
    }
    let engine = Engine::open(&path).await.unwrap();
    assert_eq!(engine.locks().await.unwrap(), before, "the started deployment holds its lock again, with its starter");
    assert_eq!(before[0].holder, "dana");
    let next = engine.create(new("web", "production"), None).await.unwrap();
    engine.approve(&next.id, "bob", None).await.unwrap();
    assert_eq!(engine.start(&next.id, "erin", None).await.unwrap_err().code(), "policy_violation");
    let kinds: Vec<EventKind> = engine.events(&next.id).await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Created, EventKind::Approved]);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn a_freeze_is_reported_before_the_lock_and_its_override_does_not_override_the_lock() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let approved = || async {
        let d = engine.create(new("web", "production"), None).await.unwrap();
        engine.approve(&d.id, "bob", None).await.unwrap().id
    };
    let (holder, waiting) = (approved().await, approved().await);
    engine.start(&holder, "dana", None).await.unwrap();
    let window = loco_core::freeze::FreezeWindow::from_json(
        r#"{"name": "incident", "environments": ["production"], "reason": "INC-9",
            "schedule": {"type": "once", "start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    engine.set_freeze_window(window, "root").await.unwrap();
    let e = engine.start(&waiting, "erin", None).await.unwrap_err();
    assert_eq!(e.details()[0].field, "freeze_window", "{e}");
    let input = loco_core::ActionInput::new("root").overriding("hotfix");
    let e = engine.apply(&waiting, loco_core::Action::Start, input).await.unwrap_err();
    assert_eq!(e.details()[0].field, "deploy_lock", "{e}");
    let kinds: Vec<EventKind> = engine.events(&waiting).await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Created, EventKind::Approved], "no override was recorded for a refused start");
    engine.close().await.unwrap();
}
