//! Replays every vector of `tests/conformance/lifecycle.json` over HTTP, checking what the Rust
//! runner checks: status code, error code and fields, deployment state, events, last event and
//! idempotent replays.

use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::common::TestServer;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/lifecycle.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse vectors")
}

/// The HTTP status each error code must come with.
fn status_for(code: &str) -> StatusCode {
    match code {
        "validation_error" => StatusCode::BAD_REQUEST,
        "not_found" => StatusCode::NOT_FOUND,
        "invalid_transition" | "idempotency_conflict" => StatusCode::CONFLICT,
        "self_approval" => StatusCode::FORBIDDEN,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        other => panic!("no HTTP status known for code {other}"),
    }
}

/// `base` with `input` merged over it; a null input value means the field is left out of the JSON.
fn create_body(base: &Value, input: Option<&Value>) -> Value {
    let mut body: Map<String, Value> = base.as_object().expect("base object").clone();
    if let Some(Value::Object(input)) = input {
        for (k, v) in input {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(body)
}

fn assert_subset(what: &str, expected: &Value, actual: &Value, ctx: &str) {
    for (k, v) in expected.as_object().expect("subset object") {
        assert_eq!(actual.get(k), Some(v), "{ctx}: {what}.{k}");
    }
}

async fn run_vector(vector: &Value, base: &Value, missing_id: &str) {
    let name = vector["name"].as_str().expect("name");
    let server = TestServer::start().await;
    let mut current: Option<String> = None;
    for (i, step) in vector["steps"].as_array().expect("steps").iter().enumerate() {
        let ctx = format!("vector '{name}' step {i}");
        let op = step["op"].as_str().expect("op");
        let expect = &step["expect"];
        let response = if op == "create" {
            let mut request =
                server.http.post(server.at("/api/v1/deployments")).json(&create_body(base, step.get("input")));
            if let Some(key) = step.get("idempotency_key").and_then(Value::as_str) {
                request = request.header("Idempotency-Key", key);
            }
            request.send().await.expect("create")
        } else {
            let id = match step.get("id").and_then(Value::as_str) {
                Some("missing") => missing_id.to_owned(),
                _ => current.clone().expect("a deployment exists"),
            };
            let mut body = Map::new();
            body.insert("actor".into(), step["actor"].clone());
            if let Some(note) = step.get("note") {
                body.insert("note".into(), note.clone());
            }
            server.http.post(server.at(&format!("/api/v1/deployments/{id}/{op}"))).json(&body).send().await.expect(op)
        };
        let (status, json) = crate::common::decode(response).await;
        if let Some(code) = expect.get("error").and_then(Value::as_str) {
            assert_eq!(status, status_for(code), "{ctx}: {json}");
            assert_eq!(json["error"]["code"], code, "{ctx}: {json}");
            let details = json["error"]["details"].as_array().expect("details");
            if let Some(fields) = expect.get("fields") {
                let got: Vec<Value> = details.iter().map(|d| d["field"].clone()).collect();
                assert_eq!(&Value::Array(got), fields, "{ctx}");
            }
            assert!(details.iter().all(|d| d["message"].as_str().is_some_and(|m| !m.is_empty())), "{ctx}");
        } else {
            let expected = if op == "create" { StatusCode::CREATED } else { StatusCode::OK };
            assert_eq!(status, expected, "{ctx}: {json}");
            if op == "create" {
                let id = json["id"].as_str().expect("id").to_owned();
                if let Some(same) = expect.get("same_deployment").and_then(Value::as_bool) {
                    assert_eq!(Some(&id) == current.as_ref(), same, "{ctx}: same_deployment");
                }
                current.get_or_insert(id);
            }
            if let Some(subset) = expect.get("deployment") {
                assert_subset("deployment", subset, &json, &ctx);
            }
            if expect.get("reviewed_at_set") == Some(&Value::Bool(true)) {
                assert!(!json["reviewed_at"].is_null(), "{ctx}: reviewed_at");
            }
        }
        if let Some(status) = expect.get("status") {
            let id = current.as_deref().expect("deployment");
            let (code, got) = server.get(&format!("/api/v1/deployments/{id}")).await;
            assert_eq!(code, StatusCode::OK, "{ctx}");
            assert_eq!(&got["status"], status, "{ctx}: status");
        }
        if let Some(kinds) = expect.get("events") {
            let id = current.as_deref().expect("deployment");
            let (code, got) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
            assert_eq!(code, StatusCode::OK, "{ctx}");
            let items = got["items"].as_array().expect("items");
            let got_kinds: Vec<Value> = items.iter().map(|e| e["kind"].clone()).collect();
            assert_eq!(&Value::Array(got_kinds), kinds, "{ctx}: events");
            if let Some(subset) = expect.get("last_event") {
                assert_subset("last_event", subset, items.last().expect("an event"), &ctx);
            }
        }
    }
    let (_, report) = server.get("/api/v1/audit/verify").await;
    assert_eq!(report["valid"], true, "vector '{name}': audit chain");
    server.stop().await;
}

#[tokio::test]
async fn every_lifecycle_vector_passes_over_http() {
    let doc = load();
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 100, "the vector file lost vectors: {}", vectors.len());
    for vector in vectors {
        run_vector(vector, &doc["base"], doc["missing_id"].as_str().expect("missing_id")).await;
    }
}

/// Replays every vector of `tests/conformance/validation.json` through `POST /api/v1/validate`.
#[tokio::test]
async fn validation_vectors_over_http() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/validation.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    let server = TestServer::start().await;
    for vector in doc["vectors"].as_array().expect("vectors") {
        let name = vector["name"].as_str().expect("name");
        let expect = &vector["expect"];
        let (status, body) = server.post("/api/v1/validate", &serde_json::json!({"plan": vector["plan"]})).await;
        if let Some(code) = expect["error"].as_str() {
            assert_eq!((status, body["error"]["code"].as_str()), (status_for(code), Some(code)), "{name}: {body}");
            let fields: Vec<&Value> =
                body["error"]["details"].as_array().expect("details").iter().map(|d| &d["field"]).collect();
            let expected: Vec<&Value> = expect["fields"].as_array().expect("fields").iter().collect();
            assert_eq!(fields, expected, "{name}: fields");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["passed"], expect["passed"], "{name}: passed");
        let keys = ["check", "rule", "location", "severity", "blocking"];
        let found: Vec<Value> = body["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| keys.iter().map(|k| ((*k).to_owned(), f[*k].clone())).collect::<Map<_, _>>().into())
            .collect();
        assert_eq!(&Value::Array(found), &expect["findings"], "{name}: findings");
    }
    server.stop().await;
}
