//! What platforms report to Python: one instance's output as `loco.InstanceLogs` (`async for`) and
//! `loco.SyncInstanceLogs` (`for`, plus `next_line(timeout)`), both over one [`LogSource`]
//! following the core's [`loco_core::LogFollower`]; each line is a `loco.LogLine`.

use std::sync::Arc;

use loco_core::platform::LogLine;
use pyo3::exceptions::{PyStopAsyncIteration, PyTimeoutError};
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::convert::{Reply, into_python};
use crate::process::ProcessBound;
use crate::runtime;

enum Source {
    /// Not followed yet: the first line asked for looks the instance up, so its errors are
    /// raised there.
    Pending {
        engine: loco_core::Engine,
        deployment_id: String,
        instance_id: String,
    },
    Following(loco_core::LogFollower),
    Ended,
}

/// The output of one instance, shared by every pending `next` (they take turns).
#[derive(Clone)]
pub struct LogSource(Arc<Mutex<ProcessBound<Source>>>);

impl LogSource {
    /// Follows `instance_id` of `deployment_id`'s rollout once the first line is asked for.
    pub fn new(engine: loco_core::Engine, deployment_id: String, instance_id: String) -> Self {
        Self(Arc::new(Mutex::new(ProcessBound::new(Source::Pending { engine, deployment_id, instance_id }))))
    }

    /// The next line; `None` once the instance stopped (or the engine closed). Cancel-safe.
    async fn next(&self) -> Option<loco_core::Result<LogLine>> {
        let mut guard = self.0.lock().await;
        let source = match guard.get_mut() {
            Ok(source) => source,
            Err(e) => return Some(Err(e)),
        };
        if let Source::Pending { engine, deployment_id, instance_id } = source {
            match engine.follow_logs(deployment_id, instance_id).await {
                Ok(lines) => *source = Source::Following(lines),
                Err(e) => {
                    *source = Source::Ended;
                    return Some(Err(e));
                }
            }
        }
        let Source::Following(lines) = source else { return None };
        let line = lines.next().await;
        if line.is_none() {
            *source = Source::Ended;
        }
        line.map(Ok)
    }
}

/// One instance's output for `async for line in engine.logs(id, instance_id)`: its recent lines,
/// then new ones as they are written, until it stops.
#[pyclass(frozen, module = "loco", name = "InstanceLogs")]
pub struct InstanceLogs {
    source: LogSource,
}

impl InstanceLogs {
    /// Wraps a log source.
    pub fn new(source: LogSource) -> Self {
        Self { source }
    }
}

#[pymethods]
impl InstanceLogs {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// An awaitable of the next `LogLine`; raises `StopAsyncIteration` once the instance stopped.
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let source = self.source.clone();
        runtime::future_into_py(py, async move {
            match source.next().await {
                Some(line) => Ok(Reply(line)),
                None => Err(PyStopAsyncIteration::new_err("the instance stopped")),
            }
        })
    }
}

/// One instance's output for `for line in engine.logs(id, instance_id)`; each wait happens with
/// the GIL released.
#[pyclass(frozen, module = "loco", name = "SyncInstanceLogs")]
pub struct SyncInstanceLogs {
    source: LogSource,
}

impl SyncInstanceLogs {
    /// Wraps a log source.
    pub fn new(source: LogSource) -> Self {
        Self { source }
    }
}

#[pymethods]
impl SyncInstanceLogs {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.next_line(py, None)
    }

    /// The next `LogLine`, waiting at most `timeout` seconds (forever when `None`); `None` once
    /// the instance stopped. Raises `TimeoutError` when the time runs out; no line is lost by that.
    #[pyo3(signature = (timeout=None))]
    fn next_line<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let source = self.source.clone();
        match runtime::block_on_within(py, timeout, async move { source.next().await })? {
            Some(line) => line.map(|line| into_python(py, line)).transpose(),
            None => Err(PyTimeoutError::new_err(format!("no line within {} seconds", timeout.unwrap_or_default()))),
        }
    }
}
