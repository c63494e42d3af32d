//! # loco-node
//!
//! The Node.js package `@loco/engine`: napi-rs bindings that expose [`loco_core::Engine`] to
//! JavaScript as a Promise API. Build it with `npm run build` in `loco-node/` (the napi-rs CLI),
//! which also regenerates `index.js` and `index.d.ts`.
//!
//! ```js
//! const { Engine } = require('@loco/engine')
//! const engine = await Engine.open('loco.db')
//! const d = await engine.create({ service: 'checkout', environment: 'staging', version: '2.4.0',
//!   requester: 'alice@example.com', workRefs: ['PAY-142'], rollbackPlan: 'redeploy 2.3.9' })
//! await engine.approve(d.id, 'bob@example.com')
//! ```
//!
//! ## Modules (named after the core modules they mirror)
//! - [`engine`]: the `Engine` class — opening, lifecycle, history — one shim per core operation.
//! - [`rollout`]: `Engine`'s rollout methods; plans and thresholds are JSON documents the core
//!   parses.
//! - [`service`]: `Engine`'s service registry methods; definitions are JSON documents too.
//! - [`policy`]: `Engine`'s deploy lock, freeze window, approval gate, pipeline and manifest
//!   methods; windows, gates and pipelines are JSON documents too, and what is in force at an
//!   instant, where a deployment stands with its review and an applied manifest are records.
//! - [`schedule`]: `Engine`'s scheduled starts ("start deployment X at 02:00"), made and listed
//!   as records, and started when due by `runDueStarts`, which an embedding service calls on a
//!   timer.
//! - [`manifest`]: `parseManifest` and `manifestSchema`, the `service.yaml` manifest read and
//!   checked without an engine; it is a document, and its problems carry lines and columns.
//! - [`platform`]: `InstanceLogs`, one instance's output as an async iterator.
//! - [`host_platform`]: JavaScript objects as platforms (`Platform` in `index.d.ts`,
//!   `platforms: [obj]`, `registerPlatform`), and functions and objects as the health probes and
//!   metric sources plans name as `{ type: 'host', name }`, called through thread-safe functions.
//! - [`subscription`]: `Subscription`, committed events as an async iterator.
//! - [`value`]: every record the core returns (deployments, events, rollouts, …) as a plain
//!   object, by one generic conversion: camelCase keys, documents kept snake_case.
//! - [`model`], [`args`]: the reading of create/list arguments, and JavaScript type checks for
//!   arguments (wrong types are a `TypeError` with code `validation_error`, never a crash).
//! - [`error`]: the one mapping of `loco_core::Error` to thrown errors with `.code`, `.details`
//!   and the error's facts.
//! - [`promise`]: runs core futures on tokio and settles their Promises.
//!
//! The TypeScript types of the records are generated from the core's JSON Schema into
//! `dts-header.d.ts` (`scripts/codegen/run`), which napi-rs prepends to `index.d.ts`.
//!
//! ## Crate features
//! None. The crate builds a `cdylib` loaded by Node; it has no Rust API of its own.

mod args;
mod audit;
mod engine;
mod error;
mod host_platform;
mod manifest;
mod model;
mod platform;
mod platforms;
mod policy;
mod promise;
mod rollout;
mod schedule;
mod service;
mod subscription;
mod value;

use napi::bindgen_prelude::{Env, Function, JsObjectValue, Object, Unknown};
use napi_derive::napi;

// napi-rs registers a module function when the addon loads, which a test build leaves out; as part
// of the crate's interface, these stay in use there too.
pub use manifest::{manifest_schema, parse_manifest};

/// How this addon was compiled: `"release"` (as published) or `"debug"` (a development build,
/// several times slower; benchmarks refuse it).
#[napi(ts_return_type = "'debug' | 'release'")]
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

/// Makes every `Subscription` and `InstanceLogs` an async iterable: the class's
/// `prototype[Symbol.asyncIterator]` returns the object itself, whose `next()`/`return()` follow
/// the iterator protocol. (napi-rs has no attribute for a symbol-named method, so it is installed
/// when the module loads.)
#[napi(module_exports)]
pub fn install_async_iterator(exports: Object, env: Env) -> napi::Result<()> {
    let symbol: Object = env.get_global()?.get_named_property_unchecked("Symbol")?;
    let async_iterator: Unknown = symbol.get_named_property_unchecked("asyncIterator")?;
    for class_name in ["Subscription", "InstanceLogs"] {
        let class: Object = exports.get_named_property_unchecked(class_name)?;
        let mut prototype: Object = class.get_named_property_unchecked("prototype")?;
        let itself: Function<(), Unknown> =
            env.create_function_from_closure("[Symbol.asyncIterator]", |call| call.this::<Unknown>())?;
        prototype.set_property(async_iterator, itself)?;
    }
    Ok(())
}
