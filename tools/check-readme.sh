#!/usr/bin/env bash
# Runs every ```sh block of README.md, in order, as a newcomer would paste
# them, against the demo server: each block in one bash with `set -euo
# pipefail`, all in a scratch copy of the repository (the files they write,
# keys.json or demo.log, stay out of the tree), with the build shared.
#
# Three things differ from pasting, each for a reason:
# - `curl` fails on an HTTP error (it is `curl --fail-with-body`), so a
#   command the API refuses (a 409, a 404) fails the check;
# - a `cargo run --example server ...` line that runs in the foreground (a
#   server the README starts and leaves running) is started in the
#   background, must print "listening on" and answer /health, then is
#   stopped;
# - `cargo test` is CI's own step: it is named, not run again.
# A Redis for the `redis://127.0.0.1/` commands is started here on
# 127.0.0.1:6379 (a temporary directory, killed at the end) when none
# answers, and a Postgres for the `postgres://tba@127.0.0.1:5432/...` ones
# on 127.0.0.1:5432 (its superuser `tba`, trusted) when nothing listens there.
#
# Needs curl, jq, redis-server and postgresql (`.ci/run` installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TERM_COLOR=never

for tool in curl jq redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "check-readme: $tool is missing" >&2; exit 1; }
done

scratch=$(mktemp -d)
redis_pid=""
pids=()
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  # SIGINT: Postgres's fast shutdown. It still writes its last WAL while it
  # stops, so wait for everything started here to be gone (at most 10 s)
  # before removing the directory it writes in.
  pkill -INT -f "$scratch" 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f "$scratch" >/dev/null || break; sleep 0.1; done
  pkill -KILL -f "$scratch" 2>/dev/null || true
  rm -rf "$scratch" 2>/dev/null || { sleep 1; rm -rf "$scratch"; }
}
trap cleanup EXIT

# The repository without its build, and the blocks.
mkdir "$scratch/repo"
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$scratch/repo")
awk -v dir="$scratch" '
  /^```sh$/ { n++; file = sprintf("%s/block%02d.sh", dir, n); inside = 1; next }
  /^```$/ && inside { inside = 0; close(file); next }
  inside { print > file }
' "$root/README.md"

if grep -q 'redis://127.0.0.1/' "$scratch"/block*.sh && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir "$scratch/redis"
  redis-server --port 6379 --bind 127.0.0.1 --dir "$scratch/redis" --save '' --appendonly yes \
    --daemonize no >"$scratch/redis/log" 2>&1 &
  redis_pid=$!
  until redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; do sleep 0.1; done
fi

if grep -q 'postgres://tba@127.0.0.1:5432/' "$scratch"/block*.sh \
  && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  source "$root/benches/common/postgres.sh"
  start_postgres "$scratch/postgres" 5432
fi

# What every block runs with.
cat >"$scratch/prelude.sh" <<'PRELUDE'
set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
readme_server() {
  local log listen=127.0.0.1:3000 args=("$@") i
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[i]}" = --listen ] && listen=${args[i + 1]}
  done
  log=$(mktemp -p . server.XXXX.log)
  command cargo run -q --example server -- "$@" >"$log" 2>&1 &
  local pid=$! waited=0
  until grep -q 'listening on' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -gt 3000 ]; then
      cat "$log" >&2; echo "readme: the server did not start: server $*" >&2; return 1
    fi
    sleep 0.2; waited=$((waited + 1))
  done
  command curl -sf "http://$listen/health" >/dev/null || { cat "$log" >&2; return 1; }
  echo "  (started, answered /health, stopped: server $*)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
PRELUDE

cd "$scratch/repo"
for block in "$scratch"/block*.sh; do
  # One logical line per command (joining `\` continuations), then the
  # foreground server lines and `cargo test` rewritten as said above.
  script=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$block" | awk '
    /^cargo run --example server/ && !/&[[:space:]]*$/ {
      sub(/^cargo run --example server( --)?/, "readme_server"); print; next }
    /^cargo test/ { print "echo \"  (the test command: CI runs it as its own step)\""; next }
    { print }')
  echo "==> README block $(basename "$block" .sh):"
  sed 's/^/    /' "$block"
  if ! bash -c "source '$scratch/prelude.sh'; $script"; then
    echo "check-readme: FAILED in $(basename "$block" .sh)" >&2
    exit 1
  fi
done
echo "check-readme: every README command block ran"
