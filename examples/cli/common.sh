# Shared by the examples in this folder (sourced, not run): a scratch folder removed on exit, the
# `loco` binary (the debug build unless LOCO names one), `loco` bound to the database file "$db",
# and `expect WANT ARGS…`, which runs `loco ARGS…` and fails the example unless it exits WANT.
# The sourcing script sets DB_NAME first.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/$DB_NAME"

if [ -z "${LOCO:-}" ]; then
  cargo build --quiet --locked -p loco-cli
  target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  LOCO="$target/debug/loco"
fi

loco() {
  "$LOCO" --db "$db" "$@"
}

# Runs `loco ARGS…` expecting exit code WANT; prints what it printed.
expect() {
  local want=$1
  shift
  echo "\$ loco $*"
  local code=0
  loco "$@" 2>&1 || code=$?
  if [ "$code" != "$want" ]; then
    echo "expected exit $want, got $code" >&2
    exit 1
  fi
}
