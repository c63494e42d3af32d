//! Rollouts over HTTP against an in-process server with the local platform: real demo-service
//! processes behind the local proxy, real traffic, canary promotion and automatic rollback,
//! conflicts, plan errors, overrides, manual rollback, releases and instance logs.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{SseReader, TestServer, assert_error};
use crate::rollout_support::{Api, Traffic, all_on, canary, immediate, plan};

/// Releases v1 of `service` with an immediate rollout and returns its proxy endpoint.
async fn release_v1(api: &Api, service: &str) -> String {
    let v1 = api.approved(service, "1.0.0").await;
    let started = api.start(&v1, &plan("v1", immediate(), json!({}))).await;
    assert_eq!(started["state"], "running");
    assert_eq!(started["previous"], Value::Null, "a service's first release has nothing to restore");
    let done = api.ended(&v1).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"]["traffic"], all_on("v1"));
    done["progress"]["endpoint"].as_str().expect("the proxy endpoint").to_owned()
}

/// The SSE events of one deployment from its first, until (and including) `last_kind`.
async fn events_until(stream: &mut SseReader, last_kind: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let (_, event) = stream.event().await;
        let kind = event["kind"].as_str().unwrap().to_owned();
        events.push(event);
        if kind == last_kind {
            return events;
        }
    }
}

/// Every rollout route answers 404 `not_found` for `id`.
async fn assert_no_rollout(api: &Api, id: &str) {
    let (status, body) = api.get(&format!("/api/v1/deployments/{id}/rollout")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    let (status, body) =
        api.post(&format!("/api/v1/deployments/{id}/rollout/override"), &json!({"actor": "carol", "note": "go"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    let (status, body) = api.get(&format!("/api/v1/deployments/{id}/rollout/instances/ins_x/logs")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
}

/// Opens the log stream of an instance and returns it with its first line.
async fn first_log_line(server: &TestServer, id: &str, instance: &str) -> (SseReader, Value) {
    let url = server.at(&format!("/api/v1/deployments/{id}/rollout/instances/{instance}/logs"));
    let mut logs = SseReader::open_url(&server.http, &url, None).await;
    loop {
        let frame = logs.next().await.expect("a log line");
        if !frame.data.is_empty() {
            return (logs, serde_json::from_str::<Value>(&frame.data).expect("JSON log line"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_promoted_step_by_step_to_succeeded() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let endpoint = release_v1(&api, "shop").await;

    let v2 = api.approved("shop", "2.0.0").await;
    let mut stream = SseReader::open(&server, &format!("/api/v1/deployments/{v2}/events/stream?after=0"), None).await;
    let started = api.start(&v2, &plan("v2", canary(&[20, 50], 0.5), json!({"FAILURE_RATE": "0"}))).await;
    assert_eq!(started["state"], "running");
    assert_eq!(started["previous"]["version"], "v1");
    assert_eq!(started["plan"]["strategy"], canary(&[20, 50], 0.5));
    assert_eq!(started["plan"]["instances"], 1);

    let done = api.ended(&v2).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["failure"], Value::Null);
    let total = done["progress"]["total_steps"].as_u64().unwrap();
    assert_eq!(done["progress"]["completed_steps"], total);
    assert_eq!(done["progress"]["traffic"], all_on("v2"));
    assert_eq!(done["progress"]["endpoint"], endpoint.as_str(), "the same proxy serves every release");
    assert!(done["finished_at"].is_string());
    let (status, d) = api.get(&format!("/api/v1/deployments/{v2}")).await;
    assert_eq!((status, d["status"].as_str()), (StatusCode::OK, Some("succeeded")));

    // The event stream: the lifecycle, one step_progress per step in order, and a promotion
    // right after each canary share grows.
    let events = events_until(&mut stream, "succeeded").await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[..3], ["created", "approved", "started"]);
    let steps: Vec<u64> =
        events.iter().filter(|e| e["kind"] == "step_progress").map(|e| e["data"]["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (1..=total).collect::<Vec<_>>());
    let promotions: Vec<(usize, u64, u64)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["kind"] == "canary_promoted")
        .map(|(i, e)| (i, e["data"]["from_percent"].as_u64().unwrap(), e["data"]["to_percent"].as_u64().unwrap()))
        .collect();
    assert_eq!(promotions.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>(), [(20, 50), (50, 100)]);
    for (i, _, to) in &promotions {
        let before = &events[i - 1];
        assert_eq!(before["kind"], "step_progress");
        assert_eq!(before["data"]["action"], json!({"action": "shift", "percent": to}), "{before}");
    }
    for _ in 0..5 {
        assert_eq!(api.through(&endpoint).await, (200, "v2".to_owned()));
    }

    // Releases: newest first, the replaced one retired.
    let (status, releases) = api.get("/api/v1/releases?service=shop&environment=staging").await;
    assert_eq!(status, StatusCode::OK, "{releases}");
    let items = releases["items"].as_array().unwrap();
    let versions: Vec<&str> = items.iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["v2", "v1"]);
    assert_eq!((items[0]["retired_at"].is_null(), items[1]["retired_at"].is_string()), (true, true));
    assert_eq!(items[0]["deployment_id"], v2.as_str());
    assert_eq!(items[0]["spec"]["env"], json!({"FAILURE_RATE": "0"}));
    let (_, one) = api.get("/api/v1/releases?service=shop&environment=staging&limit=1").await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let (_, other) = api.get("/api/v1/releases?service=shop&environment=production").await;
    assert_eq!(other["items"], json!([]));
    for (query, fields) in [
        ("", vec!["service", "environment"]),
        ("?service=shop", vec!["environment"]),
        ("?service=shop&environment=staging&limit=many", vec!["limit"]),
        ("?service=shop&environment=staging&colour=red", vec!["colour"]),
    ] {
        let (status, body) = api.get(&format!("/api/v1/releases{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_error(&body, "validation_error", &fields);
    }

    // Rollouts: both finished, none active.
    let (_, all) = api.get("/api/v1/rollouts").await;
    let rollout_states: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(rollout_states, ["succeeded", "succeeded"]);
    let (_, active) = api.get("/api/v1/rollouts?active=true").await;
    assert_eq!(active["items"], json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_percent_errors_are_rolled_back_automatically() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let endpoint = release_v1(&api, "cart").await;
    let traffic = Traffic::start(&endpoint, 4);

    let v2 = api.approved("cart", "2.0.0").await;
    let mut bad = plan("v2", canary(&[20, 50], 30.0), json!({"FAILURE_RATE": "0.6"}));
    bad["analysis"] = json!({
        "thresholds": {"min_samples": 20},
        "poll_seconds": 0.25,
        "monitor_seconds": 0,
        "pause_timeout_seconds": 60
    });
    api.start(&v2, &bad).await;
    let done = api.ended(&v2).await;

    assert_eq!(done["state"], "rolled_back", "{done}");
    assert_eq!(done["failure"]["code"], "analysis_critical", "{done}");
    assert!(done["failure"]["message"].as_str().unwrap().contains("above the critical 50%"), "{done}");
    let judgement = &done["progress"]["analysis"];
    assert_eq!((judgement["verdict"].as_str(), judgement["severity"].as_str()), (Some("fail"), Some("critical")));
    assert!(judgement["canary"]["requests"].as_u64().unwrap() >= 10, "{judgement}");
    assert_eq!(done["progress"]["traffic"], all_on("v1"));
    let (_, d) = api.get(&format!("/api/v1/deployments/{v2}")).await;
    assert_eq!(d["status"], "rolled_back");
    let kinds = server.event_kinds(&v2).await;
    assert!(kinds.contains(&"analysis".to_owned()), "{kinds:?}");
    assert!(!kinds.contains(&"canary_promoted".to_owned()), "never promoted past 20%: {kinds:?}");
    let lifecycle: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| !["step_progress", "health_check", "analysis"].contains(k))
        .collect();
    assert_eq!(lifecycle, ["created", "approved", "started", "failed", "rolled_back"]);

    // The canary really took traffic through the proxy, and failed some of it.
    assert!(traffic.count("v2", false) > 0, "v2 served failures");
    assert!(traffic.count("v1", true) > 0, "v1 kept serving");
    drop(traffic);
    for _ in 0..10 {
        assert_eq!(api.through(&endpoint).await, (200, "v1".to_owned()));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_canary_holds_its_target_streams_logs_and_rolls_back_on_request() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let (_, doc) = server.get("/openapi.json").await;
    let endpoint = release_v1(&api, "search").await;
    let v2 = api.approved("search", "2.0.0").await;
    api.start(&v2, &plan("v2", canary(&[50], 600.0), json!({}))).await;
    let observing = api
        .wait_for(&v2, "half the traffic on v2", |r| {
            r["progress"]["traffic"]
                .as_array()
                .is_some_and(|t| t.iter().any(|w| w["version"] == "v2" && w["percent"] == 50))
        })
        .await;
    assert_eq!(observing["state"], "running");

    // A second rollout on the same service and environment is refused.
    let v3 = api.approved("search", "3.0.0").await;
    let (status, body) = api
        .post(
            &format!("/api/v1/deployments/{v3}/rollout"),
            &json!({"actor": "ops", "plan": plan("v3", immediate(), json!({}))}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "rollout_conflict", &[]);
    assert!(body["error"]["message"].as_str().unwrap().contains(&v2), "names the active deployment: {body}");

    // Not found: a deployment without a rollout, and an unknown one.
    for id in [v3.as_str(), "dep_00000000000000000000000000"] {
        assert_no_rollout(&api, id).await;
    }
    // Only a paused rollout can be overridden; the note is checked first.
    let (status, body) = api
        .post(&format!("/api/v1/deployments/{v2}/rollout/override"), &json!({"actor": "carol", "note": "go on"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "rollout_not_paused", &[]);
    let (status, body) =
        api.post(&format!("/api/v1/deployments/{v2}/rollout/override"), &json!({"actor": "carol"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["note"]);
    // While it runs, only rollback is allowed on the deployment.
    let (status, body) = api.post(&format!("/api/v1/deployments/{v2}/succeed"), &json!({"actor": "ops"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "rollout_in_progress", &[]);

    // Active rollouts.
    let (_, active) = api.get("/api/v1/rollouts?active=true").await;
    let active: Vec<&str> =
        active["items"].as_array().unwrap().iter().map(|r| r["deployment_id"].as_str().unwrap()).collect();
    assert_eq!(active, [v2.as_str()]);
    let (_, all) = api.get("/api/v1/rollouts?active=false").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (status, body) = api.get("/api/v1/rollouts?active=yes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["active"]);

    // The canary's output: what it printed at start, as SSE frames of LogLine JSON.
    let canary_instance = observing["progress"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["version"] == "v2")
        .expect("the canary instance")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut logs, first) = first_log_line(&server, &v2, &canary_instance).await;
    assert_eq!(
        (first["instance_id"].as_str(), first["stream"].as_str()),
        (Some(canary_instance.as_str()), Some("stdout"))
    );
    assert!(first["line"].as_str().unwrap().starts_with("demo-service v2 listening on 127.0.0.1:"), "{first}");
    let documented: Vec<&String> =
        doc["components"]["schemas"]["LogLine"]["properties"].as_object().unwrap().keys().collect();
    assert_eq!(documented, first.as_object().unwrap().keys().collect::<Vec<_>>());
    let (status, body) = api.get(&format!("/api/v1/deployments/{v2}/rollout/instances/ins_unknown/logs")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_error(&body, "platform_error", &[]);

    // A person rolls the running canary back: v1 serves everything again.
    let (status, d) = api
        .post(&format!("/api/v1/deployments/{v2}/rollback"), &json!({"actor": "oncall", "note": "abort the canary"}))
        .await;
    assert_eq!((status, d["status"].as_str()), (StatusCode::OK, Some("rolled_back")), "{d}");
    let rolled_back = api.rollout(&v2).await;
    assert_eq!(rolled_back["state"], "rolled_back");
    assert_eq!(rolled_back["failure"]["code"], "rollback_requested", "{rolled_back}");
    assert_eq!(rolled_back["progress"]["traffic"], all_on("v1"));
    for _ in 0..10 {
        assert_eq!(api.through(&endpoint).await, (200, "v1".to_owned()));
    }
    // The canary stopped, so its log stream ended.
    let ended = tokio::time::timeout(Duration::from_secs(60), async { while logs.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the log stream ends when its instance stops");

    // The target is free again.
    api.start(&v3, &plan("v3", immediate(), json!({}))).await;
    assert_eq!(api.ended(&v3).await["state"], "succeeded");
    assert_eq!(api.through(&endpoint).await, (200, "v3".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn plan_problems_are_400s_named_by_the_core_before_existence_and_rules() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let id = api.approved("pay", "1.0.0").await;
    let path = format!("/api/v1/deployments/{id}/rollout");
    let good = plan("v1", immediate(), json!({}));
    let with = |field: &str, value: Value| {
        let mut p = good.clone();
        p[field] = value;
        json!({"actor": "ops", "plan": p})
    };
    let cases = [
        (with("strategy", canary(&[50, 20], 1.0)), vec!["strategy.steps[1]"]),
        (with("strategy", json!({"type": "yolo"})), vec!["strategy.type"]),
        (with("colour", json!("red")), vec!["colour"]),
        (with("platform", json!("cloud")), vec!["platform"]),
        (with("instances", json!(0)), vec!["instances"]),
        (json!({"actor": "ops", "plna": good}), vec!["plna"]),
        (json!({"actor": "ops"}), vec!["plan"]),
        (json!({"actor": "ops", "plan": "fast"}), vec!["plan"]),
        (json!({"plan": good}), vec!["actor"]),
    ];
    for (body, fields) in cases {
        let (status, error) = api.post(&path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&error, "validation_error", &fields);
    }
    let (status, error) = server.post_raw(&path, r#"{"actor": "ops", "plan": {"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error, "validation_error", &["body"]);

    // Input first, then existence, then the rules.
    let unknown = "/api/v1/deployments/dep_00000000000000000000000000/rollout";
    let (status, error) = api.post(unknown, &with("strategy", json!({"type": "yolo"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error, "validation_error", &["strategy.type"]);
    let (status, error) = api.post(unknown, &json!({"actor": "ops", "plan": good})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&error, "not_found", &[]);
    let (status, pending) = api.post("/api/v1/deployments", &crate::common::request("pay", "staging")).await;
    assert_eq!(status, StatusCode::CREATED);
    let pending = pending["id"].as_str().unwrap();
    let (status, error) =
        api.post(&format!("/api/v1/deployments/{pending}/rollout"), &json!({"actor": "ops", "plan": good})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&error, "invalid_transition", &[]);

    // Nothing was started by any of it.
    let (status, _) = api.get(&format!("/api/v1/deployments/{id}/rollout")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, d) = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(d["status"], "approved");
    assert_eq!(server.event_kinds(&id).await, ["created", "approved"]);
    server.stop().await;
}
