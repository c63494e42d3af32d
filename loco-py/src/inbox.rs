//! How results reach asyncio: each event loop gets an inbox, a queue of finished operations and a
//! socket pair whose read end the loop watches (`loop.add_reader`). A Tokio task that finishes
//! pushes its result and writes one byte only when the queue was empty; the loop, woken, drains
//! the socket, then the queue, and completes every future in it on its own thread.
//!
//! This replaces the generic bridge of `pyo3_async_runtimes` on the hot path, which hands each
//! result to a blocking thread that takes the GIL to call `call_soon_threadsafe`: two thread
//! wake-ups and a GIL hand-off per await. Here a result costs one wake-up of the loop, or none
//! when the loop is already awake for an earlier one, and no thread but the loop's own touches
//! Python. Loops without `add_reader` (Windows' proactor loop) keep the generic bridge.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{IntoPyObjectExt, intern};
use pyo3_async_runtimes::err::RustPanic;
use pyo3_async_runtimes::generic::ContextExt;
use tokio::sync::oneshot;

use crate::runtime::{self, LocoRuntime};

/// Turns a finished operation's result into its Python value, on the loop's thread.
type Delivery = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// One event loop's finished operations and its wake-up socket pair.
struct Inbox {
    /// The process that made it: a forked child must not share the parent's sockets.
    pid: u32,
    done: Mutex<Vec<(Py<PyAny>, Delivery)>>,
    /// Written by finishing tasks (non-blocking).
    bell: UnixStream,
    /// Watched by the loop (non-blocking).
    ear: UnixStream,
}

impl Inbox {
    fn new() -> std::io::Result<Self> {
        let (bell, ear) = UnixStream::pair()?;
        bell.set_nonblocking(true)?;
        ear.set_nonblocking(true)?;
        Ok(Self { pid: std::process::id(), done: Mutex::new(Vec::new()), bell, ear })
    }

    /// Queues a result for `future`; rings when the queue was empty (a ring is pending otherwise).
    fn push(&self, future: Py<PyAny>, delivery: Delivery) {
        let first = {
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            done.push((future, delivery));
            done.len() == 1
        };
        if first {
            // A full socket buffer means rings are pending already; the loop will drain.
            let _ = (&self.bell).write(&[1]);
        }
    }

    /// Everything queued. The socket is drained first: a result queued after the drain rings
    /// again, so none is left without a ring.
    fn take(&self) -> Vec<(Py<PyAny>, Delivery)> {
        let mut buf = [0u8; 256];
        while matches!((&self.ear).read(&mut buf), Ok(n) if n > 0) {}
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The loop's reader callback: completes every queued future.
#[pyclass(frozen, module = "loco._loco")]
struct Deliver {
    inbox: Arc<Inbox>,
}

#[pymethods]
impl Deliver {
    fn __call__(&self, py: Python<'_>) {
        for (future, delivery) in self.inbox.take() {
            let future = future.bind(py);
            // A cancelled (or otherwise finished) awaitable takes no result.
            if future.call_method0(intern!(py, "done")).and_then(|d| d.is_truthy()).unwrap_or(true) {
                continue;
            }
            let set = match delivery(py) {
                Ok(value) => future.call_method1(intern!(py, "set_result"), (value,)),
                Err(error) => future.call_method1(intern!(py, "set_exception"), (error.into_value(py),)),
            };
            if let Err(e) = set {
                e.write_unraisable(py, Some(future));
            }
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

/// An asyncio awaitable for `future`, run on the runtime in the caller's task locals (its loop
/// and context, for host callbacks); cancelling the awaitable drops the future. Falls back to
/// the generic bridge on a loop that cannot watch a socket.
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
    let target = awaitable.clone().unbind();
    let running = LocoRuntime::scope(locals, Cancellable { future: Box::pin(future), cancelled: Some(cancelled) });
    runtime::get().spawn(async move {
        let delivery: Delivery = match CatchUnwind(Box::pin(running)).await {
            Ok(None) => return,
            Ok(Some(result)) => Box::new(move |py| result.and_then(|value| value.into_py_any(py))),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".to_owned());
                Box::new(move |_| Err(RustPanic::new_err(format!("rust future panicked: {message}"))))
            }
        };
        inbox.push(target, delivery);
    });
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
