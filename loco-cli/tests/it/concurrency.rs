//! Concurrent requests on one deployment: the store serialises them, so exactly one wins.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_approvals_yield_one_winner() {
    let server = TestServer::start().await;
    let d = server.create("checkout", "staging").await;
    let id = d["id"].as_str().unwrap().to_owned();
    let url = server.at(&format!("/api/v1/deployments/{id}/approve"));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            // One client each, so the requests really travel on separate connections at once.
            let client = reqwest::Client::new();
            let url = url.clone();
            tokio::spawn(async move {
                let response = client.post(url).json(&json!({"actor": format!("reviewer-{i}")})).send().await.unwrap();
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut ok = 0;
    let mut conflicts = 0;
    let mut winner = None;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => {
                ok += 1;
                winner = body["reviewed_by"].as_str().map(str::to_owned);
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "invalid_transition", "{body}");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 63));
    let (_, events) = server.get(&format!("/api/v1/deployments/{id}/events")).await;
    let approved: Vec<_> = events["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "approved").collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["actor"].as_str(), winner.as_deref(), "the event names the one winner");
    server.stop().await;
}
