//! Rollout plans, analysis thresholds, service definitions, freeze windows, approval gates,
//! reviewer groups and pipelines arrive from Python as JSON documents — a `dict` or a JSON `str`
//! with the same snake_case keys as in every other language — and are handed to the core as JSON
//! text, which alone parses and checks them, so validation errors name the fields as written in the
//! document (`strategy.steps[1]`, `thresholds.production.alpha`, `allowed_env[0]`, `schedule.cron`,
//! `approvers[1]`, `stages[2]`).

use loco_core::analysis::Thresholds;
use loco_core::freeze::FreezeWindow;
use loco_core::gate::{ApprovalGate, ReviewerGroup};
use loco_core::pipeline::Pipeline;
use loco_core::rollout::RolloutPlan;
use loco_core::service::ServiceDefinition;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// A document's JSON text: a `str` as given, a `dict` as `json.dumps` writes it.
pub struct Document(pub String);

impl<'a, 'py> FromPyObject<'a, 'py> for Document {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() {
            return Ok(Self(obj.extract()?));
        }
        if !obj.is_instance_of::<PyDict>() {
            let type_name = obj.get_type().name()?;
            return Err(PyTypeError::new_err(format!("must be a dict or a JSON string; got {type_name}")));
        }
        let py = obj.py();
        let text = py
            .import(intern!(py, "json"))?
            .call_method1(intern!(py, "dumps"), (obj,))
            .map_err(|e| PyTypeError::new_err(format!("cannot be written as JSON: {}", e.value(py))))?;
        Ok(Self(text.extract()?))
    }
}

impl Document {
    /// Parses and validates a rollout plan (`RolloutPlan::from_json`, the one place plans are
    /// checked).
    pub fn into_plan(self) -> loco_core::Result<RolloutPlan> {
        RolloutPlan::from_json(&self.0)
    }

    /// Parses and validates platform settings (`PlatformSettings::from_json`).
    pub fn into_platform_settings(self) -> loco_core::Result<loco_core::platform_config::PlatformSettings> {
        loco_core::platform_config::PlatformSettings::from_json(&self.0)
    }

    /// Parses and validates a service definition (`ServiceDefinition::from_json`).
    pub fn into_service_definition(self) -> loco_core::Result<ServiceDefinition> {
        ServiceDefinition::from_json(&self.0)
    }

    /// Parses and validates a freeze window (`FreezeWindow::from_json`).
    pub fn into_freeze_window(self) -> loco_core::Result<FreezeWindow> {
        FreezeWindow::from_json(&self.0)
    }

    /// Parses and validates an approval gate (`ApprovalGate::from_json`).
    pub fn into_approval_gate(self) -> loco_core::Result<ApprovalGate> {
        ApprovalGate::from_json(&self.0)
    }

    /// Parses and validates a reviewer group (`ReviewerGroup::from_json`).
    pub fn into_reviewer_group(self) -> loco_core::Result<ReviewerGroup> {
        ReviewerGroup::from_json(&self.0)
    }

    /// Parses and validates a pipeline (`Pipeline::from_json`).
    pub fn into_pipeline(self) -> loco_core::Result<Pipeline> {
        Pipeline::from_json(&self.0)
    }
}

/// The JSON document `{environment: thresholds, …}` the core reads analysis thresholds from
/// ([`Thresholds::by_environment_from_json`]): from `open`'s `thresholds` (a `dict` of environment
/// to document) or from one `set_thresholds(environment, document)`.
pub struct ThresholdsByEnvironment(String);

impl ThresholdsByEnvironment {
    /// One environment's document.
    pub fn one(environment: &str, thresholds: Document) -> Self {
        Self::from_entries([(environment.to_owned(), thresholds)])
    }

    /// The entries as one JSON object, each document's text placed as its value.
    fn from_entries(entries: impl IntoIterator<Item = (String, Document)>) -> Self {
        let members: Vec<String> = entries
            .into_iter()
            .map(|(environment, document)| format!("{}:{}", json_string(&environment), document.0))
            .collect();
        Self(format!("{{{}}}", members.join(",")))
    }

    /// The document as JSON text, for `EngineBuilder::thresholds_json`.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// Parses and checks the document: each environment's thresholds, problems named
    /// `thresholds.<environment>.<field>`.
    pub fn parse(&self) -> loco_core::Result<Vec<(String, Thresholds)>> {
        Ok(Thresholds::by_environment_from_json(&self.0)?.into_iter().collect())
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

impl<'a, 'py> FromPyObject<'a, 'py> for ThresholdsByEnvironment {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let dict = obj.cast::<PyDict>().map_err(|_| {
            let type_name = obj.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!("must be a dict of environment to thresholds; got {type_name}"))
        })?;
        let mut entries = Vec::with_capacity(dict.len());
        for (environment, thresholds) in dict.iter() {
            let environment: String = environment
                .extract()
                .map_err(|_| PyTypeError::new_err("environment names (the keys) must be strings"))?;
            let document = thresholds
                .extract::<Document>()
                .map_err(|e| PyTypeError::new_err(format!("[{environment:?}] {}", e.value(obj.py()))))?;
            entries.push((environment, document));
        }
        Ok(Self::from_entries(entries))
    }
}
