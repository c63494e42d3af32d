//! `loco.parse_manifest` and `loco.manifest_schema`: the `service.yaml` manifest of
//! [`loco_core::manifest`], read without an engine and returned as plain JSON-shaped objects.

use loco_core::manifest;
use pyo3::prelude::*;

use crate::{error, value};

/// Reads a `service.yaml` manifest (YAML, or JSON) and checks it; returns it as a `dict` with the
/// defaults filled in. Every problem is raised at once, in the order of the file, as a
/// `loco.ValidationError` whose `details` give each problem's `field` (its path,
/// `stages[1].rollout.instances`), `message`, `line` and `column` (from 1). A manifest over
/// 256 KiB is refused before it is read (field `manifest`). Runs with the GIL released.
#[pyfunction]
pub fn parse_manifest<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    match py.detach(|| manifest::parse(text)) {
        Ok(parsed) => value::to_python(py, &parsed),
        Err(e) => Err(error::to_pyerr(py, &e)),
    }
}

/// The JSON Schema (draft 2020-12) of a manifest, as a `dict`: the document in
/// `schema/manifest.schema.json`, for editors and other validators.
#[pyfunction]
pub fn manifest_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    value::to_python(py, &manifest::schema())
}
