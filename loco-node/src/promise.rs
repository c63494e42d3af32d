//! Runs core work on napi-rs's tokio runtime, off the JavaScript thread, and settles the returned
//! Promise back on the JavaScript thread, where a record becomes a plain object (`value`) and a
//! failure the error `error.rs` builds.

use std::future::Future;

use napi::bindgen_prelude::{Env, Object, PromiseRaw, ToNapiValue, Unknown};
use serde::Serialize;

use crate::error::{self, Failure};
use crate::value::Json;

/// A Promise of `work`'s value (an `Engine`, a string); rejected with a coded error when `work`
/// fails.
pub(crate) fn settle<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, outcome| {
        outcome.map_err(|failure| error::to_js(*env, &failure))
    })
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
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, outcome| match outcome {
        Ok(json) => json.into_js(env),
        Err(failure) => Err(error::to_js(*env, &failure)),
    })
}

/// A Promise of an async iterator result for `work`'s record: `{ done: false, value }`, or
/// `{ done: true }` for `None`; rejected with a coded error when `work` fails.
pub(crate) fn settle_next<T, F>(env: &Env, work: F) -> napi::Result<PromiseRaw<'_, Object<'_>>>
where
    T: Serialize,
    F: Future<Output = Result<Option<T>, Failure>> + Send + 'static,
{
    let work = async move { Ok(work.await.and_then(|item| item.map(|record| Json::of(&record)).transpose())) };
    env.spawn_future_with_callback(work, |env, outcome| {
        let item = outcome.map_err(|failure| error::to_js(*env, &failure))?;
        let mut result = Object::new(env)?;
        result.set("done", item.is_none())?;
        if let Some(json) = item {
            result.set("value", json.into_js(env)?)?;
        }
        Ok(result)
    })
}
