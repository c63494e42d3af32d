//! # Loco platforms
//!
//! The [`Platform`] trait: how Loco runs releases somewhere. The orchestrator decides *what* to do
//! (start instances, shift traffic, stop instances, roll back); a platform does it on real
//! infrastructure — child processes behind a local proxy ([`local`]), a simulated fleet for tests
//! and benchmarks ([`memory`]), or a cloud API. Also here: instance health probes ([`health`]) and
//! the sources of per-version metrics canary analysis reads ([`metrics`]).
//!
//! This crate never touches storage: what a platform reports, the orchestrator records.
//!
//! Implementing an adapter: every method is idempotent where it can be (stopping a stopped
//! instance succeeds), instance ids are chosen by the orchestrator and persisted *before*
//! [`Platform::deploy`] is called (so a crash never leaves an instance the engine does not know
//! of), and errors are [`PlatformError`]s whose message is safe to record (no secrets).

pub mod child_env;
pub mod health;
pub mod local;
pub mod memory;
pub mod metrics;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use tokio::sync::mpsc;

pub use loco_types::platform::{
    HealthOutcome, Instance, InstanceHealth, InstanceState, LogLine, LogStream, PlatformStatus, Target, TrafficWeight,
};

use crate::metrics::MetricSource;

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
