#!/usr/bin/env bash
# Smoke test for `capillary bench http`: a small run against a fresh `capillary serve` on a free
# loopback port must finish with every event ok and print its summary as the last line.
# Usage: bench_http_smoke.sh BINARY
set -euo pipefail

binary=$1
# Recovering an empty directory takes well under a second; this many 0.1 s polls is ample.
readonly startup_polls=100

work_dir=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --data "$work_dir/data" --listen "127.0.0.1:$port" >"$work_dir/serve.log" 2>&1 &
server_pid=$!
for ((poll = 0; poll < startup_polls; ++poll)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

last_line=$("$binary" bench http --target "127.0.0.1:$port" --accounts 1000 --transfers 20000 \
  --batch 1000 --connections 2 | tail -n 1)
echo "$last_line"
pattern='^http_transfers_per_s=[0-9]+ request_p50_ms=[0-9.]+ request_p99_ms=[0-9.]+ connections=2 batch=1000 rejected=[0-9]+ failed_events=0$'
if [[ ! $last_line =~ $pattern ]]; then
  echo "bench_http_smoke: unexpected last line" >&2
  cat "$work_dir/serve.log" >&2
  exit 1
fi

# SIGTERM drains and checkpoints; the server must then exit 0.
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=
