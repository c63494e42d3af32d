//! Deployment metrics in Prometheus/OpenMetrics text format, named as in the requirements
//! (`sparki_deployment_*`). The engine records them; any surface can expose them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::error::Error;
use crate::lifecycle::{Action, Status};
use crate::model::Deployment;

/// The label value used while a deployment has no platform or strategy (lifecycle-only use).
pub const NONE_LABEL: &str = "none";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabels {
    stage: String,
    platform: String,
    strategy: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ValidationLabels {
    stage: String,
    error_type: String,
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
    validation_errors: Family<ValidationLabels, Counter>,
    rollbacks: Family<RollbackLabels, Counter>,
}

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
        Self { registry, deployments, validation_errors, rollbacks }
    }
}

impl Metrics {
    /// Counts a deployment that reached its current status.
    pub fn record_status(&self, deployment: &Deployment) {
        self.deployments
            .get_or_create(&DeploymentLabels {
                stage: deployment.environment.clone(),
                platform: NONE_LABEL.to_owned(),
                strategy: NONE_LABEL.to_owned(),
                status: deployment.status.as_str().to_owned(),
            })
            .inc();
    }

    /// Counts a refused creation request once per invalid field.
    pub fn record_validation_error(&self, environment: &str, error: &Error) {
        for detail in error.details() {
            // `work_refs[3]` and `work_refs` are one error type; keeps label cardinality bounded.
            let field = detail.field.split('[').next().unwrap_or_default();
            self.validation_errors
                .get_or_create(&ValidationLabels { stage: environment.to_owned(), error_type: field.to_owned() })
                .inc();
        }
    }

    /// Counts a rollback; `reason` is `manual` for a person's rollback action.
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
