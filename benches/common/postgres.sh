# Sourced by the benchmark scripts and tools/check-readme.sh: start_postgres
# DIR [PORT] makes a Postgres cluster in DIR (initdb; as the `postgres` user
# when run as root, since Postgres refuses root), starts it on a unix socket
# in DIR (and on 127.0.0.1:PORT when a port is given), appends its pid to
# the caller's `pids` array and sets `pg_url` (the socket's URL). The
# superuser is `tba`, trusted locally. Installs Debian's postgresql when it
# is missing.
start_postgres() {
  local dir=$1 port=${2:-} bin as=() listen=()
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    # The postgres user must reach DIR: let it traverse (not list) the
    # caller's private temporary directory.
    chmod o+x "$(dirname "$dir")"
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U tba --auth=trust -E UTF8 --no-sync >/dev/null
  if [ -n "$port" ]; then listen=(-c listen_addresses=127.0.0.1 -p "$port"); else listen=(-c listen_addresses=); port=5432; fi
  "${as[@]}" "$bin/postgres" -D "$dir/data" -k "$dir" "${listen[@]}" \
    -c max_connections=200 >"$dir/postgres.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do [ -S "$dir/.s.PGSQL.$port" ] && break; sleep 0.05; done
  pg_url="postgres://tba@$(printf %s "$dir" | sed 's|/|%2F|g'):$port/postgres"
  until "$bin/psql" -h "$dir" -p "$port" -U tba -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; do sleep 0.05; done
}
