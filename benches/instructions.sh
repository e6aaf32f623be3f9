#!/usr/bin/env bash
# Instructions per request for each stack of benches/instructions.rs, from
# callgrind: count(N) - count(0), over N - 1 (the run for "0" sends one
# request, so that first-use costs cancel out). Needs valgrind (Debian: valgrind).
#
#   bash benches/instructions.sh            # N = 20000
#   N=5000 bash benches/instructions.sh
#   STACKS="key_store key_store_ip" bash benches/instructions.sh   # some stacks
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-20000}"
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)"; exit 1; }
cargo bench --bench instructions --no-run --quiet 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # stack n -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" >/dev/null 2>"$out/log"
  grep -E '^summary:|^totals:' "$out/cg" | head -1 | awk '{print $2}'
}

declare -A per
printf '%-20s %12s\n' stack "instr/request"
for stack in ${STACKS:-bare insert trivial key_store key_store_uncounted key_store_metrics key_store_prometheus key_store_peer key_store_ip key_store_credits tower_http missing tower_http_missing forbidden axum_public axum_auth axum_auth_rate_limit axum_auth_limiter}; do
  zero=$(count "$stack" 0)
  full=$(count "$stack" "$N")
  per[$stack]=$(( (full - zero) / (N - 1) ))
  printf '%-20s %12d\n' "$stack" "${per[$stack]}"
done
# The summary needs these four stacks (STACKS may name fewer).
for needed in bare insert trivial tower_http; do [ -n "${per[$needed]:-}" ] || exit 0; done
own=$(( (per[trivial] - per[bare]) - (per[insert] - per[bare]) ))
theirs=$(( per[tower_http] - per[bare] ))
echo
echo "layer's own work: (trivial - bare) - (insert - bare) = $own"
echo "tower-http's:     tower_http - bare                  = $theirs"
awk -v a="$own" -v b="$theirs" 'BEGIN { printf "ratio: %.2f (target: at most 1.50)\n", a / b }'
