//! One call of a host object from the engine's async code (a platform's or a metric source's
//! method, or a probe function itself): the arguments become Python objects and the call is made
//! on one of Loco's blocking threads (holding the GIL only there, never while Rust awaits); a
//! coroutine it returns runs on the host's asyncio event loop (`asyncio.run_coroutine_threadsafe`),
//! and its outcome comes back as JSON through a channel. A call abandoned before the answer (a time
//! limit fired) cancels the coroutine.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use loco_core::platform::PlatformError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};
use pyo3_async_runtimes::generic::Runtime;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::runtime::LocoRuntime;

/// The Python side of a host platform, metric source or probe: the object and the event loop its
/// coroutines run on.
pub struct Host {
    /// The registered object.
    pub object: Py<PyAny>,
    /// The asyncio event loop its coroutines run on.
    pub event_loop: Py<PyAny>,
}

/// What a call invokes on the host object, named in messages as it is in Python (`deploy()`).
#[derive(Clone)]
pub enum Callee {
    /// `object.method(*args)`.
    Method(&'static str),
    /// `object(*args)` (a probe function), under the object's own name.
    Itself(Arc<str>),
}

impl fmt::Display for Callee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name: &str = match self {
            Callee::Method(name) => name,
            Callee::Itself(name) => name,
        };
        write!(f, "{name}()")
    }
}

/// What a host call answered: its result as JSON text, or why there is none (the exception,
/// described).
type Outcome = Result<String, String>;

/// Calls `method(*args)` on the host object; see [`invoke`].
pub async fn call(host: &Arc<Host>, method: &'static str, args: Vec<Value>) -> Result<Value, PlatformError> {
    invoke(host, Callee::Method(method), args).await
}

/// Calls `callee` with `args` and waits for its result, with the GIL released. `Err` carries the
/// Python exception (type, message and where it was raised) or says why no answer came, after the
/// callee's name (`deploy() raised …`).
pub async fn invoke(host: &Arc<Host>, callee: Callee, args: Vec<Value>) -> Result<Value, PlatformError> {
    let (answer_tx, answer_rx) = oneshot::channel::<Outcome>();
    let (pending_tx, pending_rx) = oneshot::channel::<Py<PyAny>>();
    let host = Arc::clone(host);
    let to_call = callee.clone();
    drop(LocoRuntime::spawn_blocking(move || {
        Python::attach(|py| begin(py, &host, &to_call, &args, answer_tx, pending_tx));
    }));
    // Armed once the coroutine is scheduled; dropping this future (a time limit) cancels it.
    let mut pending = CancelOnDrop(None);
    if let Ok(future) = pending_rx.await {
        pending.0 = Some(future);
    }
    let outcome = answer_rx.await;
    pending.0 = None;
    let text = outcome
        .map_err(|_| PlatformError::new(format!("{callee} gave no answer (its coroutine was dropped unfinished)")))?
        .map_err(|e| PlatformError::new(format!("{callee} {e}")))?;
    serde_json::from_str(&text).map_err(|e| PlatformError::new(format!("{callee} returned something not JSON: {e}")))
}

/// Makes the call (under the GIL, on a blocking thread). A plain result is the answer at once;
/// a coroutine is scheduled on the host's event loop with a done-callback that answers, and its
/// `concurrent.futures.Future` goes to `pending` so that the caller can cancel it.
fn begin(
    py: Python<'_>,
    host: &Host,
    callee: &Callee,
    args: &[Value],
    answer: oneshot::Sender<Outcome>,
    pending: oneshot::Sender<Py<PyAny>>,
) {
    let answer = Arc::new(Mutex::new(Some(answer)));
    let future = match start(py, host, callee, args) {
        Err(e) => return send(&answer, Err(format!("raised {}", describe(py, &e)))),
        Ok(Started::Done(result)) => return send(&answer, to_json(py, &result)),
        Ok(Started::Scheduled(future)) => future,
    };
    let slot = Arc::clone(&answer);
    let on_done =
        PyCFunction::new_closure(py, None, None, move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
            let py = args.py();
            let settled = match args.get_item(0).and_then(|f| settled(py, &f)) {
                Ok(result) => to_json(py, &result),
                Err(e) => Err(format!("raised {}", describe(py, &e))),
            };
            send(&slot, settled);
        });
    if let Err(e) = on_done.and_then(|f| future.call_method1(intern!(py, "add_done_callback"), (f,))) {
        cancel(py, &future);
        return send(&answer, Err(format!("could not be followed: {}", describe(py, &e))));
    }
    if let Err(future) = pending.send(future.unbind()) {
        // The caller gave up before the coroutine was even scheduled.
        cancel(py, future.bind(py));
    }
}

/// The result of a finished `concurrent.futures.Future`, or its exception as it was raised in
/// the coroutine: taken with `exception()` rather than re-raised by `result()`, whose own frames
/// would otherwise crowd the coroutine's out of the summary. A cancelled future raises
/// `CancelledError` here.
fn settled<'py>(py: Python<'py>, future: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let exception = future.call_method0(intern!(py, "exception"))?;
    if exception.is_none() { future.call_method0(intern!(py, "result")) } else { Err(PyErr::from_value(exception)) }
}

/// What the call gave.
enum Started<'py> {
    /// A plain value: the answer.
    Done(Bound<'py, PyAny>),
    /// A coroutine, now running on the event loop: `asyncio.run_coroutine_threadsafe`'s future.
    Scheduled(Bound<'py, PyAny>),
}

fn start<'py>(py: Python<'py>, host: &Host, callee: &Callee, args: &[Value]) -> PyResult<Started<'py>> {
    let args = args.iter().map(|a| crate::value::to_python(py, a)).collect::<PyResult<Vec<_>>>()?;
    let args = PyTuple::new(py, args)?;
    let object = host.object.bind(py);
    let result = match callee {
        Callee::Method(method) => object.call_method1(*method, args)?,
        Callee::Itself(_) => object.call1(args)?,
    };
    let asyncio = py.import(intern!(py, "asyncio"))?;
    if !asyncio.call_method1(intern!(py, "iscoroutine"), (&result,))?.is_truthy()? {
        return Ok(Started::Done(result));
    }
    match asyncio.call_method1(intern!(py, "run_coroutine_threadsafe"), (&result, host.event_loop.bind(py))) {
        Ok(future) => Ok(Started::Scheduled(future)),
        Err(e) => {
            // It will never run (the loop is closed): close it so Python does not warn about it.
            result.call_method0(intern!(py, "close"))?;
            Err(e)
        }
    }
}

fn send(answer: &Mutex<Option<oneshot::Sender<Outcome>>>, outcome: Outcome) {
    if let Some(answer) = answer.lock().unwrap_or_else(PoisonError::into_inner).take() {
        // The caller may have given up (time limit); then nobody needs the answer.
        let _ = answer.send(outcome);
    }
}

/// `value` as JSON text (`json.dumps`).
fn to_json(py: Python<'_>, value: &Bound<'_, PyAny>) -> Outcome {
    py.import(intern!(py, "json"))
        .and_then(|json| json.call_method1(intern!(py, "dumps"), (value,)))
        .and_then(|text| text.extract::<String>())
        .map_err(|e| format!("returned a value JSON cannot hold ({})", describe(py, &e)))
}

/// `ValueError: registry down [platform.py:41 in deploy, api.py:12 in push]`: the exception's
/// type and message, and the innermost frames of its traceback (outermost first).
pub fn describe(py: Python<'_>, error: &PyErr) -> String {
    const FRAMES: usize = 3;
    let kind = error.get_type(py).qualname().map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
    let message = error.value(py).str().map(|m| m.to_string()).unwrap_or_default();
    let text = if message.is_empty() { kind } else { format!("{kind}: {message}") };
    let frames = error.traceback(py).and_then(|tb| {
        let summary = py.import(intern!(py, "traceback")).ok()?.call_method1(intern!(py, "extract_tb"), (tb,)).ok()?;
        let mut frames = Vec::new();
        for frame in summary.try_iter().ok()?.flatten() {
            let file: String = frame.getattr(intern!(py, "filename")).ok()?.extract().ok()?;
            let line: Option<u32> = frame.getattr(intern!(py, "lineno")).ok()?.extract().ok()?;
            let name: String = frame.getattr(intern!(py, "name")).ok()?.extract().ok()?;
            let file = file.rsplit('/').next().unwrap_or(&file).to_owned();
            frames.push(format!("{file}:{} in {name}", line.unwrap_or(0)));
        }
        Some(frames)
    });
    if let Some(frames) = frames.filter(|f| !f.is_empty()) {
        let innermost = &frames[frames.len().saturating_sub(FRAMES)..];
        return format!("{text} [{}]", innermost.join(", "));
    }
    text
}

/// Cancels a scheduled coroutine (`Future.cancel()`, which asks its event loop to cancel the task).
fn cancel(py: Python<'_>, future: &Bound<'_, PyAny>) {
    // `cancel()` only reports whether the future was still pending; either way nothing is left to do.
    let _ = future.call_method0(intern!(py, "cancel"));
}

/// The `concurrent.futures.Future` of a coroutine still running for a caller; dropping it (with
/// the caller's future, when a time limit fires) cancels the coroutine.
struct CancelOnDrop(Option<Py<PyAny>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(future) = self.0.take() {
            drop(LocoRuntime::spawn_blocking(move || Python::attach(|py| cancel(py, future.bind(py)))));
        }
    }
}
