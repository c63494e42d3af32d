//! # Loco for Python
//!
//! The extension module `loco._loco` behind the Python package `loco`: thin doors into
//! [`loco_core::Engine`]. Each method converts its arguments, calls the core, waits for it with the
//! GIL released, and converts the result or raises the matching `loco.LocoError` subclass. No
//! deployment rule lives here.
//!
//! ## Modules
//! - [`engine`]: `loco.Engine` (asyncio awaitables) and its blocking twin `loco.SyncEngine`,
//!   sharing one set of operations (lifecycle, history, audit, rollouts).
//! - [`subscription`]: `loco.Subscription` (`async for`) and `loco.SyncSubscription` (`for`).
//! - [`host_platform`]: Python objects as platforms (`loco.Platform`, `platforms=[obj]`).
//! - [`host_extensions`]: Python functions and objects as the health probes and metric sources
//!   plans name (`loco.HealthProbe`, `probes={name: fn}`; `loco.MetricSource`,
//!   `metric_sources=[obj]`).
//! - [`platform`]: instance log streams; [`document`]: rollout plans and thresholds as JSON
//!   documents for the core.
//! - [`manifest`]: `loco.parse_manifest` and `loco.manifest_schema`, the `service.yaml` manifest
//!   without an engine.
//! - [`error`]: `LocoError` and one subclass per error code, mapped from [`loco_core::Error`].
//! - [`convert`]: how core results and errors become Python objects. The result classes
//!   (`Deployment`, `Event`, `Page`, `AuditReport`, `BrokenLink`, `Rollout`, `Release`, `LogLine`,
//!   `ValidationReport`, …) and the `TypedDict`s live in `loco/_types.py`, generated from the JSON
//!   Schema of loco-types by `scripts/codegen/python.py`; this module hands them the records' JSON
//!   objects, which [`value`] builds.
//! - [`runtime`]: the extension's tokio runtime (rebuilt after `os.fork()`); [`process`]: handles
//!   bound to the process that opened them.
//!
//! ## Features
//! None of its own. maturin builds it with `pyo3/extension-module` (see `pyproject.toml`), which
//! is not a default feature so `cargo test --workspace` still links.
//!
//! ## Quick start (Python)
//!
//! ```python
//! import asyncio, loco
//!
//! async def main() -> None:
//!     async with await loco.Engine.open("loco.db") as engine:
//!         d = await engine.create(service="checkout", environment="staging", version="2.4.0",
//!                                 requester="alice@example.com", work_refs=["PAY-142"],
//!                                 rollback_plan="redeploy 2.3.9")
//!         await engine.approve(d.id, "bob@example.com")
//!         print((await engine.get(d.id)).status)  # approved
//!
//! asyncio.run(main())
//! ```
//!
//! `examples/python/quickstart.py` is the runnable version; `scripts/test-python` runs it.

pub mod convert;
pub mod document;
pub mod engine;
pub mod error;
pub mod host_extensions;
pub mod host_platform;
pub mod inbox;
pub mod manifest;
pub mod platform;
pub mod process;
pub mod runtime;
pub mod subscription;
pub mod value;

use loco_core::{EventKind, RolloutState, Status};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The extension module `loco._loco`; the package `loco` re-exports everything in it.
#[pymodule]
#[pyo3(name = "_loco")]
fn loco_extension(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::asyncio::Engine>()?;
    m.add_class::<engine::blocking::SyncEngine>()?;
    m.add_class::<subscription::Subscription>()?;
    m.add_class::<subscription::SyncSubscription>()?;
    m.add_class::<platform::InstanceLogs>()?;
    m.add_class::<platform::SyncInstanceLogs>()?;
    m.add_function(wrap_pyfunction!(manifest::parse_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(manifest::manifest_schema, m)?)?;
    error::register(m)?;
    host_platform::protocol::register(m)?;
    host_extensions::protocol::register(m)?;
    let py = m.py();
    m.add("STATUSES", PyTuple::new(py, Status::ALL.map(Status::as_str))?)?;
    m.add("EVENT_KINDS", PyTuple::new(py, EventKind::ALL.map(EventKind::as_str))?)?;
    m.add("ROLLOUT_STATES", PyTuple::new(py, RolloutState::ALL.map(RolloutState::as_str))?)?;
    let active: Vec<&str> = RolloutState::ALL.into_iter().filter(|s| s.is_active()).map(RolloutState::as_str).collect();
    m.add("ACTIVE_ROLLOUT_STATES", PyTuple::new(py, active)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_PROFILE", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    let shut_down = wrap_pyfunction!(runtime::shut_down, m)?;
    m.py().import("atexit")?.call_method1("register", (shut_down,))?;
    Ok(())
}
