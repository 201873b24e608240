#!/usr/bin/env bash
# One day's money-market fund income for N holders on Capillary, PostgreSQL 15 and SQLite, side by
# side, each fully durable, each RUNS times; prints every run and the medians with their ratios.
#
# The same work everywhere: the same N holders, 1.00 to 100,000.00 CNY of shares each (holder u has
# 100 + (u × 2654435761 mod 10^7) fen, as `capillary bench fund-income` loads them); the day's declared
# income is floor(Σ shares × R / 10^8) fen, each holder is paid floor(shares × R / 10^8) as new
# shares (yesterday's and cumulative income kept), and the residue is declared − Σ paid, recorded
# with the run under a (fund, day) key that makes it idempotent. All three must report the same
# residue, or the script fails: they paid the same register the same way. Capillary pays in journaled steps
# (`capillary bench fund-income`); each peer runs it as one durable transaction over an indexed
# holders table, the way a fund's register in a database would. Loading the holders is not timed.
#
#   RUNS=3 HOLDERS="1000000 10000000" RATE=6500 bench/fund_peers.sh
#
# stdout: system=<capillary|postgresql|sqlite> holders=<N> seconds=<s> holders_per_s=<n> residue_fen=<r>
# per run, then per N the medians and capillary's speed-up over each peer.
set -euo pipefail

runs=${RUNS:-3}
holders_list=${HOLDERS:-"1000000 10000000"}
rate=${RATE:-6500}
capillary=${CAPILLARY:-build/capillary}

log() { printf '[fund-peers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { printf 'fund_peers.sh: FAILED: %s\n' "$*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="$here/peers"
source "$assets/cluster.sh"
log "runs=$runs holders=\"$holders_list\" rate=$rate work=$work"

readonly shares_sql="100 + (u * 2654435761) % 10000000"
readonly income_sql="shares * $rate / 100000000"
# The day's run, one transaction, in SQL both peers take. The sum is cast back to an integer
# first: PostgreSQL's sum(bigint) is numeric, and its division would round instead of flooring.
readonly income_run_sql="
BEGIN;
INSERT INTO runs (fund, day, declared) SELECT 1, 1, CAST(sum(shares) AS bigint) * $rate / 100000000 FROM holders;
UPDATE holders SET income_last = $income_sql, income_total = income_total + $income_sql,
                   shares = shares + $income_sql
 WHERE $income_sql > 0;
UPDATE runs SET credited = (SELECT sum(income_last) FROM holders) WHERE fund = 1 AND day = 1;
UPDATE runs SET residue = declared - credited WHERE fund = 1 AND day = 1;
COMMIT;"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
report() { # system holders seconds residue
  awk -v s="$1" -v n="$2" -v t="$3" -v r="$4" \
    'BEGIN { printf "system=%s holders=%d seconds=%.3f holders_per_s=%.0f residue_fen=%d\n", s, n, t, n / t, r }'
}

pg_run() { # holders: loads the register, then times the income run
  local n=$1 start end
  psql_q >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS holders; DROP TABLE IF EXISTS runs;
CREATE TABLE holders (user_id bigint PRIMARY KEY, shares bigint NOT NULL,
                      income_last bigint NOT NULL DEFAULT 0, income_total bigint NOT NULL DEFAULT 0);
INSERT INTO holders (user_id, shares) SELECT u, $shares_sql FROM generate_series(1, $n) AS u;
CREATE TABLE runs (fund bigint, day bigint, declared bigint, credited bigint, residue bigint,
                   PRIMARY KEY (fund, day));
VACUUM ANALYZE holders;
CHECKPOINT;
SQL
  start=$(now)
  psql_q -v ON_ERROR_STOP=1 >/dev/null <<<"$income_run_sql"
  end=$(now)
  report postgresql "$n" "$(elapsed "$start" "$end")" "$(psql_q -At -c 'SELECT residue FROM runs')"
}

sqlite_run() { # holders
  local n=$1 db="$work/fund.sqlite" start end
  rm -f "$db" "$db-wal" "$db-shm"
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE holders (user_id INTEGER PRIMARY KEY, shares INTEGER NOT NULL,
                      income_last INTEGER NOT NULL DEFAULT 0, income_total INTEGER NOT NULL DEFAULT 0);
WITH RECURSIVE s(u) AS (SELECT 1 UNION ALL SELECT u + 1 FROM s WHERE u < $n)
INSERT INTO holders (user_id, shares) SELECT u, $shares_sql FROM s;
CREATE TABLE runs (fund INTEGER, day INTEGER, declared INTEGER, credited INTEGER, residue INTEGER,
                   PRIMARY KEY (fund, day));
PRAGMA wal_checkpoint(TRUNCATE);
SQL
  start=$(now)
  sqlite3 -bail "$db" >/dev/null <<<"PRAGMA synchronous = FULL; $income_run_sql"
  end=$(now)
  report sqlite "$n" "$(elapsed "$start" "$end")" "$(sqlite3 "$db" 'SELECT residue FROM runs')"
  rm -f "$db" "$db-wal" "$db-shm"
}

capillary_run() { # holders
  "$capillary" bench fund-income --holders "$1" --rate "$rate" --dir "$work/capillary" 2>/dev/null | tail -n 1 |
    sed 's/^/system=capillary /'
  rm -rf "$work/capillary"
}

field() { sed -E "s/(^|.* )$1=([0-9.]+).*/\2/" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

for n in $holders_list; do
  declare -A seconds=()
  for run in $(seq "$runs"); do
    for system in capillary postgresql sqlite; do
      log "$system: $n holders, run $run"
      case $system in
        capillary) line=$(capillary_run "$n") ;;
        postgresql) line=$(pg_run "$n") ;;
        sqlite) line=$(sqlite_run "$n") ;;
      esac
      echo "$line"
      seconds[$system]="${seconds[$system]:-} $(field seconds "$line")"
      residue=$(field residue_fen "$line")
      [[ -z ${expected_residue:-} || $residue == "$expected_residue" ]] ||
        fail "$system paid $n holders a residue of $residue fen, the others $expected_residue"
      expected_residue=$residue
    done
  done
  c=$(median ${seconds[capillary]}) p=$(median ${seconds[postgresql]}) s=$(median ${seconds[sqlite]})
  awk -v n="$n" -v c="$c" -v p="$p" -v s="$s" 'BEGIN {
    printf "median holders=%d capillary_s=%s postgresql_s=%s sqlite_s=%s vs_postgresql=%.0fx vs_sqlite=%.0fx\n",
           n, c, p, s, p / c, s / c }'
  unset seconds expected_residue
done
log "done"
