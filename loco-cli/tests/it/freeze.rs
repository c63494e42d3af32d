//! Freeze windows over real HTTP on loopback: the conformance vectors of
//! `tests/conformance/freeze.json` through `PUT /api/v1/freezes/{name}` and
//! `GET /api/v1/freezes/active`; on a secured server, starts refused with `policy_violation`,
//! overrides only by an admin (recorded before `started`), attacker-style inputs; and the
//! `loco freeze` commands against a database file.

use loco_cli::server::{self, ServerConfig};
use loco_core::Engine;
use loco_core::identity::{Grant, NewToken};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::cli::loco;
use crate::common::TestServer;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/freeze.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    doc["vectors"].as_array().expect("vectors").clone()
}

pub(crate) fn fields(body: &Value) -> Vec<&str> {
    body["error"]["details"].as_array().expect("details").iter().map(|d| d["field"].as_str().unwrap()).collect()
}

async fn put(server: &TestServer, window: &Value) -> (StatusCode, Value) {
    // A window without a name goes to a path that has one; the body's problems are reported first.
    let name = window["name"].as_str().filter(|n| !n.is_empty()).unwrap_or("unnamed");
    let url = server.at(&format!("/api/v1/freezes/{}", urlencoding(name)));
    let response = server.http.put(url).json(window).send().await.expect("PUT");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Percent-encodes a path segment (vector names include spaces and empty names).
pub(crate) fn urlencoding(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn freeze_vectors_over_http() {
    let server = TestServer::start().await;
    let vectors = vectors();
    assert!(vectors.len() >= 40);
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let expect = &vector["expect"];
        let windows = vector["windows"].as_array().unwrap();
        if let Some(code) = expect["error"].as_str() {
            let (status, body) = put(&server, &windows[0]).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some(code)),
                "{name}: {body}"
            );
            let expected: Vec<&str> =
                expect["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
            assert_eq!(fields(&body), expected, "{name}");
            continue;
        }
        for window in windows {
            let (status, body) = put(&server, window).await;
            assert_eq!(status, StatusCode::OK, "{name}: {body}");
        }
        let query = format!(
            "environment={}&at={}",
            urlencoding(vector["environment"].as_str().unwrap()),
            urlencoding(vector["at"].as_str().unwrap())
        );
        let response = server.http.get(server.at(&format!("/api/v1/freezes/active?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let check: Value = response.json().await.unwrap();
        let found = if check["active"].is_null() {
            Value::Null
        } else {
            json!({"window": check["active"]["window"], "start": check["active"]["start"], "end": check["active"]["end"]})
        };
        assert_eq!(found, expect["active"], "{name}");
        for window in windows {
            let path = format!("/api/v1/freezes/{}", window["name"].as_str().unwrap());
            let response = server.http.delete(server.at(&path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{name}");
        }
    }
    let (status, body) = server.get("/api/v1/freezes").await;
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    server.stop().await;
}

/// A secured server with one token per role (subject = role name) and the demo service.
pub(crate) struct Secured {
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

pub(crate) const SECRET: &str = "loco_freeze-test-secret-";

impl Secured {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path().join("loco.db")).await.unwrap();
        for role in ["viewer", "requester", "approver", "deployer", "admin"] {
            let new = NewToken {
                name: role.into(),
                subject: role.into(),
                grants: vec![Grant::parse(role).unwrap()],
                expires_at: None,
            };
            engine.create_token_with_secret(new, "test", &format!("{SECRET}{role}-0123456789abcdef")).await.unwrap();
        }
        engine.register_service(crate::rollout_support::demo_service(), "test").await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ServerConfig { rate_limit: None, ..ServerConfig::default() };
        tokio::spawn(server::serve(listener, engine, config, async move {
            let _ = stopped.await;
        }));
        Self { url, http: reqwest::Client::new(), stop: Some(stop), _dir: dir }
    }

    pub(crate) async fn call(&self, role: &str, method: &str, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(format!("{SECRET}{role}-0123456789abcdef"));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn approved_in_production(&self, version: &str) -> String {
        let new = json!({"service": "demo", "environment": "production", "version": version, "work_refs": ["OPS-1"],
                         "rollback_plan": "redeploy", "risk": "low"});
        let (status, created) = self.call("requester", "POST", "/api/v1/deployments", Some(&new)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, body) =
            self.call("approver", "POST", &format!("/api/v1/deployments/{id}/approve"), Some(&json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test]
async fn a_frozen_start_is_refused_and_only_an_admin_overrides_it() {
    let server = Secured::start().await;
    let window = json!({"name": "board-meeting", "environments": ["production"], "reason": "board meeting today",
                        "schedule": {"type": "once", "start": "2020-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z"}});

    // Only an admin sets windows; anyone with a token reads them.
    let (status, body) = server.call("deployer", "PUT", "/api/v1/freezes/board-meeting", Some(&window)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    let anonymous = server.http.get(format!("{}/api/v1/freezes", server.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let as_text = server
        .http
        .put(format!("{}/api/v1/freezes/board-meeting", server.url))
        .bearer_auth(format!("{SECRET}admin-0123456789abcdef"))
        .header("content-type", "text/plain")
        .body(window.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(as_text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let renamed = json!({"name": "other", "environments": ["production"], "reason": "r",
                         "schedule": {"type": "once", "start": "2020-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z"}});
    let (status, body) = server.call("admin", "PUT", "/api/v1/freezes/board-meeting", Some(&renamed)).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["name"]), "{body}");
    let (status, body) = server.call("admin", "PUT", "/api/v1/freezes/board-meeting", Some(&window)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.call("viewer", "GET", "/api/v1/freezes", None).await;
    assert_eq!((status, body["items"][0]["name"].as_str()), (StatusCode::OK, Some("board-meeting")));

    // Asking whether an environment is frozen, and bad questions.
    let (status, body) = server.call("viewer", "GET", "/api/v1/freezes/active?environment=Production", None).await;
    assert_eq!((status, body["active"]["window"].as_str()), (StatusCode::OK, Some("board-meeting")), "{body}");
    let (_, body) = server.call("viewer", "GET", "/api/v1/freezes/active?environment=staging", None).await;
    assert!(body["active"].is_null(), "{body}");
    for (query, field) in
        [("", "environment"), ("environment=production&at=yesterday", "at"), ("environment=p&x=1", "x")]
    {
        let (status, body) = server.call("viewer", "GET", &format!("/api/v1/freezes/active?{query}"), None).await;
        assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec![field]), "{query}: {body}");
    }

    // A plain start and a rollout are refused, naming the window; nothing is written.
    let id = server.approved_in_production("1.0.0").await;
    let start = format!("/api/v1/deployments/{id}/start");
    let (status, body) = server.call("deployer", "POST", &start, Some(&json!({}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{body}");
    assert_eq!(fields(&body), ["freeze_window"]);
    assert!(body["error"]["message"].as_str().unwrap().contains("'board-meeting'"), "{body}");
    let plan = json!({"plan": {"platform": "local", "strategy": {"type": "immediate"},
                               "release": {"version": "1.0.0", "service": "demo"}}});
    let (status, body) =
        server.call("deployer", "POST", &format!("/api/v1/deployments/{id}/rollout"), Some(&plan)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{body}");
    let (_, events) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/events"), None).await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2, "created and approved only");

    // A deployer may not override; a blank reason is refused; an admin's override is recorded.
    let overriding = json!({"override_reason": "hotfix for INC-7"});
    let (status, body) = server.call("deployer", "POST", &start, Some(&overriding)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"), "{body}");
    let (status, body) = server.call("admin", "POST", &start, Some(&json!({"override_reason": " "}))).await;
    assert_eq!((status, fields(&body)), (StatusCode::BAD_REQUEST, vec!["override_reason"]), "{body}");
    let (status, body) =
        server.call("admin", "POST", &format!("/api/v1/deployments/{id}/approve"), Some(&overriding)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only a start overrides: {body}");
    let (status, body) = server.call("admin", "POST", &start, Some(&overriding)).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("started")), "{body}");
    let (_, events) = server.call("viewer", "GET", &format!("/api/v1/deployments/{id}/events"), None).await;
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "approved", "policy_override", "started"]);
    let record = &events["items"][2];
    assert_eq!((record["actor"].as_str(), record["note"].as_str()), (Some("admin"), Some("hotfix for INC-7")));
    assert_eq!(
        (record["data"]["rule"].as_str(), record["data"]["name"].as_str()),
        (Some("freeze_window"), Some("board-meeting"))
    );
    assert!(record["request_id"].is_string(), "the override names its request: {record}");
    let (_, audit) = server.call("viewer", "GET", "/api/v1/audit/verify", None).await;
    assert_eq!(audit["valid"], true, "{audit}");

    // Removing the window lets starts go ahead again.
    let (status, _) = server.call("admin", "DELETE", "/api/v1/freezes/board-meeting", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.call("admin", "DELETE", "/api/v1/freezes/board-meeting", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // (once the overridden deployment, which holds the service's deploy lock there, has ended).
    let other = server.approved_in_production("1.0.1").await;
    let start_other = format!("/api/v1/deployments/{other}/start");
    let (status, body) = server.call("deployer", "POST", &start_other, Some(&json!({}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("policy_violation")), "{body}");
    assert_eq!(fields(&body), ["deploy_lock"]);
    let (status, body) =
        server.call("deployer", "POST", &format!("/api/v1/deployments/{id}/succeed"), Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.call("deployer", "POST", &start_other, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_freeze_commands_set_check_and_override_against_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loco.db");
    let db = db.to_str().unwrap();
    let target = ["--db", db];
    let file = dir.path().join("weekend.json");
    std::fs::write(
        &file,
        r#"{"name": "weekend", "environments": ["production"], "reason": "no weekend deploys",
            "schedule": {"type": "recurring", "cron": "0 18 * * FRI", "duration_minutes": 3720,
                         "time_zone": "Europe/Berlin"}}"#,
    )
    .unwrap();
    let set = loco(&target, &["freeze", "set", file.to_str().unwrap()]).await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["name"], "weekend");
    let listed = loco(&target, &["freeze", "list"]).await;
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 1);

    // Saturday noon in Berlin is frozen (exit 25, the window named); Monday noon is not.
    let frozen = loco(&target, &["freeze", "check", "production", "--at", "2026-12-05T12:00:00+01:00"]).await;
    assert_eq!(frozen.code, 25, "{}", frozen.stderr);
    assert!(frozen.stderr.contains("'weekend'") && frozen.stderr.contains("2026-12-07T07:00:00"), "{}", frozen.stderr);
    let free = loco(&target, &["freeze", "check", "production", "--at", "2026-12-07T12:00:00+01:00"]).await;
    assert_eq!(free.code, 0, "{}", free.stderr);
    assert!(free.stdout.contains("not frozen"), "{}", free.stdout);
    let json_check =
        loco(&["--json", "--db", db], &["freeze", "check", "production", "--at", "2026-12-05T12:00:00Z"]).await;
    assert_eq!((json_check.code, json_check.error_json()["error"]["code"].as_str()), (25, Some("policy_violation")));
    let bad = loco(&target, &["freeze", "check", "production", "--at", "tomorrow"]).await;
    assert_eq!(bad.code, 3, "a bad --at is a validation error: {}", bad.stderr);

    // A window in force now refuses `loco start`; --override-freeze starts it and is recorded.
    let now = std::fs::write(
        &file,
        r#"{"name": "now", "environments": ["production"], "reason": "incident in progress",
            "schedule": {"type": "once", "start": "2020-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z"}}"#,
    );
    now.unwrap();
    assert_eq!(loco(&target, &["freeze", "set", file.to_str().unwrap()]).await.code, 0);
    let created = loco(
        &["--json", "--db", db],
        &[
            "create",
            "--service",
            "api",
            "--environment",
            "production",
            "--version",
            "2.0.0",
            "--requester",
            "alice",
            "--work-ref",
            "OPS-9",
            "--rollback-plan",
            "redeploy 1.9",
            "--risk",
            "low",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(loco(&target, &["approve", &id, "--actor", "bob"]).await.code, 0);
    let refused = loco(&target, &["start", &id, "--actor", "ops"]).await;
    assert_eq!(refused.code, 25, "{}", refused.stderr);
    assert!(refused.stderr.contains("incident in progress"), "{}", refused.stderr);
    let started =
        loco(&["--json", "--db", db], &["start", &id, "--actor", "root", "--override-freeze", "fix INC-9"]).await;
    assert_eq!((started.code, started.json()["status"].as_str()), (0, Some("started")), "{}", started.stderr);
    let events = loco(&["--json", "--db", db], &["events", &id]).await;
    let kinds: Vec<String> =
        events.json()["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["created", "approved", "policy_override", "started"]);
    assert_eq!(loco(&target, &["freeze", "remove", "now"]).await.code, 0);
    assert_eq!(loco(&target, &["freeze", "remove", "now"]).await.code, 4, "not_found");
}
