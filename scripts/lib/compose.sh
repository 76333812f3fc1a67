#!/usr/bin/env bash
# The docker compose invocation of the pipeline, shared by deploy.sh and test.sh: which compose files, which
# variables are exported on top of .env, the project name. Source it, then call compose_init once:
#   source scripts/lib/compose.sh; compose_init; compose ps
# Needs ROOT_DIR (the repository root) and scripts/lib/dotenv.sh loaded with .env.example and .env.
#
# Layers: storage.yml [+ storage.ha.yml when COMPOSE_HA=true] + cdc.yml + process.yml
#   [+ process.bucket.yml when PROCESSOR_OUTPUT is a gs:// bucket: no shared volume]
#   [+ mongo-uri-file.yml when MONGO_URI_HOST_FILE is set] [+ mongo-tls.yml when MONGO_TLS_CA_HOST_FILE is set], then
#   - gcp-credentials.yml when GOOGLE_APPLICATION_CREDENTIALS (or a role's GCP_*_CREDENTIALS) names a key file
#     [+ process.bucket.gcp-credentials.yml with a bucket output: the processor's key],
#   - nothing more with GCP_MODE=adc (Google Cloud with Application Default Credentials, e.g. on a GCP VM),
#   - else gcp-emulators.yml, the services pointed at the emulators on the compose network, and the loader's
#     grouping set for an emulator (no load-job quota: a group every second, unpaced).
# CDC_COMPOSE_OVERRIDES: more compose files (colon-separated) laid over all of these, e.g. the test stand-ins.
# Shell variables exported here win over .env in compose's interpolation.

# shellcheck disable=SC2034 # GCP_TARGET, COMPOSE_FILES: read by the scripts that source this file
COMPOSE_FILES=()
COMPOSE_PROJECT=""
GCP_TARGET=""   # emulators | key-file | adc
# the key files of compose/gcp-credentials.yml: one for all, then one per role
GCP_KEY_VARIABLES=(GOOGLE_APPLICATION_CREDENTIALS GCP_SETUP_CREDENTIALS GCP_LOADER_CREDENTIALS GCP_ANALYSIS_CREDENTIALS)

compose_init() {
  local dir="$ROOT_DIR/compose"
  COMPOSE_PROJECT="$(dotenv_get COMPOSE_PROJECT_NAME cdc-pipeline)"
  export COMPOSE_PROJECT_NAME="$COMPOSE_PROJECT"
  COMPOSE_FILES=(-f "$dir/storage.yml")
  if [[ "$(dotenv_get COMPOSE_HA false)" == true ]]; then
    COMPOSE_FILES+=(-f "$dir/storage.ha.yml")
    export MONGO_HOSTS="mongo:27017,mongo-2:27017,mongo-3:27017"
    export KAFKA_BROKERS_INTERNAL="kafka:9092,kafka-2:9092,kafka-3:9092"
    local rf; rf="$(dotenv_get KAFKA_REPLICATION_FACTOR 1)"
    (( rf < 3 )) && export KAFKA_REPLICATION_FACTOR=3
  fi
  COMPOSE_FILES+=(-f "$dir/cdc.yml" -f "$dir/process.yml")
  if [[ "$(dotenv_get PROCESSOR_OUTPUT)" == gs://* ]]; then COMPOSE_FILES+=(-f "$dir/process.bucket.yml"); fi
  # the cdc's MongoDB connection string and TLS files as secrets, when .env names them
  local file
  for file in MONGO_URI_HOST_FILE MONGO_TLS_CA_HOST_FILE MONGO_TLS_CERT_KEY_HOST_FILE; do
    local path; path="$(dotenv_get "$file")"
    [[ -n "$path" ]] || continue
    [[ "$path" == /* ]] || path="$ROOT_DIR/$path"
    export "$file=$path"
  done
  if [[ -n "$(dotenv_get MONGO_URI_HOST_FILE)" ]]; then COMPOSE_FILES+=(-f "$dir/mongo-uri-file.yml"); fi
  if [[ -n "$(dotenv_get MONGO_TLS_CA_HOST_FILE)" ]]; then COMPOSE_FILES+=(-f "$dir/mongo-tls.yml"); fi

  # one key file for all, or one per role (setup, loader, analysis tool): any of them means Google Cloud
  local name key keys=""
  for name in "${GCP_KEY_VARIABLES[@]}"; do
    key="$(dotenv_get "$name")"
    [[ -n "$key" ]] || continue
    keys+="$key"
    [[ "$key" == /* ]] || key="$ROOT_DIR/$key"
    export "$name=$key"
  done
  if [[ -n "$keys" ]]; then
    GCP_TARGET="key-file"
    COMPOSE_FILES+=(-f "$dir/gcp-credentials.yml")
    # the processor writing to a bucket needs a key as well
    if [[ "$(dotenv_get PROCESSOR_OUTPUT)" == gs://* ]]; then COMPOSE_FILES+=(-f "$dir/process.bucket.gcp-credentials.yml"); fi
  elif [[ "${GCP_MODE:-}" == adc ]]; then
    GCP_TARGET=adc
  else
    GCP_TARGET=emulators
    COMPOSE_FILES+=(-f "$dir/gcp-emulators.yml")
    export GCS_ENDPOINT="http://gcs:4443" BIGQUERY_ENDPOINT="http://bigquery:9050" LOADER_STORAGE_WRITE_ENDPOINT="bigquery:9060"
    export GCP_PROJECT; GCP_PROJECT="$(dotenv_get GCP_PROJECT local-project)"
    # The emulator has no load-job quota: the loader loads a group every second, unpaced.
    export LOADER_GROUP_WINDOW_MS=1000 LOADER_LOAD_JOBS_PER_DAY=1000000
  fi
  local overrides=()
  mapfile -t overrides < <(compose_overrides)
  COMPOSE_FILES+=("${overrides[@]}")
}

# compose_overrides: -f FILE for each file of CDC_COMPOSE_OVERRIDES.
compose_overrides() {
  local file files=()
  IFS=: read -r -a files <<<"${CDC_COMPOSE_OVERRIDES:-}"
  for file in "${files[@]}"; do [[ -n "$file" ]] && printf -- '-f\n%s\n' "$file"; done
  return 0
}

# compose ARGS...: docker compose on the pipeline's files, the .env file and every profile.
compose() {
  local env_file=()
  [[ -f "$ROOT_DIR/.env" ]] && env_file=(--env-file "$ROOT_DIR/.env")
  docker compose --project-name "$COMPOSE_PROJECT" "${env_file[@]}" "${COMPOSE_FILES[@]}" --profile tools "$@"
}

# compose_all_files ARGS...: every layer that may have been used (for down: removes what any of them made).
compose_all_files() {
  local dir="$ROOT_DIR/compose" env_file=() overrides=()
  [[ -f "$ROOT_DIR/.env" ]] && env_file=(--env-file "$ROOT_DIR/.env")
  mapfile -t overrides < <(compose_overrides)
  docker compose --project-name "$COMPOSE_PROJECT" "${env_file[@]}" \
    -f "$dir/storage.yml" -f "$dir/storage.ha.yml" -f "$dir/cdc.yml" -f "$dir/process.yml" -f "$dir/process.bucket.yml" -f "$dir/gcp-emulators.yml" \
    "${overrides[@]}" --profile tools "$@"
}

# compose_running: true when containers of the project exist and its cdc container is running.
compose_running() {
  command -v docker >/dev/null 2>&1 || return 1
  docker info >/dev/null 2>&1 || return 1
  [[ -n "$(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" --filter "label=com.docker.compose.service=cdc" 2>/dev/null)" ]]
}
