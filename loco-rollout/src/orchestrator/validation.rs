//! Pre-deployment validation of a rollout: the plan's checks run before anything starts; a
//! passed report is recorded just before `started`, a failed one alone, and refuses the start.

use loco_store::NewEvent;
use loco_types::event_data::EventData;
use loco_types::plan::{RolloutPlan, ValidationReport};
use loco_types::{Error, Result};

use super::Orchestrator;

impl Orchestrator {
    /// Runs the plan's pre-deployment checks (artifact, configuration, secrets, dependency
    /// scanners) and returns their report, passed or not; its secrets are opened only for the
    /// configuration checks and never appear in the report.
    pub async fn validate(&self, plan: &RolloutPlan) -> Result<ValidationReport> {
        let release = self.secrets.reveal(&plan.release)?;
        Ok(loco_platform::validate::run(&plan.validation, &release).await)
    }

    /// The events to record before `started`: none when the plan checks nothing, the passed
    /// report otherwise. A failed report is recorded on its own and refuses the start with
    /// `validation_failed`.
    pub(super) async fn validate_before_start(
        &self,
        id: &str,
        environment: &str,
        plan: &RolloutPlan,
        actor: &str,
    ) -> Result<Vec<NewEvent>> {
        if plan.validation.checks_nothing() {
            return Ok(Vec::new());
        }
        let report = self.validate(plan).await?;
        let note = format!("validation {}", report.describe());
        self.observer.validation(environment, &report);
        let event = NewEvent::new(actor, note, EventData::Validation(report.clone()));
        if report.passed {
            return Ok(vec![event]);
        }
        tracing::warn!(deployment_id = %id, report = %report.describe(), "validation refused the release");
        self.store.record_event(id, event).await?;
        Err(Error::validation_failed(id, report))
    }
}
