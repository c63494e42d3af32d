//! Deployment scripts over `loco serve`: a registered service brings its scripts, whose output is
//! followed live over SSE (`…/instances/script:<hook>:<name>/logs`), in order, with the release's
//! secret redacted; its end is a `script` event.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{SseReader, TestServer};
use crate::rollout_support::{Api, demo_service_json, immediate, plan};

const SECRET: &str = "pw-5f1e-never-over-the-wire";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_script_output_is_followed_live_over_sse_with_secrets_redacted() {
    let server = TestServer::start_local().await;
    let api = Api::of(&server);
    let mut service: Value = demo_service_json();
    service["name"] = json!("scripted");
    service["allowed_env"] = json!(["VERSION", "DB_PASSWORD"]);
    service["scripts"] = json!({"pre_deploy": [{
        "name": "migrate",
        "inline": "for i in 1 2 3 4 5; do echo \"step $i of 5 with $DB_PASSWORD\"; sleep 0.3; done",
        "secrets": ["DB_PASSWORD"],
    }]});
    let response = server.http.put(server.at("/api/v1/services/scripted")).json(&service).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = api.approved("scripted", "v1").await;
    let mut body = plan("v1", immediate(), json!({}));
    body["release"]["service"] = json!("scripted");
    body["release"]["secret_env"] = json!({"DB_PASSWORD": SECRET});
    api.start(&id, &body).await;

    // The script's log exists once it started; follow it from there.
    let path = format!("/api/v1/deployments/{id}/rollout/instances/script:pre_deploy:migrate/logs");
    let started = Instant::now();
    let mut reader = loop {
        let response = server.http.get(server.at(&path)).send().await.unwrap();
        if response.status() == StatusCode::OK {
            break SseReader::open(&server, &path, None).await;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the script never started: {}", response.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut lines = Vec::new();
    while lines.len() < 5 {
        let frame = reader.next().await.expect("the stream stays open until the script ends");
        if frame.data.is_empty() {
            continue;
        }
        let line: Value = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(line["instance_id"], "script:pre_deploy:migrate", "{line}");
        lines.push(line["line"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> = (1..=5).map(|i| format!("step {i} of 5 with ***")).collect();
    assert_eq!(lines, expected, "in order, the secret redacted");
    assert!(reader.next().await.is_none(), "the stream ends with the script");

    assert_eq!(api.ended(&id).await["state"], "succeeded");
    let (_, events) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    let script = events["items"].as_array().unwrap().iter().find(|e| e["kind"] == "script").expect("a script event");
    assert_eq!((script["data"]["ok"].as_bool(), script["data"]["lines"].as_u64()), (Some(true), Some(5)));
    assert!(!events.to_string().contains(SECRET), "the secret reached an event");
    server.stop().await;
}
