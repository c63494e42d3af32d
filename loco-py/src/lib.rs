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
//! - [`model`]: `Deployment`, `Event` and `Page`; [`audit`]: `AuditReport` and `BrokenLink`.
//! - [`rollout`]: `Rollout` and `Release`; [`document`]: rollout plans and thresholds as JSON
//!   documents; [`platform`]: `LogLine` and instance log streams.
//! - [`error`]: `LocoError` and one subclass per error code, mapped from [`loco_core::Error`].
//! - [`convert`]: how core values and errors become Python objects.
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

pub mod audit;
pub mod convert;
pub mod document;
pub mod engine;
pub mod error;
pub mod model;
pub mod platform;
pub mod process;
pub mod rollout;
pub mod runtime;
pub mod subscription;

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
    m.add_class::<model::Deployment>()?;
    m.add_class::<model::Event>()?;
    m.add_class::<model::Page>()?;
    m.add_class::<audit::AuditReport>()?;
    m.add_class::<audit::BrokenLink>()?;
    m.add_class::<rollout::Rollout>()?;
    m.add_class::<rollout::Release>()?;
    m.add_class::<platform::LogLine>()?;
    m.add_class::<platform::InstanceLogs>()?;
    m.add_class::<platform::SyncInstanceLogs>()?;
    error::register(m)?;
    m.add("STATUSES", PyTuple::new(m.py(), loco_core::Status::ALL.map(loco_core::Status::as_str))?)?;
    m.add("EVENT_KINDS", PyTuple::new(m.py(), loco_core::EventKind::ALL.map(loco_core::EventKind::as_str))?)?;
    m.add("ROLLOUT_STATES", PyTuple::new(m.py(), loco_core::RolloutState::ALL.map(loco_core::RolloutState::as_str))?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let shut_down = wrap_pyfunction!(runtime::shut_down, m)?;
    m.py().import("atexit")?.call_method1("register", (shut_down,))?;
    Ok(())
}
