//! The request guards, tried the way an attacker's web page or a stray client would: a foreign
//! `Host` (DNS rebinding), a cross-origin-safe `Content-Type`, too many streams; and HTTPS with a
//! certificate the client must trust.

use std::time::Duration;

use loco_cli::client::{Client, ClientOptions};
use loco_cli::server::{ServerConfig, tls};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestServer, decode, open_config, request};

#[tokio::test]
async fn a_foreign_host_header_is_refused_before_anything_runs() {
    let server = TestServer::start().await;
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    for host in ["attacker.example", &format!("rebind.attacker.example:{port}"), "127.0.0.1:1"] {
        let response = server
            .http
            .post(server.at("/api/v1/deployments"))
            .header("host", host)
            .json(&request("api", "staging"))
            .send()
            .await
            .unwrap();
        let (status, body) = decode(response).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host}: {body}");
        assert_eq!(body["error"]["code"], "host_not_allowed");
    }
    let (_, page) = server.get("/api/v1/deployments").await;
    assert_eq!(page["items"], json!([]), "nothing was created");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let response = server.http.get(server.at("/healthz")).header("host", host.as_str()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_refused() {
    let server = TestServer::start().await;
    let body = serde_json::to_string(&request("api", "staging")).unwrap();
    for content_type in
        [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data")]
    {
        let mut post = server.http.post(server.at("/api/v1/deployments")).body(body.clone());
        if let Some(content_type) = content_type {
            post = post.header("content-type", content_type);
        }
        let (status, error) = decode(post.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        assert_eq!(error["error"]["code"], "unsupported_media_type");
    }
    let (_, page) = server.get("/api/v1/deployments").await;
    assert_eq!(page["items"], json!([]), "nothing was created");
    let accepted = server
        .http
        .post(server.at("/api/v1/deployments"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    server.stop().await;
}

#[tokio::test]
async fn streams_beyond_the_cap_are_told_to_retry() {
    let server = TestServer::start_with(ServerConfig { max_streams: 2, ..open_config() }).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let response = server.http.get(server.at("/api/v1/events")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = server.http.get(server.at("/api/v1/events")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    let (_, body) = decode(refused).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    drop(open.pop());
    // The slot is freed once the server notices the closed connection.
    let mut reopened = None;
    for _ in 0..50 {
        let response = server.http.get(server.at("/api/v1/events")).send().await.unwrap();
        if response.status() == StatusCode::OK {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed stream gives its slot back");
    drop(open);
    drop(reopened);
    server.stop().await;
}

#[tokio::test]
async fn https_serves_clients_that_trust_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let config = ServerConfig { tls: Some(tls::server_config(&cert_path, &key_path).unwrap()), ..open_config() };
    let server = TestServer::start_with(config).await;
    let https = server.url.replacen("http://", "https://", 1);

    let trusting =
        Client::with_options(&https, &ClientOptions { ca_cert: Some(cert_path.clone()), token: None }).unwrap();
    let created = trusting
        .create(
            &loco_core::NewDeployment {
                service: "api".into(),
                environment: "staging".into(),
                version: "1".into(),
                requester: "alice".into(),
                work_refs: vec!["W-1".into()],
                rollback_plan: "redo".into(),
                risk: None,
                commit: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.status, loco_core::Status::PendingApproval);

    let untrusting = Client::new(&https).unwrap();
    let refused = untrusting.get(&created.id).await.unwrap_err();
    assert!(matches!(refused, loco_cli::client::ClientError::Unreachable { .. }), "{refused}");
    // Plain HTTP to the TLS port gets no API answer.
    assert!(server.http.get(server.at("/healthz")).send().await.is_err());
    assert!(tls::server_config(&key_path, &cert_path).is_err(), "swapped files are refused");
    server.stop().await;
}
