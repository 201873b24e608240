#!/usr/bin/env bash
# The ledger benchmark as docs/BENCHMARKS.md quotes it: `capillary bench ledger` with the real
# journal (fdatasync on), uniform and 90%-hot, each run several times; prints every run's last line
# and the median transfers/s of each configuration; the first run of each is plotted into
# bench/out/ledger.svg (throughput and batch latency over time).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
accounts=${ACCOUNTS:-1000000}
transfers=${TRANSFERS:-10000000}
capillary=${CAPILLARY:-build/capillary}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/capillary-bench.XXXXXX")
out=bench/out
mkdir -p "$out"
trap 'rm -rf "$scratch"' EXIT

run_config() {
  local label=$1; shift
  local rates=()
  for run in $(seq "$runs"); do
    rm -rf "$scratch/data"
    report=()
    [ "$run" -eq 1 ] && report=(--report "$out/ledger-$label.json")
    line=$("$capillary" bench ledger --accounts "$accounts" --transfers "$transfers" \
             --data "$scratch/data" "${report[@]}" "$@" 2>/dev/null | tail -n 1)
    echo "$label run $run: $line"
    rates+=("$(sed -E 's/.*transfers_per_s=([0-9]+).*/\1/' <<<"$line")")
  done
  median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$label median transfers_per_s=$median"
}

run_config "uniform" --batch 8190 --hot-percent 0 --no-history
run_config "hot90" --batch 8190 --hot-percent 90 --no-history
TRANSFERS_HISTORY=${TRANSFERS_HISTORY:-1000000}
transfers=$TRANSFERS_HISTORY run_config "uniform+history" --batch 8190 --hot-percent 0

python3 bench/plot.py "$out/ledger.svg" "$out"/ledger-uniform.json "$out"/ledger-hot90.json \
  "$out"/ledger-uniform+history.json
