//! `loco.Platform`: the contract of a host platform as a runtime-checkable `typing.Protocol`, so
//! `isinstance(obj, loco.Platform)` works and `_loco.pyi` declares the same class for mypy.

use pyo3::prelude::*;
use pyo3::types::PyModule;

/// The protocol's Python source; `_loco.pyi` declares the same members with their types.
const SOURCE: &std::ffi::CStr = cr#"
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Platform(Protocol):
    """A platform written in Python: pass it to ``Engine.open(path, platforms=[obj])`` (or
    ``SyncEngine.open``) or ``engine.register_platform(obj)``, and plans naming it run on it.

    Loco's orchestrator decides every call and limits its time; the object does the work. Each
    method may be ``async`` (run on the event loop that registered the platform, or on Loco's
    private loop for ``SyncEngine``; cancelled when its time limit fires) or plain (run on one of
    Loco's threads). Arguments are the core's JSON shapes as ``dict``s and ``list``s; results are
    checked against them (a bad shape, or an exception, fails the call with ``PlatformError``).
    Optional methods: ``logs(target, instance_id) -> list[LogLineDict]``, ``plan_shares(target,
    version, shares)``, ``shutdown()`` and ``stats(target, version, window_seconds)``, which makes
    the platform its own metric source (``loco.MetricSource``) for analysis from
    ``{"type": "platform"}``.
    """

    __module__ = "loco"

    @property
    def name(self) -> str:
        """The name plans choose the platform by (``"platform": name``)."""
        ...

    @property
    def capabilities(self) -> object:
        """``{"traffic": "percentage" | "instance_count" | "atomic_swap", "native_rollback": bool,
        "logs": bool, "metrics": bool}`` (or a method returning it); ``logs`` needs a ``logs``
        method, ``metrics`` a ``stats`` method."""
        ...

    def deploy(self, target, release, instance_ids):
        """Starts one instance of ``release`` per id (ids chosen by Loco); returns the instances,
        running and without traffic."""
        ...

    def set_traffic(self, target, split):
        """Splits the target's traffic between versions: ``[{"version": ..., "percent": ...}]``."""
        ...

    def stop(self, target, instances):
        """Stops these instances; stopping an unknown or stopped one succeeds."""
        ...

    def health(self, target, instance):
        """``"running"``, or ``{"state": "exited", "reason": ...}``."""
        ...

    def status(self, target):
        """``{"endpoint": str | None, "traffic": [...], "instances": [...]}``."""
        ...

    def restore(self, target, release, known, replacement_ids):
        """Brings ``release`` back without traffic: keeps the ``known`` instances still running,
        starts replacements with ids from ``replacement_ids``; returns the instances running.
        Must work in a fresh process after a crash, from these arguments alone."""
        ...

    def test_connection(self):
        """Checks the platform is reachable (raise when it is not)."""
        ...
"#;

/// Adds `Platform` to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let source = PyModule::from_code(m.py(), SOURCE, c"loco/_platform_protocol.py", c"loco._platform_protocol")?;
    m.add("Platform", source.getattr("Platform")?)
}
