#!/usr/bin/env bash
# Shared helpers for the local infrastructure scripts: one folder per component under .run/,
# downloads cached under .cache/, everything bound to 127.0.0.1.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
RUN_DIR="${CDC_RUN_DIR:-$ROOT_DIR/.run}"
INFRA_HOST="127.0.0.1"
export ROOT_DIR CACHE_DIR RUN_DIR INFRA_HOST
# shellcheck source=../lib/process.sh
source "$ROOT_DIR/scripts/lib/process.sh"
# shellcheck source=../lib/checksums.sh
source "$ROOT_DIR/scripts/lib/checksums.sh"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# one_install_at_a_time NAME FUNCTION: runs FUNCTION (an install into the cache) holding the cache's lock for NAME.
# npm test's infrastructure and the container tests' stand-in images install the same components side by side on a
# fresh machine: the second waits, then finds the first's install (each install checks its stamp first). The lock is
# held by a subshell only, so no server started later inherits it.
one_install_at_a_time() {
  local name="$1" install="$2"
  mkdir -p "$CACHE_DIR"
  (
    flock -w 1800 9 || die "another install of $name held its lock for 30 min"
    "$install"
  ) 9>>"$CACHE_DIR/.$name-install.lock"
}

component_dir() { mkdir -p "$RUN_DIR/$1"; printf '%s' "$RUN_DIR/$1"; }

# is_running NAME: true when the pid recorded for NAME is alive.
is_running() {
  local pidfile="$RUN_DIR/$1/pid"
  [[ -f "$pidfile" ]] && pid_alive "$(cat "$pidfile")"
}

# start_bg NAME CMD...: start CMD detached in its own session, logging to .run/NAME/NAME.log.
start_bg() {
  local name="$1"; shift
  local dir; dir="$(component_dir "$name")"
  setsid "$@" >>"$dir/$name.log" 2>&1 < /dev/null &
  echo $! >"$dir/pid"
}

# stop_bg NAME [SIGNAL]: stop the process group recorded for NAME and wait for it to go.
stop_bg() {
  local name="$1" sig="${2:-TERM}" pidfile="$RUN_DIR/$1/pid"
  [[ -f "$pidfile" ]] || return 0
  local pid; pid="$(cat "$pidfile")"
  if pid_alive "$pid"; then
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_port PORT TIMEOUT_S NAME: wait until a TCP port on the loopback accepts connections.
wait_port() {
  local port="$1" timeout="$2" name="$3" start=$SECONDS
  until (exec 3<>"/dev/tcp/$INFRA_HOST/$port") 2>/dev/null; do
    if (( SECONDS - start > timeout )); then
      die "$name did not open port $port within ${timeout}s (log: $RUN_DIR/$name/$name.log)"
    fi
    if ! is_running "$name"; then
      tail -n 30 "$RUN_DIR/$name/$name.log" >&2 || true
      die "$name exited before opening port $port"
    fi
    sleep 0.2
  done
}

# wait_ready NAME ENDPOINT TIMEOUT_S: poll the component's own `ready` function until it answers.
wait_ready() {
  local name="$1" endpoint="$2" timeout="$3" start=$SECONDS
  until ready; do
    (( SECONDS - start > timeout )) && die "$name did not answer on $endpoint (log: $RUN_DIR/$name/$name.log)"
    sleep 0.2
  done
}

# print_status NAME DETAILS: the `status` sub-command of a component that has a `ready` function.
print_status() {
  if is_running "$1" && ready; then
    echo "running $2 pid $(cat "$RUN_DIR/$1/pid")"
  else
    echo "stopped"
    return 3
  fi
}

# run_component NAME ENDPOINT STATUS_DETAILS ACTION: the sub-commands shared by the emulator scripts, which
# define cmd_install, cmd_up and a `ready` function.
run_component() {
  local name="$1" endpoint="$2" details="$3" action="${4:-}"
  case "$action" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) stop_bg "$name"; log "$name stopped" ;;
    status) print_status "$name" "$details" ;;
    url) echo "$endpoint" ;;
    reset) stop_bg "$name"; rm -rf "${RUN_DIR:?}/$name/data"; log "$name data deleted" ;;
    *) echo "usage: $0 install|up|down|status|url|reset" >&2; exit 2 ;;
  esac
}
