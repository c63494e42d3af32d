#!/usr/bin/env bash
# A release through three stages with the CLI, on a database file of its own: a service.yaml
# manifest with the stages dev → staging → production, a gate of two approvers from a reviewer
# group and a freeze window on production; promotion stage by stage, the pipeline view after each, and the event history
# of every deployment.
#   examples/cli/pipeline.sh            builds and runs the debug `loco` binary
#   LOCO=/path/to/loco examples/cli/pipeline.sh
# Every step checks its exit code; the script fails when the CLI does not behave as shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

DB_NAME=pipeline.db
# shellcheck source=examples/cli/common.sh
source examples/cli/common.sh

# Prints the id in the JSON deployment on stdin.
id_of() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

# Approves (as each reviewer given), starts and succeeds deployment $1.
ship() {
  local id=$1
  shift
  for reviewer in "$@"; do
    expect 0 approve "$id" --actor "$reviewer" --note "looks good"
  done
  expect 0 start "$id" --actor deploy-bot
  expect 0 succeed "$id" --actor deploy-bot --note "smoke tests green"
}

echo "== The reference manifest of this folder is valid"
expect 0 manifest validate examples/cli/service.yaml

echo
echo "== The release managers: a reviewer group (admin), which the production gate names"
expect 0 group set release-managers --member bob --member erin --member frank
expect 0 group list

echo
echo "== This run's manifest: dev → staging → production; production needs two release managers"
echo "   and is frozen for the next hour"
window=$(python3 -c 'import datetime as d; n = d.datetime.now(d.timezone.utc); print((n - d.timedelta(minutes=5)).isoformat(timespec="seconds"), (n + d.timedelta(hours=1)).isoformat(timespec="seconds"))')
read -r from until <<<"$window"
cat >"$work/service.yaml" <<YAML
apiVersion: loco/v1
service: checkout
stages:
  - environment: dev
  - environment: staging
  - environment: production
    approval:
      required_approvals: 2
      groups: [release-managers]
freeze_windows:
  - name: black-friday
    environments: [production]
    reason: peak traffic
    schedule: {type: once, start: "$from", end: "$until"}
YAML
cat "$work/service.yaml"

echo
echo "== A manifest with mistakes is refused with every problem and its line (exit 3); nothing is set"
sed -e 's/required_approvals: 2/required_approvals: 0/' -e 's/^    reason:/    reasn:/' "$work/service.yaml" >"$work/broken.yaml"
expect 3 manifest apply "$work/broken.yaml"
expect 0 pipeline list

echo
echo "== Applying it sets the pipeline, the gate (checkout's own in production: other services keep"
echo "   production's own rules) and the window"
expect 0 manifest apply "$work/service.yaml"
expect 0 gate list

echo
echo "== A version cannot skip a stage (exit 25)"
expect 25 create --service checkout --env staging --version 5.0.0 --requester alice --work-ref PAY-7 \
  --rollback-plan "redeploy 4.9.2" --risk low --commit 5e1f00d

echo
echo "== dev"
dev=$(loco create --json --service checkout --env dev --version 5.0.0 --requester alice --work-ref PAY-7 \
  --rollback-plan "redeploy 4.9.2" --risk low --commit 5e1f00d | id_of)
ship "$dev" bob
expect 0 pipeline show checkout 5.0.0

echo
echo "== staging, by promotion"
staging=$(loco promote "$dev" --actor alice --json | id_of)
ship "$staging" bob
expect 0 pipeline show checkout 5.0.0

echo
echo "== production: someone outside the group may not review (exit 25), one approval is not enough (exit 26),"
echo "   and the manifest's freeze window refuses the start (exit 25)"
production=$(loco promote "$staging" --actor alice --json | id_of)
expect 25 approve "$production" --actor mallory --note "not a release manager"
expect 0 approve "$production" --actor bob --note "release notes checked"
expect 26 start "$production" --actor deploy-bot
expect 0 approve "$production" --actor erin --note "capacity checked"
expect 0 gate status "$production"
expect 25 start "$production" --actor deploy-bot
soon=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(minutes=10)).isoformat(timespec="seconds"))')
later=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(hours=2)).isoformat(timespec="seconds"))')
echo "   a start scheduled inside the window is refused too (exit 25); after it, it is kept"
expect 25 schedule set "$production" --at "$soon" --actor deploy-bot
expect 0 schedule set "$production" --at "$later" --actor deploy-bot
expect 0 schedule list
expect 0 schedule cancel "$production"

echo
echo "== The window is lifted; production starts and succeeds"
expect 0 freeze remove black-friday
expect 0 start "$production" --actor deploy-bot
expect 0 succeed "$production" --actor deploy-bot --note "all stages green"
expect 0 pipeline show checkout 5.0.0

echo
echo "== The history of each stage"
expect 0 events "$dev"
expect 0 events "$staging"
expect 0 events "$production"
expect 0 verify
