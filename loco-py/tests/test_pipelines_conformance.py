"""Every vector of ``tests/conformance/pipelines.json`` through ``SyncEngine`` on a real SQLite file,
checked as the vectors' description says: the error code and the fields its details name; each
deployment's status, event kinds and JSON fields; which refs name one deployment; a view's stages
and next stage; and the pipelines stored after the step."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest

import loco

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "pipelines.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
#: The id a ``ref`` of ``missing`` stands for: one that does not exist.
MISSING = "dep_missing"


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 37


def run_step(engine: loco.SyncEngine, refs: Dict[str, str], step: Dict[str, Any]) -> Any:
    op = step["op"]
    if op == "pipeline":
        return engine.set_pipeline(step["pipeline"], "root")
    if op == "remove_pipeline":
        return engine.remove_pipeline(step["service"])
    if op == "view":
        return engine.pipeline_view(step["service"], step["version"])
    if op == "create":
        d = engine.create(service=step["service"], environment=step["environment"], version=step["version"],
                          requester="alice", work_refs=["PIPE-1"], rollback_plan="redeploy", risk="low",
                          commit=step.get("commit"))
        refs[step["ref"]] = d.id
        return d
    target = MISSING if step["ref"] == "missing" else refs[step["ref"]]
    if op == "promote":
        promoted = engine.promote(target, step["actor"])
        refs[step["as"]] = promoted.id
        return promoted
    if op == "approve":
        return engine.approve(target, "bob")
    if op == "start":
        return engine.start(target, "dana")
    if op == "succeed":
        return engine.succeed(target, "dana")
    if op == "fail":
        return engine.fail(target, "dana", "vector")
    if op == "rollback":
        return engine.rollback(target, "dana", "vector")
    raise AssertionError(f"unknown op {op!r}")


def stage_rows(view: loco.PipelineView, refs: Dict[str, str]) -> List[List[Optional[str]]]:
    """The view's stages as the vectors write them: the deployment as its ref, not its id."""
    names = {id: ref for ref, id in refs.items()}
    return [[s.environment, None if s.deployment_id is None else names.get(s.deployment_id, s.deployment_id),
             s.status] for s in view.stages]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_pipeline_vector(vector: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        refs: Dict[str, str] = {}
        for n, step in enumerate(vector["steps"]):
            at = f"step {n} ({step['op']})"
            expect = step.get("expect")
            if expect is None:
                run_step(engine, refs, step)
                continue
            if "error" in expect:
                with pytest.raises(loco.LocoError) as caught:
                    run_step(engine, refs, step)
                err = caught.value
                assert err.code == expect["error"], (at, err)
                if "fields" in expect:
                    assert [d["field"] for d in err.details] == expect["fields"], (at, err)
                if expect["error"] == "policy_violation":
                    assert isinstance(err, loco.PolicyViolationError), at
                    assert err.rule == "promotion_order", at
            else:
                result = run_step(engine, refs, step)
                if step["op"] == "view":
                    assert isinstance(result, loco.PipelineView), at
                    assert (result.service, result.version) == (step["service"], step["version"]), at
                    if "stages" in expect:
                        assert stage_rows(result, refs) == expect["stages"], at
                    if "next" in expect:
                        assert result.next == expect["next"], at
                elif step["op"] == "pipeline":
                    assert isinstance(result, loco.Pipeline), at
                    assert (result.service, result.stages) == (step["pipeline"]["service"],
                                                               step["pipeline"]["stages"]), at
                elif step["op"] == "promote":
                    assert isinstance(result, loco.Deployment), at
            for ref, status in expect.get("statuses", {}).items():
                assert engine.get(refs[ref]).status == status, (at, ref)
            for ref, kinds in expect.get("events", {}).items():
                assert [e.kind for e in engine.events(refs[ref])] == kinds, (at, ref)
            for ref, subset in expect.get("deployment", {}).items():
                as_json = engine.get(refs[ref]).to_dict()
                assert {k: as_json.get(k) for k in subset} == subset, (at, ref)
            if "same" in expect:
                first, second = expect["same"]
                assert refs[first] == refs[second], at
            if "pipelines" in expect:
                assert [[p.service, p.stages] for p in engine.pipelines()] == expect["pipelines"], at
        assert engine.verify_audit().valid
