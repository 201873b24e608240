#!/usr/bin/env bash
# Where the CPU of a 12-12-6 run goes, per paid order: a fresh `capillary serve` and `capillary
# load 12-12-6` in batch mode at a rate the pair sustains (scale 0.7 by default, 42,000 paid/s), and
# the CPU time of every server thread (by name: engine, journal, history, io, rocksdb:*) and of the
# generator from /proc, over seconds 3 to 27 of the run, divided by the orders paid in them. At a
# rate below saturation these figures move far less between runs than paid/s at the limit does, so
# they are what a change to the per-order cost is measured by. `exited` is the CPU of threads gone
# before the second reading (checkpoint writers, memory warmers).
#
#   RUNS=3 SCALE=0.7 bench/load_cpu.sh
#   SERVE_ARGS="--checkpoint-mib 1024" bench/load_cpu.sh     # flags for `capillary serve`
#   MODE=requests SCALE=0.25 bench/load_cpu.sh                # one HTTP request per step
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
scale=${SCALE:-0.7}
mode=${MODE:-batch}
capillary=${CAPILLARY:-build/capillary}
readonly startup_polls=100 first_second=3 last_second=27
scratch=$(mktemp -d "${TMPDIR:-/tmp}/capillary-load-cpu.XXXXXX")
server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$scratch"' EXIT

# One line per server thread ("name ticks"), the generator and the whole server process.
cpu_ticks() {
  for task in /proc/"$server_pid"/task/*; do
    echo "$(tr ' ' _ <"$task/comm") $(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)"
  done
  echo "generator $(awk '{print $14 + $15}' /proc/"$load_pid"/stat)"
  echo "process $(awk '{print $14 + $15}' /proc/"$server_pid"/stat)"
}

for ((run = 1; run <= runs; ++run)); do
  rm -rf "$scratch/data"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086  # SERVE_ARGS is a list of flags
  "$capillary" serve --data "$scratch/data" --listen "127.0.0.1:$port" ${SERVE_ARGS:-} >"$scratch/serve.log" 2>&1 &
  server_pid=$!
  for ((poll = 0; poll < startup_polls; ++poll)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  "$capillary" load 12-12-6 --target "127.0.0.1:$port" --data "$scratch/data" --duration 30s \
    --scale "$scale" --mode "$mode" --connections 48 >"$scratch/load.out" 2>&1 &
  load_pid=$!
  until grep -q '^run:' "$scratch/load.out"; do sleep 0.1; done
  sleep "$first_second"
  cpu_ticks >"$scratch/before"
  sleep $((last_second - first_second))
  cpu_ticks >"$scratch/after"
  wait "$load_pid"
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
  python3 - "$scratch/before" "$scratch/after" "$scratch/load.out" "$first_second" "$last_second" <<'EOF'
import collections, os, re, sys

before_path, after_path, load_path, first, last = sys.argv[1:6]
first, last = int(first), int(last)

def ticks(path):
    by_name = collections.Counter()
    for line in open(path):
        fields = line.split()
        if len(fields) != 2:
            continue  # a thread that ended while it was read
        name, value = fields
        by_name[re.sub(r"-\d+$", "", name)] += int(value)  # io-0, io-1 -> io
    return by_name

before, after = ticks(before_path), ticks(after_path)
paid = 0
for line in open(load_path):
    match = re.match(r"\s+(\d+)s\s+paid\s+(\d+)/s", line)
    if match and first < int(match[1]) <= last:
        paid += int(match[2])
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
spent = {name: (after[name] - before[name]) * tick_us / paid for name in after}
threads = sum(v for k, v in spent.items() if k not in ("generator", "process"))
spent["exited"] = spent.pop("process") - threads
total = sum(spent.values())
parts = "  ".join(f"{k} {v:.2f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05)
print(f"us_per_paid={total:.2f} paid_per_s={paid / (last - first):.0f}  {parts}")
EOF
done
