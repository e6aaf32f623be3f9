#!/usr/bin/env bash
# The shared store at 1,000 / 100,000 / 1,000,000 keys (issue 22): import,
# replica start to ready, full resyncs (with 503s counted while they run),
# and the replica's memory, with the release demo and a real redis-server.
#
#   bash benches/shared_store_scale.sh            # SIZES="1000 100000 1000000" RESYNCS=3
#
# For each size: a keys file made here (ids key_NNNNNNN, SHA-256 of
# sk_scale_NNNNNNN), a redis-server of its own (unix socket, temp dir,
# appendonly), `keygen --redis --import` under /usr/bin/time -v (elapsed,
# peak RSS), `server --redis` started and timed until /health says
# "fresh", then RESYNCS SIGHUPs, each timed until /health counts one more
# full load, while a client asks /v1/profile with a valid key in a loop and
# counts the 503s; the server's RSS after the load and after the resyncs.
# Loopback and unix sockets only; everything started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 100000 1000000"}
RESYNCS=${RESYNCS:-3}

for tool in redis-server curl jq python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
cargo build --release --quiet --example server --example keygen
bin=target/release/examples

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

printf '%-9s %-10s %-9s %-12s %-9s %-10s %-24s %-7s %s\n' keys file import keys/s import_MB ready_s resync_s 503s "RSS MB (load, after resyncs)"
for n in $SIZES; do
  dir="$work/$n"; mkdir -p "$dir"
  python3 - "$n" "$dir/keys.json" <<'PY'
import hashlib, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as out:
    out.write('{"keys":[')
    for i in range(n):
        digest = hashlib.sha256(b"sk_scale_%07d" % i).hexdigest()
        out.write('%s{"id":"key_%07d","label":"Scale","hash":"sha256:%s","created_at":"2026-12-01T00:00:00Z"}'
                  % ("," if i else "", i, digest))
    out.write("]}")
PY
  file_mb=$(du -m "$dir/keys.json" | cut -f1)
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --save '' --appendonly yes \
    --daemonize no --logfile "$dir/redis.log" &
  pids+=($!)
  until redis-cli -s "$dir/redis.sock" ping >/dev/null 2>&1; do sleep 0.05; done
  url="redis+unix://$dir/redis.sock"

  start=$(now)
  /usr/bin/time -v "$bin/keygen" --redis "$url" --import "$dir/keys.json" >"$dir/import.out" 2>"$dir/import.time"
  import_s=$(since "$start")
  import_mb=$(awk '/Maximum resident/ { printf "%.0f", $6 / 1024 }' "$dir/import.time")
  rate=$(awk -v n="$n" -v s="$import_s" 'BEGIN { printf "%.0f", n / s }')

  port=$((20000 + RANDOM % 20000))
  start=$(now)
  RUST_LOG=warn "$bin/server" --listen "127.0.0.1:$port" --redis "$url" --max-staleness 5s >"$dir/server.log" 2>&1 &
  server=$!; pids+=($server)
  health() { curl -s "http://127.0.0.1:$port/health" 2>/dev/null || true; }
  until [ "$(health | jq -r '.keys.state // empty' 2>/dev/null)" = fresh ]; do sleep 0.02; done
  ready_s=$(since "$start")
  rss_load=$(rss_mb "$server")

  # A valid token: the one of key_0000007.
  token=sk_scale_0000007
  resyncs=()
  refused=0
  for ((r = 0; r < RESYNCS; r++)); do
    loads=$(health | jq -r .keys.full_loads)
    : >"$dir/codes"
    ( while :; do curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/v1/profile" >>"$dir/codes"; done ) &
    client=$!
    start=$(now)
    kill -HUP "$server"
    until [ "$(health | jq -r .keys.full_loads)" -gt "$loads" ]; do sleep 0.02; done
    resyncs+=("$(since "$start")")
    kill "$client"; wait "$client" 2>/dev/null || true
    refused=$((refused + $(grep -c '^503' "$dir/codes" || true)))
  done
  rss_after=$(rss_mb "$server")
  printf '%-9s %-10s %-9s %-12s %-9s %-10s %-24s %-7s %s, %s\n' "$n" "${file_mb} MB" "${import_s}s" "$rate" "$import_mb" "$ready_s" \
    "$(IFS=/; echo "${resyncs[*]}")" "$refused" "$rss_load" "$rss_after"
  kill "$server"; wait "$server" 2>/dev/null || true
done
