#!/usr/bin/env bash
# Policy through the CLI, on a database file of its own: creating by commit, a two-approver gate on
# production, a freeze window that refuses a start, an admin's recorded override, the deploy lock,
# and the event history.
#   examples/cli/policy.sh            builds and runs the debug `loco` binary
#   LOCO=/path/to/loco examples/cli/policy.sh
# Every step checks its exit code; the script fails when the CLI does not behave as shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

DB_NAME=policy.db
# shellcheck source=examples/cli/common.sh
source examples/cli/common.sh

# Creates a deployment of web to production at COMMIT by REQUESTER; prints its id.
create() {
  loco create --json --service web --env production --version 2.4.0 --requester "$2" \
    --work-ref WEB-42 --rollback-plan "redeploy 2.3.9" --risk "new checkout flow" --commit "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

sha=9f2c1e7a4b5d6c8e0f1a2b3c4d5e6f708192a3b4
echo "== Creating by commit: a retried CI job gets the same deployment"
first=$(create "$sha" ci-bot)
again=$(create "$sha" ci-bot)
echo "created $first, then $again"
[ "$first" = "$again" ]

echo
echo "== Production needs two of three named reviewers: one approval is not enough (exit 26)"
expect 0 gate set production --approvals 2 --approver bob --approver erin --approver frank
expect 0 approve "$first" --actor bob --note "reviewed"
expect 26 start "$first" --actor dana
expect 25 approve "$first" --actor mallory --note "not a named reviewer"
expect 0 gate status "$first"
expect 0 approve "$first" --actor erin --note "second pair of eyes"
expect 0 gate status "$first"

echo
echo "== A freeze window in force refuses the start (exit 25)"
now=$(python3 -c 'import datetime as d; n = d.datetime.now(d.timezone.utc); print((n - d.timedelta(hours=1)).isoformat(timespec="seconds"), (n + d.timedelta(hours=1)).isoformat(timespec="seconds"))')
read -r from until <<<"$now"
printf '{"name": "incident-4711", "environments": ["production"], "reason": "payment incident", "schedule": {"type": "once", "start": "%s", "end": "%s"}}' \
  "$from" "$until" | expect 0 freeze set -
expect 25 start "$first" --actor dana
expect 25 freeze check production

echo
echo "== An admin overrides it with a reason, recorded as a policy_override event"
expect 0 start "$first" --actor dana --override-freeze "hotfix for the incident itself"

echo
echo "== The deploy lock: a second deployment of web to production waits its turn (exit 25)"
second=$(create 0123abc4567def89 carol)
expect 0 approve "$second" --actor bob --note "reviewed"
expect 0 approve "$second" --actor frank --note "reviewed"
expect 0 freeze remove incident-4711
expect 25 start "$second" --actor dana
expect 0 locks
expect 0 succeed "$first" --actor dana
expect 0 start "$second" --actor dana
expect 0 succeed "$second" --actor dana

echo
echo "== The history of the first deployment"
expect 0 events "$first"
expect 0 verify
