//! # Loco platforms
//!
//! The [`Platform`] trait: how Loco runs releases somewhere. The orchestrator decides *what* to do
//! (start instances, shift traffic, stop instances, roll back); a platform does it on real
//! infrastructure — child processes behind a local proxy ([`local`]), a simulated fleet for tests
//! and benchmarks ([`memory`]), or a cloud API. Also here: instance health probes ([`health`]),
//! the sources of per-version metrics canary analysis reads ([`metrics`]), time limits on every
//! call ([`time_limit`]), deployment scripts ([`scripts`]), pre-deployment validation of the
//! artifact, configuration, secrets and dependencies ([`validate`]), the probes and metric
//! sources a host registers by name ([`extensions`]), and fault injection for testing callers
//! and adapters ([`chaos`]).
//!
//! This crate never touches storage: what a platform reports, the orchestrator records.
//!
//! Implementing an adapter: every method is idempotent where it can be (stopping a stopped
//! instance succeeds), instance ids are chosen by the orchestrator and persisted *before*
//! [`Platform::deploy`] is called (so a crash never leaves an instance the engine does not know
//! of), and errors are [`PlatformError`]s whose message is safe to record (no secrets).

pub mod chaos;
pub mod child_env;
pub mod extensions;
pub mod fly;
pub mod health;
pub mod http;
pub mod local;
pub mod memory;
pub mod metrics;
pub mod railway;
pub mod render;
pub mod scripts;
mod swap;
pub mod time_limit;
pub mod validate;
pub mod vercel;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use loco_types::plan::ReleaseSpec;
use tokio::sync::mpsc;

pub use loco_types::platform::{
    Capabilities, HealthOutcome, Instance, InstanceHealth, InstanceState, LogLine, LogStream, PlatformStatus, Target,
    TrafficControl, TrafficWeight,
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

    /// What the platform can do: how it splits traffic, whether it rolls back natively, whether
    /// it has logs and metrics. Plans that need more are refused before anything starts.
    fn capabilities(&self) -> Capabilities;

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

    /// Brings release `to` back without giving it traffic: keeps those of `known` (instances of
    /// `to` recorded earlier) that still run, taking them back into the pool of `to`'s version,
    /// and starts replacements for the rest with the ids in `replacement_ids` (taken in order;
    /// at least one instance runs afterwards). Returns the instances of `to` now running. The
    /// orchestrator then health-checks them, and only then moves the traffic
    /// ([`Platform::set_traffic`]) and stops what it retires ([`Platform::stop`]). Must work in a
    /// fresh process after a crash, from recorded facts alone.
    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>>;

    /// Follows an instance's output: recent lines first, then new ones until the instance stops.
    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>>;

    /// Stops everything the platform runs for this engine (called when the engine closes).
    async fn shutdown(&self) -> PlatformResult<()>;

    /// The platform's own per-version metrics for canary analysis, if it measures any.
    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        None
    }

    /// True when the platform's instances stop with the engine (the local platform's child
    /// processes): an engine starting again then brings back the release each target was serving.
    fn instances_die_with_engine(&self) -> bool {
        false
    }

    /// Called once before a rollout's steps run (and again when a rollout resumes) with every
    /// share, in order, that the steps will give `version` through
    /// [`set_traffic`](Platform::set_traffic). Platforms that move traffic in stages fixed in
    /// advance (Vercel's rolling releases) configure them here; others need nothing.
    async fn plan_shares(&self, _target: &Target, _version: &str, _shares: &[u8]) -> PlatformResult<()> {
        Ok(())
    }

    /// Requests that a traffic split sent to a version without a ready instance and that went to
    /// another version instead, per version, since the last call.
    async fn take_failovers(&self, _target: &Target) -> PlatformResult<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
}
