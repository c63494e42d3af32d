//! Deployment metrics in Prometheus/OpenMetrics text format, named as in the requirements
//! (`sparki_deployment_*`). The engine records them; any surface can expose them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use std::time::Duration;

use loco_rollout::{RolloutLabels, RolloutObserver};
use loco_types::Error;
use loco_types::lifecycle::{Action, Status};
use loco_types::model::Deployment;
use loco_types::plan::ValidationReport;

/// The label value used while a deployment has no platform or strategy (lifecycle-only use).
pub const NONE_LABEL: &str = "none";
/// The stage label of every metric beyond the first [`MAX_VALIDATION_STAGES`] environments.
pub const OTHER_LABEL: &str = "other";
/// Distinct environments every metric's `stage` label names individually.
pub const MAX_VALIDATION_STAGES: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabels {
    stage: String,
    platform: String,
    strategy: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    stage: String,
    platform: String,
    strategy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ValidationLabels {
    stage: String,
    error_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    stage: String,
    check_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RollbackLabels {
    trigger_reason: String,
    automatic: String,
}

/// The engine's metrics registry.
pub struct Metrics {
    registry: Registry,
    deployments: Family<DeploymentLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    validation_errors: Family<ValidationLabels, Counter>,
    rollbacks: Family<RollbackLabels, Counter>,
    health_checks: Family<HealthLabels, Histogram, fn() -> Histogram>,
    executing: Gauge,
    validation_stages: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Buckets of `sparki_deployment_duration_seconds`, from the requirements.
const DURATION_BUCKETS: [f64; 7] = [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
/// Buckets of `sparki_deployment_health_check_duration_seconds`: from one quick probe to the
/// requirements' two-minute limit for a health check.
const HEALTH_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let deployments = Family::<DeploymentLabels, Counter>::default();
        let validation_errors = Family::<ValidationLabels, Counter>::default();
        let rollbacks = Family::<RollbackLabels, Counter>::default();
        let durations: Family<DurationLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        let health_checks: Family<HealthLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(HEALTH_BUCKETS));
        registry.register(
            "sparki_deployment",
            "Deployments reaching each status, by stage (environment), platform and strategy",
            deployments.clone(),
        );
        registry.register(
            "sparki_deployment_validation_errors",
            "Rejected deployment requests, by stage and invalid field",
            validation_errors.clone(),
        );
        registry.register(
            "sparki_deployment_rollback",
            "Rollbacks, by trigger and whether automatic",
            rollbacks.clone(),
        );
        registry.register(
            "sparki_deployment_duration_seconds",
            "Deployment duration from start to its final state, by stage, platform and strategy (none for \
             deployments finished without a rollout)",
            durations.clone(),
        );
        let executing = Gauge::default();
        registry.register(
            "loco_rollouts_executing",
            "Rollouts this engine is executing now (sum over replicas for the rollouts in flight)",
            executing.clone(),
        );
        registry.register(
            "sparki_deployment_health_check_duration_seconds",
            "Health checks of new instances, retries included, by stage and probe types",
            health_checks.clone(),
        );
        Self {
            registry,
            deployments,
            durations,
            validation_errors,
            rollbacks,
            health_checks,
            executing,
            validation_stages: std::sync::Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts a deployment that reached its current status (outside any rollout).
    pub fn record_status(&self, deployment: &Deployment) {
        self.count(&deployment.environment, NONE_LABEL, NONE_LABEL, deployment.status);
    }

    /// Observes the duration of a deployment that finished without a rollout.
    pub fn record_lifecycle_duration(&self, deployment: &Deployment, elapsed: Duration) {
        self.durations
            .get_or_create(&DurationLabels {
                stage: self.stage(&deployment.environment).to_owned(),
                platform: NONE_LABEL.to_owned(),
                strategy: NONE_LABEL.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The stage label of `environment`: itself while it is one of the first
    /// [`MAX_VALIDATION_STAGES`] environments seen, `other` after, so no label set can grow
    /// without bound.
    fn stage<'a>(&self, environment: &'a str) -> &'a str {
        if self.admit_stage(environment) { environment } else { OTHER_LABEL }
    }

    fn count(&self, stage: &str, platform: &str, strategy: &str, status: Status) {
        self.deployments
            .get_or_create(&DeploymentLabels {
                stage: self.stage(stage).to_owned(),
                platform: platform.to_owned(),
                strategy: strategy.to_owned(),
                status: status.as_str().to_owned(),
            })
            .inc();
    }

    /// Counts a refused creation request once per invalid field. The stage label is the
    /// environment only when that field itself was valid and one of the first
    /// [`MAX_VALIDATION_STAGES`] seen; otherwise `other`, so bad input cannot grow the label set.
    pub fn record_validation_error(&self, environment: &str, error: &Error) {
        let environment_ok = !error.details().iter().any(|d| d.field == "environment");
        let environment = if environment_ok && self.admit_stage(environment) { environment } else { OTHER_LABEL };
        for detail in error.details() {
            // `work_refs[3]` and `work_refs` are one error type; keeps label cardinality bounded.
            let field = detail.field.split('[').next().unwrap_or_default();
            self.validation_errors
                .get_or_create(&ValidationLabels { stage: environment.to_owned(), error_type: field.to_owned() })
                .inc();
        }
    }

    fn admit_stage(&self, environment: &str) -> bool {
        let mut seen = self.validation_stages.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(environment) {
            return true;
        }
        seen.len() < MAX_VALIDATION_STAGES && seen.insert(environment.to_owned())
    }

    /// Counts a rollback; `reason` is `manual` for a person's rollback, else the failure code.
    pub fn record_rollback(&self, reason: &str, automatic: bool) {
        self.rollbacks
            .get_or_create(&RollbackLabels { trigger_reason: reason.to_owned(), automatic: automatic.to_string() })
            .inc();
    }

    /// Records what a successful lifecycle action means for the metrics.
    pub(crate) fn record_action(&self, action: Action, after: &Deployment) {
        self.record_status(after);
        if action == Action::Rollback && after.status == Status::RolledBack {
            self.record_rollback("manual", false);
        }
    }

    /// Appends this registry's metrics in OpenMetrics text, without the closing `# EOF`, so a
    /// server can add its own registry after it.
    pub fn encode_into(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = encode_registry(out, &self.registry);
    }

    /// The complete OpenMetrics text exposition, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        let _ = encode_eof(&mut out);
        out
    }
}

impl RolloutObserver for Metrics {
    fn status(&self, labels: RolloutLabels<'_>, status: Status, elapsed: Option<Duration>) {
        self.count(labels.environment, labels.platform, labels.strategy, status);
        if let Some(elapsed) = elapsed {
            self.durations
                .get_or_create(&DurationLabels {
                    stage: self.stage(labels.environment).to_owned(),
                    platform: labels.platform.to_owned(),
                    strategy: labels.strategy.to_owned(),
                })
                .observe(elapsed.as_secs_f64());
        }
    }

    fn rollback(&self, trigger: &str, automatic: bool) {
        self.record_rollback(trigger, automatic);
    }

    /// Counts each blocking finding of a refused release as `<check>.<rule>` (rules are a
    /// fixed set, so the label stays bounded).
    fn executing(&self, change: i64) {
        self.executing.inc_by(change);
    }

    fn health_check(&self, environment: &str, check_type: &str, duration: Duration) {
        let labels = HealthLabels { stage: self.stage(environment).to_owned(), check_type: check_type.to_owned() };
        self.health_checks.get_or_create(&labels).observe(duration.as_secs_f64());
    }

    fn validation(&self, environment: &str, report: &ValidationReport) {
        let environment = self.stage(environment);
        for finding in report.blocking() {
            let error_type = format!("{}.{}", finding.check.as_str(), finding.rule);
            self.validation_errors.get_or_create(&ValidationLabels { stage: environment.to_owned(), error_type }).inc();
        }
    }
}
