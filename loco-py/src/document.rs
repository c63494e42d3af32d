//! Rollout plans and analysis thresholds arrive from Python as JSON documents — a `dict` or a JSON
//! `str` with the same snake_case keys as in every other language — and are parsed and checked by
//! the core alone, so validation errors name the fields as written in the document.

use loco_core::Error;
use loco_core::analysis::Thresholds;
use loco_core::rollout::RolloutPlan;
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

/// `{environment: thresholds document}`, in the order given (the `thresholds` option of `open`).
pub struct ThresholdsByEnvironment(pub Vec<(String, Document)>);

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
        Ok(Self(entries))
    }
}

impl Document {
    /// Parses and validates a rollout plan (`RolloutPlan::from_json`, the one place plans are
    /// checked).
    pub fn into_plan(self) -> loco_core::Result<RolloutPlan> {
        RolloutPlan::from_json(&self.0)
    }

    /// Parses analysis thresholds given as `field` (`thresholds.production` for the environment
    /// `production` of `open`'s `thresholds`); with `validate`, the core's rules are checked too,
    /// with field names under `field`. A document that does not parse is reported against `field`
    /// as a whole, the message naming the culprit (loco-core has no `Thresholds::from_json`).
    pub fn into_thresholds(self, field: &str, validate: bool) -> loco_core::Result<Thresholds> {
        let parsed: Thresholds = serde_json::from_str(&self.0).map_err(|e| Error::invalid(field, e.to_string()))?;
        if validate {
            parsed.validate(&format!("{field}."))?;
        }
        Ok(parsed)
    }
}
