//! Python functions and objects as the health probes and metric sources that plans name as
//! `{"type": "host", "name": …}`: a [`HostProbe`] calls a function registered with
//! `Engine.open(path, probes={name: fn})` or `engine.register_probe(name, fn)`; a
//! [`HostMetricSource`] calls the `stats` method of an object registered with
//! `metric_sources=[obj]` or `engine.register_metric_source(obj)` (or of a host platform, which is
//! then its own source). The contracts are the `loco.HealthProbe` and `loco.MetricSource`
//! protocols ([`protocol`]).
//!
//! Calls run exactly as a host platform's do ([`crate::host_platform::call`]): a coroutine on the
//! event loop chosen at registration, a plain function on one of Loco's threads, the GIL released
//! while Rust waits, a time limit cancelling a coroutine, and an exception recorded with its type,
//! message and innermost frames.

pub mod metric_source;
pub mod probe;
pub mod protocol;

use std::sync::Arc;

use loco_core::analysis::MetricSource;
use loco_core::platform::extensions::HealthProbe;
use pyo3::prelude::*;

pub use self::metric_source::HostMetricSource;
pub use self::probe::HostProbe;
use crate::engine::Handle;
use crate::error::to_pyerr;
use crate::host_platform::EventLoop;

/// The probes of `probes={name: fn}`, each bound to `event_loop`; a `ValidationError` names what
/// is wrong with one.
pub fn probes_from<'py>(
    py: Python<'py>,
    probes: impl IntoIterator<Item = (String, Bound<'py, PyAny>)>,
    event_loop: EventLoop,
) -> PyResult<Vec<Arc<dyn HealthProbe>>> {
    probes.into_iter().map(|(name, function)| probe_from(py, name, &function, event_loop)).collect()
}

/// One probe; see [`probes_from`].
pub fn probe_from(
    py: Python<'_>,
    name: String,
    function: &Bound<'_, PyAny>,
    event_loop: EventLoop,
) -> PyResult<Arc<dyn HealthProbe>> {
    let probe = HostProbe::new(py, name, function, event_loop.get(py)?).map_err(|e| to_pyerr(py, &e))?;
    Ok(Arc::new(probe))
}

/// The metric sources of `metric_sources=[obj]` (none without), each bound to `event_loop`; a
/// `ValidationError` names what an object lacks.
pub fn metric_sources_from(
    py: Python<'_>,
    objects: Option<Vec<Bound<'_, PyAny>>>,
    event_loop: EventLoop,
) -> PyResult<Vec<Arc<dyn MetricSource>>> {
    objects.unwrap_or_default().iter().map(|object| metric_source_from(py, object, event_loop)).collect()
}

/// One metric source; see [`metric_sources_from`].
pub fn metric_source_from(
    py: Python<'_>,
    object: &Bound<'_, PyAny>,
    event_loop: EventLoop,
) -> PyResult<Arc<dyn MetricSource>> {
    let source = HostMetricSource::from_object(py, object, event_loop.get(py)?).map_err(|e| to_pyerr(py, &e))?;
    Ok(Arc::new(source))
}

impl Handle {
    /// `register_probe(name, fn)`: the probe plans may name from now on (replacing one of the same
    /// name).
    pub fn register_probe(&self, probe: Arc<dyn HealthProbe>) -> loco_core::Result<()> {
        self.engine()?.register_probe(probe);
        Ok(())
    }

    /// `register_metric_source(obj)`: the metric source analysis may name from now on (replacing
    /// one of the same name).
    pub fn register_metric_source(&self, source: Arc<dyn MetricSource>) -> loco_core::Result<()> {
        self.engine()?.register_metric_source(source);
        Ok(())
    }
}
