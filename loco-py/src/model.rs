//! The records the engine returns, as immutable Python objects: `Deployment`, `Event` and `Page`.
//! Attributes mirror the HTTP JSON fields; timestamps are RFC 3339 UTC strings, exactly as in
//! JSON; `to_dict()` returns the HTTP JSON object itself.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::convert::{ToPython, repr, to_json_python};

/// `value` as a Python `str`.
fn text<'py>(py: Python<'py>, value: &str) -> Bound<'py, PyAny> {
    PyString::new(py, value).into_any()
}

/// `value` as a Python `str`, or `None`.
fn optional_text<'py>(py: Python<'py>, value: Option<&str>) -> Bound<'py, PyAny> {
    value.map_or_else(|| py.None().into_bound(py), |v| text(py, v))
}

/// The current state of one deployment.
#[pyclass(frozen, eq, module = "loco", name = "Deployment")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment(pub loco_core::Deployment);

#[pymethods]
impl Deployment {
    /// Generated id, `dep_` followed by a ULID.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    /// The service being deployed.
    #[getter]
    fn service(&self) -> &str {
        &self.0.service
    }

    /// The target environment.
    #[getter]
    fn environment(&self) -> &str {
        &self.0.environment
    }

    /// The version or build being deployed.
    #[getter]
    fn version(&self) -> &str {
        &self.0.version
    }

    /// Who asked for the deployment.
    #[getter]
    fn requester(&self) -> &str {
        &self.0.requester
    }

    /// Issues, pull requests or other planned work the deployment delivers (a new list each time).
    #[getter]
    fn work_refs(&self) -> Vec<String> {
        self.0.work_refs.clone()
    }

    /// How to recover if the deployment goes wrong.
    #[getter]
    fn rollback_plan(&self) -> &str {
        &self.0.rollback_plan
    }

    /// The accepted risk, or `None`.
    #[getter]
    fn risk(&self) -> Option<&str> {
        self.0.risk.as_deref()
    }

    /// Where the deployment is in its lifecycle (`pending_approval`, `approved`, …).
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }

    /// Who approved or rejected it, or `None`.
    #[getter]
    fn reviewed_by(&self) -> Option<&str> {
        self.0.reviewed_by.as_deref()
    }

    /// When it was approved or rejected (RFC 3339 UTC), or `None`.
    #[getter]
    fn reviewed_at(&self) -> Option<String> {
        self.0.reviewed_at.map(|t| t.to_string())
    }

    /// When it was created (RFC 3339 UTC).
    #[getter]
    fn created_at(&self) -> String {
        self.0.created_at.to_string()
    }

    /// When its status last changed (RFC 3339 UTC).
    #[getter]
    fn updated_at(&self) -> String {
        self.0.updated_at.to_string()
    }

    /// The deployment as the HTTP API's JSON object.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = &self.0;
        repr(
            "Deployment",
            &[
                ("id", text(py, &d.id)),
                ("service", text(py, &d.service)),
                ("environment", text(py, &d.environment)),
                ("version", text(py, &d.version)),
                ("status", text(py, d.status.as_str())),
            ],
        )
    }
}

impl ToPython for loco_core::Deployment {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Deployment(self))?.into_any())
    }
}

/// One entry of a deployment's append-only history.
#[pyclass(frozen, eq, module = "loco", name = "Event")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event(pub loco_core::Event);

#[pymethods]
impl Event {
    /// Position in the store-wide event order (1, 2, 3, … without gaps).
    #[getter]
    fn seq(&self) -> i64 {
        self.0.seq
    }

    /// Generated id, `evt_` followed by a ULID.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    /// The deployment this event belongs to.
    #[getter]
    fn deployment_id(&self) -> &str {
        &self.0.deployment_id
    }

    /// What happened (`created`, `approved`, …).
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }

    /// Who did it.
    #[getter]
    fn actor(&self) -> &str {
        &self.0.actor
    }

    /// Why, or `None`.
    #[getter]
    fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// The status before the event (`None` on `created`).
    #[getter(from_status)]
    fn status_before(&self) -> Option<&'static str> {
        self.0.from_status.map(loco_core::Status::as_str)
    }

    /// The status after the event.
    #[getter(to_status)]
    fn status_after(&self) -> Option<&'static str> {
        self.0.to_status.map(loco_core::Status::as_str)
    }

    /// When it was recorded (RFC 3339 UTC).
    #[getter]
    fn at(&self) -> String {
        self.0.at.to_string()
    }

    /// Structured facts of rollout events (`step_progress`, `health_check`) as a `dict`; `None` on
    /// lifecycle events.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.0.data {
            Some(data) => to_json_python(py, data),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// `sha256(previous event's hash ‖ canonical bytes of this event)`, lowercase hex.
    #[getter]
    fn hash(&self) -> &str {
        &self.0.hash
    }

    /// The event as the HTTP API's JSON object (with `seq`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let e = &self.0;
        repr(
            "Event",
            &[
                ("seq", e.seq.into_pyobject(py)?.into_any()),
                ("deployment_id", text(py, &e.deployment_id)),
                ("kind", text(py, e.kind.as_str())),
                ("actor", text(py, &e.actor)),
                ("to_status", optional_text(py, e.to_status.map(loco_core::Status::as_str))),
            ],
        )
    }
}

impl ToPython for loco_core::Event {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Event(self))?.into_any())
    }
}

/// One page of deployments, newest first, and the cursor of the next page.
#[pyclass(frozen, module = "loco", name = "Page")]
pub struct Page {
    items: Vec<Py<Deployment>>,
    next_cursor: Option<String>,
}

#[pymethods]
impl Page {
    /// The deployments on this page (a new list each time, of the same objects).
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.items.iter().map(|d| d.bind(py)))
    }

    /// Pass this as `cursor=` to get the next page; `None` on the last page.
    #[getter]
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    /// The page as the HTTP API's JSON object: `{"items": [...], "next_cursor": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let page = loco_core::Page {
            items: self.items.iter().map(|d| &d.get().0).collect::<Vec<_>>(),
            next_cursor: self.next_cursor.clone(),
        };
        to_json_python(py, &page)
    }

    fn __len__(&self) -> usize {
        self.items.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.items(py)?.try_iter().map(Bound::into_any)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "Page",
            &[("items", self.items(py)?.into_any()), ("next_cursor", optional_text(py, self.next_cursor.as_deref()))],
        )
    }
}

impl ToPython for loco_core::Page<loco_core::Deployment> {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let items = self.items.into_iter().map(|d| Py::new(py, Deployment(d))).collect::<PyResult<_>>()?;
        Ok(Bound::new(py, Page { items, next_cursor: self.next_cursor })?.into_any())
    }
}
