"""The service registry from Python: register, list and remove the services a rollout plan may name
in ``release.service``. A plan naming one runs its registered command in its working directory,
with its probes, and may set only the environment keys it allows; the core checks definitions and
names every bad field."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Dict, List

import pytest

import loco
from conftest import REPO, run
from rollout_helpers import approved, approved_async, plan, service_processes, unique_service, versions

#: Where the demo service lives: registered services run ``python3 app.py`` there.
DEMO_DIR = REPO / "examples" / "demo-service"


def demo(name: str, **overrides: Any) -> Dict[str, Any]:
    """A definition running the demo service, which may be told its version."""
    body: Dict[str, Any] = {
        "name": name,
        "command": ["python3", "app.py"],
        "working_dir": str(DEMO_DIR),
        "allowed_env": ["VERSION"],
    }
    body.update(overrides)
    return body


def naming(service: str, version: str, **release: Any) -> Dict[str, Any]:
    """A plan that names ``service`` instead of carrying a command."""
    body = plan(version)
    del body["release"]["command"]
    body["release"].update(service=service, **release)
    return body


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


#: What a definition without scripts or checks comes back with.
NO_SCRIPTS_OR_CHECKS = {
    "scripts": {"pre_deploy": [], "post_deploy": [], "on_rollback": [], "on_failure": []},
    "validation": {"artifact": None, "config": None, "secrets": None, "dependencies": [], "smoke_tests": []},
}


def test_a_registered_service_is_returned_listed_replaced_and_kept_in_the_file(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        shop = engine.register_service(demo("shop"), "admin@example.com")
        assert isinstance(shop, loco.ServiceDefinition)
        assert (shop.name, shop.command, shop.working_dir) == ("shop", ["python3", "app.py"], str(DEMO_DIR))
        assert (shop.allowed_env, shop.probes) == (["VERSION"], [])
        assert shop.to_dict() == {**demo("shop"), "probes": [], **NO_SCRIPTS_OR_CHECKS}
        assert repr(shop) == "ServiceDefinition(name='shop', command=['python3', 'app.py'])"

        # JSON text works as well as a dict; what was left out comes back filled in.
        cart = engine.register_service(json.dumps({"name": "cart", "command": ["./cart"]}), "admin@example.com")
        assert cart.to_dict() == {"name": "cart", "command": ["./cart"], "working_dir": None,
                                  "allowed_env": [], "probes": [], **NO_SCRIPTS_OR_CHECKS}
        assert engine.services() == [cart, shop], "by name"

        replaced = engine.register_service(demo("shop", allowed_env=["VERSION", "FAILURE_RATE"]), "ops@example.com")
        assert replaced.allowed_env == ["VERSION", "FAILURE_RATE"]
        assert engine.services() == [cart, replaced]
        assert engine.register_service(replaced.to_dict(), "ops@example.com") == replaced, "it registers again as is"

    with loco.SyncEngine.open(db) as again:
        assert again.services() == [cart, replaced]


def test_a_plan_naming_the_service_runs_its_registered_command(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    probe = {"type": "command", "command": ["python3", "-c", "pass"]}

    async def main() -> None:
        engine = await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
        try:
            await engine.register_service(demo(service, probes=[probe]), "admin@example.com")
            id = await approved_async(engine, service, "v1")
            rollout = await engine.run_rollout(id, naming(service, "v1", env={"VERSION": "v1"}), "deploy-bot")
            assert rollout.state == "succeeded", rollout.failure

            release = rollout.plan["release"]
            assert (release["service"], release["command"]) == (service, ["python3", "app.py"])
            assert release["working_dir"] == str(DEMO_DIR)
            assert [p["type"] for p in rollout.plan["health"]["probes"]] == ["http", "command"], "the service's last"
            assert rollout.plan["health"]["probes"][1] == probe

            (pid,) = [i["pid"] for i in rollout.progress["instances"] if i["state"] == "running"]
            # python3 as found on PATH (a version manager's shim may run it by its full path).
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                program, script = f.read().split(b"\0")[:2]
            assert (os.path.basename(program).startswith(b"python3"), script) == (True, b"app.py"), program
            assert os.readlink(f"/proc/{pid}/cwd") == str(DEMO_DIR)
            endpoint = rollout.progress["endpoint"]
            assert endpoint is not None
            assert versions(endpoint, 3) == {"v1": 3}
        finally:
            await engine.close()

    run(main)
    assert service_processes(service) == []


@pytest.mark.parametrize(
    ("release", "refused"),
    [
        pytest.param({"env": {"LD_PRELOAD": "/tmp/x.so"}}, ["release.env.LD_PRELOAD"], id="an env key"),
        pytest.param(
            {"env": {"VERSION": "v1"}, "secret_env": {"API_KEY": "s3cret"}},
            ["release.secret_env.API_KEY"],
            id="a secret env key",
        ),
        pytest.param({"command": ["sh", "-c", "true"]}, ["release.command"], id="a command of its own"),
    ],
)
def test_what_the_service_does_not_allow_is_refused_by_field(
    tmp_path: pathlib.Path, release: Dict[str, Any], refused: List[str]
) -> None:
    service = unique_service()
    with loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
        engine.register_service(demo(service), "admin@example.com")
        id = approved(engine, service, "v1")
        with pytest.raises(loco.ValidationError) as error:
            engine.run_rollout(id, naming(service, "v1", **release), "deploy-bot")
        assert fields(error.value) == refused
        with pytest.raises(loco.NotFoundError):
            engine.rollout(id)
        assert engine.get(id).status == "approved", "nothing started"
    assert service_processes(service) == []


def test_a_plan_naming_an_unknown_service_is_refused_on_release_service(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
        id = approved(engine, "shop", "v1")
        with pytest.raises(loco.ValidationError) as error:
            engine.run_rollout(id, naming("shop", "v1"), "deploy-bot")
        assert fields(error.value) == ["release.service"]
        assert "'shop' is not a registered service" in error.value.details[0]["message"]


@pytest.mark.parametrize(
    ("definition", "refused"),
    [
        pytest.param({"name": "shop", "command": []}, ["command"], id="no command"),
        pytest.param({"name": "shop", "command": [""]}, ["command"], id="an empty program"),
        pytest.param({"name": "a shop", "command": ["app"]}, ["name"], id="a bad name"),
        pytest.param({"name": "", "command": ["app"]}, ["name"], id="an empty name"),
        pytest.param(
            {"name": "shop", "command": ["app"], "allowed_env": ["MODE", "PATH", "LOCO_KEY", "1X"]},
            ["allowed_env[1]", "allowed_env[2]", "allowed_env[3]"],
            id="env keys a plan may not set",
        ),
        pytest.param(
            {"name": "a/b", "command": [], "working_dir": " ", "allowed_env": ["PORT"]},
            ["name", "command", "working_dir", "allowed_env[0]"],
            id="every field at once",
        ),
        pytest.param({"name": "shop", "command": ["app"], "shell": True}, ["shell"], id="an unknown field"),
        pytest.param({"name": "shop", "command": "app"}, ["command"], id="a mistyped field"),
    ],
)
def test_a_bad_definition_is_refused_naming_each_field(definition: Dict[str, Any], refused: List[str]) -> None:
    with loco.SyncEngine.open_in_memory() as engine:
        for document in (definition, json.dumps(definition)):
            with pytest.raises(loco.ValidationError) as error:
                engine.register_service(document, "admin@example.com")
            assert fields(error.value) == refused
        assert engine.services() == []


def test_a_definition_that_is_not_a_document_is_a_type_error() -> None:
    with loco.SyncEngine.open_in_memory() as engine:
        with pytest.raises(TypeError, match="must be a dict or a JSON string; got list"):
            engine.register_service(["shop"], "admin@example.com")  # type: ignore[arg-type]
        with pytest.raises(loco.ValidationError) as error:
            engine.register_service("{not json", "admin@example.com")
        assert fields(error.value) == ["service"], "JSON that does not parse is named as a whole"


def test_removing_services_empties_the_registry_and_an_unknown_name_is_not_found() -> None:
    async def main() -> None:
        async with await loco.Engine.open_in_memory() as engine:
            await engine.register_service(demo("shop"), "admin@example.com")
            cart = await engine.register_service(demo("cart"), "admin@example.com")
            await engine.remove_service("shop")
            assert await engine.services() == [cart]
            await engine.remove_service("cart")
            assert await engine.services() == []

            with pytest.raises(loco.NotFoundError) as error:
                await engine.remove_service("cart")
            assert error.value.code == "not_found"
            assert getattr(error.value, "service") == "cart"
            assert "service 'cart' is not registered" in str(error.value)

            # A removed service can no longer be named by a plan.
            id = await approved_async(engine, "cart", "v1")
            with pytest.raises(loco.ValidationError) as refused:
                await engine.run_rollout(id, naming("cart", "v1"), "deploy-bot")
            assert fields(refused.value) == ["release.service"]

    run(main)
