"""The hand-written stubs (``_loco.pyi``) and the package exports name exactly what the extension
module exposes at runtime — module-level names and each class's public members."""

from __future__ import annotations

import ast
import inspect
import pathlib
from typing import Callable, Dict, Set, get_args

import loco
import loco._loco as ext
from conftest import load_vectors

STUB = pathlib.Path(loco.__file__).with_name("_loco.pyi")
PROTOCOL_METHODS = {"__aiter__", "__anext__", "__iter__", "__next__", "__len__", "__enter__", "__exit__",
                    "__aenter__", "__aexit__", "__eq__"}


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"))


def public(name: str) -> bool:
    return not name.startswith("_") or name in PROTOCOL_METHODS


def stub_names() -> Set[str]:
    names: Set[str] = set()
    for node in stub_tree().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def stub_members() -> Dict[str, Set[str]]:
    members: Dict[str, Set[str]] = {}
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef):
            found: Set[str] = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.add(item.target.id)
            members[node.name] = {n for n in found if public(n)}
    return members


def test_stub_and_module_expose_the_same_names() -> None:
    runtime = {n for n in dir(ext) if not n.startswith("_") or n == "__version__"}
    assert stub_names() == runtime
    stub_all = next(
        ast.literal_eval(node.value)
        for node in stub_tree().body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    )
    assert sorted(stub_all) == sorted(ext.__all__) == sorted(runtime)


def test_stub_classes_declare_exactly_the_runtime_members() -> None:
    for name, declared in stub_members().items():
        cls = getattr(ext, name)
        if issubclass(cls, BaseException):
            continue  # instance attributes; checked on raised errors in test_errors.py
        actual = {n for n in vars(cls) if public(n)}
        assert declared == actual, name


def test_error_attributes_declared_in_the_stub_are_set_on_raised_errors() -> None:
    engine = loco.SyncEngine.open_in_memory()
    d = engine.create(service="s", environment="e", version="1", requester="a", work_refs=["w"], rollback_plan="r")
    engine.create(service="s", environment="e", version="1", requester="a", work_refs=["w"], rollback_plan="r",
                  idempotency_key="k")
    engine.set_freeze_window({"name": "always", "environments": ["frozen"], "reason": "r",
                              "schedule": {"type": "recurring", "cron": "* * * * *", "duration_minutes": 1,
                                           "time_zone": "UTC"}}, "admin")
    frozen = engine.create(service="s", environment="frozen", version="1", requester="a", work_refs=["w"],
                           rollback_plan="r")
    engine.approve(frozen.id, "b")
    engine.set_gate({"environment": "gated", "required_approvals": 2}, "admin")
    gated = engine.create(service="s", environment="gated", version="1", requester="a", work_refs=["w"],
                          rollback_plan="r")
    attempts: Dict[str, Callable[[], object]] = {
        "ValidationError": lambda: engine.create(service="", environment="e", version="1", requester="a",
                                                 work_refs=["w"], rollback_plan="r"),
        "NotFoundError": lambda: engine.get("dep_missing"),
        "InvalidTransitionError": lambda: engine.start(d.id, "bot"),
        "SelfApprovalError": lambda: engine.approve(d.id, "a"),
        "IdempotencyConflictError": lambda: engine.create(service="s2", environment="e", version="1", requester="a",
                                                          work_refs=["w"], rollback_plan="r", idempotency_key="k"),
        "PolicyViolationError": lambda: engine.start(frozen.id, "bot"),
        "ApprovalRequiredError": lambda: engine.start(gated.id, "bot"),
    }
    members = stub_members()
    for name, attempt in attempts.items():
        cls = getattr(loco, name)
        try:
            attempt()
        except cls as e:
            for attr in members[name] | members["LocoError"]:
                assert hasattr(e, attr), (name, attr)
        else:
            raise AssertionError(f"{name} was not raised")
    engine.close()


def test_package_exports_the_module_and_the_type_names() -> None:
    types_module = ast.parse(pathlib.Path(loco.__file__).with_name("_types.py").read_text(encoding="utf-8"))
    type_names = {t.id for n in types_module.body if isinstance(n, ast.Assign) for t in n.targets
                  if isinstance(t, ast.Name)}
    type_names |= {n.name for n in types_module.body if isinstance(n, ast.ClassDef)}
    assert set(loco.__all__) == stub_names() | type_names
    assert all(hasattr(loco, name) for name in loco.__all__)


def test_status_literals_match_the_lifecycle_vectors() -> None:
    doc = load_vectors()
    statuses = {name.split(" from ")[1] for name in (v["name"] for v in doc["vectors"]) if " from " in name}
    actions = {name.split(" from ")[0] for name in (v["name"] for v in doc["vectors"]) if " from " in name}
    kinds = {kind for v in doc["vectors"] for step in v["steps"] for kind in step["expect"].get("events", [])}
    assert set(get_args(loco.Status)) == statuses
    assert set(get_args(loco.Action)) == actions
    assert set(get_args(loco.EventKind)) >= kinds


def test_status_and_event_kind_literals_match_the_core() -> None:
    assert get_args(loco.Status) == loco.STATUSES
    assert get_args(loco.EventKind) == loco.EVENT_KINDS
    assert get_args(loco.RolloutState) == loco.ROLLOUT_STATES


def test_every_public_class_and_member_has_a_docstring() -> None:
    for name in dir(ext):
        obj = getattr(ext, name)
        if not inspect.isclass(obj):
            continue
        assert obj.__doc__, name
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            if callable(value) or inspect.isgetsetdescriptor(value) or isinstance(value, staticmethod):
                assert getattr(obj, member).__doc__, f"{name}.{member}"
