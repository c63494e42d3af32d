//! The result of walking the audit chain, as immutable Python objects: `AuditReport` and
//! `BrokenLink`.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{ToPython, repr, to_json_python};

/// Where and why the audit chain first failed to verify.
#[pyclass(frozen, eq, module = "loco", name = "BrokenLink")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink(loco_core::BrokenLink);

#[pymethods]
impl BrokenLink {
    /// The sequence number of the offending event.
    #[getter]
    fn seq(&self) -> i64 {
        self.0.seq
    }

    /// The offending event's id.
    #[getter]
    fn event_id(&self) -> &str {
        &self.0.event_id
    }

    /// The deployment it belongs to.
    #[getter]
    fn deployment_id(&self) -> &str {
        &self.0.deployment_id
    }

    /// What is wrong, in one sentence.
    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The broken link as a JSON object.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "BrokenLink",
            &[
                ("seq", self.0.seq.into_pyobject(py)?.into_any()),
                ("event_id", PyString::new(py, &self.0.event_id).into_any()),
                ("reason", PyString::new(py, &self.0.reason).into_any()),
            ],
        )
    }
}

/// The result of `verify_audit()`: whether every link and every deployment's state matched.
#[pyclass(frozen, module = "loco", name = "AuditReport")]
pub struct AuditReport {
    report: loco_core::AuditReport,
    first_broken: Option<Py<BrokenLink>>,
}

#[pymethods]
impl AuditReport {
    /// True when every link and every deployment's state matched.
    #[getter]
    fn valid(&self) -> bool {
        self.report.valid
    }

    /// How many events were checked.
    #[getter]
    fn events_checked(&self) -> u64 {
        self.report.events_checked
    }

    /// The hash of the last event checked (record it elsewhere to detect truncation), or `None`.
    #[getter]
    fn head_hash(&self) -> Option<&str> {
        self.report.head_hash.as_deref()
    }

    /// The first problem found, or `None`.
    #[getter]
    fn first_broken(&self, py: Python<'_>) -> Option<Py<BrokenLink>> {
        self.first_broken.as_ref().map(|link| link.clone_ref(py))
    }

    /// The report as a JSON object: `{"valid", "events_checked", "head_hash", "first_broken"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_json_python(py, &self.report)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "AuditReport",
            &[
                ("valid", self.report.valid.into_pyobject(py)?.to_owned().into_any()),
                ("events_checked", self.report.events_checked.into_pyobject(py)?.into_any()),
                (
                    "first_broken",
                    self.first_broken.as_ref().map_or_else(|| py.None(), |l| l.clone_ref(py).into_any()).into_bound(py),
                ),
            ],
        )
    }
}

impl ToPython for loco_core::AuditReport {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let first_broken = self.first_broken.clone().map(|link| Py::new(py, BrokenLink(link))).transpose()?;
        Ok(Bound::new(py, AuditReport { report: self, first_broken })?.into_any())
    }
}
