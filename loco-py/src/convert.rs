//! How core results reach Python: a core record becomes its HTTP JSON object (built by the same
//! serde code as the HTTP responses, see [`value`](crate::value)) inside its class from
//! `loco._types`, the classes generated from the JSON Schema of loco-types (a record without a
//! generated class, such as a manifest record, stays that plain object, typed by its generated
//! `TypedDict`). [`Reply`] turns a core `Result` into that object or a raised `loco.LocoError` at
//! the moment the result is handed to Python, where the GIL is already held.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;

use crate::{error, value};

/// A core value with a Python representation.
pub trait ToPython: Send + 'static {
    /// Converts the value; needs the GIL.
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>>;
}

impl ToPython for () {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(py.None().into_bound(py))
    }
}

impl ToPython for String {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

impl<T: ToPython> ToPython for Vec<T> {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let list = PyList::empty(py);
        for item in self {
            list.append(item.to_python(py)?)?;
        }
        Ok(list.into_any())
    }
}

impl<T: ToPython> ToPython for Option<T> {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        match self {
            Some(value) => value.to_python(py),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

/// An applied manifest: a plain `dict` (`loco.ManifestRecordDict`), its `manifest` the `dict`
/// `loco.parse_manifest` returns.
impl ToPython for loco_core::manifest::ManifestRecord {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        value::to_python(py, &self)
    }
}

/// A rollout plan: a plain `dict` (`loco.RolloutPlanDict`) with every default filled in, which
/// `start_rollout` takes back as it is.
impl ToPython for loco_core::rollout::RolloutPlan {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        value::to_python(py, &self)
    }
}

/// The generated classes of `loco._types` that core records become.
#[derive(Debug, Clone, Copy)]
pub enum Class {
    /// `loco.Deployment`.
    Deployment,
    /// `loco.Event`.
    Event,
    /// `loco.Page`.
    Page,
    /// `loco.AuditReport`.
    AuditReport,
    /// `loco.Rollout`.
    Rollout,
    /// `loco.Release`.
    Release,
    /// `loco.LogLine`.
    LogLine,
    /// `loco.ServiceDefinition`.
    ServiceDefinition,
    /// `loco.AuditHead`.
    AuditHead,
    /// `loco.PlatformConfig`.
    PlatformConfig,
    /// `loco.ValidationReport`.
    ValidationReport,
    /// `loco.FreezeWindow`.
    FreezeWindow,
    /// `loco.ActiveFreeze`.
    ActiveFreeze,
    /// `loco.DeployLock`.
    DeployLock,
    /// `loco.ApprovalGate`.
    ApprovalGate,
    /// `loco.ApprovalStatus`.
    ApprovalStatus,
    /// `loco.ReviewerGroup`.
    ReviewerGroup,
    /// `loco.Pipeline`.
    Pipeline,
    /// `loco.PipelineView`.
    PipelineView,
    /// `loco.ScheduledStart`.
    ScheduledStart,
}

impl Class {
    /// Every class, in declaration order (so `class as usize` is its index here).
    const ALL: [Class; 20] = [
        Class::Deployment,
        Class::Event,
        Class::Page,
        Class::AuditReport,
        Class::Rollout,
        Class::Release,
        Class::LogLine,
        Class::ServiceDefinition,
        Class::AuditHead,
        Class::PlatformConfig,
        Class::ValidationReport,
        Class::FreezeWindow,
        Class::ActiveFreeze,
        Class::DeployLock,
        Class::ApprovalGate,
        Class::ApprovalStatus,
        Class::ReviewerGroup,
        Class::Pipeline,
        Class::PipelineView,
        Class::ScheduledStart,
    ];

    fn name(self) -> &'static str {
        match self {
            Class::Deployment => "Deployment",
            Class::Event => "Event",
            Class::Page => "Page",
            Class::AuditReport => "AuditReport",
            Class::Rollout => "Rollout",
            Class::Release => "Release",
            Class::LogLine => "LogLine",
            Class::ServiceDefinition => "ServiceDefinition",
            Class::AuditHead => "AuditHead",
            Class::PlatformConfig => "PlatformConfig",
            Class::ValidationReport => "ValidationReport",
            Class::FreezeWindow => "FreezeWindow",
            Class::ActiveFreeze => "ActiveFreeze",
            Class::DeployLock => "DeployLock",
            Class::ApprovalGate => "ApprovalGate",
            Class::ApprovalStatus => "ApprovalStatus",
            Class::ReviewerGroup => "ReviewerGroup",
            Class::Pipeline => "Pipeline",
            Class::PipelineView => "PipelineView",
            Class::ScheduledStart => "ScheduledStart",
        }
    }
}

/// A core record that Python sees as one of the generated classes, built from its JSON object.
pub trait Record: serde::Serialize + Send + 'static {
    /// Its class.
    const CLASS: Class;
}

impl Record for loco_core::Deployment {
    const CLASS: Class = Class::Deployment;
}

impl Record for loco_core::Event {
    const CLASS: Class = Class::Event;
}

impl Record for loco_core::Page<loco_core::Deployment> {
    const CLASS: Class = Class::Page;
}

impl Record for loco_core::AuditReport {
    const CLASS: Class = Class::AuditReport;
}

impl Record for loco_core::Rollout {
    const CLASS: Class = Class::Rollout;
}

impl Record for loco_core::rollout::Release {
    const CLASS: Class = Class::Release;
}

impl Record for loco_core::platform::LogLine {
    const CLASS: Class = Class::LogLine;
}

impl Record for loco_core::service::ServiceDefinition {
    const CLASS: Class = Class::ServiceDefinition;
}

impl Record for loco_core::AuditHead {
    const CLASS: Class = Class::AuditHead;
}

impl Record for loco_core::platform_config::PlatformConfig {
    const CLASS: Class = Class::PlatformConfig;
}

impl Record for loco_core::rollout::ValidationReport {
    const CLASS: Class = Class::ValidationReport;
}

impl Record for loco_core::freeze::FreezeWindow {
    const CLASS: Class = Class::FreezeWindow;
}

impl Record for loco_core::freeze::ActiveFreeze {
    const CLASS: Class = Class::ActiveFreeze;
}

impl Record for loco_core::lock::DeployLock {
    const CLASS: Class = Class::DeployLock;
}

impl Record for loco_core::gate::ApprovalGate {
    const CLASS: Class = Class::ApprovalGate;
}

impl Record for loco_core::gate::ApprovalStatus {
    const CLASS: Class = Class::ApprovalStatus;
}

impl Record for loco_core::gate::ReviewerGroup {
    const CLASS: Class = Class::ReviewerGroup;
}

impl Record for loco_core::pipeline::Pipeline {
    const CLASS: Class = Class::Pipeline;
}

impl Record for loco_core::pipeline::PipelineView {
    const CLASS: Class = Class::PipelineView;
}

impl Record for loco_core::schedule::ScheduledStart {
    const CLASS: Class = Class::ScheduledStart;
}

/// The classes, indexed by [`Class`], looked up on first use.
static CLASSES: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();

impl<T: Record> ToPython for T {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let classes = CLASSES.get_or_try_init(py, || {
            let types = py.import("loco._types")?;
            Class::ALL.iter().map(|c| types.getattr(c.name()).map(Bound::unbind)).collect()
        })?;
        classes[T::CLASS as usize].bind(py).call1((value::to_python(py, &self)?,))
    }
}

/// The outcome of a core operation, converted to Python when it is delivered.
pub struct Reply<T>(pub loco_core::Result<T>);

impl<'py, T: ToPython> IntoPyObject<'py> for Reply<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        into_python(py, self.0)
    }
}

/// `result` as a Python object, or its error as a raised `loco.LocoError` subclass.
pub fn into_python<T: ToPython>(py: Python<'_>, result: loco_core::Result<T>) -> PyResult<Bound<'_, PyAny>> {
    match result {
        Ok(value) => value.to_python(py),
        Err(e) => Err(error::to_pyerr(py, &e)),
    }
}
