//! `loco serve --otlp-endpoint`: the spans of a request, the rollout it started and each step
//! reach an OTLP/HTTP collector (a loopback stand-in here) as one trace, the rollout's span
//! carrying the deployment id and the request's its request id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};

use crate::common::LocoProcess;
use crate::rollout_support::{Api, ServiceGuard, immediate, plan};

/// Every span the collector received, flattened out of its export requests.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>, Arc<Mutex<Vec<String>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let content_types = Arc::new(Mutex::new(Vec::new()));
    let (kept, types) = (spans.clone(), content_types.clone());
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, Json(body): Json<Value>| {
            let (kept, types) = (kept.clone(), types.clone());
            async move {
                let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                types.lock().unwrap().push(kind);
                for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        kept.lock().unwrap().extend(scope["spans"].as_array().into_iter().flatten().cloned());
                    }
                }
                Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans, content_types)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"]["stringValue"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_its_rollout_and_the_steps_reach_the_collector_as_one_trace() {
    const SERVICE: &str = "otlp-shop";
    let _guard = ServiceGuard(SERVICE);
    let (endpoint, spans, content_types) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    // RUST_LOG keeps stderr quiet; spans go to the collector regardless.
    let server = LocoProcess::start_with(
        &dir.path().join("loco.db"),
        &["--otlp-endpoint", &endpoint],
        std::process::Stdio::inherit(),
        "error",
    );
    let api = Api::at(&server.url);
    api.register_demo().await;
    let id = api.approved(SERVICE, "1.0.0").await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/deployments/{id}/rollout", server.url))
        .header("x-request-id", "req-otlp-start")
        .json(&json!({"actor": "ops", "plan": plan("v1", immediate(), json!({}))}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(api.ended(&id).await["state"], "succeeded");

    let started = Instant::now();
    let (request, rollout, steps) = loop {
        let seen = spans.lock().unwrap().clone();
        let request = seen
            .iter()
            .find(|s| s["name"] == "request" && attribute(s, "request_id") == Some("req-otlp-start"))
            .cloned();
        let rollout =
            seen.iter().find(|s| s["name"] == "rollout" && attribute(s, "deployment_id") == Some(id.as_str())).cloned();
        if let (Some(request), Some(rollout)) = (request, rollout) {
            let steps: Vec<Value> = seen
                .iter()
                .filter(|s| s["name"] == "step" && s["parentSpanId"] == rollout["spanId"])
                .cloned()
                .collect();
            if !steps.is_empty() {
                break (request, rollout, steps);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(15), "spans so far: {seen:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rollout["traceId"], request["traceId"], "the rollout belongs to the request's trace");
    assert_eq!(rollout["parentSpanId"], request["spanId"], "started by that request");
    assert_eq!(attribute(&rollout, "service"), Some(SERVICE));
    assert!(steps.iter().all(|s| s["traceId"] == request["traceId"]));
    assert!(steps.iter().any(|s| attribute(s, "step").is_some_and(|d| d.contains("traffic"))), "{steps:#?}");
    let trace_id = request["traceId"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert_ne!(trace_id, "0".repeat(32));
    let (start, end): (u128, u128) = (
        rollout["startTimeUnixNano"].as_str().unwrap().parse().unwrap(),
        rollout["endTimeUnixNano"].as_str().unwrap().parse().unwrap(),
    );
    assert!(end > start);
    assert!(content_types.lock().unwrap().iter().all(|t| t == "application/json"));
    // Each platform call has its span in the same trace, under the rollout's.
    let started = Instant::now();
    let calls = loop {
        let seen = spans.lock().unwrap().clone();
        let calls: Vec<Value> =
            seen.into_iter().filter(|s| s["name"] == "platform_call" && s["traceId"] == request["traceId"]).collect();
        if calls.iter().any(|s| attribute(s, "call") == Some("set_traffic")) {
            break calls;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "platform calls so far: {calls:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(calls.iter().any(|s| attribute(s, "call") == Some("deploy")), "{calls:#?}");
    assert!(calls.iter().all(|s| attribute(s, "platform") == Some("local")), "{calls:#?}");
    // And the rollout's events name the request that started it.
    let events: Value =
        reqwest::get(format!("{}/api/v1/deployments/{id}/events", server.url)).await.unwrap().json().await.unwrap();
    let events = events["items"].as_array().or(events.as_array()).unwrap().clone();
    let from_start: Vec<&str> =
        events.iter().filter(|e| e["request_id"] == "req-otlp-start").map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(from_start.contains(&"started") && from_start.contains(&"step_progress"), "{events:#?}");
    assert!(from_start.contains(&"succeeded"), "the outcome the rollout recorded: {events:#?}");
    server.terminate();
    assert_eq!(server.wait(), Some(0));
}
