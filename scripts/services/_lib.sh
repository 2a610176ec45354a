# Helpers shared by scripts/services/*.sh (sourced, not run).
SERVICES_DIR=${SERVICES_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.services}
mkdir -p "$SERVICES_DIR"

# start_group NAME COMMAND...: run COMMAND in a new session (its own process group), logging
# to .services/NAME.log, and remember the group id in .services/NAME.pid.
start_group() {
  local name=$1; shift
  stop_group "$name"
  setsid "$@" >"$SERVICES_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$SERVICES_DIR/$name.pid"
}

is_running() {
  local pidfile="$SERVICES_DIR/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# stop_group NAME: stop the whole process group, politely then firmly.
stop_group() {
  local pidfile="$SERVICES_DIR/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# wait_http NAME URL [SECONDS]: wait until URL answers with any HTTP status.
wait_http() {
  local name=$1 url=$2 seconds=${3:-60}
  for _ in $(seq 1 $((seconds * 10))); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    if ! is_running "$name"; then
      echo "services: $name exited during start; its log:" >&2
      tail -n 40 "$SERVICES_DIR/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "services: $name not ready at $url after ${seconds}s; its log:" >&2
  tail -n 40 "$SERVICES_DIR/$name.log" >&2
  return 1
}

# wait_tcp NAME PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections.
wait_tcp() {
  local name=$1 port=$2 seconds=${3:-60}
  for _ in $(seq 1 $((seconds * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! is_running "$name"; then
      echo "services: $name exited during start; its log:" >&2
      tail -n 40 "$SERVICES_DIR/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "services: $name not listening on $port after ${seconds}s" >&2
  return 1
}

# write_env NAME KEY=VALUE...: the settings the tests read for this service.
write_env() {
  local name=$1; shift
  printf '%s\n' "$@" >"$SERVICES_DIR/$name.env"
}
