//! `loco.Engine`: every engine operation as an asyncio awaitable running on the extension's tokio
//! runtime, never on the event loop's thread and never holding the GIL while it works.

use std::future::Future;
use std::path::PathBuf;

use loco_core::Action;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::{Handle, IN_MEMORY, action_input, list_query, new_deployment};
use crate::convert::{Reply, ToPython};
use crate::error::to_pyerr;
use crate::runtime;
use crate::subscription::Subscription;

/// An awaitable resolving to `future`'s value, or raising its error as a `loco.LocoError`.
fn awaitable<T, F>(py: Python<'_>, future: F) -> PyResult<Bound<'_, PyAny>>
where
    T: ToPython,
    F: Future<Output = loco_core::Result<T>> + Send + 'static,
{
    runtime::future_into_py(py, async move { Ok(Reply(future.await)) })
}

/// The deployment engine for asyncio code: `engine = await loco.Engine.open("loco.db")`.
///
/// Every method returns an awaitable; the work runs on Loco's own threads with the GIL released,
/// so the event loop stays free. Use `async with` to close the engine at the end of a block.
#[pyclass(frozen, module = "loco", name = "Engine")]
pub struct Engine {
    handle: Handle,
}

/// An opened engine on its way to Python.
struct Opened(Handle);

impl ToPython for Opened {
    fn to_python(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Engine { handle: self.0 })?.into_any())
    }
}

impl Engine {
    fn act<'py>(
        &self,
        py: Python<'py>,
        action: Action,
        id: String,
        actor: String,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { engine?.apply(&id, action, action_input(actor, note)).await })
    }
}

#[pymethods]
impl Engine {
    /// Opens (creating if needed) the SQLite database file at `path`, fully durable
    /// (`synchronous=FULL`). Resolves to an `Engine`.
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyAny>> {
        let location = path.display().to_string();
        awaitable(py, async move { Ok(Opened(Handle::new(loco_core::Engine::open(&path).await?, location))) })
    }

    /// Opens a private in-memory database, gone when the engine is dropped. Resolves to an `Engine`.
    #[staticmethod]
    fn open_in_memory(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        awaitable(
            py,
            async move { Ok(Opened(Handle::new(loco_core::Engine::open_in_memory().await?, IN_MEMORY.into()))) },
        )
    }

    /// Creates a deployment in `pending_approval`; the keyword arguments are the HTTP JSON fields.
    /// With `idempotency_key`, repeating the same request returns the original deployment.
    /// Resolves to a `Deployment`.
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
        awaitable(py, async move { engine?.create(new, idempotency_key.as_deref()).await })
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

    /// The current state of one deployment. Resolves to a `Deployment`.
    fn get<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { engine?.get(&id).await })
    }

    /// Deployments matching the filters, newest first, one page (50 by default, 1–500) at a time.
    /// Resolves to a `Page`; pass its `next_cursor` as `cursor` for the next one.
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
        awaitable(py, async move { engine?.list(&query?).await })
    }

    /// Every event of one deployment, oldest first. Resolves to a `list[Event]`.
    fn events<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { engine?.events(&id).await })
    }

    /// Walks the whole audit chain and checks every deployment against its history.
    /// Resolves to an `AuditReport`.
    fn verify_audit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { engine?.verify_audit().await })
    }

    /// The engine's deployment metrics in Prometheus/OpenMetrics text format. Resolves to a `str`.
    fn metrics_text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { Ok(engine?.metrics().render()) })
    }

    /// Every event committed from now on, in commit order: `async for event in engine.subscribe()`.
    /// The iteration ends once the engine is closed.
    fn subscribe(&self, py: Python<'_>) -> PyResult<Subscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(Subscription::new(engine.subscribe()))
    }

    /// Every event with `seq > after` (replayed from the database), then every later one.
    fn subscribe_after(&self, py: Python<'_>, after: i64) -> PyResult<Subscription> {
        let engine = self.handle.engine().map_err(|e| to_pyerr(py, &e))?;
        Ok(Subscription::new(engine.subscribe_after(after)))
    }

    /// Finishes queued writes and closes the database; later operations raise `StorageError`.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.handle.engine();
        awaitable(py, async move { engine?.close().await })
    }

    fn __aenter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        runtime::future_into_py(py, async move { Ok(slf) })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Bound<'py, PyAny>,
        _exc: Bound<'py, PyAny>,
        _traceback: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Engine({})", PyString::new(py, self.handle.location()).repr()?))
    }
}
