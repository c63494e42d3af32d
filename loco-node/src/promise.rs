//! Runs core work for a JavaScript call on the JavaScript thread and settles the returned Promise
//! there, where a record becomes a plain object (`value`) and a failure the error `error.rs`
//! builds.
//!
//! The work is polled on the JavaScript thread (inside the Tokio runtime's context): first when
//! the method is called, then each time what it waits for (the writer's commit, a read on the
//! blocking pool, a host platform's answer) wakes it. A waker queues its call and, when the queue
//! was empty, rings a thread-safe function whose callback, on the JavaScript thread, polls every
//! queued call and settles the Promises of those that finished. So an awaited write costs two
//! thread wake-ups (the writer's, and the JavaScript thread's when the commit is done), as it
//! does for a Rust caller on a Tokio worker, instead of napi-rs's spawn onto a Tokio worker and
//! the threadsafe function it creates per call to come back. Work a call hands off (a rollout it
//! starts, a scan on the blocking pool) still runs on the runtime.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use napi::Status;
use napi::bindgen_prelude::{
    Env, Function, FunctionRef, JsError, JsObjectValue, JsValue, Object, PromiseRaw, ToNapiValue, Unknown,
    within_runtime_if_available,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde::Serialize;

use crate::error::{self, Failure};
use crate::host_platform::js::Js;
use crate::value::Json;

/// What a finished call hands the JavaScript thread: its value, or the error to reject with.
type Finish = Box<dyn for<'e> FnOnce(&'e Env) -> napi::Result<Unknown<'e>> + Send>;

/// A call in progress.
type Running = Pin<Box<dyn Future<Output = Finish> + Send>>;

/// A Promise's `resolve` or `reject` function, kept until the call finishes.
type Settler = FunctionRef<Unknown<'static>, Unknown<'static>>;

/// A thread-safe function whose callback polls the queued calls. It keeps Node's event loop alive
/// only while calls are pending (referenced then, unreferenced when the last one settles).
type Ring = ThreadsafeFunction<(), (), (), Status, false, true>;

/// One JavaScript thread's calls ready to be polled, and the bell that brings it to them.
struct Queue {
    ready: Mutex<Vec<Arc<Call>>>,
    /// Set on the JavaScript thread right after the queue is made.
    ring: Mutex<Option<Ring>>,
}

impl Queue {
    fn push(&self, call: Arc<Call>) {
        let first = {
            let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
            ready.push(call);
            ready.len() == 1
        };
        if first && let Some(ring) = self.ring.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            // When the environment is closing the call is never polled again: its Promise, and
            // every caller that could await it, go with the environment.
            let _ = ring.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Counts a call in (`1`) or out (`-1`), on the JavaScript thread: the event loop is kept
    /// alive while any is pending, as a pending write must be answered before the process ends.
    /// (`refer`/`unref` are napi's `napi_ref_threadsafe_function` and its inverse, deprecated in
    /// napi-rs in favour of cloning, which this one function that lives as long as its thread
    /// cannot use.)
    #[allow(deprecated)]
    fn count(&self, env: Env, change: isize) {
        let pending = PENDING.get().saturating_add_signed(change);
        PENDING.set(pending);
        if let Some(ring) = self.ring.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            // Only fails when the environment is going away.
            let _ = match (pending, change) {
                (1, 1) => ring.refer(&env),
                (0, -1) => ring.unref(&env),
                _ => Ok(()),
            };
        }
    }

    fn take(&self) -> Vec<Arc<Call>> {
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

thread_local! {
    /// The queue of this thread's JavaScript environment (a worker thread has its own).
    static QUEUE: RefCell<Option<Arc<Queue>>> = const { RefCell::new(None) };
    /// How many of this thread's calls have not settled yet.
    static PENDING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// This thread's queue, made (with its thread-safe function) on first use.
fn queue(env: Env) -> napi::Result<Arc<Queue>> {
    if let Some(queue) = QUEUE.with_borrow(Clone::clone) {
        return Ok(queue);
    }
    let queue = Arc::new(Queue { ready: Mutex::new(Vec::new()), ring: Mutex::new(None) });
    let polled = Arc::downgrade(&queue);
    let poll_ready = env.create_function_from_closure::<(), (), _>("loco_poll", move |ctx| {
        if let Some(queue) = polled.upgrade() {
            for call in queue.take() {
                if call.poll(*ctx.env) {
                    queue.count(*ctx.env, -1);
                }
            }
        }
        Ok(())
    })?;
    let ring = poll_ready.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build()?;
    *queue.ring.lock().unwrap_or_else(PoisonError::into_inner) = Some(ring);
    // An environment torn down takes its queue along: a later environment on this thread (an
    // embedder that recreates one) makes its own.
    env.add_env_cleanup_hook((), |()| {
        QUEUE.with_borrow_mut(|slot| *slot = None);
        PENDING.set(0);
    })?;
    QUEUE.with_borrow_mut(|slot| *slot = Some(queue.clone()));
    Ok(queue)
}

/// One call: its work, and the Promise it settles. Polled only on the JavaScript thread (the
/// locks are never contended; they make the call shareable with wakers on other threads).
struct Call {
    queue: Arc<Queue>,
    running: Mutex<Option<Running>>,
    settle: Mutex<Option<(Settler, Settler)>>,
    /// Whether it is queued already (a second wake-up before the poll adds nothing).
    queued: AtomicBool,
}

impl Wake for Call {
    fn wake(self: Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.clone().push(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.clone().wake();
    }
}

impl Call {
    /// Polls the work once, on the JavaScript thread, and settles the Promise when it is done;
    /// says whether it did.
    fn poll(self: &Arc<Self>, env: Env) -> bool {
        self.queued.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let finish = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(work) = running.as_mut() else { return false };
            // The JavaScript thread must not block on a commit: writes go to the writer thread.
            let polled = loco_core::store::context::without_blocking(|| {
                within_runtime_if_available(|| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work.as_mut().poll(&mut Context::from_waker(&waker))
                    }))
                })
            });
            let finish: Finish = match polled {
                Ok(Poll::Pending) => return false,
                Ok(Poll::Ready(finish)) => finish,
                Err(_) => Box::new(|_: &Env| Err(napi::Error::from_reason("a Loco call panicked"))),
            };
            *running = None;
            finish
        };
        let Some((resolve, reject)) = self.settle.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return false;
        };
        // Settling can only fail when the environment is going away; nobody is left to tell.
        let _ = settle_now(env, finish, &resolve, &reject);
        true
    }
}

/// Calls `resolve` with the call's value, or `reject` with its error.
fn settle_now(env: Env, finish: Finish, resolve: &Settler, reject: &Settler) -> napi::Result<()> {
    let js = Js::new(&env)?;
    let undefined = ().into_unknown(&env)?;
    match finish(&env) {
        Ok(value) => js.call(resolve.borrow_back(&env)?.to_unknown(), undefined, vec![value])?,
        Err(error) => {
            let reason = JsError::from(error).into_unknown(env);
            js.call(reject.borrow_back(&env)?.to_unknown(), undefined, vec![reason])?
        }
    };
    Ok(())
}

/// A new Promise and its `resolve` and `reject` functions.
fn promise(env: &Env) -> napi::Result<(Object<'_>, Settler, Settler)> {
    let settlers: Rc<RefCell<Option<(Settler, Settler)>>> = Rc::default();
    let kept = settlers.clone();
    let executor = env.create_function_from_closure::<Unknown, (), _>("loco_settlers", move |ctx| {
        let resolve = ctx.get::<Function<Unknown<'static>, Unknown<'static>>>(0)?.create_ref()?;
        let reject = ctx.get::<Function<Unknown<'static>, Unknown<'static>>>(1)?.create_ref()?;
        *kept.borrow_mut() = Some((resolve, reject));
        Ok(())
    })?;
    let constructor: Function<Unknown, Unknown> = env.get_global()?.get_named_property_unchecked("Promise")?;
    let promise = constructor.new_instance(executor.to_unknown())?.coerce_to_object()?;
    let (resolve, reject) =
        settlers.borrow_mut().take().ok_or_else(|| napi::Error::from_reason("Promise did not call its executor"))?;
    Ok((promise, resolve, reject))
}

/// A Promise settled by `work`'s finish, which is polled here first, then on this thread as it
/// makes progress.
fn run<V>(env: &Env, work: impl Future<Output = Finish> + Send + 'static) -> napi::Result<PromiseRaw<'_, V>> {
    let queue = queue(*env)?;
    let (promise, resolve, reject) = promise(env)?;
    let call = Arc::new(Call {
        queue: queue.clone(),
        running: Mutex::new(Some(Box::pin(work))),
        settle: Mutex::new(Some((resolve, reject))),
        queued: AtomicBool::new(false),
    });
    // A call still pending after its first poll keeps the event loop alive until it settles.
    if !call.poll(*env) {
        queue.count(*env, 1);
    }
    Ok(PromiseRaw::new(env.raw(), promise.raw()))
}

/// The finish of a call: `convert` turns its value into a JavaScript value; a failure becomes
/// the coded error `error.rs` builds.
fn finish_with<T, C>(outcome: Result<T, Failure>, convert: C) -> Finish
where
    T: Send + 'static,
    C: for<'e> FnOnce(&'e Env, T) -> napi::Result<Unknown<'e>> + Send + 'static,
{
    Box::new(move |env: &Env| match outcome {
        Ok(value) => convert(env, value),
        Err(failure) => Err(error::to_js(*env, &failure)),
    })
}

/// A Promise of `work`'s value (an `Engine`, a string); rejected with a coded error when `work`
/// fails.
pub(crate) fn settle<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    run(env, async move { finish_with(work.await, |env: &Env, value: T| value.into_unknown(env)) })
}

/// A Promise of `work`'s record (or list of records) as a plain object; it is serialized on the
/// runtime's thread. Rejected with a coded error when `work` fails.
pub(crate) fn settle_record<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Unknown<'_>>>
where
    T: Serialize,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    settle_json(env, async move { work.await.and_then(|record| Json::of(&record)) })
}

/// A Promise of `work`'s document (or list of documents) as a plain object with the snake_case
/// keys callers write it with; it is serialized on the runtime's thread. Rejected with a coded
/// error when `work` fails.
pub(crate) fn settle_document<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Unknown<'_>>>
where
    T: Serialize,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    settle_json(env, async move { work.await.and_then(|document| Json::of_document(&document)) })
}

fn settle_json<F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Unknown<'_>>>
where
    F: Future<Output = Result<Json, Failure>> + Send + 'static,
{
    run(env, async move { finish_with(work.await, |env: &Env, json: Json| json.into_js(env)) })
}

/// A Promise of an async iterator result for `work`'s record: `{ done: false, value }`, or
/// `{ done: true }` for `None`; rejected with a coded error when `work` fails.
pub(crate) fn settle_next<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Object<'_>>>
where
    T: Serialize,
    F: Future<Output = Result<Option<T>, Failure>> + Send + 'static,
{
    run(env, async move {
        let item = work.await.and_then(|item| item.map(|record| Json::of(&record)).transpose());
        finish_with(item, |env: &Env, item: Option<Json>| {
            let mut result = Object::new(env)?;
            result.set("done", item.is_none())?;
            if let Some(json) = item {
                result.set("value", json.into_js(env)?)?;
            }
            Ok(result.to_unknown())
        })
    })
}
