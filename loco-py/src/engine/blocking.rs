//! `loco.SyncEngine`: the blocking twin of `loco.Engine`. Each method waits for the core on the
//! calling thread with the GIL released, so other Python threads keep running meanwhile.

use std::future::Future;
use std::path::PathBuf;

use loco_core::Action;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::{Handle, IN_MEMORY, action_input, list_query, new_deployment};
use crate::convert::{ToPython, into_python};
use crate::error::to_pyerr;
use crate::runtime;
use crate::subscription::SyncSubscription;

/// Runs `future` to completion with the GIL released, then converts its outcome.
fn blocking<T, F>(py: Python<'_>, future: F) -> PyResult<Bound<'_, PyAny>>
where
    T: ToPython,
    F: Future<Output = loco_core::Result<T>> + Send,
{
    let result = py.detach(|| runtime::block_on(future));
    into_python(py, result)
}

/// The deployment engine for blocking code: `engine = loco.SyncEngine.open("loco.db")`.
///
/// Same methods as `loco.Engine`, returning results directly. Safe to share between threads;
/// each call releases the GIL while it works. Use `with` to close the engine at the end of a block.
#[pyclass(frozen, module = "loco", name = "SyncEngine")]
pub struct SyncEngine {
    handle: Handle,
}

impl SyncEngine {
    fn opened(py: Python<'_>, opened: loco_core::Result<loco_core::Engine>, location: String) -> PyResult<Self> {
        let engine = opened.map_err(|e| to_pyerr(py, &e))?;
        Ok(Self { handle: Handle::new(engine, location) })
    }

    fn act<'py>(
        &self,
        py: Python<'py>,
        action: Action,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { engine?.apply(&id, action, action_input(actor, note)).await })
    }
}

#[pymethods]
impl SyncEngine {
    /// Opens (creating if needed) the SQLite database file at `path`, fully durable
    /// (`synchronous=FULL`).
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let location = path.display().to_string();
        let opened = py.detach(|| runtime::block_on(loco_core::Engine::open(path)));
        Self::opened(py, opened, location)
    }

    /// Opens a private in-memory database, gone when the engine is dropped.
    #[staticmethod]
    fn open_in_memory(py: Python<'_>) -> PyResult<Self> {
        let opened = py.detach(|| runtime::block_on(loco_core::Engine::open_in_memory()));
        Self::opened(py, opened, IN_MEMORY.into())
    }

    /// Creates a deployment in `pending_approval`; the keyword arguments are the HTTP JSON fields.
    /// With `idempotency_key`, repeating the same request returns the original deployment.
    #[pyo3(signature = (*, service=None, environment=None, version=None, requester=None, work_refs=None,
                        rollback_plan=None, risk=None, idempotency_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn create<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        environment: Option<String>,
        version: Option<String>,
        requester: Option<String>,
        work_refs: Option<Vec<String>>,
        rollback_plan: Option<String>,
        risk: Option<String>,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let new = new_deployment(service, environment, version, requester, work_refs, rollback_plan, risk);
        let engine = self.handle.engine();
        blocking(py, async move { engine?.create(new, idempotency_key.as_deref()).await })
    }

    /// `pending_approval → approved`; the actor must not be the requester.
    #[pyo3(signature = (id, actor, note=None))]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Approve, id, actor, note)
    }

    /// `pending_approval → rejected` (terminal); needs a note; the actor must not be the requester.
    #[pyo3(signature = (id, actor, note=None))]
    fn reject<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Reject, id, actor, note)
    }

    /// `approved → started`.
    #[pyo3(signature = (id, actor, note=None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Start, id, actor, note)
    }

    /// `started → succeeded`.
    #[pyo3(signature = (id, actor, note=None))]
    fn succeed<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Succeed, id, actor, note)
    }

    /// `started → failed`; needs a note.
    #[pyo3(signature = (id, actor, note=None))]
    fn fail<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Fail, id, actor, note)
    }

    /// `started | succeeded | failed → rolled_back` (terminal); needs a note.
    #[pyo3(signature = (id, actor, note=None))]
    fn rollback<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.act(py, Action::Rollback, id, actor, note)
    }

    /// The current state of one deployment.
    fn get<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { engine?.get(&id).await })
    }

    /// Deployments matching the filters, newest first, one page (50 by default, 1–500) at a time;
    /// pass the page's `next_cursor` as `cursor` for the next one.
    #[pyo3(signature = (service=None, environment=None, status=None, limit=None, cursor=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        environment: Option<String>,
        status: Option<String>,
        limit: Option<i64>,
        cursor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = list_query(service, environment, status, limit, cursor);
        let engine = self.handle.engine();
        blocking(py, async move { engine?.list(&query?).await })
    }

    /// Every event of one deployment, oldest first.
    fn events<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { engine?.events(&id).await })
    }

    /// Walks the whole audit chain and checks every deployment against its history.
    fn verify_audit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { engine?.verify_audit().await })
    }

    /// The engine's deployment metrics in Prometheus/OpenMetrics text format.
    fn metrics_text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { Ok(engine?.metrics().render()) })
    }

    /// Every event committed from now on, in commit order: `for event in engine.subscribe()`.
    /// The iteration ends once the engine is closed; `next_event(timeout)` waits a bounded time.
    fn subscribe(&self, py: Python<'_>) -> PyResult<SyncSubscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(SyncSubscription::new(engine.subscribe()))
    }

    /// Every event with `seq > after` (replayed from the database), then every later one.
    fn subscribe_after(&self, py: Python<'_>, after: i64) -> PyResult<SyncSubscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(SyncSubscription::new(engine.subscribe_after(after)))
    }

    /// Finishes queued writes and closes the database; later operations raise `StorageError`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        blocking(py, async move { engine?.close().await })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Bound<'py, PyAny>,
        _exc: Bound<'py, PyAny>,
        _traceback: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("SyncEngine({})", PyString::new(py, self.handle.location()).repr()?))
    }
}
