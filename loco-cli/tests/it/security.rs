//! `loco serve` as a user starts it — authentication on — tried the way an attacker would: the
//! browser chain (a cross-origin-safe request, a made-up actor, a command in a plan), and what
//! the first start prints.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{LocoProcess, decode, request};

/// A well-formed admin token for `LOCO_ADMIN_TOKEN`.
const ADMIN: &str = "loco_test-admin-token-0123456789abcdefghijklmnop";

#[tokio::test]
async fn the_browser_attack_chain_creates_nothing_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("pwned");
    let server =
        LocoProcess::start_secured(&dir.path().join("loco.db"), &[], &[("LOCO_ADMIN_TOKEN", ADMIN)], Stdio::null());
    let http = reqwest::Client::new();
    let deployments = format!("{}/api/v1/deployments", server.url);

    // Step 1 as a web page sends it: text/plain (no preflight), no credentials.
    let body = serde_json::to_string(&request("shop", "production")).unwrap();
    let response =
        http.post(&deployments).header("content-type", "text/plain").body(body.clone()).send().await.unwrap();
    let (status, error) = decode(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["error"]["code"], "unauthenticated");
    // The same through a DNS-rebinding name is refused before anything else.
    let response =
        http.post(&deployments).header("host", "rebind.attacker.example").body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
    // Even with a token, a body that is not declared JSON is refused.
    let response = http
        .post(&deployments)
        .bearer_auth(ADMIN)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A token holder cannot run a command from the network either.
    let mut own = request("shop", "staging");
    own.as_object_mut().unwrap().remove("requester");
    let created = http.post(&deployments).bearer_auth(ADMIN).json(&own).send().await.unwrap();
    let (status, d) = decode(created).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["requester"], "admin", "the requester is the token's subject");
    let id = d["id"].as_str().unwrap();
    let plan = json!({"platform": "local", "strategy": {"type": "immediate"},
                      "release": {"command": ["sh", "-c", format!("touch {}", pwned.display())]}});
    let response = http
        .post(format!("{}/api/v1/deployments/{id}/rollout", server.url))
        .bearer_auth(ADMIN)
        .json(&json!({"plan": plan}))
        .send()
        .await
        .unwrap();
    let (status, error) = decode(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "release.command");
    assert!(!pwned.exists(), "nothing ran");
    let (_, page) = decode(http.get(&deployments).bearer_auth(ADMIN).send().await.unwrap()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "only the token holder's deployment exists");
    assert_eq!(page["items"][0]["status"], "pending_approval");
}

#[tokio::test]
async fn the_first_start_prints_an_admin_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let mut first = LocoProcess::start_secured(&db, &[], &[], Stdio::piped());
    let stderr = first.child.stderr.take().unwrap();
    let secret = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_whitespace().find(|w| w.starts_with("loco_")).map(str::to_owned))
        .expect("the admin token on stderr");
    let http = reqwest::Client::new();
    let whoami = |token: Option<&str>| {
        let mut request = http.get(format!("{}/api/v1/whoami", first.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let (status, me): (StatusCode, Value) = decode(whoami(Some(&secret)).await.unwrap()).await;
    assert_eq!(
        (status, me["subject"].as_str(), me["grants"].clone()),
        (StatusCode::OK, Some("admin"), json!(["admin"]))
    );
    assert_eq!(whoami(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        whoami(Some("loco_not-a-real-token-000000000000000000000")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    first.terminate();
    assert_eq!(first.wait(), Some(0));

    // The table has a token now: a restart prints none.
    let mut second = LocoProcess::start_secured(&db, &[], &[], Stdio::piped());
    second.terminate();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut second.child.stderr.take().unwrap(), &mut text).unwrap();
    assert!(!text.contains("loco_"), "no second token: {text}");
    assert_eq!(second.wait(), Some(0));
}

#[tokio::test]
async fn unsafe_serve_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    for (flags, expected) in [
        (&["--no-auth", "--addr", "0.0.0.0:0"][..], "--no-auth is only allowed on a loopback address"),
        (&["--addr", "0.0.0.0:0"][..], "serve HTTPS"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_loco"))
            .args(["serve", "--db"])
            .arg(&db)
            .args(flags)
            .env("LOCO_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
