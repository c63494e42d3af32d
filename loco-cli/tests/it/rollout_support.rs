//! Helpers for rollout tests: plans that run the real demo service, an HTTP API handle that
//! drives and watches rollouts (in-process server or `loco serve` child), traffic through the
//! local proxy, and a scan for leftover demo-service processes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::common::{SseReader, TestServer, decode};

/// The demo service the plans run.
pub const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo-service/app.py");

/// Longest wait for a rollout to reach a state; a bound that fails a stuck test instead of
/// hanging it, never an assertion about speed.
const ROLLOUT_PATIENCE: Duration = Duration::from_secs(180);

/// The demo service as an admin registers it: plans over HTTP name it instead of a command.
pub fn demo_service() -> loco_core::service::ServiceDefinition {
    loco_core::service::ServiceDefinition::from_json(&demo_service_json().to_string()).expect("demo service")
}

/// [`demo_service`] as JSON.
pub fn demo_service_json() -> Value {
    json!({"name": "demo", "command": ["python3", APP],
           "allowed_env": ["VERSION", "FAILURE_RATE", "LATENCY_MS", "HEALTH_FAIL_AFTER"]})
}

/// A plan running the registered demo service as `version` with `strategy` and extra `env`, one
/// instance, an HTTP health probe and quick retries.
pub fn plan(version: &str, strategy: Value, env: Value) -> Value {
    let mut plan = json!({
        "platform": "local",
        "release": {"version": version, "service": "demo"},
        "instances": 1,
        "health": {
            "probes": [{"type": "http", "path": "/health"}],
            "timeout_seconds": 2,
            "retries": 20,
            "backoff_initial_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "interval_seconds": 0.5
        }
    });
    plan["strategy"] = strategy;
    plan["release"]["env"] = env;
    plan
}

/// `{"type": "immediate"}`.
pub fn immediate() -> Value {
    json!({"type": "immediate"})
}

/// A canary strategy.
pub fn canary(steps: &[u8], interval_seconds: f64) -> Value {
    json!({"type": "canary", "steps": steps, "interval_seconds": interval_seconds})
}

/// The Loco HTTP API at a base URL.
#[derive(Clone)]
pub struct Api {
    /// A keep-alive client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Api {
    /// The API of an in-process test server.
    pub fn of(server: &TestServer) -> Self {
        Self { http: server.http.clone(), url: server.url.clone() }
    }

    /// The API at `url` (a `loco serve` child).
    pub fn at(url: &str) -> Self {
        Self { http: reqwest::Client::builder().tcp_nodelay(true).build().expect("client"), url: url.to_owned() }
    }

    /// Registers the demo service (as an admin would) so plans can name it.
    pub async fn register_demo(&self) {
        let response =
            self.http.put(format!("{}/api/v1/services/demo", self.url)).json(&demo_service_json()).send().await;
        let (status, body) = decode(response.expect("PUT")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// GET `path`: status and JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        decode(self.http.get(format!("{}{path}", self.url)).send().await.expect("GET")).await
    }

    /// POST JSON to `path`: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        decode(self.http.post(format!("{}{path}", self.url)).json(body).send().await.expect("POST")).await
    }

    /// Creates a deployment of `service` in `staging` at `version`, approved by bob; its id.
    pub async fn approved(&self, service: &str, version: &str) -> String {
        let body = json!({
            "service": service, "environment": "staging", "version": version, "requester": "alice",
            "work_refs": ["PROJ-1"], "rollback_plan": "the previous release is restored",
        });
        let (status, d) = self.post("/api/v1/deployments", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        let id = d["id"].as_str().expect("id").to_owned();
        let (status, d) = self.post(&format!("/api/v1/deployments/{id}/approve"), &json!({"actor": "bob"})).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        id
    }

    /// Starts the rollout of `id` with `plan`, asserting 202 and a running record.
    pub async fn start(&self, id: &str, plan: &Value) -> Value {
        let (status, rollout) =
            self.post(&format!("/api/v1/deployments/{id}/rollout"), &json!({"actor": "ops", "plan": plan})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{rollout}");
        assert_eq!(rollout["deployment_id"], id);
        assert_eq!(rollout["actor"], "ops");
        rollout
    }

    /// The rollout of `id` (asserting 200).
    pub async fn rollout(&self, id: &str) -> Value {
        let (status, rollout) = self.get(&format!("/api/v1/deployments/{id}/rollout")).await;
        assert_eq!(status, StatusCode::OK, "{rollout}");
        rollout
    }

    /// Waits, following the deployment's event stream, until its rollout satisfies `done`.
    pub async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let url = format!("{}/api/v1/deployments/{id}/events/stream", self.url);
        let mut events = SseReader::open_url(&self.http, &url, None).await;
        let watch = async {
            loop {
                let rollout = self.rollout(id).await;
                if done(&rollout) {
                    return rollout;
                }
                events.next().await.expect("the event stream stays open while the rollout runs");
            }
        };
        let Ok(rollout) = tokio::time::timeout(ROLLOUT_PATIENCE, watch).await else {
            panic!("the rollout of {id} never reached: {what}; it is {}", self.rollout(id).await)
        };
        rollout
    }

    /// Waits until the rollout of `id` is no longer active and returns it.
    pub async fn ended(&self, id: &str) -> Value {
        self.wait_for(id, "an end", |r| {
            !["running", "paused", "rolling_back"].contains(&r["state"].as_str().unwrap_or(""))
        })
        .await
    }

    /// `GET /` through the proxy `endpoint`: the status and the `x-loco-version` that served it.
    pub async fn through(&self, endpoint: &str) -> (u16, String) {
        let response = self.http.get(format!("http://{endpoint}/")).send().await.expect("the proxy answers");
        let version = response.headers().get("x-loco-version").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (response.status().as_u16(), version)
    }
}

/// `[{"version": v, "percent": 100}]`.
pub fn all_on(version: &str) -> Value {
    json!([{"version": version, "percent": 100}])
}

/// Clients sending `GET /` through a proxy endpoint until dropped, counting responses per
/// `x-loco-version` and status class.
pub struct Traffic {
    seen: Arc<Mutex<BTreeMap<(String, bool), u64>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Starts `clients` keep-alive clients against `endpoint`.
    pub fn start(endpoint: &str, clients: usize) -> Self {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
        let url = format!("http://{endpoint}/");
        let tasks = (0..clients)
            .map(|_| {
                let (seen, http, url) = (seen.clone(), http.clone(), url.clone());
                tokio::spawn(async move {
                    loop {
                        if let Ok(response) = http.get(&url).timeout(Duration::from_secs(5)).send().await {
                            let version = response
                                .headers()
                                .get("x-loco-version")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let ok = response.status().is_success();
                            let _ = response.bytes().await;
                            *seen.lock().unwrap().entry((version, ok)).or_default() += 1;
                        }
                        // Steady load, not a busy loop (and no spinning when the proxy is gone).
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Self { seen, tasks }
    }

    /// Responses so far from `version`, successful or not.
    pub fn count(&self, version: &str, ok: bool) -> u64 {
        self.seen.lock().unwrap().get(&(version.to_owned(), ok)).copied().unwrap_or(0)
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Live processes started for `service` (their environment holds `LOCO_SERVICE=<service>`).
pub fn service_processes(service: &str) -> Vec<u32> {
    let needle = format!("LOCO_SERVICE={service}");
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            // Unreadable or empty (a zombie's) environments are not live processes of ours.
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|raw| raw.split(|b| *b == 0).any(|entry| entry == needle.as_bytes()))
        })
        .collect()
}

/// Stops, when dropped, any process still running for `service` (a test that failed half-way
/// may leave a killed server's instances behind); a passing test leaves none to stop.
pub struct ServiceGuard(pub &'static str);

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        for pid in service_processes(self.0) {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}
