//! `loco.MetricSource` and `loco.HealthProbe`: the contracts of a host metric source and a host
//! probe as runtime-checkable `typing.Protocol`s, so `isinstance(obj, loco.MetricSource)` works and
//! `_loco.pyi` declares the same classes for mypy.

use pyo3::prelude::*;
use pyo3::types::PyModule;

/// The protocols' Python source; `_loco.pyi` declares the same members with their types.
const SOURCE: &std::ffi::CStr = cr#"
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class MetricSource(Protocol):
    """Per-version metrics for canary analysis, from your own monitoring: pass the object to
    ``Engine.open(path, metric_sources=[obj])`` (or ``SyncEngine.open``) or
    ``engine.register_metric_source(obj)``, and plans whose ``analysis.source`` is
    ``{"type": "host", "name": obj.name}`` are judged on what ``stats`` reports.

    ``stats`` may be ``async`` (run on the event loop that registered the source, or on Loco's
    private loop for ``SyncEngine``) or plain (run on one of Loco's threads); each call may take
    10 s. It returns a ``WindowStatsDict``: ``requests`` and ``errors`` are required,
    ``error_rate`` is computed from them when missing or ``None``, and ``p50_ms``, ``p95_ms``,
    ``p99_ms``, ``cpu_percent`` and ``memory_percent`` may be ``None`` or left out (their rules are
    then skipped); any other key is refused. A bad shape, an exception or a time-out makes that
    window's metrics unavailable (an inconclusive verdict) and is recorded with the analysis.
    """

    __module__ = "loco"

    @property
    def name(self) -> str:
        """The name plans choose the source by (``{"type": "host", "name": name}``)."""
        ...

    def stats(self, target, version, window_seconds):
        """The metrics of ``version`` of ``target`` (``{"service", "environment"}``) over the last
        ``window_seconds``."""
        ...


@runtime_checkable
class HealthProbe(Protocol):
    """A health check written in Python: ``fn(target, instance)``, registered with
    ``Engine.open(path, probes={name: fn})`` or ``engine.register_probe(name, fn)`` and named by
    plans as ``{"type": "host", "name": name}`` in ``health.probes``.

    It passes when it returns ``None`` or ``True`` and fails when it returns ``False`` or raises
    (the exception's type, message and innermost frames say why). It may be ``async`` or plain,
    like a platform's methods; the health check's ``timeout_seconds`` limits each call.
    """

    __module__ = "loco"

    def __call__(self, target, instance, /):
        ...
"#;

/// Adds `MetricSource` and `HealthProbe` to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let source = PyModule::from_code(m.py(), SOURCE, c"loco/_extension_protocols.py", c"loco._extension_protocols")?;
    m.add("MetricSource", source.getattr("MetricSource")?)?;
    m.add("HealthProbe", source.getattr("HealthProbe")?)
}
