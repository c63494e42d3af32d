//! Streams of committed events: `loco.Subscription` (`async for`) and `loco.SyncSubscription`
//! (`for`, plus `next_event(timeout)`), both over one [`loco_core::EventSubscription`].

use std::sync::Arc;

use loco_core::EventSubscription;
use pyo3::exceptions::{PyStopAsyncIteration, PyTimeoutError};
use pyo3::prelude::*;

use crate::convert::{Reply, into_python};
use crate::process::ProcessBound;
use crate::runtime;

/// One subscription, shared by every pending `next` (they take turns).
type Shared = Arc<tokio::sync::Mutex<ProcessBound<EventSubscription>>>;

fn shared(subscription: EventSubscription) -> Shared {
    Arc::new(tokio::sync::Mutex::new(ProcessBound::new(subscription)))
}

/// The next event; `None` once the engine is closed and every event was delivered.
async fn next(subscription: &Shared) -> Option<loco_core::Result<loco_core::Event>> {
    let mut guard = subscription.lock().await;
    match guard.get_mut() {
        Ok(subscription) => subscription.next().await,
        Err(e) => Some(Err(e)),
    }
}

/// Every committed event, in commit order, for `async for event in engine.subscribe()`.
///
/// A subscriber that falls behind catches up from the database, so it never misses or repeats
/// an event. The iteration ends once the engine is closed.
#[pyclass(frozen, module = "loco", name = "Subscription")]
pub struct Subscription {
    inner: Shared,
}

impl Subscription {
    /// Wraps a core subscription.
    pub fn new(subscription: EventSubscription) -> Self {
        Self { inner: shared(subscription) }
    }
}

#[pymethods]
impl Subscription {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// An awaitable of the next `Event`; raises `StopAsyncIteration` once the engine is closed.
    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        runtime::future_into_py(py, async move {
            match next(&inner).await {
                Some(event) => Ok(Reply(event)),
                None => Err(PyStopAsyncIteration::new_err("the engine is closed")),
            }
        })
    }
}

/// Every committed event, in commit order, for `for event in engine.subscribe()`.
///
/// Each wait happens with the GIL released. The iteration ends once the engine is closed.
#[pyclass(frozen, module = "loco", name = "SyncSubscription")]
pub struct SyncSubscription {
    inner: Shared,
}

impl SyncSubscription {
    /// Wraps a core subscription.
    pub fn new(subscription: EventSubscription) -> Self {
        Self { inner: shared(subscription) }
    }
}

#[pymethods]
impl SyncSubscription {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let inner = self.inner.clone();
        py.detach(|| runtime::block_on(next(&inner))).map(|event| into_python(py, event)).transpose()
    }

    /// The next `Event`, waiting at most `timeout` seconds (forever when `None`); `None` once the
    /// engine is closed. Raises `TimeoutError` when the time runs out; no event is lost by that.
    #[pyo3(signature = (timeout=None))]
    fn next_event<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let inner = self.inner.clone();
        let outcome = runtime::block_on_within(py, timeout, async move { next(&inner).await })?;
        match outcome {
            Some(event) => event.map(|event| into_python(py, event)).transpose(),
            None => Err(PyTimeoutError::new_err(format!("no event within {} seconds", timeout.unwrap_or_default()))),
        }
    }
}
