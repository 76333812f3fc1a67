#!/usr/bin/env bash
# Local BigQuery emulator (the PyPI package "bqemulator": DuckDB storage, SQLGlot translation), REST on
# 127.0.0.1:$BIGQUERY_PORT (gRPC Storage Read/Write API on $BIGQUERY_GRPC_PORT), project $BIGQUERY_PROJECT,
# data kept in .run/bigquery/data. Load jobs read gs://BUCKET/OBJECT straight from the GCS emulator's files
# (.run/gcs/data/BUCKET/OBJECT, see gcs.sh), so objects uploaded to the GCS emulator can be loaded.
#
#   bigquery.sh install   fetch into the cache (idempotent)
#   bigquery.sh up        install if needed, start in the background, wait until the API answers
#   bigquery.sh down      stop
#   bigquery.sh status    print running/stopped; exit 0 when running, 3 when not
#   bigquery.sh url       print the endpoint
#   bigquery.sh reset     stop and delete the data (datasets, tables and jobs)
#
# Client: new BigQuery({ projectId, apiEndpoint: "http://127.0.0.1:$BIGQUERY_PORT", authClient }) where authClient
# holds a static dummy token (an emulator endpoint does not switch authentication off in @google-cloud/bigquery).
#
# The emulator is started through a small launcher (bigquery/launch.py) that
#  - keeps DuckDB from downloading extensions at run time (only package registries are reachable): GEOGRAPHY
#    and Avro are therefore unsupported;
#  - refuses a caller-chosen job id that already exists with 409 "duplicate", as BigQuery does, also for loads of
#    uploaded local files (whose caller-chosen job id it ignored);
#  - matches Parquet columns to table columns by name in load jobs, as BigQuery does (it went by position);
#  - answers a failed jobs.query with the HTTP error BigQuery gives (the emulator returned 200 with an
#    "errors" field, which @google-cloud/bigquery silently turns into an empty result);
#  - keeps the case of column names in queries it rewrites (it lowercased them all, e.g. in views with arrays);
#  - takes no automatic snapshot (a full copy of the table) after every load and DML statement: time travel
#    (FOR SYSTEM_TIME AS OF) is therefore unsupported; the project does not use it.
# Differences left: a load into a missing table creates it only from an explicit load schema (no Parquet
# autodetect); statistics.load.outputRows is the table's row count after the load; locations are ignored (all
# "US"); ALTER TABLE ADD COLUMN changes storage but not the table metadata, tables.patch the reverse;
# MERGE ... INSERT ROW is not parsed; partitioning and clustering are stored as metadata only.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=bigquery
BIGQUERY_PORT="${BIGQUERY_PORT:-9050}"
BIGQUERY_GRPC_PORT="${BIGQUERY_GRPC_PORT:-9060}"
BIGQUERY_PROJECT="${BIGQUERY_PROJECT:-local-project}"
# The launcher and the pinned package set live beside this script (also copied by the emulator's Dockerfile).
# Every package is pinned to a set that was tested (requirements.in says why those versions), each with the hashes
# of its files (requirements.txt, made by scripts/python-pins.sh): pip installs nothing else.
LAUNCHER="$ROOT_DIR/scripts/infra/bigquery/launch.py"
REQUIREMENTS_FILE="$ROOT_DIR/scripts/infra/bigquery/requirements.txt"
REQUIREMENTS="$(cat "$REQUIREMENTS_FILE")"
BQEMULATOR_PIN="$(grep -o '^bqemulator==[^ ]*' <<<"$REQUIREMENTS")"
VENV="$CACHE_DIR/venv-bqemulator"
STAMP="$VENV/.requirements"
ENDPOINT="http://$INFRA_HOST:$BIGQUERY_PORT"

pick_python() {
  local py
  for py in "${BIGQUERY_PYTHON:-}" python3 python3.11 python3.12 python3.13; do
    if [[ -z "$py" ]] || ! command -v "$py" >/dev/null; then continue; fi
    if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  die "bqemulator needs Python >= 3.11"
}

cmd_install() { one_install_at_a_time bigquery install_now; }

install_now() {
  if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$REQUIREMENTS" ]]; then
    return 0
  fi
  local start=$SECONDS py; py="$(pick_python)"
  log "installing $BQEMULATOR_PIN into $VENV"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$REQUIREMENTS_FILE"
  printf '%s\n' "$REQUIREMENTS" >"$STAMP"
  log "bqemulator installed in $((SECONDS - start))s"
}

ready() { curl -fsS -o /dev/null --max-time 2 "$ENDPOINT/bigquery/v2/projects/$BIGQUERY_PROJECT/datasets" 2>/dev/null; }

cmd_up() {
  if is_running "$NAME" && ready; then
    log "bigquery already running on $ENDPOINT"
    return 0
  fi
  cmd_install
  local dir; dir="$(component_dir "$NAME")"
  mkdir -p "$dir/data" "$RUN_DIR/gcs/data"
  stop_bg "$NAME"
  BQEMU_GCS_LOCAL_ROOT="$RUN_DIR/gcs/data" BQEMU_ENABLE_FORMAT_EXTENSIONS=false \
    start_bg "$NAME" "$VENV/bin/python" "$LAUNCHER" start \
    --rest-host "$INFRA_HOST" --rest-port "$BIGQUERY_PORT" \
    --grpc-host "$INFRA_HOST" --grpc-port "$BIGQUERY_GRPC_PORT" \
    --persistent --data-dir "$dir/data" --project "$BIGQUERY_PROJECT" \
    --log-level warning --log-format json
  wait_port "$BIGQUERY_PORT" 60 "$NAME"
  wait_ready "$NAME" "$ENDPOINT" 30
  log "bigquery running on $ENDPOINT (project $BIGQUERY_PROJECT, data: $dir/data)"
}

run_component "$NAME" "$ENDPOINT" "$ENDPOINT project $BIGQUERY_PROJECT" "${1:-}"
