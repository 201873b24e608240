#!/usr/bin/env bash
# A small `capillary bench ledger` run: the benchmark still works and keeps its last-line
# contract, and the data it leaves behind passes `verify`, `replay` and `status`.
set -euo pipefail
capillary=$1
data=$(mktemp -d "${TMPDIR:-/tmp}/capillary-bench-smoke.XXXXXX")
trap 'rm -rf "$data"' EXIT

last=$("$capillary" bench ledger --accounts 1000 --transfers 50000 --batch 1000 --hot-percent 50 \
         --data "$data/run" 2>/dev/null | tail -n 1)
echo "$last"
[[ $last =~ ^transfers_per_s=[0-9]+\ batch_p99_ms=[0-9.]+\ accounts=1000\ hot_percent=50$ ]] ||
  { echo "unexpected last line: $last" >&2; exit 1; }

"$capillary" verify --data "$data/run"
"$capillary" status --data "$data/run"
# A bad data directory is a clear usage error, not a crash.
if "$capillary" verify --data "$data/missing" 2>/dev/null; then
  echo "verify accepted a directory with no journal" >&2
  exit 1
fi
