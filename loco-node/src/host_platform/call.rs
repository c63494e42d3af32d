//! One call of a host object from the engine's async code (a platform's or a metric source's
//! method, or a probe function itself), through a napi thread-safe function: the request is queued
//! without blocking (the queue is unbounded, so a tokio worker never waits for the JavaScript
//! thread), and there the call is made from a microtask, so a plain value, a Promise, a throw and a
//! rejection all settle one Promise, whose outcome comes back through a channel as JSON text. The
//! JavaScript thread never waits for Rust either. A throw or a rejection becomes a
//! [`PlatformError`] with the error's message and the innermost frames of its stack
//! (`deploy() threw Error: registry down [cloud.mjs:41 in deploy]`).
//!
//! The object (or function) is kept alive by the thread-safe function itself: its function is a
//! dispatcher bound to the object (`dispatch.bind(object)`), so Node releases both when the last
//! [`Host`] is dropped, on its own thread. The function is weak: a registered platform does not
//! keep the process alive.
//!
//! A call abandoned before the answer (a time limit fired) drops the receiving end: a call not yet
//! started is then skipped, and the outcome of one already running is ignored (JavaScript cannot
//! cancel a Promise).

use std::cell::RefCell;
use std::rc::Rc;

use loco_core::platform::{PlatformError, PlatformResult};
use napi::Status;
use napi::bindgen_prelude::{Env, External, ToNapiValue, Unknown, ValueType};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde_json::Value;
use tokio::sync::oneshot;

use super::js::Js;
use crate::value::Json;

/// What the dispatcher receives: the request, taken out once.
type Slot = Option<Request>;

/// A thread-safe function over `dispatch.bind(object)`, taking one request per call, with no
/// error-first argument (callee not handled) and weak (it does not keep Node's event loop alive).
type Dispatch = ThreadsafeFunction<External<Slot>, (), External<Slot>, Status, false, true>;

/// The JavaScript side of a host platform, metric source or probe (or of an iterator a method
/// returned).
pub(crate) struct Host {
    dispatch: Dispatch,
}

/// What to call.
#[derive(Clone, Copy)]
pub(crate) enum Callee {
    /// A method of the object, with the object as `this`.
    Method(&'static str),
    /// The object itself, a function (a probe).
    Itself,
}

/// A call to make and where its outcome goes.
struct Request {
    callee: Callee,
    args: Vec<Json>,
    reply: Reply,
}

/// Where an outcome goes. An error is the text after the callee's name (`threw Error: …`).
enum Reply {
    /// The settled value as JSON text (`null` for `undefined`).
    Value(oneshot::Sender<Result<String, String>>),
    /// The iterator of the settled async iterable (or iterable), as a host of its own.
    Iterator(oneshot::Sender<Result<Host, String>>),
    /// Nobody waits (an iterator's `return()`).
    Ignored,
}

impl Reply {
    /// Whether the caller gave up waiting.
    fn abandoned(&self) -> bool {
        match self {
            Reply::Value(tx) => tx.is_closed(),
            Reply::Iterator(tx) => tx.is_closed(),
            Reply::Ignored => false,
        }
    }

    fn fail(self, why: String) {
        // A caller that gave up (a time limit) needs no answer.
        match self {
            Reply::Value(tx) => drop(tx.send(Err(why))),
            Reply::Iterator(tx) => drop(tx.send(Err(why))),
            Reply::Ignored => {}
        }
    }
}

impl Host {
    /// A host calling `object` (or its methods); on the JavaScript thread.
    pub(crate) fn new(env: Env, object: Unknown) -> napi::Result<Self> {
        let dispatcher = env.create_function_from_closure::<External<Slot>, (), _>("loco_host_call", |ctx| {
            // Nothing may be thrown from here (the thread-safe function would make it fatal):
            // a request that cannot be read has its reply dropped, which the caller sees.
            if let (Ok(this), Ok(slot)) = (ctx.this::<Unknown>(), ctx.get::<&mut External<Slot>>(0))
                && let Some(request) = slot.take()
            {
                dispatch(*ctx.env, this, request);
            }
            Ok(())
        })?;
        let dispatch = dispatcher
            .bind(object)?
            .build_threadsafe_function::<External<Slot>>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(Self { dispatch })
    }

    /// `callee(...args)`, awaited: its value as JSON; an error names the call as `label()`.
    pub(crate) async fn call(&self, callee: Callee, label: &str, args: Vec<Json>) -> PlatformResult<Value> {
        let (tx, rx) = oneshot::channel();
        let text = match self.send(Request { callee, args, reply: Reply::Value(tx) }) {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(dropped())),
            Err(e) => Err(e),
        };
        let text = text.map_err(|e| PlatformError::new(format!("{label}() {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| PlatformError::new(format!("{label}() returned something not JSON: {e}")))
    }

    /// `method(...args)`, awaited: the iterator of the (async) iterable it gives.
    pub(crate) async fn iterate(&self, method: &'static str, args: Vec<Json>) -> PlatformResult<Host> {
        let (tx, rx) = oneshot::channel();
        let iterator = match self.send(Request { callee: Callee::Method(method), args, reply: Reply::Iterator(tx) }) {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(dropped())),
            Err(e) => Err(e),
        };
        iterator.map_err(|e| PlatformError::new(format!("{method}() {e}")))
    }

    /// `method()`, not awaited.
    pub(crate) fn notify(&self, method: &'static str) {
        // Nobody waits for it: a JavaScript environment that is gone has nothing left to tell.
        let _ = self.send(Request { callee: Callee::Method(method), args: Vec::new(), reply: Reply::Ignored });
    }

    fn send(&self, request: Request) -> Result<(), String> {
        match self.dispatch.call(External::new(Some(request)), ThreadsafeFunctionCallMode::NonBlocking) {
            Status::Ok => Ok(()),
            status => Err(format!("could not be called: the JavaScript environment is closing ({status})")),
        }
    }
}

fn dropped() -> String {
    "gave no answer (the JavaScript environment dropped the call)".to_owned()
}

/// On the JavaScript thread: starts the call and follows its Promise.
fn dispatch(env: Env, this: Unknown, request: Request) {
    let Request { callee, args, reply } = request;
    if reply.abandoned() {
        return;
    }
    let reply = Rc::new(RefCell::new(Some(reply)));
    if let Err(e) = start(env, this, callee, args, &reply)
        && let Some(reply) = reply.borrow_mut().take()
    {
        reply.fail(format!("could not be called: {}", e.reason));
    }
}

fn start(
    env: Env,
    this: Unknown,
    callee: Callee,
    args: Vec<Json>,
    reply: &Rc<RefCell<Option<Reply>>>,
) -> napi::Result<()> {
    let js = Js::new(&env)?;
    let args = args.into_iter().map(|a| a.into_js(&env)).collect::<napi::Result<Vec<_>>>()?;
    let promise = match callee {
        Callee::Method(method) => js.call_later(js.get(this, method)?, this, args)?,
        Callee::Itself => js.call_later(this, ().into_unknown(&env)?, args)?,
    };
    let fulfilled = Rc::clone(reply);
    let on_value = js.function("loco_host_answer", move |env, value| {
        if let Some(reply) = fulfilled.borrow_mut().take() {
            answer(*env, value, reply);
        }
    })?;
    let rejected = Rc::clone(reply);
    let on_error = js.function("loco_host_failure", move |env, reason| {
        if let Some(reply) = rejected.borrow_mut().take() {
            let why = Js::new(env).map_or_else(|e| e.reason, |js| js.describe(reason));
            reply.fail(format!("threw {why}"));
        }
    })?;
    js.call_method(promise, "then", vec![on_value, on_error])?;
    Ok(())
}

/// Hands the settled `value` to whoever waits for it.
fn answer(env: Env, value: Unknown, reply: Reply) {
    let js = match Js::new(&env) {
        Ok(js) => js,
        Err(e) => return reply.fail(format!("could not be read: {}", e.reason)),
    };
    match reply {
        Reply::Value(tx) => {
            let text = match js.stringify(value) {
                Ok(text) => Ok(text.unwrap_or_else(|| "null".to_owned())),
                Err(e) => Err(format!("returned a value JSON cannot hold ({})", e.reason)),
            };
            drop(tx.send(text));
        }
        Reply::Iterator(tx) => drop(tx.send(iterator(env, &js, value))),
        Reply::Ignored => {}
    }
}

/// The iterator of `iterable`: its `[Symbol.asyncIterator]()`, else its `[Symbol.iterator]()`.
fn iterator(env: Env, js: &Js, iterable: Unknown) -> Result<Host, String> {
    let not_iterable = || "did not give an async iterable (an object with [Symbol.asyncIterator])".to_owned();
    for symbol in ["asyncIterator", "iterator"] {
        let Ok(method) = js.get_symbol(iterable, symbol) else { return Err(not_iterable()) };
        if method.get_type().is_ok_and(|t| t == ValueType::Function) {
            let iterator = js.call(method, iterable, Vec::new()).map_err(|e| format!("threw {}", e.reason))?;
            return Host::new(env, iterator).map_err(|e| format!("could not be followed: {}", e.reason));
        }
    }
    Err(not_iterable())
}
