#!/usr/bin/env bash
# Peer comparison: the ledger transfer workload on PostgreSQL 15 and SQLite, both fully durable.
#
# Workload (same as the engine's benchmark): N accounts, each funded with BALANCE minor units;
# each transfer picks a debit and a credit account uniformly at random (seeded) and an amount in
# 1..MAX_AMOUNT, moves the money and journals a transfer row (id, debit_account_id,
# credit_account_id, amount, timestamp). A transfer that would overdraw the debit account (or
# names the same account twice) is rejected and changes nothing. Throughput counts every
# attempted transfer, rejected ones included (they are reported separately).
#
# Configurations, each started from a freshly loaded store:
#   postgresql 1_per_tx     pgbench, one transfer per transaction, several client counts
#   postgresql 1000_per_tx  one client, 1,000 transfers per transaction
#   sqlite     1_per_tx     one writer (SQLite serialises writers), one transfer per transaction
#   sqlite     1000_per_tx  one writer, 1,000 transfers per transaction
# After each one, money conservation and the journal are audited; any failure aborts the run.
#
# stdout: one line per configuration:
#   peer=<postgresql|sqlite> mode=<1_per_tx|1000_per_tx> clients=<c> transfers_per_s=<n> rejected=<r>
# stderr: progress.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/peers.sh [--accounts N] [--transfers M] [--seconds S] [--clients "1 4 16 32"]
                      [--seed X] [--quick] [--help]

Runs the ledger transfer workload on PostgreSQL 15 and SQLite, fully durable, and prints
  peer=<postgresql|sqlite> mode=<1_per_tx|1000_per_tx> clients=<c> transfers_per_s=<n> rejected=<r>
for each configuration (PostgreSQL 1_per_tx: the best client count).

  --accounts N    accounts (default 1000000)
  --transfers M   transfers per 1000_per_tx configuration (default 200000)
  --seconds S     duration of each 1_per_tx configuration (default 15)
  --clients LIST  PostgreSQL client counts for 1_per_tx (default "1 4 16 32")
  --seed X        random seed (default 42)
  --quick         smoke test: 10000 accounts, 20000 transfers, 2 s per 1_per_tx run
  --help          this text

Installs postgresql-15, sqlite3 and libsqlite3-dev with apt-get when missing (needs root).
Runs a throwaway PostgreSQL cluster on a unix socket (port $PEERS_PG_PORT, default 54329) in a
temporary directory (under $TMPDIR, default /tmp; it must be on a real disk for fsync to mean
anything) and removes everything on exit.
EOF
}

# Initial credit and amount range, minor units: the first debit of an account always succeeds,
# later ones can overdraw, so most transfers succeed and some are rejected.
readonly BALANCE=10000
readonly MAX_AMOUNT=10000
readonly PER_TX_BATCH=1000

accounts=1000000
transfers=200000
seconds=15
clients="1 4 16 32"
seed=42
quick=0
accounts_set=0 transfers_set=0 seconds_set=0

while (($#)); do
  case "$1" in
    --accounts) accounts="${2:?--accounts needs a value}"; accounts_set=1; shift 2 ;;
    --transfers) transfers="${2:?--transfers needs a value}"; transfers_set=1; shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a value}"; seconds_set=1; shift 2 ;;
    --clients) clients="${2:?--clients needs a value}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "peers.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if ((quick)); then
  ((accounts_set)) || accounts=10000
  ((transfers_set)) || transfers=20000
  ((seconds_set)) || seconds=2
fi
for v in accounts transfers seconds seed; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "peers.sh: --$v must be a non-negative integer" >&2; exit 2; }
done
for c in $clients; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] || { echo "peers.sh: bad client count: $c" >&2; exit 2; }
done
((accounts >= 2)) || { echo "peers.sh: need at least 2 accounts" >&2; exit 2; }
# Whole batches only, so every transaction carries exactly PER_TX_BATCH transfers.
((transfers >= PER_TX_BATCH)) || { echo "peers.sh: --transfers must be >= $PER_TX_BATCH" >&2; exit 2; }
((seconds >= 1)) || { echo "peers.sh: --seconds must be >= 1" >&2; exit 2; }

log() { printf '[peers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { printf 'peers.sh: FAILED: %s\n' "$*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="$here/peers"

source "$assets/cluster.sh"

log "accounts=$accounts transfers=$transfers seconds=$seconds clients=\"$clients\" seed=$seed work=$work"

# --- SQLite driver ----------------------------------------------------------------------------
log "compiling the SQLite driver"
cc -O2 -std=c11 -Wall -Wextra -o "$work/sqlite_ledger" "$assets/sqlite_ledger.c" -lsqlite3

pg_load() {
  log "postgresql: loading $accounts accounts"
  psql_q -v naccounts="$accounts" -v balance="$BALANCE" -f "$assets/pg_schema.sql" >/dev/null
}

# Audits the store after a run; echoes the number of applied transfers.
pg_verify() {
  local out sum negative mismatched applied
  out="$(psql_q -v balance="$BALANCE" -f "$assets/pg_verify.sql")"
  read -r sum negative mismatched applied <<<"$out"
  [[ "$sum" == "$((accounts * BALANCE))" ]] ||
    fail "postgresql: MONEY NOT CONSERVED: sum of balances $sum, expected $((accounts * BALANCE))"
  [[ "$negative" == 0 && "$mismatched" == 0 ]] ||
    fail "postgresql: audit: $negative negative balances, $mismatched balances disagree with the journal"
  echo "$applied"
}

# Runs pgbench; echoes "<transactions processed> <tps>".
pg_bench() {
  local out processed tps failed
  out="$("$pgbin/pgbench" -n -h "$pgsock" -p "$pgport" -U postgres -M prepared \
    --random-seed="$seed" -D naccounts="$accounts" -D max_amount="$MAX_AMOUNT" "$@" postgres 2>&1)" ||
    { printf '%s\n' "$out" >&2; fail "pgbench failed"; }
  processed="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")"
  tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")"
  [[ -n "$processed" && -n "$tps" ]] || { printf '%s\n' "$out" >&2; fail "cannot parse pgbench output"; }
  [[ -z "$failed" || "$failed" == 0 ]] || { printf '%s\n' "$out" >&2; fail "pgbench: $failed transactions failed"; }
  echo "$processed $tps"
}

# --- PostgreSQL, one transfer per transaction ---------------------------------------------------
best_tps=0 best_clients=0 best_rejected=0
for c in $clients; do
  pg_load
  log "postgresql 1_per_tx: $c clients for ${seconds}s"
  # Each client has its own connection and thread; on a small machine pgbench's threads share
  # the cores with the server, as any client would. Deadlocks (two transfers locking the same
  # pair of accounts in opposite order) are retried, as an application would.
  threads=$(( c < $(nproc) ? c : $(nproc) ))
  res="$(pg_bench -c "$c" -j "$threads" -T "$seconds" --max-tries=100 -f "$assets/pg_1_per_tx.pgbench")"
  read -r processed tps <<<"$res"
  applied="$(pg_verify)"
  rejected=$((processed - applied))
  log "postgresql 1_per_tx: clients=$c $(printf '%.0f' "$tps") transfers/s ($processed attempted, $rejected rejected)"
  if awk -v a="$tps" -v b="$best_tps" 'BEGIN { exit !(a > b) }'; then
    best_tps="$tps" best_clients="$c" best_rejected="$rejected"
  fi
done
printf 'peer=postgresql mode=1_per_tx clients=%s transfers_per_s=%.0f rejected=%s\n' \
  "$best_clients" "$best_tps" "$best_rejected"

# --- PostgreSQL, 1,000 transfers per transaction ------------------------------------------------
pg_load
log "postgresql 1000_per_tx: $transfers transfers, 1 client"
res="$(pg_bench -c 1 -j 1 -t "$((transfers / PER_TX_BATCH))" -f "$assets/pg_1000_per_tx.pgbench")"
read -r processed tps <<<"$res"
applied="$(pg_verify)"
attempted=$((processed * PER_TX_BATCH))
rejected=$((attempted - applied))
rate="$(awk -v t="$tps" -v b="$PER_TX_BATCH" 'BEGIN { printf "%.0f", t * b }')"
log "postgresql 1000_per_tx: $rate transfers/s ($attempted attempted, $rejected rejected)"
printf 'peer=postgresql mode=1000_per_tx clients=1 transfers_per_s=%s rejected=%s\n' "$rate" "$rejected"

as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
pg_started=0
rm -rf "$pgdata"

# --- SQLite -------------------------------------------------------------------------------------
sqlite_run() { # mode per_tx transfer_limit seconds_limit
  local mode="$1" per_tx="$2" limit="$3" secs="$4" db="$work/ledger.sqlite" out attempted rejected elapsed
  rm -f "$db" "$db-wal" "$db-shm"
  log "sqlite $mode: loading $accounts accounts and running"
  out="$("$work/sqlite_ledger" "$db" "$accounts" "$BALANCE" "$MAX_AMOUNT" "$per_tx" "$limit" "$secs" "$seed")" ||
    fail "sqlite $mode: run or audit failed (money not conserved?)"
  read -r attempted rejected elapsed <<<"$(sed -E 's/attempted=([0-9]+) rejected=([0-9]+) seconds=([0-9.]+)/\1 \2 \3/' <<<"$out")"
  local rate
  rate="$(awk -v n="$attempted" -v s="$elapsed" 'BEGIN { printf "%.0f", n / s }')"
  log "sqlite $mode: $rate transfers/s ($attempted attempted in ${elapsed}s, $rejected rejected)"
  printf 'peer=sqlite mode=%s clients=1 transfers_per_s=%s rejected=%s\n' "$mode" "$rate" "$rejected"
  rm -f "$db" "$db-wal" "$db-shm"
}
sqlite_run 1_per_tx 1 0 "$seconds"
sqlite_run 1000_per_tx "$PER_TX_BATCH" "$transfers" 0

log "done"
