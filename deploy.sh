#!/usr/bin/env bash
# Deploys the pipeline (MongoDB -> cdc -> Kafka -> processor -> Parquet -> loader -> GCS + BigQuery) with
# docker compose on this host, or as local processes with --local. Safe to re-run: it builds what changed,
# starts what is not running, creates missing topics, and never overwrites .env or data.
#
#   ./deploy.sh [up] [--no-build] [--gcp]   build images, start storage, create topics, start cdc, then processing
#   ./deploy.sh down [--volumes]            stop and remove the containers (--volumes: and every data volume)
#   ./deploy.sh status                      containers and their health
#   ./deploy.sh logs [SERVICE...]           follow the logs
#   ./deploy.sh analysis                    open the analysis tool (SQL prompt on the BigQuery dataset)
#   ./deploy.sh query 'SQL'                 run one query with the analysis tool
#   ./deploy.sh --local [up|down|status|logs]   the same pipeline as local processes (scripts/stack.sh), no Docker
#
# Configuration: .env (created from .env.example on the first run, with random passwords). Google Cloud:
#   GOOGLE_APPLICATION_CREDENTIALS empty -> GCS and BigQuery emulators in containers (compose/gcp-emulators.yml)
#   GOOGLE_APPLICATION_CREDENTIALS=key.json -> Google Cloud with that service-account key (mounted as a secret)
#   GCP_SETUP_/GCP_LOADER_/GCP_ANALYSIS_CREDENTIALS -> one key per role instead (least privilege, README "Security")
#   --gcp -> Google Cloud with Application Default Credentials (a GCP VM's service account), no emulators
# LOADER_STAGING in .env: load-job (default: free; on Google Cloud the daily load-job budget paces the groups, about
#   a minute and a half behind MongoDB at steady traffic) or storage-write (seconds behind: rows appended through the
#   BigQuery Storage Write API, billed past 2 TiB a month, and an insert and a MERGE every LOADER_STORAGE_WRITE_WINDOW_MS);
#   README "Choosing the staging method" says when to switch.
# COMPOSE_HA=true in .env: 3 Kafka nodes and a 3-member replica set (compose/storage.ha.yml).
# Environment: DEPLOY_WAIT_TIMEOUT (seconds to wait for each service to be healthy, default 300).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WAIT_TIMEOUT="${DEPLOY_WAIT_TIMEOUT:-300}"
# shellcheck source=scripts/lib/dotenv.sh
source "$ROOT_DIR/scripts/lib/dotenv.sh"
# shellcheck source=scripts/lib/compose.sh
source "$ROOT_DIR/scripts/lib/compose.sh"

step() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }

# --- prerequisites -----------------------------------------------------------------------------------------------
check_prerequisites() {
  command -v docker >/dev/null 2>&1 \
    || die "docker is not installed. Install Docker Engine (https://docs.docker.com/engine/install/) or run ./deploy.sh --local"
  local version
  if ! version="$(docker compose version --short 2>/dev/null)"; then
    die "the Docker Compose v2 plugin ('docker compose') is missing. Install docker-compose-plugin (the old Python
       'docker-compose' v1 is not supported), or run ./deploy.sh --local"
  fi
  version="${version#v}"
  local major="${version%%.*}" rest="${version#*.}"
  local minor="${rest%%.*}"
  if ! [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || (( major < 2 || (major == 2 && minor < 20) )); then
    die "Docker Compose $version is too old: 2.20 or newer is needed (healthcheck start_interval, depends_on conditions)"
  fi
  docker info >/dev/null 2>&1 \
    || die "the Docker daemon is not reachable (is it running? is this user allowed to use it, e.g. in the docker group?)"
  info "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), compose $version"
}

# --- .env --------------------------------------------------------------------------------------------------------
random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The passwords deploy.sh makes when .env has none: MongoDB's root and cdc users, the Kafka brokers' admin and the
# SCRAM user of each service (KAFKA_<SERVICE>_PASSWORD).
KAFKA_SERVICES=(cdc processor loader console)
GENERATED_SECRETS=(MONGO_ROOT_PASSWORD MONGO_CDC_PASSWORD KAFKA_ADMIN_PASSWORD KAFKA_CDC_PASSWORD KAFKA_PROCESSOR_PASSWORD KAFKA_LOADER_PASSWORD KAFKA_CONSOLE_PASSWORD)

# Creates .env from .env.example on the first run; fills empty required passwords (never changes a set value).
prepare_env() {
  local dotenv_path="$ROOT_DIR/.env"
  if [[ ! -f "$dotenv_path" ]]; then
    cp "$ROOT_DIR/.env.example" "$dotenv_path"
    chmod 600 "$dotenv_path"
    info "created .env from .env.example"
  fi
  local key
  for key in "${GENERATED_SECRETS[@]}"; do
    if grep -qE "^${key}=[[:space:]]*$" "$dotenv_path"; then
      sed -i -E "s|^${key}=[[:space:]]*$|${key}=$(random_secret)|" "$dotenv_path"
      info "generated a random $key in .env"
    elif ! grep -qE "^${key}=" "$dotenv_path"; then
      printf '%s=%s\n' "$key" "$(random_secret)" >>"$dotenv_path"
      info "generated a random $key in .env"
    fi
  done
  DOTENV=()
  dotenv_load "$ROOT_DIR/.env.example"
  dotenv_load "$dotenv_path"
  # they go unquoted into the brokers' JAAS configuration and the SCRAM credential files
  for key in KAFKA_ADMIN_PASSWORD KAFKA_CDC_PASSWORD KAFKA_PROCESSOR_PASSWORD KAFKA_LOADER_PASSWORD KAFKA_CONSOLE_PASSWORD; do
    [[ "$(dotenv_get "$key")" =~ ^[A-Za-z0-9._~-]{16,}$ ]] \
      || die "$key in .env: use 16 or more letters, digits, '.', '_', '~' or '-' (or leave it empty for a random one)"
  done
}

# For commands other than up: read .env as it is (never create or change it). Compose still needs a value for
# the required variables to parse its files; they only matter when containers are created, which these don't.
load_env() {
  DOTENV=()
  dotenv_load "$ROOT_DIR/.env.example"
  dotenv_load "$ROOT_DIR/.env"
  local key
  for key in "${GENERATED_SECRETS[@]}"; do
    [[ -n "$(dotenv_get "$key")" ]] || export "$key=unused-by-this-command"
  done
}

check_gcp_target() {
  case "$GCP_TARGET" in
    emulators) info "Google Cloud: emulators (no GOOGLE_APPLICATION_CREDENTIALS in .env), project $GCP_PROJECT" ;;
    adc) info "Google Cloud: project $(dotenv_get GCP_PROJECT) with Application Default Credentials" ;;
    key-file)
      local name path
      for name in "${GCP_KEY_VARIABLES[@]}"; do
        path="${!name:-}"
        [[ -n "$path" ]] || continue
        [[ -f "$path" ]] || die "$name: no such file $path"
        # the containers run as uid 1000 and read the key through a read-only bind mount
        if [[ "$(stat -c %u "$path")" != 1000 ]] && ! [[ "$(stat -c %A "$path")" =~ ^.......r ]]; then
          die "the key file $path ($name) is not readable by uid 1000 (the services' user): chown 1000 it, or chmod o+r on a host only you use"
        fi
        info "Google Cloud: project $(dotenv_get GCP_PROJECT), $name: the key file $path"
      done
      ;;
  esac
}

# --- waiting -----------------------------------------------------------------------------------------------------
container_state() {
  local id; id="$(compose ps -a -q "$1" 2>/dev/null | head -n 1)"
  [[ -n "$id" ]] || { echo missing; return; }
  docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id"
}

# wait_healthy SERVICE...: until each is healthy (or, without a healthcheck, running); fails with its logs.
wait_healthy() {
  local service state start
  for service in "$@"; do
    start=$SECONDS
    while true; do
      state="$(container_state "$service")"
      case "$state" in
        "running healthy "* | "running none "*) info "$service: healthy ($((SECONDS - start))s)"; break ;;
        "exited "* | "dead "* | missing | "running unhealthy "*)
          compose logs --no-color --tail 40 "$service" >&2 || true
          die "$service is not healthy ($state); see: ./deploy.sh logs $service" ;;
      esac
      (( SECONDS - start > WAIT_TIMEOUT )) && { compose logs --no-color --tail 40 "$service" >&2 || true; die "$service not healthy within ${WAIT_TIMEOUT}s ($state)"; }
      sleep 2
    done
  done
}

# wait_completed SERVICE: a one-shot container that must exit 0.
wait_completed() {
  local service="$1" state start=$SECONDS
  while true; do
    state="$(container_state "$service")"
    case "$state" in
      "exited "*" 0") info "$service: completed"; return 0 ;;
      "exited "* | "dead "* | missing) compose logs --no-color --tail 60 "$service" >&2 || true; die "$service failed ($state)" ;;
    esac
    (( SECONDS - start > WAIT_TIMEOUT )) && die "$service did not complete within ${WAIT_TIMEOUT}s"
    sleep 2
  done
}

# --- Kafka: users, ACLs, topics ---------------------------------------------------------------------------------
# kafka_plan: what the admin sets up (compose/kafka/admin.sh setup reads it): per service its SCRAM user and
# password, the rights it needs and its topics, each printed by the service itself for its configuration
# (`--print-acls`, `--print-topics`: short container runs, nothing else started), so names have one source.
kafka_plan() {
  local service
  for service in "${KAFKA_SERVICES[@]}"; do
    printf 'user %s %s\n' "$service" "$(dotenv_get "KAFKA_${service^^}_PASSWORD")"
    compose run --rm --no-deps -T "$service" --print-acls | sed "s/^/acl $service /" \
      || die "$service could not print its Kafka rights (see above)"
    compose run --rm --no-deps -T "$service" --print-topics | sed 's/^/topic /' \
      || die "$service could not print its topics (see above)"
  done | awk '$1 != "topic" || !seen[$2]++'   # a topic two services use (CDC, files topics): the first one's plan
}

# As the admin, in the kafka container: the services' SCRAM users (passwords from .env, set again on every run), their
# ACLs (and no others), the topics (created, or their configs applied). The plan, passwords included, goes in on
# stdin: never on a command line or in a log.
kafka_setup() {
  local plan
  plan="$(kafka_plan)"
  printf '%s\n' "$plan" | compose exec -T kafka sh /usr/local/share/cdc/kafka-admin.sh setup >&2 \
    || die "the Kafka set-up (users, ACLs, topics) failed"
}

# The analysis tool talks to its local emulator unless told --gcp.
analysis_tool() {
  local flags=()
  [[ "$GCP_TARGET" == emulators ]] || flags=(--gcp)
  compose run --rm --no-deps analysis-tool "${flags[@]}" "$@"
}

# --- actions -----------------------------------------------------------------------------------------------------
storage_services() {
  local services=(mongo kafka)
  [[ "$(dotenv_get COMPOSE_HA false)" == true ]] && services+=(mongo-2 mongo-3 kafka-2 kafka-3)
  [[ "$GCP_TARGET" == emulators ]] && services+=(gcs bigquery)
  printf '%s\n' "${services[@]}"
}

deploy_up() {
  local start=$SECONDS
  step "prerequisites"
  check_prerequisites
  prepare_env
  compose_init
  check_gcp_target
  compose config --quiet || die "the compose configuration is invalid (see above)"

  if [[ "$build" == true ]]; then
    step "building images"
    # one at a time: the Dockerfile's build stage (dependencies, compilation) is the same for every image, so the
    # first build makes it and the others take it from the cache instead of all making it at once
    compose --parallel 1 build
  fi

  local storage=()
  mapfile -t storage < <(storage_services)
  step "storage: ${storage[*]}"
  compose up -d --remove-orphans "${storage[@]}"
  wait_healthy "${storage[@]}"

  step "Kafka: the services' users and ACLs, the topics (as the admin)"
  kafka_setup

  step "cdc"
  compose up -d cdc
  wait_healthy cdc

  step "processing: Google Cloud setup, processor, loader"
  # the loader waits for gcp-setup (dataset, tables, bucket) to complete
  if ! compose up -d processor loader; then
    compose logs --no-color --tail 60 gcp-setup >&2 || true
    die "processing did not start (the Google Cloud setup output is above)"
  fi
  wait_completed gcp-setup
  compose logs --no-color --no-log-prefix gcp-setup 2>/dev/null | tail -n 20 | sed 's/^/    gcp-setup | /' >&2 || true
  wait_healthy processor loader

  step "console"
  compose up -d console
  wait_healthy console

  local bind; bind="$(dotenv_get OPS_BIND_ADDRESS "$(dotenv_get BIND_ADDRESS 127.0.0.1)")"
  local project dataset current
  project="${GCP_PROJECT:-$(dotenv_get GCP_PROJECT local-project)}"
  dataset="$(dotenv_get BQ_DATASET cdc)"; current="$(dotenv_get BQ_CURRENT_TABLE orders_current)"
  step "pipeline up in $((SECONDS - start))s (project $COMPOSE_PROJECT)"
  cat >&2 <<EOF
    console:         http://$bind:$(dotenv_get CONSOLE_HTTP_PORT 8084)/        (health, freshness, throughput, lag, budget, dead letters, a read-only query box)
    health (ready):  http://$bind:$(dotenv_get CDC_HTTP_PORT 8081)/readyz        cdc
                     http://$bind:$(dotenv_get PROCESSOR_HTTP_PORT 8082)/readyz        processor
                     http://$bind:$(dotenv_get LOADER_HTTP_PORT 8083)/readyz        loader
                     (/healthz: alive, /metrics: Prometheus)
    loader staging:  $(dotenv_get LOADER_STAGING load-job)    (README "Choosing the staging method": load-job or storage-write)
    kafka (host):    $(dotenv_get KAFKA_EXTERNAL_HOST 127.0.0.1):$(dotenv_get KAFKA_PORT 9092), SASL_PLAINTEXT + SCRAM-SHA-512 as cdc, processor or loader (KAFKA_*_PASSWORD in .env)
    status:          ./deploy.sh status
    logs:            ./deploy.sh logs [cdc|processor|loader|console|gcp-setup|mongo|kafka...]
    analysis tool:   ./deploy.sh analysis      (SQL prompt; \\help lists the ready-made commands)
                     ./deploy.sh query 'SELECT COUNT(*) AS n FROM \`$project.$dataset.$current\`'
    end-to-end test: ./test.sh            (inserts data-samples/order-2.json, waits for it in BigQuery)
    sample data:     node data-samples/generate.mjs --uri 'mongodb://root:PASSWORD@127.0.0.1:$(dotenv_get MONGO_PORT 27017)/?directConnection=true&authSource=admin' --count 1000
    stop:            ./deploy.sh down          (data kept; --volumes deletes it)
EOF
}

deploy_down() {
  check_prerequisites
  load_env
  compose_init
  local flags=(--remove-orphans)
  [[ "$volumes" == true ]] && flags+=(--volumes)
  if [[ "$volumes" == true ]]; then step "stopping $COMPOSE_PROJECT and deleting its volumes"; else step "stopping $COMPOSE_PROJECT (volumes kept)"; fi
  compose_all_files down "${flags[@]}"
}

# --- main --------------------------------------------------------------------------------------------------------
action=up; local_mode=false; build=true; volumes=false; args=()

main() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      up | down | status | logs | query | analysis) action="$1" ;;
      --local) local_mode=true ;;
      --no-build) build=false ;;
      --volumes | -v) volumes=true ;;
      --gcp) export GCP_MODE=adc ;;
      -h | --help) usage 0 ;;
      *) args+=("$1") ;;
    esac
    shift
  done

  if [[ "$local_mode" == true ]]; then
    case "$action" in
      up | down | status) exec bash "$ROOT_DIR/scripts/stack.sh" "$action" ;;
      logs) exec bash "$ROOT_DIR/scripts/stack.sh" logs "${args[@]}" ;;
      *) die "--local supports up, down, status and logs" ;;
    esac
  fi
  case "$action" in
    up) deploy_up ;;
    down) deploy_down ;;
    status)
      load_env; compose_init
      compose ps -a --format 'table {{.Service}}\t{{.State}}\t{{.Status}}\t{{.Ports}}'
      ;;
    logs)
      load_env; compose_init
      compose logs -f --tail 100 "${args[@]}"
      ;;
    query)
      [[ ${#args[@]} -eq 1 ]] || die "usage: ./deploy.sh query 'SQL'"
      load_env; compose_init
      analysis_tool --query "${args[0]}"
      ;;
    analysis)
      load_env; compose_init
      analysis_tool "${args[@]}"
      ;;
  esac
}

# sourced (by tests) = functions only
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
