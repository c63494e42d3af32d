#!/usr/bin/env python3
"""Writes manifests.json: service.yaml manifests every Loco surface must read the same way.

Each bad manifest is the good one below with one or more lines changed, so the line every
problem is expected on can be read off this file. With --check, writes nothing and fails when
manifests.json differs from what this script makes. Run: python3 tests/conformance/manifests.py
"""
import json
import pathlib
import sys

GOOD = """apiVersion: loco/v1
service: checkout
stages:
  - environment: dev
    rollout:
      platform: local
      strategy: {type: immediate}
      release: {service: checkout}
  - environment: staging
    rollout:
      platform: local
      strategy:
        type: canary
        steps: [10, 50]
        interval_seconds: 30
      release: {service: checkout}
  - environment: production
    approval:
      required_approvals: 2
      approvers: [alice, bob, carol]
      expires_after_minutes: 1440
freeze_windows:
  - name: weekend
    environments: [production]
    reason: no weekend deploys
    schedule: {type: recurring, cron: "0 18 * * FRI", duration_minutes: 3720, time_zone: Europe/Berlin}
"""
LINES = GOOD.splitlines()


def edit(changes):
    """The good manifest with lines replaced ({line number: new text, None deletes}); inserted
    lines go after a line with {"after N": text}."""
    out = []
    for number, line in enumerate(LINES, start=1):
        new = changes.get(number, line)
        if new is not None:
            out.append(new)
        if f"after {number}" in changes:
            out.extend(changes[f"after {number}"].split("\n"))
    return "\n".join(out) + "\n"


def good(name, text, values):
    return {"name": name, "manifest": text, "expect": {"valid": True, "values": values}}


def bad(name, text, *problems):
    return {
        "name": name,
        "manifest": text,
        "expect": {"valid": False, "code": "validation_error",
                   "problems": [{"field": field, "line": line} for field, line in problems]},
    }


def vectors():
    v = [
        good("the three-stage manifest", GOOD, {
            "apiVersion": "loco/v1", "service": "checkout", "stages[0].environment": "dev",
            "stages[2].environment": "production", "require_previous_success": True,
            "stages[1].rollout.strategy.steps[1]": 50, "stages[1].rollout.instances": 1,
            "stages[1].rollout.health.retries": 5, "stages[0].approval": None, "stages[2].rollout": None,
            "stages[2].approval.required_approvals": 2, "stages[2].approval.approvers[2]": "carol",
            "stages[2].approval.wait_minutes": None, "freeze_windows[0].schedule.time_zone": "Europe/Berlin",
        }),
        good("two bare stages and nothing else", "apiVersion: loco/v1\nservice: web\nstages:\n"
             "  - environment: staging\n  - environment: production\n",
             {"stages[1].environment": "production", "freeze_windows": [], "require_previous_success": True}),
        good("JSON is YAML too", json.dumps({"apiVersion": "loco/v1", "service": "web", "stages": [
            {"environment": "a"}, {"environment": "b", "approval": {"required_approvals": 1}}],
            "require_previous_success": False}),
             {"require_previous_success": False, "stages[1].approval.required_approvals": 1,
              "stages[1].approval.approvers": []}),
        good("quoted scalars stay strings, comments are ignored", "# the web service\napiVersion: 'loco/v1'\n"
             "service: \"007\"\nstages:  # in order\n  - environment: \"true\"\n  - environment: '10'\n",
             {"service": "007", "stages[0].environment": "true", "stages[1].environment": "10"}),
        good("an approval admitting reviewer groups besides its approvers", edit({"after 20": "      groups: [sre, security]"}),
             {"stages[2].approval.groups[1]": "security", "stages[2].approval.approvers[0]": "alice"}),
        good("a block sequence of stages at the key's indentation", "apiVersion: loco/v1\nservice: web\nstages:\n"
             "- environment: dev\n- environment: prod\n  approval:\n    required_approvals: 3\n    wait_minutes: 15\n",
             {"stages[1].approval.wait_minutes": 15, "stages[1].approval.expires_after_minutes": None}),
        # The document as a whole.
        bad("an empty file", "", ("manifest", 1)),
        bad("a list instead of a mapping", "- environment: dev\n- environment: prod\n", ("manifest", 1)),
        bad("a plain string", "hello\n", ("manifest", 1)),
        bad("a second document", GOOD + "---\nservice: other\n", ("manifest", 27)),
        bad("broken YAML: an unclosed flow sequence", edit({14: "        steps: [10, 50"}), ("stages[1].rollout.strategy.steps[1]", 15)),
        bad("a key given twice", edit({"after 2": "service: payments"}), ("service", 3)),
        bad("an anchor and an alias", edit({8: "      release: &r {service: checkout}", 16: "      release: *r"}),
            ("stages[0].rollout.release", 8)),
        bad("a tag", edit({2: "service: !!str checkout"}), ("service", 2)),
        # Top-level fields.
        bad("an unknown top-level field", edit({"after 2": "owner: team-a"}), ("owner", 3)),
        bad("a misspelled field", edit({2: "servce: checkout"}), ("service", 1), ("servce", 2)),
        bad("a wrong apiVersion", edit({1: "apiVersion: loco/v2"}), ("apiVersion", 1)),
        bad("no apiVersion", edit({1: None}), ("apiVersion", 1)),
        bad("require_previous_success is not a boolean ('yes' is a string in YAML 1.2)",
            edit({"after 2": "require_previous_success: yes"}), ("require_previous_success", 3)),
        bad("stages is not a list", edit({3: "stages: dev", 4: None, 5: None, 6: None, 7: None, 8: None,
                                          9: None, 10: None, 11: None, 12: None, 13: None, 14: None, 15: None,
                                          16: None, 17: None, 18: None, 19: None, 20: None, 21: None}),
            ("stages", 3)),
        bad("one stage", "apiVersion: loco/v1\nservice: web\nstages:\n  - environment: prod\n", ("stages", 3)),
        bad("eleven stages", "apiVersion: loco/v1\nservice: web\nstages:\n"
            + "".join(f"  - environment: e{i}\n" for i in range(11)), ("stages", 3)),
        bad("a blank service", edit({2: "service: '  '"}), ("service", 2)),
        # Stages.
        bad("an environment named twice (so production, which a window names, is no stage)",
            edit({17: "  - environment: staging"}), ("stages[2].environment", 17),
            ("freeze_windows[0].environments[0]", 24)),
        bad("a stage without an environment", edit({9: "  - rollout:", 10: None}),
            ("stages[1].environment", 9)),
        bad("a blank environment", edit({4: "  - environment: ''"}), ("stages[0].environment", 4)),
        bad("an unknown stage field", edit({18: "    aproval:"}), ("stages[2].aproval", 18)),
        bad("an environment that is a number", edit({4: "  - environment: 3"}), ("stages[0].environment", 4)),
        # Rollout plans.
        bad("an unknown strategy", edit({13: "        type: linear"}), ("stages[1].rollout.strategy.type", 13)),
        bad("a strategy without a type", edit({7: "      strategy: {}"}), ("stages[0].rollout.strategy.type", 7)),
        bad("a canary step above 255", edit({14: "        steps: [10, 300]"}),
            ("stages[1].rollout.strategy.steps[1]", 14)),
        bad("canary steps not increasing", edit({14: "        steps: [50, 10]"}),
            ("stages[1].rollout.strategy.steps[1]", 14)),
        bad("a canary interval that is a word", edit({15: "        interval_seconds: thirty"}),
            ("stages[1].rollout.strategy.interval_seconds", 15)),
        bad("a canary strategy without steps", edit({14: None}), ("stages[1].rollout.strategy.steps", 12)),
        bad("a rolling field on an immediate strategy", edit({7: "      strategy: {type: immediate, max_surge: 1}"}),
            ("stages[0].rollout.strategy.max_surge", 7)),
        bad("a rollout without a release", edit({8: None}), ("stages[0].rollout.release", 5)),
        bad("a rollout without a platform", edit({6: None}), ("stages[0].rollout.platform", 5)),
        bad("an unknown on_restart", edit({"after 6": "      on_restart: retry"}), ("stages[0].rollout.on_restart", 7)),
        bad("zero instances", edit({"after 6": "      instances: 0"}), ("stages[0].rollout.instances", 7)),
        bad("negative instances", edit({"after 6": "      instances: -1"}), ("stages[0].rollout.instances", 7)),
        bad("a misspelled release field", edit({8: "      release: {service: checkout, comand: [x]}"}),
            ("stages[0].rollout.release.comand", 8)),
        bad("an HTTP probe whose path lacks a slash",
            edit({"after 8": "      health:\n        probes:\n          - {type: http, path: healthz}"}),
            ("stages[0].rollout.health.probes[0].path", 11)),
        bad("a secret in a manifest (it is stored and shown as written)",
            edit({8: "      release: {service: checkout, secret_env: {DB_PASSWORD: hunter2}}"}),
            ("stages[0].rollout.release.secret_env", 8)),
        # Approval gates.
        bad("zero required approvals", edit({19: "      required_approvals: 0"}),
            ("stages[2].approval.required_approvals", 19)),
        bad("eleven required approvals", edit({19: "      required_approvals: 11", 20: None}),
            ("stages[2].approval.required_approvals", 19)),
        bad("fewer approvers than approvals", edit({20: "      approvers: [alice]"}),
            ("stages[2].approval.approvers", 20)),
        bad("an approver named twice in another case", edit({20: "      approvers: [alice, bob, Alice]"}),
            ("stages[2].approval.approvers[2]", 20)),
        bad("an expiry of zero minutes", edit({21: "      expires_after_minutes: 0"}),
            ("stages[2].approval.expires_after_minutes", 21)),
        bad("a wait that is a word", edit({"after 21": "      wait_minutes: soon"}),
            ("stages[2].approval.wait_minutes", 22)),
        bad("an approval without required_approvals", edit({19: None}),
            ("stages[2].approval.required_approvals", 18)),
        bad("approvers is a string", edit({20: "      approvers: alice"}), ("stages[2].approval.approvers", 20)),
        bad("a reviewer group with a space in its name", edit({"after 20": "      groups: [sre, 'release team']"}),
            ("stages[2].approval.groups[1]", 21)),
        bad("a reviewer group named twice in another case", edit({"after 20": "      groups: [sre, SRE]"}),
            ("stages[2].approval.groups[1]", 21)),
        # Freeze windows.
        bad("a window over an environment that is not a stage", edit({24: "    environments: [prod]"}),
            ("freeze_windows[0].environments[0]", 24)),
        bad("a bad cron expression", edit({26: '    schedule: {type: recurring, cron: "0 25 * * FRI", '
                                                'duration_minutes: 3720, time_zone: Europe/Berlin}'}),
            ("freeze_windows[0].schedule.cron", 26)),
        bad("an unknown time zone", edit({26: '    schedule: {type: recurring, cron: "0 18 * * FRI", '
                                              'duration_minutes: 3720, time_zone: Mars/Olympus}'}),
            ("freeze_windows[0].schedule.time_zone", 26)),
        bad("an unknown schedule type", edit({26: "    schedule: {type: weekly}"}),
            ("freeze_windows[0].schedule.type", 26)),
        bad("a one-off window that ends before it starts",
            edit({26: "    schedule: {type: once, start: '2026-12-24T00:00:00Z', end: '2026-12-23T00:00:00Z'}"}),
            ("freeze_windows[0].schedule.end", 26)),
        bad("a one-off window whose start is not a time",
            edit({26: "    schedule: {type: once, start: christmas, end: '2026-12-23T00:00:00Z'}"}),
            ("freeze_windows[0].schedule.start", 26)),
        bad("two windows with one name", edit({"after 26": "  - name: weekend\n    environments: [dev]\n"
                                                "    reason: again\n    schedule: {type: once, "
                                                "start: '2026-12-24T00:00:00Z', end: '2026-12-25T00:00:00Z'}"}),
            ("freeze_windows[1].name", 27)),
        bad("a window without a reason", edit({25: None}), ("freeze_windows[0].reason", 23)),
        # Several at once, reported in the order of the file.
        bad("three problems, all reported in file order",
            edit({2: "service: checkout\nowner: team-a", 14: "        steps: [10, 300]",
                  19: "      required_approvals: 0"}),
            ("owner", 3), ("stages[1].rollout.strategy.steps[1]", 15), ("stages[2].approval.required_approvals", 20)),
    ]
    return v


def main():
    doc = {
        "format": 1,
        "description": (
            "service.yaml manifest vectors every surface must pass (loco_types::manifest::parse, "
            "POST /api/v1/validate/manifest, loco.parse_manifest, parseManifest, loco manifest validate). "
            "'manifest' is the file's text. A valid one parses, and each path of 'values' "
            "('stages[1].rollout.instances') has that value in the parsed manifest (defaults filled in, "
            "null for absent options). An invalid one fails with code validation_error whose details, in "
            "order, have exactly these fields and 1-based lines (each detail also has a column and a message, "
            "not compared)."
        ),
        "vectors": vectors(),
    }
    path = pathlib.Path(__file__).with_name("manifests.json")
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        if not path.exists() or path.read_text() != text:
            print(f"stale: {path} (run python3 {pathlib.Path(__file__).name})", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {len(doc['vectors'])} vectors to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
