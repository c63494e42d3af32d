"""Every vector of ``tests/conformance/manifests.json`` through ``loco.parse_manifest``, checked as
the vectors' description says: a valid manifest has the listed value at each path; an invalid one
raises ``ValidationError`` whose details name exactly these fields on these lines, in order, each
with a column. Then the rest of the Python surface: the schema, argument types, the size limit and
how the error reads."""

from __future__ import annotations

import json
import pathlib
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

import loco

REPO = pathlib.Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO / "tests" / "conformance" / "manifests.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
SCHEMA_PATH = REPO / "schema" / "manifest.schema.json"

GOOD = """apiVersion: loco/v1
service: checkout
stages:
  - environment: staging
  - environment: production
    approval:
      required_approvals: 2
"""


def at(value: Any, path: str) -> Any:
    """The value at ``path`` (``stages[1].rollout.instances``) inside ``value``; a missing key or
    index fails the test instead of reading as ``None``."""
    here = value
    for part in path.split("."):
        name, *indexes = part.split("[")
        assert isinstance(here, dict) and name in here, f"{path}: no key {name!r} in {here!r}"
        here = here[name]
        for index in indexes:
            n = int(index.rstrip("]"))
            assert isinstance(here, list) and n < len(here), f"{path}: no item {n} in {here!r}"
            here = here[n]
    return here


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 57
    assert sum(1 for v in VECTORS if not v["expect"]["valid"]) >= 30


def test_the_path_resolver_reads_nested_keys_and_indexes() -> None:
    doc = {"stages": [{"environment": "dev"}, {"rollout": {"steps": [10, 50]}}], "n": None}
    assert at(doc, "stages[1].rollout.steps[1]") == 50
    assert at(doc, "stages[0].environment") == "dev"
    assert at(doc, "n") is None
    with pytest.raises(AssertionError):
        at(doc, "stages[2].environment")
    with pytest.raises(AssertionError):
        at(doc, "stages[0].approval")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_manifest_vector(vector: Dict[str, Any]) -> None:
    expect = vector["expect"]
    if expect["valid"]:
        parsed = loco.parse_manifest(vector["manifest"])
        assert type(parsed) is dict
        for path, value in expect["values"].items():
            got = at(parsed, path)
            assert got == value and type(got) is type(value), (path, got)
        return
    with pytest.raises(loco.ValidationError) as caught:
        loco.parse_manifest(vector["manifest"])
    err = caught.value
    assert err.code == "validation_error"
    got = [(d["field"], d.get("line")) for d in err.details]
    assert got == [(p["field"], p["line"]) for p in expect["problems"]], str(err)
    for detail in err.details:
        column = detail.get("column")
        assert type(column) is int and column >= 1, detail
        assert detail["message"], detail


def test_a_parsed_manifest_is_plain_json_with_every_default_filled_in() -> None:
    parsed = loco.parse_manifest(GOOD)
    assert parsed == {
        "apiVersion": "loco/v1",
        "service": "checkout",
        "stages": [
            {"environment": "staging", "rollout": None, "approval": None},
            {
                "environment": "production",
                "rollout": None,
                "approval": {"required_approvals": 2, "approvers": [], "groups": [], "expires_after_minutes": None,
                             "wait_minutes": None},
            },
        ],
        "require_previous_success": True,
        "freeze_windows": [],
    }
    assert json.loads(json.dumps(parsed)) == parsed
    assert loco.parse_manifest(json.dumps(parsed)) == parsed, "its JSON text reads back the same"


def test_the_schema_is_the_published_one() -> None:
    schema = loco.manifest_schema()
    assert schema == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert sorted(schema["properties"]) == ["apiVersion", "freeze_windows", "require_previous_success", "service",
                                            "stages"]
    schema["title"] = "changed"
    assert loco.manifest_schema()["title"] != "changed", "each call returns a new document"


@pytest.mark.parametrize("text", [GOOD.encode(), None, 7, {"apiVersion": "loco/v1"}])
def test_anything_but_a_str_is_a_type_error(text: Any) -> None:
    with pytest.raises(TypeError):
        loco.parse_manifest(text)


def test_a_manifest_over_256_kib_is_refused_before_it_is_read() -> None:
    limit = 256 * 1024
    text = GOOD + "# " + "x" * limit + "\n"
    with pytest.raises(loco.ValidationError) as caught:
        loco.parse_manifest(text)
    detail = caught.value.details[0]
    assert detail["field"] == "manifest"
    assert str(limit) in detail["message"] and str(len(text)) in detail["message"]
    assert "line" not in detail and "column" not in detail, "no position: nothing was read"
    padded = GOOD + "#" * (limit - len(GOOD) - 1) + "\n"
    assert len(padded) == limit
    assert loco.parse_manifest(padded)["service"] == "checkout", "exactly 256 KiB is accepted"


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    text = GOOD + "# " + "é" * (128 * 1024) + "\n"
    assert len(text) < 256 * 1024 < len(text.encode())
    with pytest.raises(loco.ValidationError) as caught:
        loco.parse_manifest(text)
    assert caught.value.details[0]["field"] == "manifest"


def test_the_error_reads_with_every_problem_at_its_line() -> None:
    text = GOOD.replace("service:", "servce:").replace("required_approvals: 2", "required_approvals: 0")
    with pytest.raises(loco.LocoError) as caught:
        loco.parse_manifest(text)
    err = caught.value
    assert type(err) is loco.ValidationError
    assert [(d["field"], d["line"]) for d in err.details] == [
        ("service", 1), ("servce", 2), ("stages[1].approval.required_approvals", 7)]
    assert all(set(d) == {"field", "message", "line", "column"} for d in err.details)
    message = str(err)
    assert message.startswith("invalid input: ")
    for detail in err.details:
        assert re.search(rf"{re.escape(detail['field'])} \(line {detail['line']}\b", message), message
        assert detail["message"] in message
    assert repr(err) == f"ValidationError({message!r})"


def test_details_of_other_errors_keep_no_position() -> None:
    engine = loco.SyncEngine.open_in_memory()
    try:
        with pytest.raises(loco.ValidationError) as caught:
            engine.set_pipeline({"service": "web", "stages": ["dev"]}, "root")
        assert caught.value.details and all(set(d) == {"field", "message"} for d in caught.value.details)
    finally:
        engine.close()


def test_threads_parse_at_once_and_agree() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        parsed = list(pool.map(loco.parse_manifest, [GOOD] * 40))
    assert all(p == parsed[0] for p in parsed)
    assert at(parsed[0], "stages[1].approval.required_approvals") == 2
