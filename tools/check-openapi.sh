#!/usr/bin/env bash
# Checks the admin API's OpenAPI document against the implementation with
# clients we did not write: openapi-spec-validator (the document is valid
# OpenAPI 3.1) and schemathesis (every operation, positive and negative
# data, against the demo server with its admin key: no 5xx, every status
# and body as documented). Both come from PyPI into a venv (Debian's
# python3 and python3-venv; `.ci/run` installs them).
#
# Usage: tools/check-openapi.sh [MAX_EXAMPLES] (default 40 per operation).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
max_examples="${1:-40}"

venv="${TBA_OPENAPI_VENV:-$CARGO_TARGET_DIR/openapi-venv}"
if [ ! -x "$venv/bin/st" ]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'schemathesis==4.32.5' 'openapi-spec-validator==0.8.4'
fi
"$venv/bin/st" --version

cargo build --quiet --example server
scratch=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# The demo on a free port, its keys in memory; its admin key from its log.
"$CARGO_TARGET_DIR/debug/examples/server" --listen 127.0.0.1:0 >"$scratch/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q "^listening on" "$scratch/server.log" && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$scratch/server.log")
[ -n "$base" ] || { cat "$scratch/server.log" >&2; exit 1; }
token=$(grep -A2 '^Admin key' "$scratch/server.log" | sed -n 's/^ *Bearer //p')
[ -n "$token" ] || { echo "check-openapi: no admin key in the demo's log" >&2; exit 1; }
TBA_ADMIN_KEY_ID=$(curl -s -H "Authorization: Bearer $token" "$base/admin/v1/keys" \
  | "$venv/bin/python" -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["keys"] if "keys:admin" in k["scopes"]][0])')
export TBA_ADMIN_KEY_ID

curl -s --fail "$base/admin/v1/openapi.json" -o "$scratch/openapi.json"
"$venv/bin/openapi-spec-validator" "$scratch/openapi.json"

cd "$root/tools/openapi"
SCHEMATHESIS_HOOKS=hooks "$venv/bin/st" --config-file schemathesis.toml run "$base/admin/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --max-examples "$max_examples" --workers 1 --seed "${TBA_OPENAPI_SEED:-1}" --warnings off
