//! Server-sent event streams: order, ids, resume with `Last-Event-ID`, per-deployment filtering,
//! keep-alive comments, and streams ending on shutdown.

use std::time::Duration;

use loco_cli::server::ServerConfig;
use reqwest::StatusCode;

use crate::common::{SseReader, TestServer, assert_error};

#[tokio::test]
async fn all_events_arrive_in_seq_order_with_their_json() {
    let server = TestServer::start().await;
    let mut stream = SseReader::open(&server, "/api/v1/events", None).await;
    let a = server.create("a", "staging").await;
    let b = server.create("b", "staging").await;
    let a_id = a["id"].as_str().unwrap();
    server.act(a_id, "approve", "bob").await;
    server.act(a_id, "start", "ops").await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(stream.event().await);
    }
    assert_eq!(got.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let kinds: Vec<(&str, &str)> =
        got.iter().map(|(_, e)| (e["deployment_id"].as_str().unwrap(), e["kind"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [(a_id, "created"), (b["id"].as_str().unwrap(), "created"), (a_id, "approved"), (a_id, "started")]
    );
    // Each frame is exactly the event the events route returns.
    let (_, history) = server.get(&format!("/api/v1/deployments/{a_id}/events")).await;
    assert_eq!(history["items"][1], got[2].1);
    server.stop().await;
}

#[tokio::test]
async fn last_event_id_resumes_after_the_missed_events() {
    let server = TestServer::start().await;
    let d = server.create("a", "staging").await;
    let id = d["id"].as_str().unwrap();
    server.act(id, "approve", "bob").await;
    server.act(id, "start", "ops").await;
    // A client that saw seq 1 reconnects: it gets 2 and 3 replayed, then live events.
    let mut stream = SseReader::open(&server, "/api/v1/events", Some("1")).await;
    assert_eq!(stream.event().await.0, 2);
    assert_eq!(stream.event().await.0, 3);
    server.act(id, "succeed", "ops").await;
    let (seq, live) = stream.event().await;
    assert_eq!((seq, live["kind"].as_str()), (4, Some("succeeded")));
    // `?after=0` replays everything (for clients that cannot set headers).
    let mut from_start = SseReader::open(&server, "/api/v1/events?after=0", None).await;
    assert_eq!(from_start.event().await.0, 1);
    server.stop().await;
}

#[tokio::test]
async fn deployment_stream_carries_only_that_deployment() {
    let server = TestServer::start().await;
    let a = server.create("a", "staging").await;
    let a_id = a["id"].as_str().unwrap();
    let mut stream = SseReader::open(&server, &format!("/api/v1/deployments/{a_id}/events/stream"), Some("0")).await;
    let b = server.create("b", "staging").await;
    server.act(b["id"].as_str().unwrap(), "approve", "bob").await;
    server.act(a_id, "approve", "bob").await;
    let (first, created) = stream.event().await;
    let (second, approved) = stream.event().await;
    assert_eq!((first, created["kind"].as_str()), (1, Some("created")));
    assert_eq!((second, approved["kind"].as_str()), (4, Some("approved")), "b's events (2, 3) are skipped");
    assert_eq!(approved["deployment_id"], a_id);
    server.stop().await;
}

#[tokio::test]
async fn stream_input_errors_come_before_existence() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/api/v1/deployments/dep_00000000000000000000000000/events/stream").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", &[]);
    let response = server
        .http
        .get(server.at("/api/v1/deployments/dep_00000000000000000000000000/events/stream"))
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::common::decode(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["Last-Event-ID"]);
    let (status, body) = server.get("/api/v1/events?after=-4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["after"]);
    let (status, body) = server.get("/api/v1/events?since=4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_error", &["since"]);
    server.stop().await;
}

#[tokio::test]
async fn idle_streams_send_keep_alive_comments() {
    let config = ServerConfig { sse_keep_alive: Duration::from_millis(50), ..crate::common::open_config() };
    let server = TestServer::start_with(config).await;
    let mut stream = SseReader::open(&server, "/api/v1/events", None).await;
    let frame = stream.next().await.expect("open");
    assert!(frame.comment && frame.data.is_empty() && frame.id.is_none(), "{frame:?}");
    server.stop().await;
}

#[tokio::test]
async fn open_streams_end_when_the_server_shuts_down() {
    let server = TestServer::start().await;
    let mut stream = SseReader::open(&server, "/api/v1/events", None).await;
    let d = server.create("a", "staging").await;
    assert_eq!(stream.event().await.1["deployment_id"], d["id"]);
    // `stop` waits for the whole graceful shutdown, which needs the open stream to end.
    server.stop().await;
    loop {
        match stream.next().await {
            None => break,
            Some(frame) => assert!(frame.comment, "only keep-alives may remain: {frame:?}"),
        }
    }
}
