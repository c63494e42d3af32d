//! Pipelines: the stages a service's releases go through, in order (`dev`, `staging`,
//! `production`). With a pipeline, a deployment of a version to a stage may be created only once
//! the same version has succeeded in the stage before it (unless the pipeline says
//! `require_previous_success: false`); the first stage, and environments the pipeline does not
//! name, take any version. The rule is checked in the transaction that creates the deployment,
//! so every surface and every engine on one database enforces it.
//!
//! Promoting a succeeded deployment creates the deployment of its version in the next stage
//! (same version, commit, work references, rollback plan and risk; the promoter is the
//! requester), with a `promoted` event naming where it came from, in the same transaction.
//!
//! ```
//! use loco_types::pipeline::Pipeline;
//! let web = Pipeline::from_json(r#"{"service": "web", "stages": ["dev", "staging", "production"]}"#).unwrap();
//! assert_eq!(web.previous("production"), Some("staging"));
//! assert_eq!(web.next("staging"), Some("production"));
//! assert_eq!(web.previous("dev"), None, "the first stage takes any version");
//! assert_eq!(web.previous("preview"), None, "environments outside the pipeline too");
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::event_data::{EventData, PromotedData};
use crate::lifecycle::{NAME_MAX_CHARS, Status};
use crate::model::{Deployment, NewDeployment, Timestamp};
use crate::rules::NewEvent;

/// The rule name of a create refused because the version has not succeeded in the stage before.
pub const RULE: &str = "promotion_order";
/// Most stages a pipeline may have.
pub const MAX_STAGES: usize = 10;

fn yes() -> bool {
    true
}

/// The stages of one service, in the order its releases go through them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The service (one pipeline per service; setting it again replaces it).
    pub service: String,
    /// Its environments in order, 2 to 10, each named once (compared exactly, as deployments
    /// name them).
    pub stages: Vec<String>,
    /// Whether a version must have succeeded in a stage before it is deployed to the next
    /// (default true); false keeps the order for promotion and the pipeline view only.
    #[serde(default = "yes")]
    pub require_previous_success: bool,
}

/// One stage of a version's way through its pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageState {
    /// The stage's environment.
    pub environment: String,
    /// The newest deployment of the version there, if any.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub deployment_id: Option<String>,
    /// Its status.
    #[schemars(with = "crate::schema::Nullable<Status>")]
    pub status: Option<Status>,
    /// When it last changed.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub updated_at: Option<Timestamp>,
}

/// Where one version of a service stands in its pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineView {
    /// The service.
    pub service: String,
    /// The version.
    pub version: String,
    /// Every stage in order.
    pub stages: Vec<StageState>,
    /// The stage the version goes to next: the first stage without a succeeded deployment of it
    /// (absent once it has succeeded in every stage).
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub next: Option<String>,
}

impl Pipeline {
    /// A pipeline from its JSON document; unknown fields are refused, and it is checked.
    pub fn from_json(text: &str) -> Result<Self> {
        let pipeline: Pipeline = serde_json::from_str(text).map_err(|e| Error::invalid("pipeline", e.to_string()))?;
        pipeline.validate()?;
        Ok(pipeline)
    }

    /// Checks every field, naming each bad one.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        if self.service.trim().is_empty() || self.service.chars().count() > NAME_MAX_CHARS {
            details.push(FieldError::new("service", "must be 1-256 characters, not blank"));
        }
        if !(2..=MAX_STAGES).contains(&self.stages.len()) {
            details.push(FieldError::new("stages", "must name 2 to 10 environments, in order"));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.trim().is_empty() || stage.chars().count() > NAME_MAX_CHARS {
                details.push(FieldError::new(format!("stages[{i}]"), "must be 1-256 characters, not blank"));
            } else if self.stages[..i].contains(stage) {
                details.push(FieldError::new(format!("stages[{i}]"), format!("names '{stage}' twice")));
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// The stage before `environment` (`None` for the first stage and environments outside).
    pub fn previous(&self, environment: &str) -> Option<&str> {
        let at = self.stages.iter().position(|s| s == environment)?;
        at.checked_sub(1).map(|i| self.stages[i].as_str())
    }

    /// The stage after `environment` (`None` for the last stage and environments outside).
    pub fn next(&self, environment: &str) -> Option<&str> {
        let at = self.stages.iter().position(|s| s == environment)?;
        self.stages.get(at + 1).map(String::as_str)
    }

    /// The stage a deployment to `environment` needs its version to have succeeded in first,
    /// when the pipeline requires it.
    pub fn prerequisite(&self, environment: &str) -> Option<&str> {
        if self.require_previous_success { self.previous(environment) } else { None }
    }
}

/// The refusal of a deployment of `version` to `environment`, which has not succeeded in
/// `previous` yet.
pub fn violation(pipeline: &Pipeline, environment: &str, version: &str, previous: &str) -> Error {
    Error::PolicyViolation {
        rule: RULE.to_owned(),
        name: pipeline.service.clone(),
        environment: environment.to_owned(),
        until: None,
        details: vec![FieldError::new(
            RULE,
            format!(
                "version '{version}' of '{}' has not succeeded in '{previous}', the stage before '{environment}' \
                 ({})",
                pipeline.service,
                pipeline.stages.join(" → ")
            ),
        )],
    }
}

/// The deployment promoting `source` (a succeeded deployment) creates in the stage after its
/// own, requested by `actor`, and the `promoted` event it carries. Refused when the service has
/// no pipeline or `source`'s stage is its last (`validation_error`), or `source` has not
/// succeeded (`policy_violation`, rule `promotion_order`).
pub fn promotion(pipeline: Option<&Pipeline>, source: &Deployment, actor: &str) -> Result<(NewDeployment, NewEvent)> {
    let Some(pipeline) = pipeline else {
        return Err(Error::invalid("service", format!("'{}' has no pipeline to promote along", source.service)));
    };
    let Some(next) = pipeline.next(&source.environment) else {
        let message = if pipeline.stages.contains(&source.environment) {
            format!("'{}' is the last stage of the pipeline of '{}'", source.environment, source.service)
        } else {
            format!("'{}' is not a stage of the pipeline of '{}'", source.environment, source.service)
        };
        return Err(Error::invalid("environment", message));
    };
    if source.status != Status::Succeeded {
        return Err(Error::PolicyViolation {
            rule: RULE.to_owned(),
            name: pipeline.service.clone(),
            environment: next.to_owned(),
            until: None,
            details: vec![FieldError::new(
                RULE,
                format!(
                    "deployment '{}' is {}; only a succeeded deployment is promoted to '{next}'",
                    source.id, source.status
                ),
            )],
        });
    }
    let new = NewDeployment {
        service: source.service.clone(),
        environment: next.to_owned(),
        version: source.version.clone(),
        requester: actor.to_owned(),
        work_refs: source.work_refs.clone(),
        rollback_plan: source.rollback_plan.clone(),
        risk: source.risk.clone(),
        commit: source.commit.clone(),
    };
    let event = NewEvent::new(
        actor,
        format!("promoted from {}", source.environment),
        EventData::Promoted(PromotedData {
            from_deployment: source.id.clone(),
            from_environment: source.environment.clone(),
        }),
    );
    Ok((new, event))
}

/// The view of `version` along `pipeline`, given the newest deployment of it in each stage
/// (`newest[i]` for `pipeline.stages[i]`).
pub fn view(pipeline: &Pipeline, version: &str, newest: Vec<Option<Deployment>>) -> PipelineView {
    let stages: Vec<StageState> = pipeline
        .stages
        .iter()
        .zip(newest)
        .map(|(environment, d)| StageState {
            environment: environment.clone(),
            deployment_id: d.as_ref().map(|d| d.id.clone()),
            status: d.as_ref().map(|d| d.status),
            updated_at: d.as_ref().map(|d| d.updated_at),
        })
        .collect();
    let done = |s: &StageState| s.status == Some(Status::Succeeded);
    let next = stages.iter().find(|s| !done(s)).map(|s| s.environment.clone());
    PipelineView { service: pipeline.service.clone(), version: version.to_owned(), stages, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Pipeline {
        Pipeline::from_json(r#"{"service": "web", "stages": ["dev", "staging", "production"]}"#).unwrap()
    }

    fn deployment(environment: &str, status: Status) -> Deployment {
        let at = Timestamp::parse("2026-12-02T10:00:00Z").unwrap();
        Deployment {
            id: format!("dep_{environment}"),
            service: "web".into(),
            environment: environment.into(),
            version: "1.2.0".into(),
            requester: "alice".into(),
            work_refs: vec!["W-1".into()],
            rollback_plan: "redeploy".into(),
            risk: Some("low".into()),
            commit: Some("abc123".into()),
            status,
            reviewed_by: None,
            reviewed_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_succeeded_deployment_is_promoted_to_the_next_stage_with_its_fields() {
        let (new, event) = promotion(Some(&three()), &deployment("staging", Status::Succeeded), "erin").unwrap();
        assert_eq!((new.environment.as_str(), new.requester.as_str()), ("production", "erin"));
        assert_eq!((new.version.as_str(), new.commit.as_deref()), ("1.2.0", Some("abc123")));
        assert_eq!(event.data.kind().as_str(), "promoted");
        assert_eq!(
            event.data.to_value(),
            serde_json::json!({"from_deployment": "dep_staging", "from_environment": "staging"})
        );
    }

    #[test]
    fn promotion_is_refused_before_success_after_the_last_stage_and_without_a_pipeline() {
        let failed = promotion(Some(&three()), &deployment("staging", Status::Failed), "erin").unwrap_err();
        assert_eq!((failed.code(), failed.details()[0].field.as_str()), ("policy_violation", RULE));
        let last = promotion(Some(&three()), &deployment("production", Status::Succeeded), "erin").unwrap_err();
        assert_eq!(last.details()[0].field, "environment");
        let outside = promotion(Some(&three()), &deployment("preview", Status::Succeeded), "erin").unwrap_err();
        assert_eq!(outside.details()[0].field, "environment");
        let none = promotion(None, &deployment("dev", Status::Succeeded), "erin").unwrap_err();
        assert_eq!(none.details()[0].field, "service");
    }

    #[test]
    fn the_view_names_the_first_stage_the_version_has_not_succeeded_in() {
        let p = three();
        let v = view(&p, "1.2.0", vec![Some(deployment("dev", Status::Succeeded)), None, None]);
        assert_eq!(v.next.as_deref(), Some("staging"));
        let v = view(&p, "1.2.0", vec![Some(deployment("dev", Status::Started)), None, None]);
        assert_eq!(v.next.as_deref(), Some("dev"), "dev has not succeeded yet");
        let v = view(&p, "1.2.0", vec![None, Some(deployment("staging", Status::Succeeded)), None]);
        assert_eq!(v.next.as_deref(), Some("dev"), "the first stage without a success comes next");
        let v = view(&p, "1.2.0", vec![None, None, None]);
        assert_eq!(v.next.as_deref(), Some("dev"));
        let all = ["dev", "staging", "production"].map(|e| Some(deployment(e, Status::Succeeded)));
        assert_eq!(view(&p, "1.2.0", all.to_vec()).next, None, "through every stage");
        let mut loose = three();
        loose.require_previous_success = false;
        assert_eq!(loose.prerequisite("production"), None);
        assert_eq!(three().prerequisite("production"), Some("staging"));
    }

    #[test]
    fn bad_pipelines_name_every_field() {
        let err = Pipeline::from_json(r#"{"service": "", "stages": ["dev", "", "dev"]}"#).unwrap_err();
        let fields: Vec<&str> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["service", "stages[1]", "stages[2]"]);
        let one = Pipeline::from_json(r#"{"service": "web", "stages": ["dev"]}"#).unwrap_err();
        assert_eq!(one.details()[0].field, "stages");
        let unknown = Pipeline::from_json(r#"{"service": "web", "stages": ["a", "b"], "gates": 1}"#).unwrap_err();
        assert_eq!(unknown.code(), "validation_error");
        assert!(Pipeline::from_json(r#"{"service": "web", "stages": ["a", "b"]}"#).unwrap().require_previous_success);
    }
}
