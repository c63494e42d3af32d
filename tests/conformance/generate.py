#!/usr/bin/env python3
"""Writes lifecycle.json: the lifecycle contract as vectors every Loco surface must pass.

With --check, writes nothing and fails when lifecycle.json differs from what this script makes.

The transition table below is written out from ../shared/requirements (004) on its own, not read
from the Rust code, so the vectors are an independent check. Run: python3 tests/conformance/generate.py
"""
import json
import pathlib
import sys

STATUSES = ["pending_approval", "approved", "rejected", "started", "succeeded", "failed", "rolled_back"]
ACTIONS = ["approve", "reject", "start", "succeed", "fail", "rollback"]
TABLE = {
    ("pending_approval", "approve"): "approved",
    ("pending_approval", "reject"): "rejected",
    ("approved", "start"): "started",
    ("started", "succeed"): "succeeded",
    ("started", "fail"): "failed",
    ("started", "rollback"): "rolled_back",
    ("succeeded", "rollback"): "rolled_back",
    ("failed", "rollback"): "rolled_back",
}
NOTE_REQUIRED = {"reject", "fail", "rollback"}
KIND = {"approve": "approved", "reject": "rejected", "start": "started", "succeed": "succeeded",
        "fail": "failed", "rollback": "rolled_back"}
# The shortest path from pending_approval to each status.
PATH = {
    "pending_approval": [],
    "approved": ["approve"],
    "rejected": ["reject"],
    "started": ["approve", "start"],
    "succeeded": ["approve", "start", "succeed"],
    "failed": ["approve", "start", "fail"],
    "rolled_back": ["approve", "start", "rollback"],
}
BASE = {
    "service": "checkout",
    "environment": "staging",
    "version": "1.4.0",
    "requester": "alice@example.com",
    "work_refs": ["PAY-142"],
    "rollback_plan": "redeploy 1.3.9",
}
REVIEWER = "bob@example.com"
OPERATOR = "deploy-bot"


def actor_for(action):
    return REVIEWER if action in ("approve", "reject") else OPERATOR


def act(action, events, status, note=True, **extra):
    step = {"op": action, "actor": actor_for(action)}
    if note and action in NOTE_REQUIRED:
        step["note"] = f"{action} because of a reason"
    step.update(extra.pop("step", {}))
    step["expect"] = {"status": status, "events": list(events), **extra}
    return step


def walk(target):
    """Steps that create a deployment and drive it to `target`, checking each stop."""
    steps = [{"op": "create", "expect": {"status": "pending_approval", "events": ["created"]}}]
    events, status = ["created"], "pending_approval"
    for action in PATH[target]:
        status = TABLE[(status, action)]
        events.append(KIND[action])
        steps.append(act(action, events, status))
    return steps, events, status


def vectors():
    out = []
    # Every (status, action) pair.
    for status in STATUSES:
        for action in ACTIONS:
            steps, events, _ = walk(status)
            to = TABLE.get((status, action))
            if to:
                last = {"kind": KIND[action], "actor": actor_for(action), "from_status": status, "to_status": to}
                steps.append(act(action, events + [KIND[action]], to, last_event=last))
            else:
                steps.append(act(action, events, status, error="invalid_transition"))
            out.append({"name": f"{action} from {status}", "steps": steps})

    # Notes: required ones refuse missing and blank notes; optional ones accept none.
    for action in ACTIONS:
        source = next(s for s in STATUSES if (s, action) in TABLE)
        steps, events, status = walk(source)
        if action in NOTE_REQUIRED:
            steps.append(act(action, events, status, note=False, error="validation_error", fields=["note"]))
            steps.append(act(action, events, status, step={"note": "   "}, error="validation_error", fields=["note"]))
            steps.append(act(action, events + [KIND[action]], TABLE[(source, action)],
                             last_event={"note": f"{action} because of a reason"}))
        else:
            steps.append(act(action, events + [KIND[action]], TABLE[(source, action)], note=False,
                             last_event={"note": None}))
        out.append({"name": f"{action} note rules", "steps": steps})

    # Actor must be explicit and non-blank.
    for action in ACTIONS:
        source = next(s for s in STATUSES if (s, action) in TABLE)
        for blank in ["", "  "]:
            steps, events, status = walk(source)
            steps.append(act(action, events, status, step={"actor": blank}, error="validation_error", fields=["actor"]))
            out.append({"name": f"{action} with blank actor {blank!r}", "steps": steps})

    # Self-review is refused; the requester may operate.
    for action in ["approve", "reject"]:
        for who in ["alice@example.com", " ALICE@example.com "]:
            steps, events, status = walk("pending_approval")
            steps.append(act(action, events, status, step={"actor": who}, error="self_approval"))
            out.append({"name": f"{action} by requester {who!r}", "steps": steps})
    steps, events, status = walk("approved")
    steps.append(act("start", events + ["started"], "started", step={"actor": BASE["requester"]}))
    steps.append(act("rollback", events + ["started", "rolled_back"], "rolled_back",
                     step={"actor": BASE["requester"]}))
    out.append({"name": "requester may start and roll back", "steps": steps})
    # Rules come after existence and input checks.
    steps, events, status = walk("started")
    steps.append(act("approve", events, status, step={"actor": BASE["requester"]}, error="invalid_transition"))
    out.append({"name": "self-approval of a started deployment is an invalid transition", "steps": steps})
    for action in ACTIONS:
        note = {"note": "a reason"} if action in NOTE_REQUIRED else {}
        out.append({"name": f"{action} on an unknown id", "steps": [
            {"op": action, "id": "missing", "actor": actor_for(action), **note, "expect": {"error": "not_found"}},
            {"op": action, "id": "missing", "actor": "", **note,
             "expect": {"error": "validation_error", "fields": ["actor"]}},
        ]})

    # Review metadata is neutral and written by approve and reject only.
    steps, events, status = walk("pending_approval")
    steps[0]["expect"]["deployment"] = {"reviewed_by": None, "reviewed_at": None, "risk": None}
    steps.append(act("approve", events + ["approved"], "approved",
                     deployment={"reviewed_by": REVIEWER}, reviewed_at_set=True))
    steps.append(act("start", events + ["approved", "started"], "started", deployment={"reviewed_by": REVIEWER}))
    out.append({"name": "approve records the reviewer", "steps": steps})
    steps, events, status = walk("pending_approval")
    steps.append(act("reject", events + ["rejected"], "rejected", deployment={"reviewed_by": REVIEWER},
                     reviewed_at_set=True))
    out.append({"name": "reject records the reviewer", "steps": steps})

    # Creation rules.
    def create(name, body=None, error=None, **expect):
        step = {"op": "create", "input": body or {}}
        step["expect"] = {"error": error, **expect} if error else {"status": "pending_approval",
                                                                   "events": ["created"], **expect}
        out.append({"name": f"create: {name}", "steps": [step]})

    for field in ["service", "environment", "version", "requester", "rollback_plan", "work_refs"]:
        create(f"missing {field}", {field: None}, "validation_error", fields=[field])
        blank = [] if field == "work_refs" else "  "
        create(f"blank {field}", {field: blank}, "validation_error", fields=[field])
    create("blank work ref", {"work_refs": ["PAY-1", " "]}, "validation_error", fields=["work_refs[1]"])
    create("several missing fields at once", {"service": None, "rollback_plan": ""}, "validation_error",
           fields=["service", "rollback_plan"])
    for env in ["production", "prod", "Production", "PROD"]:
        create(f"{env} needs risk", {"environment": env}, "validation_error", fields=["risk"])
        create(f"{env} with blank risk", {"environment": env, "risk": " "}, "validation_error", fields=["risk"])
        create(f"{env} with risk", {"environment": env, "risk": "schema migration"},
               deployment={"environment": env, "risk": "schema migration"})
    create("non-production needs no risk", {"environment": "staging"}, deployment={"risk": None})
    create("non-production may state risk", {"environment": "dev", "risk": "low"}, deployment={"risk": "low"})
    create("service of 256 characters", {"service": "s" * 256}, deployment={"service": "s" * 256})
    create("service of 257 characters", {"service": "s" * 257}, "validation_error", fields=["service"])
    create("rollback plan over 64 KiB", {"rollback_plan": "r" * (64 * 1024 + 1)}, "validation_error",
           fields=["rollback_plan"])
    odd = {
        "service": "支付-サービス 🚀",
        "version": "v1.0.0'; DROP TABLE deployments; --",
        "requester": "zoë@example.com",
        "work_refs": ["\" OR 1=1 --", "PAY-142", "%s%n{}"],
        "rollback_plan": "line 1\nline 2\ttabbed — ünïcode",
    }
    create("unicode and SQL-looking strings are stored verbatim", odd, deployment=odd)
    create("surrounding whitespace is stored as given", {"service": "  checkout  "},
           deployment={"service": "  checkout  "})

    # Idempotency.
    steps = [
        {"op": "create", "idempotency_key": "req-1", "expect": {"status": "pending_approval", "events": ["created"]}},
        {"op": "create", "idempotency_key": "req-1",
         "expect": {"status": "pending_approval", "events": ["created"], "same_deployment": True}},
        act("approve", ["created", "approved"], "approved"),
        {"op": "create", "idempotency_key": "req-1",
         "expect": {"status": "approved", "events": ["created", "approved"], "same_deployment": True}},
        {"op": "create", "idempotency_key": "req-1", "input": {"version": "9.9.9"},
         "expect": {"error": "idempotency_conflict"}},
        {"op": "create", "idempotency_key": "req-2", "expect": {"same_deployment": False}},
    ]
    out.append({"name": "idempotent create", "steps": steps})
    out.append({"name": "blank idempotency key", "steps": [
        {"op": "create", "idempotency_key": " ", "expect": {"error": "validation_error", "fields": ["idempotency_key"]}}
    ]})

    # Create by commit: while a deployment of the same service, environment, version and commit is
    # open (pending_approval, approved, started), creating it again returns that deployment.
    sha = "9f2c1e7a4b5d6c8e0f1a2b3c4d5e6f708192a3b4"
    by_commit = {"commit": sha}

    def again(events, status, same=None, body=None, key=None):
        step = {"op": "create", "input": {**by_commit, **(body or {})},
                "expect": {"status": status, "events": list(events)}}
        if same is not None:
            step["expect"]["same_deployment"] = same
        if key:
            step["idempotency_key"] = key
        return step

    events = ["created"]
    steps = [{"op": "create", "input": by_commit,
              "expect": {"status": "pending_approval", "events": events, "deployment": by_commit}}]
    steps.append(again(events, "pending_approval", True))
    steps.append(again(events, "pending_approval", True,
                       {"requester": "carol@example.com", "work_refs": ["PAY-999"], "rollback_plan": "other"}))
    for action, status in [("approve", "approved"), ("start", "started")]:
        events = events + [KIND[action]]
        steps.append(act(action, events, status))
        steps.append(again(events, status, True))
    # Another version, environment, service, commit spelling, a short SHA, no commit: new ones.
    for body in [{"version": "1.4.1"}, {"environment": "dev"}, {"service": "billing"}, {"commit": sha.upper()},
                 {"commit": sha[:7]}, {"commit": None}]:
        steps.append(again(events, "started", False, body))
    events = events + ["succeeded"]
    steps.append(act("succeed", events, "succeeded"))
    steps.append({"op": "create", "input": by_commit, "expect": {"same_deployment": False,
                                                                  "deployment": {**by_commit, "status": "pending_approval"}}})
    out.append({"name": "create by commit returns the open deployment", "steps": steps})

    for end in ["rejected", "failed", "rolled_back", "succeeded"]:
        steps = [{**s, "input": by_commit} if s["op"] == "create" else s for s in walk(end)[0]]
        steps.append({"op": "create", "input": by_commit, "expect": {"same_deployment": False}})
        out.append({"name": f"create by commit after {end} makes a new deployment", "steps": steps})

    out.append({"name": "create by commit: an idempotency key is checked first", "steps": [
        again(["created"], "pending_approval", key="req-1"),
        again(["created"], "pending_approval", True, key="req-2"),
        again(["created"], "pending_approval", True, key="req-1"),
        {"op": "create", "idempotency_key": "req-1", "input": {"commit": "0" * 40},
         "expect": {"error": "idempotency_conflict"}},
    ]})

    def bad_commit(name, value):
        create(f"commit {name}", {"commit": value}, "validation_error", fields=["commit"])

    bad_commit("empty", "")
    bad_commit("blank", "   ")
    bad_commit("with a space", "9f2c1e7 a4b5d")
    bad_commit("with a trailing newline", sha + "\n")
    bad_commit("with a NUL", "9f2c\u00001e7")
    bad_commit("of 257 characters", "c" * 257)
    create("commit of 256 characters", {"commit": "c" * 256}, deployment={"commit": "c" * 256})
    create("commit absent", {}, deployment={"commit": None})
    create("commit of any VCS", {"commit": "v2.3.1-rc.1+build.7"}, deployment={"commit": "v2.3.1-rc.1+build.7"})
    return out


def main():
    doc = {
        "format": 1,
        "description": (
            "Loco lifecycle contract. Each vector starts from an empty engine and runs its steps in order "
            "against one deployment. Step 'op' is 'create' or an action name. 'create' merges 'input' into "
            "'base' (a null value means the field is absent) and may carry 'idempotency_key'; the first "
            "successful create sets the vector's deployment. An action step acts on the vector's deployment "
            "unless 'id' is 'missing' (an id that does not exist), with 'actor' and, when present, 'note'. "
            "'expect': 'error' is the error code (absent means success); 'fields' are the validation error "
            "fields in order; 'status' and 'events' (event kinds, oldest first) describe the deployment "
            "after the step, also after an error (nothing changed); 'deployment' is a subset of its JSON "
            "fields; 'reviewed_at_set' says reviewed_at is not null; 'last_event' is a subset of the last "
            "event's JSON fields; 'same_deployment' says whether create returned the vector's deployment."
        ),
        "base": BASE,
        "missing_id": "dep_00000000000000000000000000",
        "vectors": vectors(),
    }
    path = pathlib.Path(__file__).with_name("lifecycle.json")
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        if path.read_text(encoding="utf-8") != text:
            sys.exit(f"{path} is stale: run python3 {__file__}")
        print(f"{path.name}: {len(doc['vectors'])} vectors, up to date")
        return
    path.write_text(text, encoding="utf-8")
    print(f"wrote {len(doc['vectors'])} vectors to {path}")


if __name__ == "__main__":
    main()
