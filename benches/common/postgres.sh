# Sourced by the benchmark scripts: start_postgres DIR makes a Postgres
# cluster in DIR (initdb; as the `postgres` user when run as root, since
# Postgres refuses root), starts it on a unix socket in DIR only, appends its
# pid to the caller's `pids` array and sets `pg_url`. Installs Debian's
# postgresql when it is missing.
start_postgres() {
  local dir=$1 bin as=()
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U tba --auth=trust -E UTF8 --no-sync >/dev/null
  "${as[@]}" "$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= \
    -c max_connections=200 >"$dir/postgres.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do [ -S "$dir/.s.PGSQL.5432" ] && break; sleep 0.05; done
  pg_url="postgres://tba@$(printf %s "$dir" | sed 's|/|%2F|g')/postgres"
  until "$bin/psql" -h "$dir" -U tba -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; do sleep 0.05; done
}
