"""Every vector of ``tests/conformance/freeze.json`` through ``SyncEngine.set_freeze_window`` and
``SyncEngine.active_freeze`` on a real SQLite file, checked as the Rust runner checks them: the
occurrence in force (window, start, end) or none, or the error code and its fields with nothing
stored."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest

import loco

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "freeze.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 40


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_freeze_vector(vector: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    expect = vector["expect"]
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        error: Optional[loco.LocoError] = None
        for window in vector["windows"]:
            try:
                engine.set_freeze_window(window, "admin")
            except loco.LocoError as e:
                error = e
                break
        if "error" in expect:
            assert error is not None, "expected an error"
            assert error.code == expect["error"], error
            assert [d["field"] for d in error.details] == expect["fields"]
            assert engine.freeze_windows() == [], "nothing was stored"
            return
        assert error is None, error
        active = engine.active_freeze(vector["environment"], vector["at"])
        found = None if active is None else {"window": active.window, "start": active.start, "end": active.end}
        assert found == expect["active"]
