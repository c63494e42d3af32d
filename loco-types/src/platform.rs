//! What platforms run and report: targets, instances, traffic splits, instance health, platform
//! status and log lines — the facts the orchestrator records and every surface shows.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a release runs: one service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The service name.
    pub service: String,
    /// The environment name.
    pub environment: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.environment)
    }
}

/// Lifecycle of one instance as the engine records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Its id is recorded; the platform may or may not have started it yet.
    Starting,
    /// The platform started it.
    Running,
    /// The platform stopped it (retired, rolled back or crashed).
    Stopped,
}

/// One running copy of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Instance {
    /// Chosen by the orchestrator (`ins_` + ULID) before the platform starts it.
    pub id: String,
    /// The release version it runs.
    pub version: String,
    /// Where it listens (`host:port`), when the platform exposes it.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub address: Option<String>,
    /// The process id, for platforms that run local processes.
    #[schemars(with = "crate::schema::Nullable<u32>")]
    pub pid: Option<u32>,
    /// What the engine last recorded about it.
    pub state: InstanceState,
}

/// A share of traffic for one release version, in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrafficWeight {
    /// The release version.
    pub version: String,
    /// Its share, 0–100; the shares of one split add up to 100.
    pub percent: u8,
}

/// What the platform says about one instance right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstanceHealth {
    /// Running as far as the platform can tell (probes decide whether it serves well).
    Running,
    /// Gone: the process exited or the platform lost it.
    Exited {
        /// Why, as the platform reports it (exit code, signal, platform status).
        reason: String,
    },
}

/// The platform's view of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlatformStatus {
    /// Where clients reach the target (the local proxy's address, a public URL), if any.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub endpoint: Option<String>,
    /// The current traffic split.
    pub traffic: Vec<TrafficWeight>,
    /// Instances the platform manages for the target.
    pub instances: Vec<Instance>,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of instance output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// The instance that wrote it.
    pub instance_id: String,
    /// Which stream.
    pub stream: LogStream,
    /// The text, without the trailing newline.
    pub line: String,
}

/// The result of checking one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthOutcome {
    /// The instance checked.
    pub instance_id: String,
    /// Whether every probe passed.
    pub ok: bool,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// What was checked.
    pub probes: Vec<String>,
    /// The last failure, or what passed.
    pub detail: String,
    /// The instance is gone (no retry can help).
    pub exited: bool,
    /// Wall time of the whole check, in milliseconds.
    pub duration_ms: u64,
}
