//! How awaited work runs under asyncio: each event loop gets an inbox, a queue of operations
//! ready to make progress and a socket pair whose read end the loop watches (`loop.add_reader`).
//! An operation is polled on the loop's own thread: first when it is called, then each time
//! whatever it waits for (the writer's commit, a read on the blocking pool) wakes it — the waker
//! queues it and writes one byte only when the queue was empty. The loop, woken, drains the
//! socket, then the queue, polls every operation in it, and completes the futures of those that
//! finished, on its own thread.
//!
//! So an awaited write costs two thread wake-ups (the writer's, and the loop's when the commit is
//! done), as it does for a Rust caller on a Tokio worker, instead of four: no Tokio worker runs
//! the operation in between. Work an operation hands off (a rollout it starts, a blocking read)
//! still runs on the runtime; operations are polled inside the runtime's context. The generic
//! bridge of `pyo3_async_runtimes` (a blocking thread taking the GIL to call
//! `call_soon_threadsafe`) is kept for loops without `add_reader` (Windows' proactor loop).

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{IntoPyObjectExt, intern};
use pyo3_async_runtimes::err::RustPanic;
use pyo3_async_runtimes::generic::ContextExt;
use tokio::sync::oneshot;

use crate::runtime::{self, LocoRuntime};

/// Turns a finished operation's result into its Python value, on the loop's thread.
type Delivery = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// An operation in progress: `None` when its awaitable was cancelled.
type Running = Pin<Box<dyn Future<Output = Option<Delivery>> + Send>>;

/// One event loop's operations ready to be polled, and its wake-up socket pair.
struct Inbox {
    /// The process that made it: a forked child must not share the parent's sockets.
    pid: u32,
    ready: Mutex<Vec<Arc<Operation>>>,
    /// Written by wakers (non-blocking).
    bell: UnixStream,
    /// Watched by the loop (non-blocking).
    ear: UnixStream,
}

impl Inbox {
    fn new() -> std::io::Result<Self> {
        let (bell, ear) = UnixStream::pair()?;
        bell.set_nonblocking(true)?;
        ear.set_nonblocking(true)?;
        Ok(Self { pid: std::process::id(), ready: Mutex::new(Vec::new()), bell, ear })
    }

    /// Queues `operation` to be polled; rings when the queue was empty (a ring is pending
    /// otherwise).
    fn push(&self, operation: Arc<Operation>) {
        let first = {
            let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
            ready.push(operation);
            ready.len() == 1
        };
        if first {
            // A full socket buffer means rings are pending already; the loop will drain.
            let _ = (&self.bell).write(&[1]);
        }
    }

    /// Everything queued. The socket is drained first: an operation queued after the drain rings
    /// again, so none is left without a ring.
    fn take(&self) -> Vec<Arc<Operation>> {
        let mut buf = [0u8; 256];
        while matches!((&self.ear).read(&mut buf), Ok(n) if n > 0) {}
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One awaited operation, polled only on its loop's thread (the lock is never contended; it
/// makes the operation shareable with the wakers of other threads).
struct Operation {
    inbox: Arc<Inbox>,
    /// The asyncio future its result goes to.
    target: Py<PyAny>,
    running: Mutex<Option<Running>>,
    /// Whether it sits in the inbox already (a second wake-up before the poll adds nothing).
    queued: AtomicBool,
}

impl Wake for Operation {
    fn wake(self: Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.inbox.clone().push(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.clone().wake();
    }
}

impl Operation {
    /// Polls the operation once, on the loop's thread, and completes its future when it is done.
    fn poll(self: &Arc<Self>, py: Python<'_>) {
        self.queued.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let finished = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(future) = running.as_mut() else { return };
            // Spawning, timers and blocking reads inside the operation use the runtime.
            let _runtime = runtime::get().enter();
            // The loop's thread must not block on a commit: writes go to the writer thread.
            let polled =
                loco_core::store::context::without_blocking(|| future.as_mut().poll(&mut Context::from_waker(&waker)));
            match polled {
                Poll::Pending => return,
                Poll::Ready(delivery) => {
                    *running = None;
                    delivery
                }
            }
        };
        if let Some(delivery) = finished {
            complete(py, self.target.bind(py), delivery);
        }
    }
}

/// Sets `future`'s result (or exception) from `delivery`, unless it is done already (cancelled).
fn complete(py: Python<'_>, future: &Bound<'_, PyAny>, delivery: Delivery) {
    if future.call_method0(intern!(py, "done")).and_then(|d| d.is_truthy()).unwrap_or(true) {
        return;
    }
    let set = match delivery(py) {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,)),
        Err(error) => future.call_method1(intern!(py, "set_exception"), (error.into_value(py),)),
    };
    if let Err(e) = set {
        e.write_unraisable(py, Some(future));
    }
}

/// The loop's reader callback: polls every queued operation.
#[pyclass(frozen, module = "loco._loco")]
struct Deliver {
    inbox: Arc<Inbox>,
}

#[pymethods]
impl Deliver {
    fn __call__(&self, py: Python<'_>) {
        for operation in self.inbox.take() {
            operation.poll(py);
        }
    }
}

/// A loop's inbox as a Python object, to keep in [`INBOXES`]; `None` for a loop that cannot
/// watch a socket (asked once).
#[pyclass(frozen, module = "loco._loco")]
struct Held(Option<Arc<Inbox>>);

/// The inbox of each loop, by loop (weakly: a collected loop drops its inbox).
static INBOXES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The inbox of `event_loop`, registered with it on first use; `None` when the loop cannot watch
/// a socket.
fn inbox_of(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Inbox>>> {
    let inboxes = INBOXES
        .get_or_try_init(py, || {
            py.import(intern!(py, "weakref"))?.getattr(intern!(py, "WeakKeyDictionary"))?.call0().map(Bound::unbind)
        })?
        .bind(py);
    if let Some(held) = inboxes.call_method1(intern!(py, "get"), (event_loop,))?.extract::<Option<Py<Held>>>()? {
        match &held.get().0 {
            None => return Ok(None),
            Some(inbox) if inbox.pid == std::process::id() => return Ok(Some(inbox.clone())),
            // Inherited through fork: the parent still listens on these sockets.
            Some(inbox) => {
                event_loop.call_method1(intern!(py, "remove_reader"), (inbox.ear.as_raw_fd(),))?;
            }
        }
    }
    let inbox = Arc::new(Inbox::new().map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?);
    let reader = Deliver { inbox: inbox.clone() };
    let inbox = match event_loop.call_method1(intern!(py, "add_reader"), (inbox.ear.as_raw_fd(), reader)) {
        Ok(_) => Some(inbox),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyNotImplementedError>(py) => None,
        Err(e) => return Err(e),
    };
    inboxes.set_item(event_loop, Held(inbox.clone()))?;
    Ok(inbox)
}

/// Sends the cancellation of the awaitable to its Rust future.
#[pyclass(frozen)]
struct CancelOnDone {
    cancel: Mutex<Option<oneshot::Sender<()>>>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(intern!(future.py(), "cancelled"))?.is_truthy()?
            && let Some(cancel) = self.cancel.lock().unwrap_or_else(PoisonError::into_inner).take()
        {
            let _ = cancel.send(());
        }
        Ok(())
    }
}

/// `future` until it finishes (`Some`) or `cancelled` fires (`None`; the future is dropped).
struct Cancellable<F> {
    future: Pin<Box<F>>,
    /// `None` once the awaitable's callback is gone without cancelling (a finished receiver
    /// must not be polled again).
    cancelled: Option<oneshot::Receiver<()>>,
}

impl<F: Future> Future for Cancellable<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(cancelled) = self.cancelled.as_mut() {
            match Pin::new(cancelled).poll(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(None),
                Poll::Ready(Err(_)) => self.cancelled = None,
                Poll::Pending => {}
            }
        }
        self.future.as_mut().poll(cx).map(Some)
    }
}

/// An asyncio awaitable for `future`, polled on the loop's thread (inside the runtime's context)
/// in the caller's task locals (its loop and context, for host callbacks); the first poll happens
/// here. Cancelling the awaitable drops the future. Falls back to the generic bridge, which runs
/// the future on the runtime, on a loop that cannot watch a socket.
pub fn future_into_py<F, T>(py: Python<'_>, future: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let locals = pyo3_async_runtimes::generic::get_current_locals::<LocoRuntime>(py)?;
    let event_loop = locals.event_loop(py);
    let Some(inbox) = inbox_of(py, &event_loop)? else {
        return pyo3_async_runtimes::generic::future_into_py_with_locals::<LocoRuntime, F, T>(py, locals, future);
    };
    let awaitable = event_loop.call_method0(intern!(py, "create_future"))?;
    let (cancel, cancelled) = oneshot::channel();
    let on_done = CancelOnDone { cancel: Mutex::new(Some(cancel)) };
    awaitable.call_method1(intern!(py, "add_done_callback"), (on_done,))?;
    let running = LocoRuntime::scope(locals, Cancellable { future: Box::pin(future), cancelled: Some(cancelled) });
    let running: Running = Box::pin(async move {
        match CatchUnwind(Box::pin(running)).await {
            Ok(None) => None,
            Ok(Some(result)) => {
                Some(Box::new(move |py: Python<'_>| result.and_then(|value| value.into_py_any(py))) as Delivery)
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".to_owned());
                Some(Box::new(move |_: Python<'_>| Err(RustPanic::new_err(format!("rust future panicked: {message}"))))
                    as Delivery)
            }
        }
    });
    let operation = Arc::new(Operation {
        inbox,
        target: awaitable.clone().unbind(),
        running: Mutex::new(Some(running)),
        queued: AtomicBool::new(false),
    });
    // The first poll starts the work now, as a call does; it is mostly the whole of a read.
    operation.poll(py);
    Ok(awaitable)
}

/// A future's output, or the payload of its panic.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    /// Yields `n` times before answering `value`, so it is polled `n + 1` times.
    async fn after_yields(n: usize, value: u8) -> u8 {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
        value
    }

    #[test]
    fn a_future_whose_awaitable_finished_without_cancelling_runs_to_its_end() {
        let (cancel, cancelled) = oneshot::channel::<()>();
        drop(cancel);
        let running = Cancellable { future: Box::pin(after_yields(3, 7)), cancelled: Some(cancelled) };
        assert_eq!(block_on(running), Some(7));
    }

    #[test]
    fn a_cancelled_awaitable_drops_its_future() {
        let (cancel, cancelled) = oneshot::channel::<()>();
        cancel.send(()).unwrap();
        let running = Cancellable { future: Box::pin(std::future::pending::<u8>()), cancelled: Some(cancelled) };
        assert_eq!(block_on(running), None);
    }

    #[test]
    fn a_panic_inside_is_caught_with_its_message() {
        let caught = block_on(CatchUnwind(Box::pin(async { panic!("boom") })));
        let payload = caught.err().unwrap();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    }
}
