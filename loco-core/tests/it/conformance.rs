//! Runs every vector of `tests/conformance/lifecycle.json` through `Engine` on a real SQLite file.

use loco_core::{Action, ActionInput, Engine, Error, NewDeployment};
use serde_json::{Map, Value};

use crate::common::temp_db;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/lifecycle.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse vectors")
}

/// `base` with `input` merged over it; a null value means "absent", which in Rust is the empty value.
fn request(base: &Value, input: Option<&Value>) -> NewDeployment {
    let mut body: Map<String, Value> = base.as_object().expect("base object").clone();
    if let Some(Value::Object(input)) = input {
        for (k, v) in input {
            body.insert(k.clone(), v.clone());
        }
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    NewDeployment {
        service: text("service"),
        environment: text("environment"),
        version: text("version"),
        requester: text("requester"),
        work_refs: body
            .get("work_refs")
            .and_then(Value::as_array)
            .map(|refs| refs.iter().map(|r| r.as_str().expect("work ref").to_owned()).collect())
            .unwrap_or_default(),
        rollback_plan: text("rollback_plan"),
        risk: body.get("risk").and_then(Value::as_str).map(str::to_owned),
        commit: body.get("commit").and_then(Value::as_str).map(str::to_owned),
    }
}

fn assert_subset(what: &str, expected: &Value, actual: &Value, ctx: &str) {
    for (k, v) in expected.as_object().expect("subset object") {
        assert_eq!(actual.get(k), Some(v), "{ctx}: {what}.{k}");
    }
}

async fn run_vector(vector: &Value, base: &Value, missing_id: &str) {
    let name = vector["name"].as_str().expect("name");
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.expect("open");
    let mut current: Option<String> = None;
    for (i, step) in vector["steps"].as_array().expect("steps").iter().enumerate() {
        let ctx = format!("vector '{name}' step {i}");
        let op = step["op"].as_str().expect("op");
        let expect = &step["expect"];
        let result = if op == "create" {
            let key = step.get("idempotency_key").and_then(Value::as_str);
            engine.create(request(base, step.get("input")), key).await
        } else {
            let action: Action = op.parse().expect("action name");
            let id = match step.get("id").and_then(Value::as_str) {
                Some("missing") => missing_id.to_owned(),
                _ => current.clone().expect("a deployment exists"),
            };
            let input = ActionInput {
                note: step.get("note").and_then(Value::as_str).map(str::to_owned),
                ..ActionInput::new(step["actor"].as_str().expect("actor"))
            };
            engine.apply(&id, action, input).await
        };
        match (expect.get("error").and_then(Value::as_str), result) {
            (Some(code), Err(err)) => {
                assert_eq!(err.code(), code, "{ctx}: {err}");
                if let Some(fields) = expect.get("fields") {
                    let got: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
                    let want: Vec<&str> = fields.as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
                    assert_eq!(got, want, "{ctx}");
                }
                if let Error::Validation { details } = &err {
                    assert!(details.iter().all(|d| !d.message.is_empty()), "{ctx}");
                }
            }
            (Some(code), Ok(d)) => panic!("{ctx}: expected {code}, got {d:?}"),
            (None, Err(err)) => panic!("{ctx}: unexpected error {err}"),
            (None, Ok(d)) => {
                if op == "create" {
                    if let Some(same) = expect.get("same_deployment").and_then(Value::as_bool) {
                        assert_eq!(Some(&d.id) == current.as_ref(), same, "{ctx}: same_deployment");
                    }
                    current.get_or_insert(d.id.clone());
                }
                let json = serde_json::to_value(&d).unwrap();
                if let Some(subset) = expect.get("deployment") {
                    assert_subset("deployment", subset, &json, &ctx);
                }
                if expect.get("reviewed_at_set") == Some(&Value::Bool(true)) {
                    assert!(!json["reviewed_at"].is_null(), "{ctx}: reviewed_at");
                }
            }
        }
        if let Some(status) = expect.get("status").and_then(Value::as_str) {
            let id = current.as_deref().expect("deployment");
            assert_eq!(engine.get(id).await.unwrap().status.as_str(), status, "{ctx}: status");
        }
        if let Some(kinds) = expect.get("events") {
            let events = engine.events(current.as_deref().expect("deployment")).await.unwrap();
            let got: Vec<Value> = events.iter().map(|e| Value::from(e.kind.as_str())).collect();
            assert_eq!(&Value::Array(got), kinds, "{ctx}: events");
            if let Some(subset) = expect.get("last_event") {
                assert_subset("last_event", subset, &serde_json::to_value(events.last().unwrap()).unwrap(), &ctx);
            }
        }
    }
    assert!(engine.verify_audit().await.unwrap().valid, "vector '{name}': audit chain");
    engine.close().await.unwrap();
}

#[tokio::test]
async fn every_lifecycle_vector_passes() {
    let doc = load();
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 100, "the vector file lost vectors: {}", vectors.len());
    for vector in vectors {
        run_vector(vector, &doc["base"], doc["missing_id"].as_str().unwrap()).await;
    }
}

#[test]
fn vectors_cover_every_status_action_pair() {
    let doc = load();
    let names: Vec<&str> = doc["vectors"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for status in loco_core::Status::ALL {
        for action in Action::ALL {
            let name = format!("{action} from {status}");
            assert!(names.contains(&name.as_str()), "missing vector '{name}'");
        }
    }
}

/// Runs every vector of `tests/conformance/validation.json` through `Engine::validate_plan`.
#[tokio::test]
async fn validation_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/validation.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    let (_dir, path) = temp_db();
    let engine = Engine::open(&path).await.expect("open");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 15, "the vectors are there");
    for vector in vectors {
        let name = vector["name"].as_str().expect("name");
        let expect = &vector["expect"];
        let report = match loco_core::rollout::RolloutPlan::from_json(&vector["plan"].to_string()) {
            Ok(plan) => engine.validate_plan(plan).await,
            Err(e) => Err(e),
        };
        match (report, expect["error"].as_str()) {
            (Ok(report), None) => {
                assert_eq!(Some(report.passed), expect["passed"].as_bool(), "{name}: passed");
                let keys = ["check", "rule", "location", "severity", "blocking"];
                let found: Vec<Value> = report
                    .findings
                    .iter()
                    .map(|f| {
                        let f = serde_json::to_value(f).expect("finding");
                        keys.iter().map(|k| ((*k).to_owned(), f[*k].clone())).collect::<Map<_, _>>().into()
                    })
                    .collect();
                assert_eq!(&Value::Array(found), &expect["findings"], "{name}: findings");
            }
            (Err(e), Some(code)) => {
                assert_eq!(e.code(), code, "{name}: {e}");
                let fields: Vec<&str> = e.details().iter().map(|d| d.field.as_str()).collect();
                let expected: Vec<&str> =
                    expect["fields"].as_array().expect("fields").iter().map(|f| f.as_str().expect("field")).collect();
                assert_eq!(fields, expected, "{name}: fields");
            }
            (outcome, _) => panic!("{name}: unexpected {outcome:?}"),
        }
    }
    engine.close().await.expect("close");
}
