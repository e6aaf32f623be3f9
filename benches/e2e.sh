#!/usr/bin/env bash
# End-to-end throughput of the demo server, authenticated against
# unauthenticated, on the same handler; or (MODE=redis, MODE=postgres) the
# same server with its keys in Redis or Postgres against its keys in a file.
#
#   bash benches/e2e.sh                # DURATION=10s ROUNDS=3 CONNECTIONS=32 KEYS=10000
#   MODE=redis bash benches/e2e.sh     # server --redis against server --keys, /v1/profile both
#   MODE=postgres bash benches/e2e.sh  # server --postgres against server --keys
#
# Builds examples/server in release mode, starts it on 127.0.0.1 with a keys
# file of $KEYS keys, and loads it with wrk (installed from Debian's
# packages if missing) on loopback only:
#   - GET /health    public, no authentication
#   - GET /v1/ping   the same handler behind BearerAuthLayer + KeyStore
# Both requests carry the same Authorization header, so they differ only by
# the layer. Rounds alternate between the two routes; the script prints each
# round, the medians and the ratio, then stops the server.
#
# Two figures per round: requests/s from wrk, and the server's CPU time per
# request (user + system, from /proc/<pid>/stat over the round). On a shared
# VM the first wobbles by +-20% between rounds; the second is what the layer
# costs, and CPU-bound throughput is its inverse.
# The server runs on CPU 0 and wrk on CPU 1 (taskset) when there are two.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
KEYS=${KEYS:-10000}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

MODE=${MODE:-routes}
cargo build --quiet --release --example server --example keygen

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A keys file of $KEYS keys; the first one's token is known.
token="sk_e2eBenchmarkToken$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
python3 - "$work/keys.json" "$token" "$KEYS" <<'PY'
import hashlib, json, os, sys
path, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def entry(i, digest):
    return {"id": f"key_{i:08d}", "label": f"Bench {i}", "hash": "sha256:" + digest,
            "scopes": ["profile:read"], "created_at": "2026-11-27T00:00:00Z"}
keys = [entry(0, hashlib.sha256(token.encode()).hexdigest())]
keys += [entry(i, os.urandom(32).hex()) for i in range(1, count)]
json.dump({"keys": keys}, open(path, "w"))
PY

pin_server=()
pin_wrk=()
if [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 0); pin_wrk=(taskset -c 1); fi

# Starts the demo server with extra arguments; sets $address and $server_pid.
start_server() {
  local name=$1; shift
  RUST_LOG=warn "${pin_server[@]}" ./target/release/examples/server \
    --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 100); do
    grep -q "listening on" "$work/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  address=$(sed -n 's/^listening on http:\/\///p' "$work/$name.out")
  [ -n "$address" ] || { cat "$work/$name.err" >&2; exit 1; }
  case "$address" in 127.0.0.1:*) ;; *) echo "refusing to load $address: loopback only" >&2; exit 1 ;; esac
}

start_server file --keys "$work/keys.json"
file_address=$address file_pid=$server_pid
if [ "$MODE" = redis ]; then
  command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
  redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --dir "$work" \
    --save "" --appendonly no --daemonize no --logfile "$work/redis.log" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -S "$work/redis.sock" ] && break; sleep 0.05; done
  ./target/release/examples/keygen --redis "redis+unix://$work/redis.sock" --import "$work/keys.json" >/dev/null
  start_server redis --redis "redis+unix://$work/redis.sock"
  redis_address=$address redis_pid=$server_pid
elif [ "$MODE" = postgres ]; then
  source benches/common/postgres.sh
  start_postgres "$work/pg"
  ./target/release/examples/keygen --postgres "$pg_url" --init >/dev/null
  ./target/release/examples/keygen --postgres "$pg_url" --import "$work/keys.json" >/dev/null
  start_server postgres --postgres "$pg_url"
  redis_address=$address redis_pid=$server_pid
fi
address=$file_address server_pid=$file_pid

check() {
  local path=$1 expected=$2 status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$address$path")
  [ "$status" = "$expected" ] || { echo "GET $path: HTTP $status, expected $expected" >&2; exit 1; }
}
check /health 200
check /v1/ping 200
status=$(curl -s -o /dev/null -w '%{http_code}' "http://$address/v1/ping")
[ "$status" = 401 ] || { echo "GET /v1/ping without a key: HTTP $status" >&2; exit 1; }

if [ "$MODE" != routes ]; then
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$redis_address/v1/profile")
  [ "$status" = 200 ] || { echo "server --$MODE: GET /v1/profile HTTP $status" >&2; exit 1; }
fi

ticks_per_second=$(getconf CLK_TCK)
# A server's user and system CPU ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

# Prints "<requests/s> <user CPU us per request> <system CPU us per request>"
# for GET <path> on the server at <address> with process <pid>.
run() {
  local path=$1 at=${2:-$address} pid=${3:-$server_pid} before after out requests
  before=$(cpu_ticks "$pid")
  out=$("${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $token" "http://$at$path")
  after=$(cpu_ticks "$pid")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk -v b="$before" -v a="$after" -v n="$requests" -v hz="$ticks_per_second" '
    /Requests\/sec/ {
      split(b, x, " "); split(a, y, " ")
      printf "%s %.2f %.2f\n", $2, (y[1] - x[1]) / hz * 1e6 / n, (y[2] - x[2]) / hz * 1e6 / n
    }'
}

echo "wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $KEYS keys, mode $MODE, CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
results=()
for round in $(seq 1 "$ROUNDS"); do
  if [ "$MODE" != routes ]; then
    # "o" is the server with a keys file, "a" the same server on Redis or
    # Postgres.
    # /v1/profile: a handler that does the same work in both modes (the
    # health report behind /v1/ping differs by key source).
    # Which goes first alternates, so that drift over the run cancels out.
    if [ $((round % 2)) -eq 1 ]; then
      read -r o_rps o_user o_sys <<<"$(run /v1/profile "$file_address" "$file_pid")"
      read -r a_rps a_user a_sys <<<"$(run /v1/profile "$redis_address" "$redis_pid")"
    else
      read -r a_rps a_user a_sys <<<"$(run /v1/profile "$redis_address" "$redis_pid")"
      read -r o_rps o_user o_sys <<<"$(run /v1/profile "$file_address" "$file_pid")"
    fi
    results+=("$o_rps,$o_user,$o_sys,$a_rps,$a_user,$a_sys")
    printf 'round %d: --keys %s req/s (user %s us, sys %s us per request), --%s %s req/s (user %s us, sys %s us)\n' \
      "$round" "$o_rps" "$o_user" "$o_sys" "$MODE" "$a_rps" "$a_user" "$a_sys"
    continue
  fi
  read -r o_rps o_user o_sys <<<"$(run /health)"
  read -r a_rps a_user a_sys <<<"$(run /v1/ping)"
  results+=("$o_rps,$o_user,$o_sys,$a_rps,$a_user,$a_sys")
  printf 'round %d: unauthenticated %s req/s (user %s us, sys %s us per request), authenticated %s req/s (user %s us, sys %s us)\n' \
    "$round" "$o_rps" "$o_user" "$o_sys" "$a_rps" "$a_user" "$a_sys"
done

python3 - "$MODE" "${results[@]}" <<'PY'
import statistics, sys
mode = sys.argv[1]
o_name, a_name = ("--keys", "--" + mode) if mode != "routes" else ("unauthenticated", "authenticated")
rows = [[float(x) for x in r.split(",")] for r in sys.argv[2:]]
o_rps, o_user, o_sys, a_rps, a_user, a_sys = (statistics.median(c) for c in zip(*rows))
o_cpu, a_cpu = o_user + o_sys, a_user + a_sys
ratios = [(r[1] + r[2]) / (r[4] + r[5]) for r in rows]
print(f"median throughput: {o_name} {o_rps:.0f} req/s, {a_name} {a_rps:.0f} req/s, ratio {a_rps / o_rps:.3f}")
print(f"median server user CPU per request: {o_name} {o_user:.2f} us, {a_name} {a_user:.2f} us "
      f"(+{a_user - o_user:.2f} us)")
print(f"median server user+system CPU per request: {o_name} {o_cpu:.2f} us, {a_name} {a_cpu:.2f} us; "
      f"CPU-bound throughput ratio {o_cpu / a_cpu:.3f}; median of the per-round ratios {statistics.median(ratios):.3f}")
PY
