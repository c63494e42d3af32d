//! The [`Platform`] trait: how Loco runs releases somewhere. The orchestrator decides *what* to do
//! (start instances, shift traffic, stop instances, roll back); a platform does it on real
//! infrastructure — child processes behind a local proxy ([`local`]), a simulated fleet for tests
//! and benchmarks ([`memory`]), or a cloud API.
//!
//! Implementing an adapter: every method is idempotent where it can be (stopping a stopped
//! instance succeeds), instance ids are chosen by the orchestrator and persisted *before*
//! [`Platform::deploy`] is called (so a crash never leaves an instance the engine does not know
//! of), and errors are [`PlatformError`]s whose message is safe to record (no secrets).

pub mod local;
pub mod memory;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::analysis::MetricSource;
use crate::rollout::ReleaseSpec;

/// Where a release runs: one service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Chosen by the orchestrator (`ins_` + ULID) before the platform starts it.
    pub id: String,
    /// The release version it runs.
    pub version: String,
    /// Where it listens (`host:port`), when the platform exposes it.
    pub address: Option<String>,
    /// The process id, for platforms that run local processes.
    pub pid: Option<u32>,
    /// What the engine last recorded about it.
    pub state: InstanceState,
}

/// A share of traffic for one release version, in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficWeight {
    /// The release version.
    pub version: String,
    /// Its share, 0–100; the shares of one split add up to 100.
    pub percent: u8,
}

/// What the platform says about one instance right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformStatus {
    /// Where clients reach the target (the local proxy's address, a public URL), if any.
    pub endpoint: Option<String>,
    /// The current traffic split.
    pub traffic: Vec<TrafficWeight>,
    /// Instances the platform manages for the target.
    pub instances: Vec<Instance>,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of instance output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The instance that wrote it.
    pub instance_id: String,
    /// Which stream.
    pub stream: LogStream,
    /// The text, without the trailing newline.
    pub line: String,
}

/// A platform operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlatformError {
    /// What went wrong, safe to record in events (never contains secrets).
    pub message: String,
}

impl PlatformError {
    /// Builds an error from anything displayable.
    pub fn new(message: impl fmt::Display) -> Self {
        Self { message: message.to_string() }
    }
}

/// Result of a platform operation.
pub type PlatformResult<T> = Result<T, PlatformError>;

/// Something that can run releases: start instances, split traffic between release versions,
/// stop instances, report health and stream logs.
#[async_trait]
pub trait Platform: Send + Sync {
    /// The name plans use to choose this platform (`local`, `railway`, …).
    fn name(&self) -> &str;

    /// Checks that the platform is reachable and the credentials work.
    async fn test_connection(&self) -> PlatformResult<()>;

    /// Starts one instance of `release` for each id in `instance_ids` and returns them, running.
    /// New instances receive no traffic until [`Platform::set_traffic`] gives their version some.
    async fn deploy(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        instance_ids: &[String],
    ) -> PlatformResult<Vec<Instance>>;

    /// Splits the target's traffic between release versions. Within a version, requests are
    /// spread over its running instances.
    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()>;

    /// Stops instances (after taking them out of traffic). Stopping an unknown or already stopped
    /// instance succeeds.
    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()>;

    /// The platform's own view of one instance.
    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth>;

    /// The target's endpoint, traffic split and instances.
    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus>;

    /// Restores `to` as the only release serving the target: keeps those of `known` (instances of
    /// `to` recorded earlier) that still run, starts replacements for the rest with the ids in
    /// `replacement_ids` (taken in order), sends it 100 % of traffic, and stops every instance in
    /// `retire`. Returns the instances of `to` now serving. Must work in a fresh process after a
    /// crash, from recorded facts alone.
    async fn rollback(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
        retire: &[Instance],
    ) -> PlatformResult<Vec<Instance>>;

    /// Follows an instance's output: recent lines first, then new ones until the instance stops.
    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>>;

    /// Stops everything the platform runs for this engine (called when the engine closes).
    async fn shutdown(&self) -> PlatformResult<()>;

    /// The platform's own per-version metrics for canary analysis, if it measures any.
    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        None
    }
}
