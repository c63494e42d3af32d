//! Approval gates through the engine on real SQLite files: the conformance vectors of
//! `tests/conformance/gates.json`, and a rollout's start held to the same gate as a plain start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use loco_core::gate::{ApprovalGate, ReviewerGroup};
use loco_core::platform::memory::MemoryPlatform;
use loco_core::rollout::RolloutPlan;
use loco_core::{Action, ActionInput, Engine, Error, NewDeployment, Timestamp};
use serde_json::{Value, json};

use crate::common::{temp_db, text, vectors};

fn new(environment: &str) -> NewDeployment {
    NewDeployment {
        service: "web".into(),
        environment: environment.into(),
        version: "1.0.0".into(),
        requester: "alice".into(),
        work_refs: vec!["GATE-1".into()],
        rollback_plan: "redeploy".into(),
        risk: Some("low".into()),
        commit: None,
    }
}

/// What a step answered, for the checks of its `expect`.
/// The deployment a vector's `create` step makes: of its `service` (web when absent).
fn step_deployment(step: &Value) -> NewDeployment {
    NewDeployment { service: step["service"].as_str().unwrap_or("web").into(), ..new(text(step, "environment")) }
}

enum Answer {
    Nothing,
    Status(loco_core::gate::ApprovalStatus),
}

/// Runs every vector of `tests/conformance/gates.json` through the engine.
#[tokio::test]
async fn gate_vectors() {
    let vectors = vectors("gates.json");
    assert!(vectors.len() >= 40, "the vectors are there");
    for vector in &vectors {
        let name = text(vector, "name");
        let (_dir, path) = temp_db();
        let engine = Engine::open(&path).await.expect("open");
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        for (n, step) in vector["steps"].as_array().expect("steps").iter().enumerate() {
            let at = format!("{name}, step {n}");
            let id = || refs.get(text(step, "ref")).cloned().unwrap_or_default();
            let outcome: Result<Answer, Error> = match text(step, "op") {
                "gate" => match ApprovalGate::from_json(&step["gate"].to_string()) {
                    Ok(gate) => engine.set_gate(gate, "root").await.map(|_| Answer::Nothing),
                    Err(e) => Err(e),
                },
                "remove_gate" => engine
                    .remove_gate(text(step, "environment"), step["service"].as_str())
                    .await
                    .map(|()| Answer::Nothing),
                "group" => match ReviewerGroup::from_json(&step["group"].to_string()) {
                    Ok(group) => engine.set_group(group, "root").await.map(|_| Answer::Nothing),
                    Err(e) => Err(e),
                },
                "remove_group" => engine.remove_group(text(step, "name")).await.map(|()| Answer::Nothing),
                "create" => engine.create(step_deployment(step), None).await.map(|d| {
                    refs.insert(text(step, "ref").to_owned(), d.id);
                    Answer::Nothing
                }),
                "approve" => engine.approve(&id(), text(step, "actor"), None).await.map(|_| Answer::Nothing),
                "reject" => engine.reject(&id(), text(step, "actor"), "vector").await.map(|_| Answer::Nothing),
                "start" => {
                    let mut input = ActionInput::new("dana");
                    input.override_reason = step["override_reason"].as_str().map(str::to_owned);
                    engine.apply(&id(), Action::Start, input).await.map(|_| Answer::Nothing)
                }
                "status" => {
                    let minutes = step["after_minutes"].as_u64().unwrap_or(0);
                    let when = Timestamp::now().after(Duration::from_secs(minutes * 60));
                    engine.approval_status(&id(), Some(when)).await.map(Answer::Status)
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
                    if let Some(fields) = expect.get("fields") {
                        let found: Vec<&str> = e.details().iter().map(|d| d.field.as_str()).collect();
                        assert_eq!(&json!(found), fields, "{at}: fields");
                    }
                    if let Error::ApprovalRequired { approvals, required, .. } = &e {
                        assert_eq!(
                            (json!(approvals), json!(required)),
                            (expect["approvals"].clone(), expect["required"].clone()),
                            "{at}"
                        );
                    }
                    if let Some(until_set) = expect["until_set"].as_bool() {
                        let Error::PolicyViolation { until, .. } = &e else { panic!("{at}: {e:?}") };
                        assert_eq!(until.is_some(), until_set, "{at}: until");
                    }
                }
                (Some(code), Ok(_)) => panic!("{at}: expected {code}, got success"),
                (None, Err(e)) => panic!("{at}: {e}"),
                (None, Ok(Answer::Status(status))) => {
                    let actors: Vec<&str> = status.approvals.iter().map(|a| a.actor.as_str()).collect();
                    assert_eq!(json!(actors), expect["approvals"], "{at}: approvals");
                    assert_eq!(json!(status.required), expect["required"], "{at}: required");
                    if let Some(rejected) = expect["rejected"].as_bool() {
                        assert_eq!(status.rejected, rejected, "{at}: rejected");
                    }
                    if let Some(set) = expect["startable_at_set"].as_bool() {
                        assert_eq!(status.startable_at.is_some(), set, "{at}: startable_at");
                    }
                }
                (None, Ok(Answer::Nothing)) => {}
            }
            if let Some(gates) = expect.get("gates") {
                let found = engine.gates().await.expect("gates");
                let found: Vec<Value> = found.iter().map(|g| json!([g.environment, g.required_approvals])).collect();
                assert_eq!(&json!(found), gates, "{at}: gates");
            }
            for (r, status) in expect["statuses"].as_object().into_iter().flatten() {
                let found = engine.get(&refs[r]).await.expect("get").status;
                assert_eq!(found.as_str(), status, "{at}: status of {r}");
            }
            for (r, kinds) in expect["events"].as_object().into_iter().flatten() {
                let events = engine.events(&refs[r]).await.expect("events");
                let found: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
                assert_eq!(&json!(found), kinds, "{at}: events of {r}");
            }
        }
        assert!(engine.verify_audit().await.expect("verify").valid, "{name}: the audit chain holds");
        engine.close().await.expect("close");
    }
}

#[tokio::test]
async fn a_rollout_start_is_held_to_the_gate_and_its_wait() {
    let (_dir, path) = temp_db();
    let sim = Arc::new(MemoryPlatform::new("sim"));
    let engine = Engine::builder().path(&path).platform(sim).open().await.unwrap();
    let plan = RolloutPlan::from_json(
        r#"{"platform": "sim", "strategy": {"type": "immediate"}, "release": {"version": "2.0.0"},
            "health": {"interval_seconds": 0.05}}"#,
    )
    .unwrap();
    let gate = r#"{"environment": "production", "required_approvals": 2, "wait_minutes": 30}"#;
    engine.set_gate(ApprovalGate::from_json(gate).unwrap(), "root").await.unwrap();
    let d = engine.create(new("production"), None).await.unwrap();
    engine.approve(&d.id, "bob", Some("lgtm")).await.unwrap();

    let e = engine.start_rollout(&d.id, plan.clone(), "dana").await.unwrap_err();
    let Error::ApprovalRequired { approvals, required, environment, .. } = &e else { panic!("{e:?}") };
    assert_eq!((*approvals, *required, environment.as_str()), (1, 2, "production"));
    assert_eq!(engine.rollout(&d.id).await.unwrap_err().code(), "not_found", "no rollout was recorded");

    let approved = engine.approve(&d.id, "carol", None).await.unwrap();
    let e = engine.start_rollout(&d.id, plan.clone(), "dana").await.unwrap_err();
    let Error::PolicyViolation { rule, until, .. } = &e else { panic!("{e:?}") };
    let expected_until = approved.reviewed_at.unwrap().after(Duration::from_secs(30 * 60)).to_string();
    assert_eq!((rule.as_str(), until.as_deref()), ("wait_timer", Some(expected_until.as_str())));
    let status = engine.approval_status(&d.id, None).await.unwrap();
    assert_eq!(status.startable_at.map(|t| t.to_string()), Some(expected_until));
    assert_eq!(status.approvals.iter().map(|a| a.actor.as_str()).collect::<Vec<_>>(), ["bob", "carol"]);
    assert_eq!(status.approvals[0].note.as_deref(), Some("lgtm"));
    engine.close().await.unwrap();
}

#[tokio::test]
async fn a_gate_from_before_per_service_gates_stays_the_environments_after_the_upgrade() {
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.unwrap();
    let gate = ApprovalGate::from_json(r#"{"environment": "Production", "required_approvals": 2}"#).unwrap();
    engine.set_gate(gate, "root").await.unwrap();
    engine.close().await.unwrap();
    {
        // The gate table as schema version 16 had it: one gate per environment.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE old_gates (environment TEXT PRIMARY KEY, definition TEXT NOT NULL, \
             updated_by TEXT NOT NULL, updated_at TEXT NOT NULL); \
             INSERT INTO old_gates SELECT environment, definition, updated_by, updated_at FROM approval_gates; \
             DROP TABLE approval_gates; ALTER TABLE old_gates RENAME TO approval_gates; PRAGMA user_version = 16;",
        )
        .unwrap();
    }
    let engine = Engine::open(&path).await.unwrap();
    let gates = engine.gates().await.unwrap();
    assert_eq!((gates.len(), gates[0].service.as_deref(), gates[0].required_approvals), (1, None, 2));
    let own = ApprovalGate::from_json(r#"{"environment": "production", "service": "api", "required_approvals": 1}"#);
    engine.set_gate(own.unwrap(), "root").await.unwrap();
    let web = engine.create(new("production"), None).await.unwrap();
    let api = engine.create(NewDeployment { service: "api".into(), ..new("production") }, None).await.unwrap();
    assert_eq!(engine.approve(&web.id, "bob", None).await.unwrap().status.as_str(), "pending_approval");
    assert_eq!(engine.approve(&api.id, "bob", None).await.unwrap().status.as_str(), "approved");
    engine.close().await.unwrap();
}
