//! The Machines API calls the adapter makes, typed: apps, machines (list, get, create), leases,
//! cordon/uncordon, stop, `/wait`, destroy, and the logs endpoint — each with its retry class.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{HttpClient, HttpError, Retry};

/// The lease nonce header.
const NONCE: &str = "fly-machine-lease-nonce";

/// The parts of a Machine the adapter reads.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Machine {
    pub id: String,
    pub state: String,
    #[serde(default)]
    pub config: Value,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub cordoned: bool,
    #[serde(default)]
    pub created_at: String,
}

/// One check's last result.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Check {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub output: String,
}

/// One machine event (newest first in a Machine).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Event {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub request: Value,
}

impl Machine {
    /// `config.metadata[key]`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.config.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str)
    }

    /// `config.image`.
    pub fn image(&self) -> &str {
        self.config.get("image").and_then(Value::as_str).unwrap_or_default()
    }

    /// Neither destroying nor destroyed.
    pub fn exists(&self) -> bool {
        !matches!(self.state.as_str(), "destroying" | "destroyed")
    }

    /// How many checks its config defines (top-level and per service).
    pub fn defined_checks(&self) -> usize {
        let top = self.config.get("checks").and_then(Value::as_object).map_or(0, serde_json::Map::len);
        let services: usize = self
            .config
            .get("services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| s.get("checks").and_then(Value::as_array).map_or(0, Vec::len))
            .sum();
        top + services
    }

    /// The crash loop of the current version, if any: an exit with a non-zero code after more
    /// than one restart (flyctl's smoke check), since the machine was last created or updated.
    /// Returns (exit code, restart count).
    pub fn crash_loop(&self) -> Option<(i64, u64)> {
        self.events
            .iter()
            .take_while(|e| e.kind != "launch" && e.kind != "update")
            .filter(|e| e.kind == "exit")
            .find_map(|e| {
                let code = e.request.get("exit_event").and_then(|x| x.get("exit_code")).and_then(Value::as_i64)?;
                let restarts = e.request.get("restart_count").and_then(Value::as_u64)?;
                (code != 0 && restarts > 1).then_some((code, restarts))
            })
    }
}

/// A lease the adapter holds.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub nonce: String,
    /// The machine version (instance id) the lease was taken on.
    pub version: Option<String>,
}

#[derive(Deserialize)]
struct LeaseReply {
    data: LeaseData,
}

#[derive(Deserialize)]
struct LeaseData {
    nonce: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    version: Option<String>,
}

/// One page of app logs.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogPage {
    #[serde(default)]
    pub data: Vec<LogEntry>,
    #[serde(default)]
    pub meta: LogMeta,
}

/// Where the next page starts.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogMeta {
    #[serde(default)]
    pub next_token: String,
}

/// One log line.
#[derive(Debug, Deserialize)]
pub(super) struct LogEntry {
    pub attributes: LogAttributes,
}

/// Its fields.
#[derive(Debug, Deserialize)]
pub(super) struct LogAttributes {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub level: String,
}

/// The Machines API of one app.
#[derive(Debug, Clone)]
pub(super) struct Api {
    pub machines: HttpClient,
    pub logs: HttpClient,
    pub app: String,
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// The outcome of a call is unknown: no answer, a timeout, or a 5xx after which the provider may
/// or may not have acted.
pub(super) fn unknown_outcome(e: &HttpError) -> bool {
    e.status.is_none_or(|s| s >= 500 || s == 408)
}

impl Api {
    fn machines_path(&self) -> String {
        format!("/v1/apps/{}/machines", self.app)
    }

    fn machine_path(&self, id: &str) -> String {
        format!("/v1/apps/{}/machines/{id}", self.app)
    }

    /// `GET /v1/apps/{app}`.
    pub async fn app(&self) -> Result<Value, HttpError> {
        self.machines.get(&format!("/v1/apps/{}", self.app)).await
    }

    /// `GET /v1/apps/{app}/machines?metadata.k=v…` (existing machines only).
    pub async fn list(&self, metadata: &[(&str, &str)]) -> Result<Vec<Machine>, HttpError> {
        let keys: Vec<String> = metadata.iter().map(|(k, _)| format!("metadata.{k}")).collect();
        let pairs: Vec<(&str, &str)> = keys.iter().map(String::as_str).zip(metadata.iter().map(|(_, v)| *v)).collect();
        let path =
            if pairs.is_empty() { self.machines_path() } else { format!("{}?{}", self.machines_path(), query(&pairs)) };
        let machines: Vec<Machine> = self.machines.get(&path).await?;
        Ok(machines.into_iter().filter(Machine::exists).collect())
    }

    /// `GET /machines/{id}`; `None` when it is gone (404 or destroyed).
    pub async fn get(&self, id: &str) -> Result<Option<Machine>, HttpError> {
        match self.machines.get::<Machine>(&self.machine_path(id)).await {
            Ok(machine) => Ok(Some(machine).filter(|m| m.state != "destroyed")),
            Err(e) if e.is(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /machines`, made once: a create has no idempotency key (the caller resolves an
    /// unknown outcome by the name and metadata it chose).
    pub async fn create(&self, body: &Value) -> Result<Machine, HttpError> {
        let path = self.machines_path();
        let reply = self.machines.call(Method::POST, &path, Some(body), &[], Retry::Never).await?;
        reply.json(&format!("POST {path}"))
    }

    /// Takes a lease for `ttl_seconds` (as Fly's clients send it, in the query). `None` when the
    /// machine is gone. A lost answer is resolved by reading the lease back and recognising its
    /// description; a lease someone else holds is an error naming the holder.
    pub async fn lease(&self, id: &str, ttl_seconds: u64) -> Result<Option<Held>, HttpError> {
        let path = format!("{}/lease?ttl={ttl_seconds}", self.machine_path(id));
        let description = format!("loco {}", ulid::Ulid::new());
        let body = json!({ "ttl": ttl_seconds, "description": description });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.machines.call(Method::POST, &path, Some(&body), &[], Retry::Never).await {
                Ok(reply) => {
                    let lease: LeaseReply = reply.json(&format!("POST {path}"))?;
                    return Ok(Some(Held { nonce: lease.data.nonce, version: lease.data.version }));
                }
                Err(e) if e.is(404) => return Ok(None),
                Err(e) if e.is(409) || unknown_outcome(&e) => e,
                Err(e) => return Err(e),
            };
            match self.machines.get::<LeaseReply>(&format!("{}/lease", self.machine_path(id))).await {
                Ok(lease) if lease.data.description == description => {
                    return Ok(Some(Held { nonce: lease.data.nonce, version: lease.data.version }));
                }
                Err(e) if e.is(404) && self.get(id).await?.is_none() => return Ok(None),
                _ if error.is(409) || attempt >= 3 => return Err(error),
                _ => {}
            }
        }
    }

    /// `DELETE /machines/{id}/lease`; a lease already gone is fine.
    pub async fn release(&self, id: &str, held: &Held) -> Result<(), HttpError> {
        let path = format!("{}/lease", self.machine_path(id));
        match self.machines.call(Method::DELETE, &path, None, &[(NONCE, held.nonce.clone())], Retry::Idempotent).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /machines/{id}/{action}` with the lease nonce (`cordon`, `uncordon`, `stop`); `false`
    /// when the machine is gone. Repeating any of them changes nothing.
    pub async fn act(&self, id: &str, action: &str, held: &Held, body: Option<&Value>) -> Result<bool, HttpError> {
        let path = format!("{}/{action}", self.machine_path(id));
        match self.machines.call(Method::POST, &path, body, &[(NONCE, held.nonce.clone())], Retry::Idempotent).await {
            Ok(_) => Ok(true),
            Err(e) if e.is(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /machines/{id}/wait?state=stopped&instance_id=…&timeout=…`; `false` on Fly's 408.
    pub async fn wait_stopped(&self, id: &str, version: &str, timeout: Duration) -> Result<bool, HttpError> {
        let seconds = timeout.as_secs().clamp(1, 60).to_string();
        let path = format!(
            "{}/wait?{}",
            self.machine_path(id),
            query(&[("state", "stopped"), ("instance_id", version), ("timeout", &seconds)])
        );
        match self.machines.call(Method::GET, &path, None, &[], Retry::Idempotent).await {
            Ok(_) => Ok(true),
            Err(e) if e.is(408) || e.is(404) || e.is(400) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /machines/{id}?kill=true` with the lease nonce; a machine already gone is fine.
    pub async fn destroy(&self, id: &str, held: &Held) -> Result<(), HttpError> {
        let path = format!("{}?kill=true", self.machine_path(id));
        match self.machines.call(Method::DELETE, &path, None, &[(NONCE, held.nonce.clone())], Retry::Idempotent).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/apps/{app}/logs?instance=…&next_token=…` on the logs host.
    pub async fn logs(&self, machine_id: &str, next_token: &str) -> Result<LogPage, HttpError> {
        let mut pairs = vec![("instance", machine_id)];
        if !next_token.is_empty() {
            pairs.push(("next_token", next_token));
        }
        self.logs.get(&format!("/api/v1/apps/{}/logs?{}", self.app, query(&pairs))).await
    }
}

/// Fly's message in an error body: `error` (or a lease error's `message`), with its status code
/// (`name_taken`, `insufficient_capacity`) when it gives one.
pub(super) fn fly_message(body: &Value) -> Option<String> {
    let text = body.get("error").or_else(|| body.get("message")).and_then(Value::as_str)?;
    match body.get("status").and_then(Value::as_str).filter(|code| *code != "error" && *code != "success") {
        Some(code) => Some(format!("{text} ({code})")),
        None => Some(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(events: &Value) -> Machine {
        serde_json::from_value(json!({"id": "m1", "state": "started", "events": events})).unwrap()
    }

    fn exit(code: i64, restarts: u64) -> Value {
        json!({"type": "exit", "request": {"exit_event": {"exit_code": code}, "restart_count": restarts}})
    }

    #[test]
    fn a_crash_loop_is_a_nonzero_exit_after_more_than_one_restart_of_this_version() {
        assert_eq!(machine(&json!([exit(1, 2), exit(1, 1), {"type": "launch"}])).crash_loop(), Some((1, 2)));
        assert_eq!(machine(&json!([exit(1, 1), {"type": "launch"}])).crash_loop(), None, "one restart");
        assert_eq!(machine(&json!([exit(0, 3), {"type": "launch"}])).crash_loop(), None, "clean exits");
        assert_eq!(
            machine(&json!([{"type": "start"}, {"type": "update"}, exit(1, 5)])).crash_loop(),
            None,
            "the loop was before the last update"
        );
    }

    #[test]
    fn flys_error_bodies_give_their_message_and_code() {
        assert_eq!(
            fly_message(&json!({"error": "name taken", "status": "name_taken"})).as_deref(),
            Some("name taken (name_taken)")
        );
        assert_eq!(
            fly_message(&json!({"status": "error", "message": "lease currently held by x", "code": "invalid"}))
                .as_deref(),
            Some("lease currently held by x")
        );
        assert_eq!(fly_message(&json!({"nope": 1})), None);
    }
}
