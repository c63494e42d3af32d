//! The one tokio runtime of the extension, rebuilt in a forked child, plus the two ways Python
//! waits on it: [`future_into_py`] (an asyncio awaitable) and [`block_on`] (a blocking call that
//! the caller runs with the GIL released).
//!
//! `pyo3_async_runtimes::tokio` keeps its runtime in a `OnceLock` that a forked child inherits
//! without the worker threads, so every later call in the child would hang. Instead the runtime
//! is stored with the id of the process that built it; a call from another process (a child
//! after `os.fork()`) leaks the inherited, thread-less runtime and builds its own. The lock around
//! the slot is held only to copy a reference, so a fork cannot realistically catch it held.
//!
//! Results reach asyncio from the runtime's blocking threads, which take the GIL to do so. A
//! thread that waits for the GIL while the interpreter finalizes is killed by the interpreter (a
//! crash at exit), so an `atexit` hook ([`shut_down`]) stops new deliveries and waits, with the
//! GIL released, for the ones under way.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime};
use tokio::runtime::Builder;
use tokio::task;

/// The runtime of the current process: `(process id, runtime)`. Runtimes are leaked on purpose:
/// dropping one would wait for worker threads that, in a forked child, do not exist.
static SLOT: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use.
///
/// # Panics
/// When the operating system refuses the runtime's threads; nothing can run without them.
pub fn get() -> &'static tokio::runtime::Runtime {
    let pid = std::process::id();
    let mut slot = SLOT.lock().unwrap_or_else(PoisonError::into_inner);
    match *slot {
        Some((owner, runtime)) if owner == pid => runtime,
        _ => {
            let runtime = Builder::new_multi_thread()
                .thread_name("loco-tokio")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"));
            let runtime: &'static _ = Box::leak(Box::new(runtime));
            *slot = Some((pid, runtime));
            runtime
        }
    }
}

/// Blocking-thread jobs (result deliveries to asyncio) running now.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Set at interpreter exit: later deliveries are dropped unrun.
static EXITING: AtomicBool = AtomicBool::new(false);
/// The longest the exit hook waits for deliveries under way.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The `atexit` hook: refuses new deliveries to Python, then waits (GIL released, at most
/// [`EXIT_GRACE`]) until the ones under way have finished with the GIL.
#[pyfunction]
pub fn shut_down(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_GRACE;
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Runs `f` unless the interpreter is exiting; see [`shut_down`].
fn deliver(f: impl FnOnce()) {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    if EXITING.load(Ordering::SeqCst) {
        // Its Python objects must not be touched (or dropped) any more.
        std::mem::forget(f);
    } else {
        f();
    }
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

/// Runs `future` to completion on the runtime, blocking the calling thread. Call it inside
/// `py.detach` so other Python threads run meanwhile.
pub fn block_on<F: Future>(future: F) -> F::Output {
    get().block_on(future)
}

/// Runs `future` on the runtime with the GIL released, for at most `timeout` seconds (forever
/// when `None`); `None` when the time ran out (the future is dropped then, so it must be
/// cancel-safe). Raises `ValueError` for a negative or non-finite `timeout`.
pub fn block_on_within<F>(py: Python<'_>, timeout: Option<f64>, future: F) -> PyResult<Option<F::Output>>
where
    F: Future + Send,
    F::Output: Send,
{
    let limit = timeout
        .map(Duration::try_from_secs_f64)
        .transpose()
        .map_err(|e| PyValueError::new_err(format!("timeout must be a non-negative number of seconds: {e}")))?;
    Ok(py.detach(|| {
        block_on(async {
            match limit {
                Some(limit) => tokio::time::timeout(limit, future).await.ok(),
                None => Some(future.await),
            }
        })
    }))
}

/// An asyncio awaitable for `future`, which runs on the runtime; cancelling the awaitable drops
/// the future.
pub fn future_into_py<F, T>(py: Python<'_>, future: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    crate::inbox::future_into_py(py, future)
}

/// [`Runtime`] for `pyo3_async_runtimes::generic`, backed by [`get`].
pub struct LocoRuntime;

/// A tokio join error, wrapped to implement the foreign [`JoinError`] trait.
pub struct LocoJoinError(task::JoinError);

impl JoinError for LocoJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

type JoinFuture = Pin<Box<dyn Future<Output = Result<(), LocoJoinError>> + Send>>;

impl Runtime for LocoRuntime {
    type JoinError = LocoJoinError;
    type JoinHandle = JoinFuture;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = get().spawn(fut);
        Box::pin(async move { handle.await.map_err(LocoJoinError) })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let handle = get().spawn_blocking(move || deliver(f));
        Box::pin(async move { handle.await.map_err(LocoJoinError) })
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl ContextExt for LocoRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(std::cell::OnceCell::from(locals), fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|cell| cell.get().cloned()).unwrap_or_default()
    }
}
