//! Runs core work on napi-rs's tokio runtime, off the JavaScript thread, and settles the returned
//! Promise back on the JavaScript thread, where a failure becomes the error `error.rs` builds.

use std::future::Future;

use napi::bindgen_prelude::{Env, Object, PromiseRaw, ToNapiValue};

use crate::error::{self, Failure};

/// A Promise of `work`'s value; rejected with a coded error when `work` fails.
pub(crate) fn settle<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, outcome| {
        outcome.map_err(|failure| error::to_js(*env, &failure))
    })
}

/// A Promise of an async iterator result for `work`'s item: `{ done: false, value }`, or
/// `{ done: true }` for `None`; rejected with a coded error when `work` fails.
pub(crate) fn settle_next<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Object<'_>>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<Option<T>, Failure>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, outcome| {
        let item = outcome.map_err(|failure| error::to_js(*env, &failure))?;
        let mut result = Object::new(env)?;
        result.set("done", item.is_none())?;
        if let Some(value) = item {
            result.set("value", value)?;
        }
        Ok(result)
    })
}
