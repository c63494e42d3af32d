//! Helpers shared by the integration tests: a real server on a loopback port over a real SQLite
//! file (optionally with the local platform), small JSON request helpers, and an SSE reader.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use loco_cli::server::{self, ServerConfig};
use loco_core::Engine;
use loco_core::platform::local::{LocalOptions, LocalPlatform};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The vectors of `tests/conformance/{file}`.
pub fn vectors(file: &str) -> Vec<Value> {
    let path = format!("{}/../tests/conformance/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    doc["vectors"].as_array().expect("vectors").clone()
}

/// The string `key` of a vector or step (panics naming it when it is missing).
pub fn text<'a>(step: &'a Value, key: &str) -> &'a str {
    step[key].as_str().unwrap_or_else(|| panic!("'{key}' in {step}"))
}

/// A server configuration without authentication, for tests of the API's behaviour.
pub fn open_config() -> ServerConfig {
    ServerConfig { auth: false, ..ServerConfig::default() }
}

/// A running in-process server on 127.0.0.1 (port chosen by the OS) over a temp database file.
pub struct TestServer {
    /// Keeps the database directory alive.
    _dir: TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A keep-alive client.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), server::ServeError>>>,
}

impl TestServer {
    /// Starts a server on a fresh database, without authentication (callers act under the names
    /// they send; the security tests start authenticated servers).
    pub async fn start() -> Self {
        Self::start_with(open_config()).await
    }

    /// Starts a server on a fresh database with the local platform registered (pidfiles in a
    /// state directory inside the temp dir), as `loco serve` runs it.
    pub async fn start_local() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let local = LocalPlatform::new(LocalOptions::new(dir.path().join("state"))).expect("local platform");
        let engine =
            Engine::builder().path(dir.path().join("loco.db")).platform(Arc::new(local)).open().await.expect("open");
        engine.register_service(crate::rollout_support::demo_service(), "test").await.expect("register demo");
        Self::serve(dir, engine, open_config()).await
    }

    /// Starts a server on a fresh database with the given config.
    pub async fn start_with(config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(dir.path().join("loco.db")).await.expect("open engine");
        Self::serve(dir, engine, config).await
    }

    async fn serve(dir: TempDir, engine: Engine, config: ServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, engine, config, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
        Self { _dir: dir, url, http, stop: Some(stop), task: Some(task) }
    }

    /// Signals shutdown and waits until the server has closed the engine.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops")
                .expect("server task")
                .expect("server result");
        }
    }

    /// The absolute URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET `path`; returns the status and the JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.at(path)).send().await.expect("GET");
        decode(response).await
    }

    /// `method` on `path`, with a JSON body when given; returns the status and the JSON body.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.at(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        decode(request.send().await.expect("request")).await
    }

    /// POST a JSON value to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self.http.post(self.at(path)).json(body).send().await.expect("POST");
        decode(response).await
    }

    /// POST raw bytes to `path` (for malformed bodies).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.at(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    /// Creates a valid deployment of `service` in `environment` and returns its JSON.
    pub async fn create(&self, service: &str, environment: &str) -> Value {
        let (status, body) = self.post("/api/v1/deployments", &request(service, environment)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Applies `action` by `actor` (with a note) and asserts it succeeded.
    pub async fn act(&self, id: &str, action: &str, actor: &str) -> Value {
        let (status, body) =
            self.post(&format!("/api/v1/deployments/{id}/{action}"), &json!({"actor": actor, "note": "why"})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        body
    }

    /// The kinds of a deployment's events, oldest first.
    pub async fn event_kinds(&self, id: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/v1/deployments/{id}/events")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().expect("items").iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A `loco serve` child process on a loopback port chosen by the OS.
pub struct LocoProcess {
    /// The child.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl LocoProcess {
    /// Starts `loco serve --no-auth --db <db> --addr 127.0.0.1:0` and waits for its "listening"
    /// line.
    pub fn start(db: &Path) -> Self {
        Self::start_with(db, &[], Stdio::inherit(), "warn")
    }

    /// Like [`LocoProcess::start`] with extra `serve` flags, a stderr destination and a log filter.
    pub fn start_with(db: &Path, flags: &[&str], stderr: Stdio, log_filter: &str) -> Self {
        let mut all = vec!["--no-auth"];
        all.extend_from_slice(flags);
        Self::spawn(db, &all, &[], stderr, log_filter)
    }

    /// `loco serve` exactly as a user starts it (authentication on), with `flags` and `env`.
    pub fn start_secured(db: &Path, flags: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Self {
        Self::spawn(db, flags, env, stderr, "warn")
    }

    fn spawn(db: &Path, flags: &[&str], env: &[(&str, &str)], stderr: Stdio, log_filter: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loco"))
            .args(["serve", "--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(flags)
            .env("RUST_LOG", log_filter)
            .env_remove("LOCO_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn loco");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the listening line");
        let url = line.trim().strip_prefix("loco listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}"));
        Self { url: url.to_owned(), child }
    }

    /// Sends SIGTERM (through kill(1), since this crate forbids unsafe code).
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().expect("wait").code()
    }
}

impl Drop for LocoProcess {
    fn drop(&mut self) {
        // Only reached when a test failed half-way (or after `wait`): stop the server gracefully
        // so it closes its engine and stops the instances it runs, then make sure it is gone.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            for _ in 0..300 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and JSON body of a response (`Value::Null` when the body is not JSON).
pub async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A valid create body.
pub fn request(service: &str, environment: &str) -> Value {
    json!({
        "service": service,
        "environment": environment,
        "version": "1.0.0",
        "requester": "alice",
        "work_refs": ["PROJ-1"],
        "rollback_plan": "redeploy the previous version",
    })
}

/// Asserts a JSON error body with this code and these detail fields, in order.
#[track_caller]
pub fn assert_error(body: &Value, code: &str, fields: &[&str]) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let details = body["error"]["details"].as_array().unwrap_or_else(|| panic!("details list in {body}"));
    let got: Vec<&str> = details.iter().map(|d| d["field"].as_str().expect("field")).collect();
    assert_eq!(got, fields, "{body}");
    assert!(details.iter().all(|d| d["message"].as_str().is_some_and(|m| !m.is_empty())), "{body}");
}

/// Generous bound so a broken stream fails the test instead of hanging it; never an assertion
/// about speed.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One SSE frame.
#[derive(Debug, Default)]
pub struct Frame {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` lines, joined.
    pub data: String,
    /// Whether it held a comment (keep-alive) line.
    pub comment: bool,
}

/// Reads SSE frames from a streaming response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `path` on a test server.
    pub async fn open(server: &TestServer, path: &str, last_event_id: Option<&str>) -> Self {
        Self::open_url(&server.http, &server.at(path), last_event_id).await
    }

    /// Opens an absolute URL.
    pub async fn open_url(http: &reqwest::Client, url: &str, last_event_id: Option<&str>) -> Self {
        let mut request = http.get(url);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = tokio::time::timeout(PATIENCE, request.send()).await.expect("headers in time").unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The next frame, or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame::default();
                for line in raw.lines() {
                    if line.starts_with(':') {
                        frame.comment = true;
                    } else if let Some((field, value)) = line.split_once(':') {
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "id" => frame.id = Some(value.to_owned()),
                            "event" => frame.event = Some(value.to_owned()),
                            "data" => frame.data.push_str(value),
                            _ => {}
                        }
                    }
                }
                return Some(frame);
            }
            let chunk =
                tokio::time::timeout(PATIENCE, self.response.chunk()).await.expect("a frame in time").ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event frame (skipping keep-alive comments), parsed.
    pub async fn event(&mut self) -> (i64, Value) {
        loop {
            let frame = self.next().await.expect("stream still open");
            if frame.comment && frame.data.is_empty() {
                continue;
            }
            assert_eq!(frame.event, None, "{frame:?}");
            let data: Value = serde_json::from_str(&frame.data).expect("JSON data");
            let id: i64 = frame.id.expect("id").parse().expect("numeric id");
            assert_eq!(data["seq"], id, "the SSE id is the event seq");
            return (id, data);
        }
    }
}
