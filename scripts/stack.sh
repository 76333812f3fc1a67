#!/usr/bin/env bash
# The whole pipeline as plain local processes, no Docker: the local infrastructure (scripts/infra.sh: Kafka,
# the MongoDB stand-in, the GCS and BigQuery emulators), the Google Cloud setup (gcp-utils), then cdc,
# processor and loader from services/<service>/dist/main.js.
#
#   scripts/stack.sh up            start what is not running yet and wait until every service answers /readyz
#   scripts/stack.sh down [--infra]  stop cdc, processor and loader (--infra: the local infrastructure too)
#   scripts/stack.sh status        one line per service; exit 0 when all four are ready, 3 otherwise
#   scripts/stack.sh logs [SERVICE] [-f]   the services' logs (.run/stack/<service>.log)
#   scripts/stack.sh env [SERVICE] print the environment a service gets (secrets masked)
#   scripts/stack.sh run TOOL [ARGS...]   run analysis-tool or gcp-utils with the stack's environment, e.g.
#                                  scripts/stack.sh run analysis-tool --query 'SELECT COUNT(*) AS n FROM ...'
#
# Configuration: .env.example, then .env on top when present (the same file deploy.sh uses), then the local
# endpoints forced: KAFKA_BROKERS, MONGO_URI, GCS_ENDPOINT, BIGQUERY_ENDPOINT, LOADER_STORAGE_WRITE_ENDPOINT (its
# gRPC port, BIGQUERY_GRPC_PORT), GCP_PROJECT (the emulator's project), no GOOGLE_APPLICATION_CREDENTIALS,
# Parquet files under .run/stack/parquet. The infrastructure ports come from the environment as for
# scripts/infra.sh (KAFKA_PORT, MONGO_PORT, GCS_PORT, BIGQUERY_PORT, BIGQUERY_GRPC_PORT), not from .env (there
# they are the ports docker compose publishes). Per-service values of shared names: CDC_HTTP_PORT,
# PROCESSOR_HTTP_PORT, LOADER_HTTP_PORT (HTTP_PORT), CDC_KAFKA_CLIENT_ID, ... (KAFKA_CLIENT_ID), CDC_LOG_LEVEL,
# ... (LOG_LEVEL). Services run with .run/stack as working directory, so they do not read .env themselves.
# Pid and log files: .run/stack/<service>.pid and .run/stack/<service>.log (appended across runs).
# Environment: STACK_READY_TIMEOUT (seconds per service, default 120), STACK_STOP_TIMEOUT (default 30).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${CDC_RUN_DIR:-$ROOT_DIR/.run}"
STACK_DIR="$RUN_DIR/stack"
SERVICES=(cdc processor loader console)
READY_TIMEOUT="${STACK_READY_TIMEOUT:-120}"
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-30}"
HOST=127.0.0.1

# shellcheck source-path=SCRIPTDIR source=lib/dotenv.sh
source "$ROOT_DIR/scripts/lib/dotenv.sh"
# shellcheck source-path=SCRIPTDIR source=lib/setup.sh
source "$ROOT_DIR/scripts/lib/setup.sh"
# shellcheck source-path=SCRIPTDIR source=lib/process.sh
source "$ROOT_DIR/scripts/lib/process.sh"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

load_config() {
  DOTENV=()
  dotenv_load "$ROOT_DIR/.env.example"
  # The emulator has no load-job quota: the local stack loads a group every second, unpaced (.env may still say otherwise).
  DOTENV[LOADER_GROUP_WINDOW_MS]=1000
  DOTENV[LOADER_LOAD_JOBS_PER_DAY]=1000000
  dotenv_load "$ROOT_DIR/.env"
}

upper() { printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_'; }

http_port() {
  case "$1" in
    cdc) dotenv_get CDC_HTTP_PORT 8081 ;;
    processor) dotenv_get PROCESSOR_HTTP_PORT 8082 ;;
    loader) dotenv_get LOADER_HTTP_PORT 8083 ;;
    console) dotenv_get CONSOLE_HTTP_PORT 8084 ;;
    *) die "no HTTP port for $1" ;;
  esac
}

# Variables of .env that are for docker compose only, or secrets the local processes have no use for (the Kafka
# security settings belong to the brokers of .env: the local broker is PLAINTEXT).
is_compose_only() {
  case "$1" in
    KAFKA_SECURITY_PROTOCOL | KAFKA_SASL_* | KAFKA_SSL_* | \
      MONGO_ROOT_USERNAME | MONGO_ROOT_PASSWORD | MONGO_CDC_USERNAME | MONGO_CDC_PASSWORD | GOOGLE_APPLICATION_CREDENTIALS | \
      COMPOSE_* | IMAGE_* | BIND_ADDRESS | OPS_BIND_ADDRESS | INFRA_BIND_ADDRESS | *_MEM_LIMIT | *_CPUS | *_PIDS_LIMIT | LOG_MAX_* | KAFKA_CLUSTER_ID | KAFKA_EXTERNAL_HOST | KAFKA_BROKERS_INTERNAL | \
      KAFKA_HEAP_OPTS | KAFKA_LOG_RETENTION_HOURS | KAFKA_OFFSETS_RETENTION_MINUTES | MONGO_HOSTS | MONGO_CACHE_SIZE_GB | *_PORT | *_PORT_[0-9]) return 0 ;;
  esac
  return 1
}

# service_env NAME: KEY=VALUE lines for the service NAME (cdc, processor, loader, gcp-setup, analysis-tool).
service_env() {
  local name="$1" key prefix
  prefix="$(upper "$name")"
  declare -A env=()
  for key in "${!DOTENV[@]}"; do
    is_compose_only "$key" || env["$key"]="${DOTENV[$key]}"
  done
  env[KAFKA_BROKERS]="$HOST:${KAFKA_PORT:-9092}"
  env[MONGO_URI]="$(bash "$ROOT_DIR/scripts/infra/mongo.sh" url)"
  # the stand-in: its URI, no TLS (whatever .env says for a real MongoDB)
  env[MONGO_URI_FILE]="" env[MONGO_TLS_CA_FILE]="" env[MONGO_TLS_CERT_KEY_FILE]=""
  env[GCS_ENDPOINT]="http://$HOST:${GCS_PORT:-4443}"
  env[BIGQUERY_ENDPOINT]="http://$HOST:${BIGQUERY_PORT:-9050}"
  env[LOADER_STORAGE_WRITE_ENDPOINT]="$HOST:${BIGQUERY_GRPC_PORT:-9060}"
  env[GCP_PROJECT]="${BIGQUERY_PROJECT:-local-project}"
  env[PROCESSOR_OUTPUT_DIR]="$STACK_DIR/parquet"
  env[LOADER_INPUT_DIR]="$STACK_DIR/parquet"
  env[LOG_LEVEL]="$(dotenv_get "${prefix}_LOG_LEVEL" "$(dotenv_get LOG_LEVEL info)")"
  local client_id; client_id="$(dotenv_get "${prefix}_KAFKA_CLIENT_ID")"
  [[ -n "$client_id" ]] && env[KAFKA_CLIENT_ID]="$client_id"
  case "$name" in
    cdc | processor | loader) env[HTTP_PORT]="$(http_port "$name")" ;;
    console)
      env[HTTP_PORT]="$(http_port console)"
      env[CONSOLE_SERVICES]="cdc=http://$HOST:$(http_port cdc),processor=http://$HOST:$(http_port processor),loader=http://$HOST:$(http_port loader)"
      env[CONSOLE_KAFKA_GROUPS]="$(dotenv_get PROCESSOR_GROUP_ID processor),$(dotenv_get LOADER_GROUP_ID loader)"
      ;;
  esac
  for key in "${!env[@]}"; do printf '%s=%s\n' "$key" "${env[$key]}"; done | sort
}

pid_of() { local f="$STACK_DIR/$1.pid"; [[ -f "$f" ]] && cat "$f"; }
alive() { local pid; pid="$(pid_of "$1")" && [[ -n "$pid" ]] && pid_alive "$pid"; }
ready() { curl -fsS -o /dev/null --max-time 2 "http://$HOST:$(http_port "$1")/readyz" 2>/dev/null; }

# run_node NAME SCRIPT [ARGS...]: the environment of NAME, working directory .run/stack, no inherited variables
# beyond PATH and HOME (so a developer's shell cannot change what the stack does).
node_command() {
  local name="$1"; shift
  local vars=()
  mapfile -t vars < <(service_env "$name")
  # the workspace's Node flags and C library settings, as the container image sets them: "nodeOptions" and
  # "processEnvironment" of <workspace>/package.json
  local package options process_env=()
  package="$(dirname "$(dirname "$1")")/package.json"
  options="$(node -p "require(process.argv[1]).nodeOptions ?? ''" "$package")"
  mapfile -t process_env < <(node -e "for (const [k, v] of Object.entries(require(process.argv[1]).processEnvironment ?? {})) console.log(k + '=' + v)" "$package")
  printf '%s\0' env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "NODE_OPTIONS=$options" "${process_env[@]}" "${vars[@]}" node "$@"
}

gcp_setup() {
  local cmd=()
  mapfile -d '' -t cmd < <(node_command gcp-setup "$ROOT_DIR/gcp-utils/dist/main.js")
  log "Google Cloud setup on the emulators (gcp-utils; log: $STACK_DIR/gcp-setup.log)"
  if ! (cd "$STACK_DIR" && "${cmd[@]}") >>"$STACK_DIR/gcp-setup.log" 2>&1; then
    tail -n 30 "$STACK_DIR/gcp-setup.log" >&2 || true
    die "gcp-utils setup failed (log: $STACK_DIR/gcp-setup.log)"
  fi
}

start_service() {
  local name="$1" port; port="$(http_port "$name")"
  if alive "$name"; then
    if ready "$name"; then log "$name already running and ready (pid $(pid_of "$name"))"; return 0; fi
  elif (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
    die "port $port (for $name) is already used by another process"
  fi
  if ! alive "$name"; then
    local cmd=()
    mapfile -d '' -t cmd < <(node_command "$name" "$ROOT_DIR/services/$name/dist/main.js")
    printf '\n=== %s start %s ===\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$STACK_DIR/$name.log"
    (cd "$STACK_DIR" && exec setsid "${cmd[@]}" >>"$STACK_DIR/$name.log" 2>&1 </dev/null) &
    echo $! >"$STACK_DIR/$name.pid"
    log "started $name (pid $!, http://$HOST:$port, log $STACK_DIR/$name.log)"
  fi
  local start=$SECONDS
  until ready "$name"; do
    if ! alive "$name"; then
      tail -n 30 "$STACK_DIR/$name.log" >&2 || true
      die "$name exited before it was ready (log: $STACK_DIR/$name.log)"
    fi
    (( SECONDS - start > READY_TIMEOUT )) && die "$name not ready within ${READY_TIMEOUT}s (log: $STACK_DIR/$name.log)"
    sleep 0.5
  done
  log "$name ready in $((SECONDS - start))s"
}

stop_service() {
  local name="$1" pid
  pid="$(pid_of "$name" || true)"
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do pid_alive "$pid" || break; sleep 0.2; done
    if pid_alive "$pid"; then
      log "$name did not stop within ${STOP_TIMEOUT}s, killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STACK_DIR/$name.pid"
}

cmd_up() {
  local start=$SECONDS
  mkdir -p "$STACK_DIR/parquet"
  load_config
  # a fresh clone needs nothing else: prerequisites, Node, npm dependencies and the build (scripts/lib/setup.sh)
  # shellcheck disable=SC2119 # no further groups: the stack needs no linter
  project_setup || die "set-up failed (see above)"
  bash "$ROOT_DIR/scripts/infra.sh" up kafka mongo gcs bigquery
  gcp_setup
  local name
  for name in "${SERVICES[@]}"; do start_service "$name"; done
  log "pipeline up in $((SECONDS - start))s"
  cmd_status || true
  cat >&2 <<EOF
[stack] console: http://$HOST:$(http_port console)/
[stack] logs:   scripts/stack.sh logs [cdc|processor|loader|console] [-f]   ($STACK_DIR/*.log)
[stack] test:   ./test.sh --local          stop: scripts/stack.sh down [--infra]
EOF
}

cmd_down() {
  load_config
  local i
  # the reverse order: the loader finishes what the processor announced, the processor what cdc produced
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_service "${SERVICES[$i]}"; done
  if [[ "${1:-}" == "--infra" ]]; then
    bash "$ROOT_DIR/scripts/infra.sh" down kafka mongo gcs bigquery
  fi
}

cmd_status() {
  load_config
  local name rc=0 port
  for name in "${SERVICES[@]}"; do
    port="$(http_port "$name")"
    if alive "$name" && ready "$name"; then
      echo "$name: ready (pid $(pid_of "$name"), http://$HOST:$port/readyz)"
    elif alive "$name"; then
      echo "$name: running, not ready (pid $(pid_of "$name"), http://$HOST:$port/readyz)"; rc=3
    else
      echo "$name: stopped"; rc=3
    fi
  done
  return "$rc"
}

cmd_logs() {
  local follow=() names=() arg
  for arg in "$@"; do
    case "$arg" in
      -f | --follow) follow=(-F) ;;
      *) names+=("$arg") ;;
    esac
  done
  [[ ${#names[@]} -gt 0 ]] || names=(gcp-setup "${SERVICES[@]}")
  local files=()
  for arg in "${names[@]}"; do
    [[ -f "$STACK_DIR/$arg.log" ]] && files+=("$STACK_DIR/$arg.log")
  done
  [[ ${#files[@]} -gt 0 ]] || die "no log yet in $STACK_DIR"
  tail -n 100 "${follow[@]}" "${files[@]}"
}

cmd_run() {
  local tool="${1:-}" script
  case "$tool" in
    analysis-tool) script="$ROOT_DIR/services/analysis-tool/dist/main.js" ;;
    gcp-utils | gcp-setup) tool=gcp-setup; script="$ROOT_DIR/gcp-utils/dist/main.js" ;;
    *) die "run: analysis-tool or gcp-utils" ;;
  esac
  shift
  [[ -f "$script" ]] || die "$script missing: run scripts/stack.sh up (or npm test) first"
  use_project_node
  load_config
  mkdir -p "$STACK_DIR"
  local cmd=()
  mapfile -d '' -t cmd < <(node_command "$tool" "$script" "$@")
  cd "$STACK_DIR" && exec "${cmd[@]}"
}

cmd_env() {
  load_config
  service_env "${1:-cdc}" | sed -E 's/^([A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*)=.+/\1=***/; s#(mongodb(\+srv)?://[^:/]+:)[^@]+@#\1***@#'
}

action="${1:-}"
[[ $# -gt 0 ]] && shift
case "$action" in
  up) cmd_up ;;
  down) cmd_down "$@" ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  env) cmd_env "$@" ;;
  run) cmd_run "$@" ;;
  *) echo "usage: $0 up | down [--infra] | status | logs [SERVICE] [-f] | env [SERVICE] | run TOOL [ARGS...]" >&2; exit 2 ;;
esac
