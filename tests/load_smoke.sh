#!/usr/bin/env bash
# Smoke test for `capillary load 12-12-6`: a tiny run in each mode against a fresh
# `capillary serve` on a free loopback port must reconcile every acknowledged payment (lost=0),
# answer nothing unexpected, and print its summary as the last line; the JSON report and the plot
# must be written.
# Usage: load_smoke.sh BINARY
set -euo pipefail

binary=$1
source "$(dirname "$0")/serve_fixture.sh"

pattern='^paid_per_s=[0-9]+ checkout_per_s=[0-9]+ p50_ms=[0-9.]+ p99_ms=[0-9.]+ rejected=[0-9]+ errors=0 lost=0$'
for mode in batch requests; do
  # Both runs use the same server: their id bases come from the clock, a second or more apart.
  last_line=$("$binary" load 12-12-6 --target "127.0.0.1:$port" --data "$work_dir/data" \
    --duration 3s --scale 0.01 --mode "$mode" --report "$work_dir/$mode.json" \
    --plot "$work_dir/$mode.svg" | tail -n 1)
  echo "$mode: $last_line"
  if [[ ! $last_line =~ $pattern ]]; then
    echo "load_smoke: unexpected last line in $mode mode" >&2
    tail -n 20 "$work_dir/serve.log" >&2
    exit 1
  fi
  # 600 payments/s offered for 3 s: a good share must go through even on a busy machine.
  paid=${last_line#paid_per_s=}
  paid=${paid%% *}
  if ((paid < 100)); then
    echo "load_smoke: only $paid paid/s in $mode mode at scale 0.01 (600/s offered)" >&2
    exit 1
  fi
  python3 - "$work_dir/$mode.json" "$work_dir/$mode.svg" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["totals"]["lost"] == 0, report["totals"]
assert report["totals"]["reconciled"] == report["totals"]["paid"], report["totals"]
assert len(report["seconds"]) >= 3, report["seconds"]
assert open(sys.argv[2]).read().startswith("<svg"), "no plot"
EOF
done

stop_server
"$binary" verify --data "$work_dir/data" >/dev/null
