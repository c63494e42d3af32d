//! Durability of the real `loco serve` process: everything acknowledged before SIGTERM (graceful)
//! or SIGKILL (abrupt) is there, with its events, after a restart on the same file.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{LocoProcess, request};

/// Fires `total` creates from 16 concurrent keep-alive clients; once `trigger_after` of them were
/// acknowledged, runs `interrupt`. Returns the ids of every acknowledged create.
async fn creates_interrupted(url: &str, total: usize, trigger_after: usize, interrupt: impl FnOnce()) -> Vec<String> {
    let acked = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (url, acked, next) = (url.to_owned(), acked.clone(), next.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut ids = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    let Ok(response) =
                        client.post(format!("{url}/api/v1/deployments")).json(&request("svc", "staging")).send().await
                    else {
                        // The server went away: this request was never acknowledged.
                        break;
                    };
                    if response.status() != StatusCode::CREATED {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else { break };
                    ids.push(body["id"].as_str().expect("id").to_owned());
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                ids
            })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < trigger_after {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    interrupt();
    let mut ids = Vec::new();
    for worker in workers {
        ids.extend(worker.await.expect("worker"));
    }
    ids
}

/// Drives one deployment to `started` and returns its id; every step is acknowledged.
async fn started(http: &reqwest::Client, url: &str) -> String {
    let d: Value = http
        .post(format!("{url}/api/v1/deployments"))
        .json(&request("acted", "staging"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = d["id"].as_str().unwrap().to_owned();
    for (action, actor) in [("approve", "bob"), ("start", "ops")] {
        let r = http
            .post(format!("{url}/api/v1/deployments/{id}/{action}"))
            .json(&json!({"actor": actor}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    id
}

async fn assert_all_present(url: &str, created: &[String], started_id: &str) {
    let http = reqwest::Client::new();
    for id in created {
        let r = http.get(format!("{url}/api/v1/deployments/{id}/events")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "acknowledged deployment {id} survived");
        let events: Value = r.json().await.unwrap();
        assert_eq!(events["items"][0]["kind"], "created");
    }
    let d: Value =
        http.get(format!("{url}/api/v1/deployments/{started_id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["status"], "started");
    let events: Value =
        http.get(format!("{url}/api/v1/deployments/{started_id}/events")).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "approved", "started"]);
    let report: Value = http.get(format!("{url}/api/v1/audit/verify")).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["valid"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let server = LocoProcess::start(&db);
    let http = reqwest::Client::new();
    let started_id = started(&http, &server.url).await;
    let created = creates_interrupted(&server.url, 400, 100, || server.terminate()).await;
    assert!(created.len() >= 100);
    assert_eq!(server.wait(), Some(0), "graceful shutdown exits 0");

    let restarted = LocoProcess::start(&db);
    assert_all_present(&restarted.url, &created, &started_id).await;
    restarted.terminate();
    assert_eq!(restarted.wait(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_after_acknowledgement_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let mut server = LocoProcess::start(&db);
    let http = reqwest::Client::new();
    let started_id = started(&http, &server.url).await;
    let url = server.url.clone();
    let created = creates_interrupted(&url, 400, 100, || {
        server.child.kill().expect("SIGKILL");
    })
    .await;
    assert!(created.len() >= 100);
    assert_eq!(server.wait(), None, "killed by a signal, no exit code");

    let restarted = LocoProcess::start(&db);
    assert_all_present(&restarted.url, &created, &started_id).await;
    restarted.terminate();
    assert_eq!(restarted.wait(), Some(0));
}
