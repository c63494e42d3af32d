"""The generated data model (``loco._types``): current with the committed JSON Schema, naming every
field and value the schema names, matching what the engine really returns (keys, types, ``None``
only where the types allow it), and result classes that behave as immutable values."""

from __future__ import annotations

import copy
import json
import pathlib
import pickle
import subprocess
import sys
from typing import Any, Callable, Dict, List, Literal, Union, get_args, get_origin, get_type_hints

import pytest

import loco
import loco._types as generated
from conftest import REPO, request
from rollout_helpers import approved, plan, service_processes, unique_service

SCHEMA = REPO / "schema" / "loco.schema.json"
GENERATOR = REPO / "scripts" / "codegen" / "python.py"
CLASSES: Dict[str, Any] = {
    "Deployment": loco.Deployment,
    "Event": loco.Event,
    "Page": loco.Page,
    "AuditReport": loco.AuditReport,
    "BrokenLink": loco.BrokenLink,
    "Rollout": loco.Rollout,
    "Release": loco.Release,
    "LogLine": loco.LogLine,
}


def definitions() -> Dict[str, Any]:
    defs: Dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]
    return defs


def conforms(value: Any, hint: Any, where: str = "value") -> None:
    """Asserts that the JSON value `value` has the type `hint` (a generated annotation)."""
    origin = get_origin(hint)
    if hint is Any:
        return
    if origin is Union:
        problems = []
        for option in get_args(hint):
            try:
                conforms(value, option, where)
                return
            except AssertionError as e:
                problems.append(str(e))
        raise AssertionError(f"{where}: {value!r} is none of {hint}: {problems}")
    if hint is type(None):
        assert value is None, f"{where}: {value!r} is not None"
    elif origin is Literal:
        assert value in get_args(hint), f"{where}: {value!r} is not one of {get_args(hint)}"
    elif origin is list:
        assert type(value) is list, f"{where}: {value!r} is not a list"
        for i, item in enumerate(value):
            conforms(item, get_args(hint)[0], f"{where}[{i}]")
    elif origin is dict:
        assert type(value) is dict, f"{where}: {value!r} is not a dict"
        for key, item in value.items():
            conforms(item, get_args(hint)[1], f"{where}.{key}")
    elif hasattr(hint, "__required_keys__"):
        assert type(value) is dict, f"{where}: {value!r} is not a dict"
        fields = get_type_hints(hint)
        assert set(value) <= set(fields), f"{where}: {sorted(set(value) - set(fields))} are not {hint.__name__} keys"
        missing = set(hint.__required_keys__) - set(value)
        assert not missing, f"{where}: {hint.__name__} needs {sorted(missing)}"
        for key, item in value.items():
            conforms(item, fields[key], f"{where}.{key}")
    elif hint is float:
        assert type(value) in (int, float), f"{where}: {value!r} is not a number"
    else:
        assert type(value) is hint, f"{where}: {value!r} is not {hint.__name__}"


def test_the_generated_module_is_current_with_the_committed_schema(tmp_path: pathlib.Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(SCHEMA), str(tmp_path)], check=True)
    fresh = (tmp_path / "loco-py" / "python" / "loco" / "_types.py").read_text(encoding="utf-8")
    assert pathlib.Path(generated.__file__).read_text(encoding="utf-8") == fresh, "run scripts/codegen/run"


def test_classes_and_typed_dicts_name_every_schema_field_in_order() -> None:
    defs = definitions()
    for name, cls in CLASSES.items():
        fields = defs[name]["required"]
        assert sorted(fields) == sorted(defs[name]["properties"]), name
        typed_dict = getattr(loco, f"{name}Dict")
        assert list(typed_dict.__annotations__) == fields, name
        properties = [n for n, v in vars(cls).items() if isinstance(v, property)]
        assert properties[: len(fields)] == fields, name
        assert all(getattr(cls, n).__doc__ for n in properties), name
        assert cls.__doc__ and cls.to_dict.__doc__, name


def test_literals_list_the_schema_values_in_order() -> None:
    defs = definitions()
    literals = ["Status", "EventKind", "Action", "ErrorCode", "RolloutState", "Verdict", "Severity",
                "InstanceState", "FailureCode", "LogStream"]
    for name in literals:
        assert get_args(getattr(loco, name)) == tuple(v["const"] for v in defs[name]["oneOf"]), name
    assert set(get_args(loco.ErrorCode)) == {cls.code for cls in loco.LocoError.__subclasses__()}


def test_active_rollout_states_come_from_the_core() -> None:
    assert loco.ACTIVE_ROLLOUT_STATES == ("running", "paused", "rolling_back")
    assert set(loco.ACTIVE_ROLLOUT_STATES) <= set(loco.ROLLOUT_STATES)


def test_lifecycle_results_match_their_types(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    approved_d = sync_engine.approve(d.id, "bob", "fine")
    sync_engine.start(d.id, "bot")
    for deployment in (d, approved_d, sync_engine.get(d.id)):
        conforms(deployment.to_dict(), loco.DeploymentDict, "deployment")
    for event in sync_engine.events(d.id):
        conforms(event.to_dict(), loco.EventDict, "event")
    conforms(sync_engine.list(limit=1).to_dict(), loco.PageDict, "page")
    conforms(sync_engine.verify_audit().to_dict(), loco.AuditReportDict, "audit report")
    with loco.SyncEngine.open_in_memory() as empty:
        conforms(empty.verify_audit().to_dict(), loco.AuditReportDict, "empty report")


def test_rollout_results_match_their_types(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    try:
        v1 = approved(engine, service, "v1")
        first = engine.run_rollout(v1, plan("v1"), "deploy-bot")
        instance = first.progress["instances"][0]
        line = engine.logs(v1, instance["id"]).next_line(timeout=10)
        assert line is not None
        conforms(line.to_dict(), loco.LogLineDict, "log line")
        v2 = approved(engine, service, "v2")
        second = engine.run_rollout(v2, plan("v2"), "deploy-bot")
        assert second.previous is not None and second.state == "succeeded"
        engine.rollback(v2, "carol", "back to v1")
        rollouts = engine.rollouts()
        assert {r.state for r in rollouts} == {"succeeded", "rolled_back"}
        for rollout in rollouts:
            conforms(rollout.to_dict(), loco.RolloutDict, "rollout")
            conforms(rollout.plan, loco.RolloutPlanDict, "plan")
        releases = engine.releases(service, "staging")
        assert {r.version for r in releases} == {"v1", "v2"}
        for release in releases:
            conforms(release.to_dict(), loco.ReleaseDict, "release")
        kinds = set()
        for id in (v1, v2):
            for event in engine.events(id):
                conforms(event.to_dict(), loco.EventDict, "event")
                if event.data is not None:
                    conforms(event.data, loco.EventDataDict, f"{event.kind} data")
                    kinds.add(event.kind)
        assert kinds == {"created", "step_progress", "health_check"}
    finally:
        engine.close()
    assert service_processes(service) == []


def test_results_are_immutable_values_that_copy_and_pickle(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    attempts: List[Callable[[], None]] = [
        lambda: setattr(d, "_d", {}), lambda: setattr(d, "extra", 1), lambda: delattr(d, "id")]
    for attempt in attempts:
        with pytest.raises(AttributeError):
            attempt()
    assert type(d).__module__ == "loco" and type(d).__name__ == "Deployment"
    assert copy.copy(d) == d == copy.deepcopy(d) == pickle.loads(pickle.dumps(d))
    as_dict = d.to_dict()
    as_dict["work_refs"].append("mutated")
    assert d.work_refs == ["PAY-142"] and d.to_dict() != as_dict
    assert (d == "not a deployment") is False

    page = sync_engine.list()
    assert page.items[0] is page.items[0] and page.items is not page.items
    assert page == sync_engine.list() and pickle.loads(pickle.dumps(page)) == page
    with pytest.raises(TypeError):
        hash(page)
    report = sync_engine.verify_audit()
    assert report == sync_engine.verify_audit()


def test_classes_wrap_http_json_objects() -> None:
    deployment: loco.DeploymentDict = {
        "id": "dep_01", "service": "checkout", "environment": "staging", "version": "1.0.0",
        "requester": "alice", "work_refs": ["PAY-1"], "rollback_plan": "redeploy", "risk": None, "commit": None,
        "status": "approved", "reviewed_by": "bob", "reviewed_at": "2026-11-23T08:36:00.000000Z",
        "created_at": "2026-11-23T08:35:00.000000Z", "updated_at": "2026-11-23T08:36:00.000000Z",
    }
    d = loco.Deployment(deployment)
    assert (d.id, d.status, d.reviewed_by) == ("dep_01", "approved", "bob")
    # A record an older Loco wrote lacks the fields added since; those that may be null read None.
    older = {k: v for k, v in deployment.items() if k not in ("commit", "risk")}
    assert (loco.Deployment(older).commit, loco.Deployment(older).risk) == (None, None)  # type: ignore[arg-type]
    page = loco.Page({"items": [deployment], "next_cursor": None})
    assert list(page) == [d] and len(page) == 1
    release: loco.ReleaseDict = {
        "version": "1.0.0", "deployment_id": "dep_01", "platform": "local",
        "spec": {"version": "1.0.0", "command": ["app"], "env": {}, "image": None},
        "instances": [], "activated_at": "2026-11-23T08:36:00.000000Z", "retired_at": None,
    }
    rollout_json: loco.RolloutDict = {
        "deployment_id": "dep_02", "service": "checkout", "environment": "staging", "platform": "local",
        "plan": {}, "state": "paused", "progress": {
            "completed_steps": 2, "total_steps": 5, "step": "observe", "traffic": [], "instances": [],
            "endpoint": None, "analysis": None,
        },
        "previous": release, "failure": None, "actor": "bot", "owner": "host:1:0", "lease": 0,
        "heartbeat_at": "2026-11-23T08:36:00.000000Z", "started_at": "2026-11-23T08:36:00.000000Z",
        "updated_at": "2026-11-23T08:36:00.000000Z", "finished_at": None,
    }
    rollout = loco.Rollout(rollout_json)
    assert rollout.is_active and rollout.analysis is None
    assert rollout.previous == loco.Release(release)
    assert repr(rollout) == ("Rollout(deployment_id='dep_02', service='checkout', environment='staging', "
                             "state='paused', steps='2/5')")
    rolled_back: loco.RolloutDict = {**rollout_json, "state": "rolled_back"}
    assert not loco.Rollout(rolled_back).is_active
    links: List[loco.BrokenLinkDict] = [
        {"seq": 2, "event_id": "evt_1", "deployment_id": "dep_01", "field": None, "reason": "x"}
    ]
    report = loco.AuditReport({
        "valid": False, "events_checked": 2, "deployments_checked": 0, "deployments_status_only": 0,
        "head_hash": None, "exported_head_seq": None, "first_broken": links[0],
    })
    assert report.first_broken == loco.BrokenLink(links[0])
    assert repr(report).startswith("AuditReport(valid=False, events_checked=2, first_broken=BrokenLink(seq=2")
