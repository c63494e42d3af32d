"""Every vector of ``tests/conformance/validation.json`` through ``SyncEngine.validate_plan`` on a
real SQLite file: the report's verdict and exact findings, or the error code and its fields."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "validation.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
KEYS = ("check", "rule", "location", "severity", "blocking")


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 15


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_validation_vector(vector: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    expect = vector["expect"]
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        if expect.get("error"):
            with pytest.raises(loco.LocoError) as raised:
                engine.validate_plan(vector["plan"])
            assert raised.value.code == expect["error"]
            assert [d["field"] for d in raised.value.details] == expect["fields"]
            return
        report = engine.validate_plan(vector["plan"])
        assert report.passed is expect["passed"]
        found = [{k: v for k, v in f.items() if k in KEYS} for f in report.findings]
        assert found == expect["findings"]
