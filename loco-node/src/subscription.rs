//! `Subscription`: committed events as a JavaScript async iterator over
//! `loco_core::EventSubscription` (`next()` and `return()` here; `[Symbol.asyncIterator]` is
//! installed by `lib.rs`).
//!
//! napi-rs's own `#[napi(async_iterator)]` could only reject with a generic status, so `next()` is
//! an ordinary Promise method and a failed catch-up still throws with its core code.

use std::sync::Arc;

use loco_core::{Event, EventSubscription};
use napi::bindgen_prelude::{Env, Object, PromiseRaw};
use napi_derive::napi;
use tokio::sync::{Mutex, watch};

use crate::error::Failure;
use crate::promise::settle_next;

/// A stream of committed events, in commit order. Use it with `for await`; it ends once the
/// engine is closed and every committed event was delivered, or when the loop is left.
#[napi]
pub struct Subscription {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` once the subscription has ended; the lock also keeps `next()` calls in order.
    events: Mutex<Option<EventSubscription>>,
    /// Set by `return()`, which must end a `next()` that is waiting for an event.
    stopped: watch::Sender<bool>,
}

impl Subscription {
    pub(crate) fn new(events: EventSubscription) -> Self {
        let shared = Shared { events: Mutex::new(Some(events)), stopped: watch::Sender::new(false) };
        Self { shared: Arc::new(shared) }
    }
}

#[napi]
impl Subscription {
    /// The next committed event as `{ done: false, value }`, or `{ done: true }` once the stream
    /// has ended. Calls are answered in order.
    #[napi(ts_return_type = "Promise<IteratorResult<Event, undefined>>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Object<'env>>> {
        let shared = self.shared.clone();
        let mut stopped = self.shared.stopped.subscribe();
        settle_next(env, async move {
            let mut events = shared.events.lock().await;
            let Some(subscription) = events.as_mut() else { return Ok(None) };
            let next = tokio::select! {
                next = subscription.next() => next,
                _ = stopped.wait_for(|stopped| *stopped) => None,
            };
            match next {
                Some(Ok(event)) => Ok(Some(event)),
                Some(Err(error)) => Err(Failure::Core(error)),
                None => {
                    events.take();
                    Ok(None)
                }
            }
        })
    }

    /// Ends the subscription (`for await` calls this when the loop is left early); a `next()`
    /// that is waiting for an event resolves as done.
    #[napi(js_name = "return", ts_return_type = "Promise<IteratorResult<Event, undefined>>")]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Object<'env>>> {
        self.shared.stopped.send_replace(true);
        if let Ok(mut events) = self.shared.events.try_lock() {
            events.take();
        }
        settle_next::<Event, _>(env, async { Ok(None) })
    }
}
