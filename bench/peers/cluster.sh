# A throwaway PostgreSQL 15 cluster for the peer benchmarks, sourced by bench/peers.sh and
# bench/fund_peers.sh after they define log() and fail(). Installs what is missing (as root), makes
# a scratch directory $work (removed on exit, with the cluster), starts a fully durable server on a
# unix socket in it (port $PEERS_PG_PORT, default 54329) and defines as_pg and psql_q.

# --- Packages ------------------------------------------------------------------------------
missing=()
for pkg in postgresql-15 sqlite3 libsqlite3-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  ((EUID == 0)) || fail "missing packages (${missing[*]}); install them or run as root"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cc >/dev/null || fail "no C compiler (cc) found"
pgbin=/usr/lib/postgresql/15/bin
[[ -x "$pgbin/initdb" && -x "$pgbin/pgbench" ]] || fail "PostgreSQL 15 binaries not found in $pgbin"

# --- Scratch space and cleanup --------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/capillary-peers.XXXXXX")"
pgdata="$work/pgdata"
pgsock="$work/sock"
pgport="${PEERS_PG_PORT:-54329}"
pg_started=0

# initdb and postgres refuse to run as root: run the server as the postgres account then.
as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local rc=$?
  if ((pg_started)); then
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fsync on tmpfs costs nothing, which would flatter both peers.
if [[ "$(stat -f -c %T "$work")" == tmpfs ]]; then
  log "WARNING: $work is on tmpfs; fsync is free there and the figures are not durable ones"
fi

# --- PostgreSQL cluster -----------------------------------------------------------------------
mkdir -p "$pgsock"
((EUID == 0)) && chown -R postgres: "$work"
# A server left over from an interrupted run on our port would make us measure the wrong thing.
if "$pgbin/pg_isready" -q -h "$pgsock" -p "$pgport" || "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport"; then
  fail "something already listens on port $pgport (set PEERS_PG_PORT)"
fi
log "initdb (PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'))"
as_pg "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
# Durable defaults kept on purpose: fsync, synchronous_commit, full_page_writes.
# Sized for the run: 1 GB of buffers holds the whole store; max_wal_size keeps checkpoints out
# of the timed runs (each run starts after an explicit CHECKPOINT).
cat >>"$pgdata/postgresql.conf" <<EOF

# bench/peers/cluster.sh
listen_addresses = ''
unix_socket_directories = '$pgsock'
port = $pgport
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 100
EOF
log "starting PostgreSQL on $pgsock port $pgport"
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$work/postgresql.log" -w -t 60 start >/dev/null
pg_started=1

psql_q() { "$pgbin/psql" -X -q -h "$pgsock" -p "$pgport" -U postgres -d postgres "$@"; }

[[ "$(psql_q -At -c 'SHOW fsync')" == on && "$(psql_q -At -c 'SHOW synchronous_commit')" == on ]] ||
  fail "PostgreSQL is not configured durably"
