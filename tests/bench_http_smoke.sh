#!/usr/bin/env bash
# Smoke test for `capillary bench http`: a small run against a fresh `capillary serve` on a free
# loopback port must finish with every event ok and print its summary as the last line.
# Usage: bench_http_smoke.sh BINARY
set -euo pipefail

binary=$1
source "$(dirname "$0")/serve_fixture.sh"

last_line=$("$binary" bench http --target "127.0.0.1:$port" --accounts 1000 --transfers 20000 \
  --batch 1000 --connections 2 | tail -n 1)
echo "$last_line"
pattern='^http_transfers_per_s=[0-9]+ request_p50_ms=[0-9.]+ request_p99_ms=[0-9.]+ connections=2 batch=1000 rejected=[0-9]+ failed_events=0$'
if [[ ! $last_line =~ $pattern ]]; then
  echo "bench_http_smoke: unexpected last line" >&2
  cat "$work_dir/serve.log" >&2
  exit 1
fi

stop_server
