# Sourced by the smoke tests: starts `capillary serve` ($binary) on a fresh data directory and a
# free loopback port, waits until it accepts connections, and stops it on exit. Sets work_dir,
# port and server_pid; `stop_server` sends SIGTERM and fails unless the server exits cleanly.

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

# SIGTERM drains and checkpoints; the server must then exit 0.
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid"
  server_pid=
}
