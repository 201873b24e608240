#!/usr/bin/env bash
# The 12-12-6 peak-day measurement as docs/BENCHMARKS.md quotes it: a fresh `capillary serve` and
# `capillary load 12-12-6` side by side on this machine, in batch mode at scale 1, in requests
# mode, and an overload run at twice batch mode's scale; each RUNS times on a fresh data directory.
# Prints every run's last line and each configuration's medians; the first run of each writes its
# report to bench/out/load-<label>.json and its plot to docs/img/load-<label>.svg.
#
#   RUNS=3 DURATION=30s REQUESTS_SCALE=0.5 OVERLOAD_SCALE=2 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
duration=${DURATION:-30s}
batch_scale=${BATCH_SCALE:-1}
requests_scale=${REQUESTS_SCALE:-0.5}
overload_scale=${OVERLOAD_SCALE:-2}
capillary=${CAPILLARY:-build/capillary}
# Recovering an empty directory takes well under a second; this many 0.1 s polls is ample.
readonly startup_polls=100
scratch=$(mktemp -d "${TMPDIR:-/tmp}/capillary-load.XXXXXX")
out=bench/out
mkdir -p "$out" docs/img
server_pid=
stop_server() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_server; rm -rf "$scratch"' EXIT

start_server() {
  rm -rf "$scratch/data"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$capillary" serve --data "$scratch/data" --listen "127.0.0.1:$port" >"$scratch/serve.log" 2>&1 &
  server_pid=$!
  for ((poll = 0; poll < startup_polls; ++poll)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "load.sh: the server did not start" >&2
  cat "$scratch/serve.log" >&2
  exit 1
}

field() { sed -E "s/(^|.* )$1=([0-9.]+).*/\2/" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

run_config() {
  local label=$1 mode=$2 scale=$3
  local paid=() p99=() rejected=() lost=()
  for run in $(seq "$runs"); do
    start_server
    files=()
    [ "$run" -eq 1 ] && files=(--report "$out/load-$label.json" --plot "docs/img/load-$label.svg")
    # A run that loses money or answers unexpectedly exits 1: keep its line, report it.
    line=$("$capillary" load 12-12-6 --target "127.0.0.1:$port" --data "$scratch/data" \
             --duration "$duration" --scale "$scale" --mode "$mode" "${files[@]}" \
             2>"$scratch/load-$label-$run.log" | tail -n 1) || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$label run $run: the server died" >&2
      tail -n 20 "$scratch/serve.log" >&2
    fi
    stop_server
    echo "$label run $run: $line"
    paid+=("$(field paid_per_s "$line")")
    p99+=("$(field p99_ms "$line")")
    rejected+=("$(field rejected "$line")")
    lost+=("$(field lost "$line")")
  done
  echo "$label median: paid_per_s=$(median "${paid[@]}") p99_ms=$(median "${p99[@]}")" \
       "rejected=$(median "${rejected[@]}") max_lost=$(printf '%s\n' "${lost[@]}" | sort -n | tail -n 1)"
}

run_config batch batch "$batch_scale"
run_config requests requests "$requests_scale"
run_config overload batch "$overload_scale"
