//! [`TimeLimited`]: a platform whose calls fail once they take longer than a time limit, so a
//! platform that hangs cannot stall its caller. The orchestrator runs every rollout through one,
//! with limits taken from the plan's health settings ([`CallLimits::for_health`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use loco_types::plan::{HealthSpec, ReleaseSpec};
use tokio::sync::mpsc;

use crate::metrics::MetricSource;
use crate::{
    Capabilities, Instance, InstanceHealth, LogLine, Platform, PlatformError, PlatformResult, PlatformStatus, Target,
    TrafficWeight,
};

/// How long each kind of call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Calls that only ask (`health`, `status`, `logs`, `take_failovers`, `test_connection`).
    pub query: Duration,
    /// Calls that change something (`deploy`, `restore`, `set_traffic`).
    pub change: Duration,
    /// Calls that stop instances (`stop`, `shutdown`), which may wait for a graceful exit.
    pub stop: Duration,
}

/// The least time a stop is given: a process may take its grace period to exit before it is
/// killed (5 s on the local platform), and a cloud may take longer to drain a machine.
pub const STOP_AT_LEAST: Duration = Duration::from_secs(30);

impl CallLimits {
    /// The limits of a rollout with these health settings: a query may take as long as one health
    /// attempt (`timeout_seconds`); a change as long as a whole health check of one instance may
    /// (every attempt timing out, every backoff waited) — with the defaults, 10 s and 75.5 s; a
    /// stop as long as a change, and never less than [`STOP_AT_LEAST`].
    pub fn for_health(spec: &HealthSpec) -> Self {
        let backoffs: Duration = (0..spec.retries).map(|retry| spec.backoff(retry)).sum();
        let attempts = spec.timeout().saturating_mul(spec.retries.saturating_add(1));
        let change = attempts.saturating_add(backoffs);
        Self { query: spec.timeout(), change, stop: change.max(STOP_AT_LEAST) }
    }
}

/// A platform whose calls fail with a [`PlatformError`] once they exceed their [`CallLimits`].
/// A call past its limit is abandoned (its future dropped); whether it took effect is unknown,
/// as after any failed call.
pub struct TimeLimited {
    inner: Arc<dyn Platform>,
    limits: CallLimits,
}

impl TimeLimited {
    /// Limits the calls of `inner` (keeping its name).
    pub fn new(inner: Arc<dyn Platform>, limits: CallLimits) -> Self {
        Self { inner, limits }
    }

    async fn within<T>(
        &self,
        what: &str,
        limit: Duration,
        call: impl Future<Output = PlatformResult<T>>,
    ) -> PlatformResult<T> {
        // One span per platform call, under the rollout's (its deployment and request): a trace
        // shows every call with its duration, and a failed one with its error. Reads (health,
        // status, logs) are frequent and get a debug-level span.
        let span = if matches!(what, "health" | "status" | "logs") {
            tracing::debug_span!(
                "platform_call",
                call = what,
                platform = self.inner.name(),
                error = tracing::field::Empty
            )
        } else {
            tracing::info_span!(
                "platform_call",
                call = what,
                platform = self.inner.name(),
                error = tracing::field::Empty
            )
        };
        let outcome = tracing::Instrument::instrument(tokio::time::timeout(limit, call), span.clone())
            .await
            .unwrap_or_else(|_| {
                Err(PlatformError::new(format!(
                    "{what} on platform '{}' did not answer within {} s",
                    self.inner.name(),
                    limit.as_secs_f64()
                )))
            });
        if let Err(e) = &outcome {
            span.record("error", tracing::field::display(e));
        }
        outcome
    }
}

#[async_trait]
impl Platform for TimeLimited {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn plan_shares(&self, target: &Target, version: &str, shares: &[u8]) -> PlatformResult<()> {
        self.within("plan_shares", self.limits.change, self.inner.plan_shares(target, version, shares)).await
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        self.within("test_connection", self.limits.query, self.inner.test_connection()).await
    }

    async fn deploy(&self, target: &Target, release: &ReleaseSpec, ids: &[String]) -> PlatformResult<Vec<Instance>> {
        self.within("deploy", self.limits.change, self.inner.deploy(target, release, ids)).await
    }

    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        self.within("set_traffic", self.limits.change, self.inner.set_traffic(target, split)).await
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        self.within("stop", self.limits.stop, self.inner.stop(target, instances)).await
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        self.within("health", self.limits.query, self.inner.health(target, instance)).await
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        self.within("status", self.limits.query, self.inner.status(target)).await
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        self.within("restore", self.limits.change, self.inner.restore(target, to, known, replacement_ids)).await
    }

    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        self.within("logs", self.limits.query, self.inner.logs(target, instance_id)).await
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        self.within("shutdown", self.limits.stop, self.inner.shutdown()).await
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        self.inner.metric_source()
    }

    fn instances_die_with_engine(&self) -> bool {
        self.inner.instances_die_with_engine()
    }

    async fn take_failovers(&self, target: &Target) -> PlatformResult<Vec<(String, u64)>> {
        self.within("take_failovers", self.limits.query, self.inner.take_failovers(target)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::{ChaosConfig, ChaosPlatform, Faults, Operation};
    use crate::memory::MemoryPlatform;

    #[test]
    fn limits_follow_the_health_settings() {
        let limits = CallLimits::for_health(&HealthSpec::default());
        assert_eq!(limits.query, Duration::from_secs(10));
        assert_eq!(limits.change, Duration::from_millis(75_500), "6 × 10 s + 0.5 + 1 + 2 + 4 + 8 s");
        assert_eq!(limits.stop, Duration::from_millis(75_500));
        let quick = HealthSpec { timeout_seconds: 0.5, retries: 1, ..HealthSpec::default() };
        assert_eq!(CallLimits::for_health(&quick).stop, STOP_AT_LEAST);
    }

    #[tokio::test]
    async fn a_hung_call_fails_at_its_limit() {
        let hangs = ChaosConfig::new(1).faults(Operation::SetTraffic, Faults { hang: 1.0, ..Faults::default() });
        let chaos = Arc::new(ChaosPlatform::new(Arc::new(MemoryPlatform::new("sim")), hangs));
        let limits = CallLimits {
            query: Duration::from_millis(10),
            change: Duration::from_millis(30),
            stop: Duration::from_millis(30),
        };
        let limited = TimeLimited::new(chaos, limits);
        let target = Target { service: "api".into(), environment: "prod".into() };
        let err = limited.set_traffic(&target, &[]).await.unwrap_err();
        assert_eq!(err.message, "set_traffic on platform 'sim' did not answer within 0.03 s");
        assert!(limited.status(&target).await.is_ok());
    }
}
