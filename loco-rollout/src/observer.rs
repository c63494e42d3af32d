//! [`RolloutObserver`]: what the orchestrator reports as rollouts move, so the engine can count
//! them (Prometheus metrics) without this crate knowing how.

use std::time::Duration;

use loco_types::lifecycle::Status;
use loco_types::plan::ValidationReport;

/// The labels a rollout's reports carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutLabels<'a> {
    /// The deployment's environment (the metrics' `stage`).
    pub environment: &'a str,
    /// The platform running it.
    pub platform: &'a str,
    /// The strategy's name.
    pub strategy: &'static str,
}

/// Receives the orchestrator's reports.
pub trait RolloutObserver: Send + Sync {
    /// A rollout's deployment reached `status`; `elapsed` (since the rollout started) is given
    /// for the final statuses `succeeded` and `rolled_back`.
    fn status(&self, labels: RolloutLabels<'_>, status: Status, elapsed: Option<Duration>);

    /// A rollout was rolled back; `trigger` is the failure code, or `manual`.
    fn rollback(&self, trigger: &str, automatic: bool);

    /// The pre-deployment checks of a rollout in `environment` produced `report`.
    fn validation(&self, environment: &str, report: &ValidationReport);

    /// This engine began (`+1`) or stopped (`-1`) executing a rollout.
    fn executing(&self, change: i64);

    /// A health check of a new instance in `environment` (probes of `check_type`, see
    /// `RolloutPlan::check_type`) took `duration`, retries included.
    fn health_check(&self, environment: &str, check_type: &str, duration: Duration);
}

/// An observer that ignores every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl RolloutObserver for Unobserved {
    fn status(&self, _: RolloutLabels<'_>, _: Status, _: Option<Duration>) {}
    fn rollback(&self, _: &str, _: bool) {}
    fn validation(&self, _: &str, _: &ValidationReport) {}
    fn health_check(&self, _: &str, _: &str, _: Duration) {}
    fn executing(&self, _: i64) {}
}
