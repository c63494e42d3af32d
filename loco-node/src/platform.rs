//! `InstanceLogs`: one instance's output as an async iterator over the core's `LogFollower`
//! (`next()` and `return()` here; `[Symbol.asyncIterator]` is installed by `lib.rs`).

use std::sync::Arc;

use loco_core::platform::LogLine;
use napi::bindgen_prelude::{Env, Object, PromiseRaw};
use napi_derive::napi;
use tokio::sync::{Mutex, watch};

use crate::error::Failure;
use crate::promise::settle_next;

/// The output of one instance: its recent lines, then new ones as they are written, until the
/// instance stops. Use it with `for await`; leaving the loop ends it.
#[napi]
pub struct InstanceLogs {
    shared: Arc<Shared>,
}

struct Shared {
    /// Where the lines come from; the lock also keeps `next()` calls in order.
    source: Mutex<Source>,
    /// Set by `return()`, which must end a `next()` that is waiting for a line.
    stopped: watch::Sender<bool>,
}

enum Source {
    /// Not followed yet: the first `next()` asks the engine, so its errors reject that call.
    Pending {
        engine: loco_core::Engine,
        deployment_id: String,
        instance_id: String,
    },
    Following(loco_core::LogFollower),
    Ended,
}

impl InstanceLogs {
    pub(crate) fn new(engine: loco_core::Engine, deployment_id: String, instance_id: String) -> Self {
        let source = Source::Pending { engine, deployment_id, instance_id };
        Self { shared: Arc::new(Shared { source: Mutex::new(source), stopped: watch::Sender::new(false) }) }
    }
}

#[napi]
impl InstanceLogs {
    /// The next line as `{ done: false, value }`, or `{ done: true }` once the instance stopped
    /// (or the engine closed). The first call rejects with `not_found` when the deployment has no
    /// rollout, or `platform_error` when the instance does not run on this engine.
    #[napi(ts_return_type = "Promise<IteratorResult<LogLine, undefined>>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Object<'env>>> {
        let shared = self.shared.clone();
        let mut stopped = self.shared.stopped.subscribe();
        settle_next(env, async move {
            let mut source = shared.source.lock().await;
            if let Source::Pending { engine, deployment_id, instance_id } = &*source {
                let (engine, deployment_id, instance_id) = (engine.clone(), deployment_id.clone(), instance_id.clone());
                // Ended unless the follow below opens: an error ends the iteration.
                *source = Source::Ended;
                tokio::select! {
                    opened = engine.follow_logs(&deployment_id, &instance_id) => *source = Source::Following(opened?),
                    _ = stopped.wait_for(|stopped| *stopped) => return Ok(None),
                }
            }
            let Source::Following(lines) = &mut *source else { return Ok(None) };
            let line = tokio::select! {
                line = lines.next() => line,
                _ = stopped.wait_for(|stopped| *stopped) => None,
            };
            if line.is_none() {
                *source = Source::Ended;
            }
            Ok(line)
        })
    }

    /// Stops following (`for await` calls this when the loop is left early); a `next()` that is
    /// waiting for a line resolves as done.
    #[napi(js_name = "return", ts_return_type = "Promise<IteratorResult<LogLine, undefined>>")]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Object<'env>>> {
        self.shared.stopped.send_replace(true);
        if let Ok(mut source) = self.shared.source.try_lock() {
            if let Source::Following(lines) = &mut *source {
                lines.close();
            }
            *source = Source::Ended;
        }
        settle_next::<LogLine, _>(env, async { Ok::<_, Failure>(None) })
    }
}
