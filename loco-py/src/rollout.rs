//! The persisted facts of rollouts as immutable Python objects: `loco.Rollout` (state, plan,
//! progress with the latest analysis verdict, failure, the release it would restore) and
//! `loco.Release` (one entry of a service's release history). Attributes mirror the HTTP JSON
//! fields; nested records (the plan, progress, failure, release spec, instances) are the HTTP JSON
//! objects as `dict`s; `to_dict()` returns the whole HTTP JSON object.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::convert::{ToPython, repr, to_json_python};

/// `value` as the HTTP API's JSON, or `None`.
fn optional_json<'py, T: serde::Serialize>(py: Python<'py>, value: Option<&T>) -> PyResult<Bound<'py, PyAny>> {
    value.map_or_else(|| Ok(py.None().into_bound(py)), |v| to_json_python(py, v))
}

/// The durable record of one deployment's rollout.
#[pyclass(frozen, eq, module = "loco", name = "Rollout")]
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout(pub loco_core::Rollout);

#[pymethods]
impl Rollout {
    /// The deployment being rolled out.
    #[getter]
    fn deployment_id(&self) -> &str {
        &self.0.deployment_id
    }

    /// Its service.
    #[getter]
    fn service(&self) -> &str {
        &self.0.service
    }

    /// Its environment.
    #[getter]
    fn environment(&self) -> &str {
        &self.0.environment
    }

    /// The platform running it (`local`, …).
    #[getter]
    fn platform(&self) -> &str {
        &self.0.platform
    }

    /// The plan being executed, as a plan document (`dict`) with every default filled in.
    #[getter]
    fn plan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0.plan)
    }

    /// Where it is: `running`, `paused`, `succeeded`, `rolling_back`, `rolled_back` or
    /// `rollback_failed` (the first three hold the service+environment).
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }

    /// Its steps, traffic, instances, endpoint and latest analysis verdict, as a `dict`.
    #[getter]
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0.progress)
    }

    /// The release it restores on rollback; `None` for a service's first release.
    #[getter]
    fn previous(&self) -> Option<Release> {
        self.0.previous.clone().map(Release)
    }

    /// Why it did not succeed (`{"code", "message", "step"}`), or `None`.
    #[getter]
    fn failure<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        optional_json(py, self.0.failure.as_ref())
    }

    /// Who started it.
    #[getter]
    fn actor(&self) -> &str {
        &self.0.actor
    }

    /// The engine process executing it (host, pid, process start time).
    #[getter]
    fn owner(&self) -> &str {
        &self.0.owner
    }

    /// When its owner last showed it was alive (RFC 3339 UTC).
    #[getter]
    fn heartbeat_at(&self) -> String {
        self.0.heartbeat_at.to_string()
    }

    /// When it started (RFC 3339 UTC).
    #[getter]
    fn started_at(&self) -> String {
        self.0.started_at.to_string()
    }

    /// When it last changed (RFC 3339 UTC).
    #[getter]
    fn updated_at(&self) -> String {
        self.0.updated_at.to_string()
    }

    /// When it reached a final state (RFC 3339 UTC); `None` while active.
    #[getter]
    fn finished_at(&self) -> Option<String> {
        self.0.finished_at.map(|t| t.to_string())
    }

    /// True while it holds its service+environment (`running`, `paused` or `rolling_back`).
    #[getter]
    fn is_active(&self) -> bool {
        self.0.state.is_active()
    }

    /// The latest verdict of the canary analysis (`progress["analysis"]`), or `None`.
    #[getter]
    fn analysis<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        optional_json(py, self.0.progress.analysis.as_ref())
    }

    /// The rollout as the HTTP API's JSON object.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.0;
        let text = |value: &str| PyString::new(py, value).into_any();
        repr(
            "Rollout",
            &[
                ("deployment_id", text(&r.deployment_id)),
                ("service", text(&r.service)),
                ("environment", text(&r.environment)),
                ("state", text(r.state.as_str())),
                ("steps", text(&format!("{}/{}", r.progress.completed_steps, r.progress.total_steps))),
            ],
        )
    }
}

impl ToPython for loco_core::Rollout {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Rollout(self))?.into_any())
    }
}

/// A release that served (or serves) a service+environment.
#[pyclass(frozen, eq, module = "loco", name = "Release")]
#[derive(Debug, Clone, PartialEq)]
pub struct Release(pub loco_core::rollout::Release);

#[pymethods]
impl Release {
    /// The version label.
    #[getter]
    fn version(&self) -> &str {
        &self.0.version
    }

    /// The deployment that brought it.
    #[getter]
    fn deployment_id(&self) -> &str {
        &self.0.deployment_id
    }

    /// The platform it runs on.
    #[getter]
    fn platform(&self) -> &str {
        &self.0.platform
    }

    /// How to run it again: the plan's `release` with every default filled in, as a `dict`.
    #[getter]
    fn spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0.spec)
    }

    /// Its instances when it was last recorded, as `dict`s.
    #[getter]
    fn instances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        Ok(to_json_python(py, &self.0.instances)?.cast_into::<PyList>()?)
    }

    /// When it started serving all traffic (RFC 3339 UTC).
    #[getter]
    fn activated_at(&self) -> String {
        self.0.activated_at.to_string()
    }

    /// When another release replaced it (RFC 3339 UTC); `None` while current.
    #[getter]
    fn retired_at(&self) -> Option<String> {
        self.0.retired_at.map(|t| t.to_string())
    }

    /// The release as the HTTP API's JSON object.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.0;
        repr(
            "Release",
            &[
                ("version", PyString::new(py, &r.version).into_any()),
                ("deployment_id", PyString::new(py, &r.deployment_id).into_any()),
                ("activated_at", PyString::new(py, &r.activated_at.to_string()).into_any()),
                ("retired_at", r.retired_at.map(|t| t.to_string()).into_pyobject(py)?.into_any()),
            ],
        )
    }
}

impl ToPython for loco_core::rollout::Release {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Release(self))?.into_any())
    }
}
