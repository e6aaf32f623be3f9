#!/usr/bin/env bash
# End-to-end throughput of the demo server, authenticated against
# unauthenticated, on the same handler.
#
#   bash benches/e2e.sh            # DURATION=10s ROUNDS=3 CONNECTIONS=32 KEYS=10000
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

cargo build --quiet --release --example server

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
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

RUST_LOG=warn "${pin_server[@]}" ./target/release/examples/server \
  --listen 127.0.0.1:0 --keys "$work/keys.json" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^listening on http:\/\///p' "$work/server.out")
[ -n "$address" ] || { cat "$work/server.err" >&2; exit 1; }
case "$address" in 127.0.0.1:*) ;; *) echo "refusing to load $address: loopback only" >&2; exit 1 ;; esac

check() {
  local path=$1 expected=$2 status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$address$path")
  [ "$status" = "$expected" ] || { echo "GET $path: HTTP $status, expected $expected" >&2; exit 1; }
}
check /health 200
check /v1/ping 200
status=$(curl -s -o /dev/null -w '%{http_code}' "http://$address/v1/ping")
[ "$status" = 401 ] || { echo "GET /v1/ping without a key: HTTP $status" >&2; exit 1; }

ticks_per_second=$(getconf CLK_TCK)
# The server's user and system CPU ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$server_pid/stat"; }

# Prints "<requests/s> <user CPU us per request> <system CPU us per request>".
run() {
  local before after out requests
  before=$(cpu_ticks)
  out=$("${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $token" "http://$address$1")
  after=$(cpu_ticks)
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk -v b="$before" -v a="$after" -v n="$requests" -v hz="$ticks_per_second" '
    /Requests\/sec/ {
      split(b, x, " "); split(a, y, " ")
      printf "%s %.2f %.2f\n", $2, (y[1] - x[1]) / hz * 1e6 / n, (y[2] - x[2]) / hz * 1e6 / n
    }'
}

echo "wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $KEYS keys, CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
results=()
for round in $(seq 1 "$ROUNDS"); do
  read -r o_rps o_user o_sys <<<"$(run /health)"
  read -r a_rps a_user a_sys <<<"$(run /v1/ping)"
  results+=("$o_rps,$o_user,$o_sys,$a_rps,$a_user,$a_sys")
  printf 'round %d: unauthenticated %s req/s (user %s us, sys %s us per request), authenticated %s req/s (user %s us, sys %s us)\n' \
    "$round" "$o_rps" "$o_user" "$o_sys" "$a_rps" "$a_user" "$a_sys"
done

python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = [[float(x) for x in r.split(",")] for r in sys.argv[1:]]
o_rps, o_user, o_sys, a_rps, a_user, a_sys = (statistics.median(c) for c in zip(*rows))
o_cpu, a_cpu = o_user + o_sys, a_user + a_sys
print(f"median throughput: unauthenticated {o_rps:.0f} req/s, authenticated {a_rps:.0f} req/s, ratio {a_rps / o_rps:.3f}")
print(f"median server user CPU per request: unauthenticated {o_user:.2f} us, authenticated {a_user:.2f} us "
      f"(+{a_user - o_user:.2f} us)")
print(f"median server user+system CPU per request: unauthenticated {o_cpu:.2f} us, authenticated {a_cpu:.2f} us; "
      f"CPU-bound throughput ratio {o_cpu / a_cpu:.3f}")
PY
