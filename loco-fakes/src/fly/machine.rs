//! One fake Fly machine: its full config, its state on the fake's logical clock, its checks,
//! events (newest first when shown), lease, and the log lines it writes as it moves.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::time::rfc3339_seconds;

/// Every state a machine (or one of its versions) can be in, as Fly names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineState {
    /// Created, not (yet) launched.
    Created,
    /// Booting.
    Starting,
    /// Running.
    Started,
    /// Being stopped.
    Stopping,
    /// Stopped (kept, can be started again).
    Stopped,
    /// Suspended (memory snapshot kept).
    Suspended,
    /// Being replaced by a new version after an update of a running machine.
    Replacing,
    /// Being updated while not running (settles back into the state it had).
    Updating,
    /// Being destroyed.
    Destroying,
    /// Gone.
    Destroyed,
    /// Gave up restarting after its process kept exiting.
    Failed,
}

impl MachineState {
    /// The name Fly uses (`started`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Created => "created",
            MachineState::Starting => "starting",
            MachineState::Started => "started",
            MachineState::Stopping => "stopping",
            MachineState::Stopped => "stopped",
            MachineState::Suspended => "suspended",
            MachineState::Replacing => "replacing",
            MachineState::Updating => "updating",
            MachineState::Destroying => "destroying",
            MachineState::Destroyed => "destroyed",
            MachineState::Failed => "failed",
        }
    }

    /// Whether the machine still exists (is neither destroying nor destroyed).
    pub fn exists(self) -> bool {
        !matches!(self, MachineState::Destroying | MachineState::Destroyed)
    }
}

/// How a machine's process behaves, chosen by its image tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Behaviour {
    /// Boots, its checks pass.
    Healthy,
    /// Tag contains `bad`: boots, but its checks never pass.
    NeverPasses,
    /// Tag contains `crash`: exits with code 1 right after booting, restarts until its restart
    /// policy gives up, then is `failed`.
    CrashLoops,
}

/// The parts of an image reference (`registry/repository:tag@digest`).
pub(super) struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> Self {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_owned())),
            None => (image, None),
        };
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[slash..].rfind(':') {
            Some(colon) => (&name[..slash + colon], name[slash + colon + 1..].to_owned()),
            None => (name, "latest".to_owned()),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        Self { registry, repository, tag, digest }
    }
}

pub(super) fn behaviour_of(image: &str) -> Behaviour {
    let tag = ImageRef::parse(image).tag;
    if tag.contains("crash") {
        Behaviour::CrashLoops
    } else if tag.contains("bad") {
        Behaviour::NeverPasses
    } else {
        Behaviour::Healthy
    }
}

/// A lease on a machine.
#[derive(Debug, Clone)]
pub(super) struct Lease {
    pub nonce: String,
    pub owner: String,
    pub description: String,
    pub expires_at_ms: u64,
    pub version: String,
}

impl Lease {
    pub fn to_json(&self) -> Value {
        json!({
            "status": "success",
            "data": {
                "nonce": self.nonce,
                "expires_at": self.expires_at_ms / 1000,
                "owner": self.owner,
                "description": self.description,
                "version": self.version,
            }
        })
    }
}

/// A log line a machine wrote.
pub(super) struct Written {
    pub level: &'static str,
    pub message: String,
}

fn written(level: &'static str, message: impl Into<String>) -> Written {
    Written { level, message: message.into() }
}

/// One machine, including destroyed ones (shown with `include_deleted`).
#[derive(Debug, Clone)]
pub(super) struct Machine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: MachineState,
    /// Where `updating` settles (the state the machine had before a `skip_launch` update).
    pub after_update: MachineState,
    /// A `created` machine launches on the next tick unless it was created with `skip_launch`.
    pub launch_pending: bool,
    pub instance_id: String,
    pub past_versions: Vec<String>,
    pub config: Value,
    pub cordoned: bool,
    /// Oldest first; shown newest first.
    pub events: Vec<Value>,
    /// Ticks spent `started` in the current run; `None` when not started.
    pub started_ticks: Option<u32>,
    pub ever_started: bool,
    pub restart_count: u32,
    pub lease: Option<Lease>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub private_ip: String,
}

impl Machine {
    pub fn image(&self) -> &str {
        self.config.get("image").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn behaviour(&self) -> Behaviour {
        behaviour_of(self.image())
    }

    pub fn metadata(&self) -> BTreeMap<String, String> {
        string_map(self.config.get("metadata"))
    }

    pub fn env(&self) -> BTreeMap<String, String> {
        string_map(self.config.get("env"))
    }

    /// Records an event (`type`, `status`, `source`, optional `request`).
    pub fn event(&mut self, kind: &str, status: &str, source: &str, request: Option<Value>, now_ms: u64) {
        let mut event = json!({
            "id": ulid::Ulid::new().to_string(),
            "type": kind,
            "status": status,
            "source": source,
            "timestamp": now_ms,
        });
        if let Some(request) = request {
            event["request"] = request;
        }
        self.events.push(event);
        self.updated_at_ms = now_ms;
    }

    /// Moves to `state`, recording when.
    pub fn set(&mut self, state: MachineState, now_ms: u64) {
        self.state = state;
        self.updated_at_ms = now_ms;
        if state != MachineState::Started {
            self.started_ticks = None;
        }
    }

    /// Drops the lease if its TTL ran out.
    pub fn expire_lease(&mut self, now_ms: u64) {
        if self.lease.as_ref().is_some_and(|l| l.expires_at_ms <= now_ms) {
            self.lease = None;
        }
    }

    /// How many restarts the restart policy allows (`None`: forever).
    fn max_restarts(&self) -> Option<u32> {
        let restart = self.config.get("restart");
        match restart.and_then(|r| r.get("policy")).and_then(Value::as_str) {
            Some("no") => Some(0),
            Some("always") => None,
            _ => Some(
                restart
                    .and_then(|r| r.get("max_retries"))
                    .and_then(Value::as_u64)
                    .map_or(10, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            ),
        }
    }

    /// One step of the logical clock; returns the log lines written.
    pub fn tick(&mut self, now_ms: u64, app: &str) -> Vec<Written> {
        match self.state {
            MachineState::Created if self.launch_pending => {
                self.launch_pending = false;
                self.set(MachineState::Starting, now_ms);
                Vec::new()
            }
            MachineState::Starting => self.boot(now_ms, app),
            MachineState::Started => {
                if self.behaviour() == Behaviour::CrashLoops {
                    return self.crash(now_ms);
                }
                self.started_ticks = self.started_ticks.map(|t| t.saturating_add(1));
                Vec::new()
            }
            MachineState::Stopping => {
                self.set(MachineState::Stopped, now_ms);
                let exit = exit_request(0, true, false, self.restart_count, now_ms);
                self.event("exit", "stopped", "flyd", Some(exit), now_ms);
                vec![written("info", "Main child exited normally with code: 0")]
            }
            MachineState::Replacing => {
                self.set(MachineState::Starting, now_ms);
                Vec::new()
            }
            MachineState::Updating => {
                let settle = self.after_update;
                self.set(settle, now_ms);
                Vec::new()
            }
            MachineState::Destroying => {
                self.set(MachineState::Destroyed, now_ms);
                self.event("destroy", "destroyed", "flyd", None, now_ms);
                self.lease = None;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn boot(&mut self, now_ms: u64, app: &str) -> Vec<Written> {
        self.set(MachineState::Started, now_ms);
        self.started_ticks = Some(0);
        self.ever_started = true;
        self.event("start", "started", "flyd", None, now_ms);
        let image = ImageRef::parse(self.image());
        vec![
            written("info", format!("Pulling container image {}/{}:{}", image.registry, image.repository, image.tag)),
            written("info", "Starting init (commit: 15c8f4a)..."),
            written("info", format!("Preparing to run: `/app/server` as root (machine {})", self.id)),
            written("info", format!("{app} listening on 0.0.0.0:{}", self.internal_port())),
        ]
    }

    fn crash(&mut self, now_ms: u64) -> Vec<Written> {
        self.restart_count += 1;
        let gives_up = self.max_restarts().is_some_and(|max| self.restart_count > max);
        let exit = exit_request(1, false, !gives_up, self.restart_count, now_ms);
        self.event("exit", if gives_up { "failed" } else { "stopped" }, "flyd", Some(exit), now_ms);
        self.set(if gives_up { MachineState::Failed } else { MachineState::Starting }, now_ms);
        vec![
            written("error", "Error: the server panicked: simulated crash (image tag asks for it)"),
            written("info", "Main child exited normally with code: 1"),
        ]
    }

    fn internal_port(&self) -> u64 {
        self.config
            .get("services")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .and_then(|s| s.get("internal_port"))
            .and_then(Value::as_u64)
            .unwrap_or(8080)
    }

    /// The names of the checks its config defines: top-level `checks` by key, service checks as
    /// `servicecheck-NN-TYPE-PORT`.
    pub fn check_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .config
            .get("checks")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for service in self.config.get("services").and_then(Value::as_array).into_iter().flatten() {
            let port = service.get("internal_port").and_then(Value::as_u64).unwrap_or(8080);
            for (i, check) in service.get("checks").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let kind = check.get("type").and_then(Value::as_str).unwrap_or("tcp");
                let port = check.get("port").and_then(Value::as_u64).unwrap_or(port);
                names.push(format!("servicecheck-{i:02}-{kind}-{port}"));
            }
        }
        names
    }

    /// Each check's name and status right now (none before the machine first started).
    pub fn check_statuses(&self) -> Vec<(String, &'static str, &'static str)> {
        let (status, output) = match (self.state, self.started_ticks) {
            (MachineState::Started, Some(0)) => ("warning", "the check has not passed yet (grace period)"),
            (MachineState::Started, Some(_)) if self.behaviour() == Behaviour::Healthy => ("passing", "OK"),
            (MachineState::Started, _) => ("critical", "dial tcp: connect: connection refused"),
            _ if self.ever_started => ("critical", "the machine is not running"),
            _ => return Vec::new(),
        };
        self.check_names().into_iter().map(|name| (name, status, output)).collect()
    }

    /// Whether fly-proxy would route to it: started, uncordoned, every check passing.
    pub fn routable(&self) -> bool {
        self.state == MachineState::Started
            && !self.cordoned
            && self.check_statuses().iter().all(|(_, s, _)| *s == "passing")
    }

    /// The Machine JSON of the Machines API.
    pub fn to_json(&self, include_nonce: Option<&str>) -> Value {
        let image = ImageRef::parse(self.image());
        let digest = image.digest.clone().unwrap_or_else(|| fake_digest(self.image()));
        let checks: Vec<Value> = self
            .check_statuses()
            .into_iter()
            .map(|(name, status, output)| {
                json!({"name": name, "status": status, "output": output, "updated_at": rfc3339(self.updated_at_ms)})
            })
            .collect();
        let mut machine = json!({
            "id": self.id,
            "name": self.name,
            "state": self.state.as_str(),
            "region": self.region,
            "instance_id": self.instance_id,
            "version": self.instance_id,
            "private_ip": self.private_ip,
            "image_ref": {
                "registry": image.registry,
                "repository": image.repository,
                "tag": image.tag,
                "digest": digest,
                "labels": {},
            },
            "config": self.config,
            "checks": checks,
            "events": self.events.iter().rev().cloned().collect::<Vec<_>>(),
            "host_status": "ok",
            "cordoned": self.cordoned,
            "created_at": rfc3339(self.created_at_ms),
            "updated_at": rfc3339(self.updated_at_ms),
        });
        if let Some(nonce) = include_nonce {
            machine["nonce"] = json!(nonce);
        }
        machine
    }
}

fn exit_request(code: i64, requested_stop: bool, restarting: bool, restart_count: u32, now_ms: u64) -> Value {
    json!({
        "exit_event": {
            "exit_code": code,
            "guest_exit_code": code,
            "oom_killed": false,
            "requested_stop": requested_stop,
            "restarting": restarting,
            "exited_at": rfc3339(now_ms),
        },
        "restart_count": restart_count,
    })
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default()
}

/// A stable fake `sha256:` digest of an image reference.
fn fake_digest(image: &str) -> String {
    use std::hash::{Hash, Hasher};
    let parts: Vec<String> = (0u8..4)
        .map(|salt| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (salt, image).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        })
        .collect();
    format!("sha256:{}", parts.concat())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time in milliseconds.
pub(super) fn rfc3339(ms: u64) -> String {
    rfc3339_seconds(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_are_split_like_docker_does() {
        let r = ImageRef::parse("registry.fly.io/shop:deployment-01H@sha256:abc");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str(), r.digest.as_deref()),
            ("registry.fly.io", "shop", "deployment-01H", Some("sha256:abc"))
        );
        let r = ImageRef::parse("nginx");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_str()), ("docker.io", "nginx", "latest"));
        let r = ImageRef::parse("localhost:5000/team/app");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("localhost:5000", "team/app", "latest")
        );
        assert_eq!(behaviour_of("registry.fly.io/shop:v2-bad"), Behaviour::NeverPasses);
        assert_eq!(behaviour_of("registry.fly.io/shop:crash-v3"), Behaviour::CrashLoops);
        assert_eq!(behaviour_of("registry.fly.io/bad-name:v1"), Behaviour::Healthy, "only the tag counts");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_698_719_726_615), "2023-10-31T02:35:26Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
