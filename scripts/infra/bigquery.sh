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
# The emulator is started through a small launcher (written below) that
#  - keeps DuckDB from downloading extensions at run time (only package registries are reachable): GEOGRAPHY
#    and Avro are therefore unsupported;
#  - refuses a caller-chosen job id that already exists with 409 "duplicate", as BigQuery does, also for loads of
#    uploaded local files (whose caller-chosen job id it ignored);
#  - matches Parquet columns to table columns by name in load jobs, as BigQuery does (it went by position);
#  - answers a failed jobs.query with the HTTP error BigQuery gives (the emulator returned 200 with an
#    "errors" field, which @google-cloud/bigquery silently turns into an empty result);
#  - keeps the case of column names in queries it rewrites (it lowercased them all, e.g. in views with arrays).
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
BQEMULATOR_VERSION=1.4.0
# Every package pinned to a set that was tested: bqemulator 1.4.0 needs DuckDB 1.5 (with DuckDB 2.0 streaming
# inserts fail with "connection has an unfinished result") and numpy (used by its UDFs, not declared).
CONSTRAINTS="$(cat <<'PINS'
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
asgiref==3.13.0
bqemulator==1.4.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cryptography==50.0.2
duckdb==1.5.6
fastapi==0.165.0
fastavro==1.13.1
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-bigquery-storage==2.43.0
googleapis-common-protos==1.76.0
grpcio==1.85.3
grpcio-health-checking==1.80.1
grpcio-status==1.85.3
grpcio-tools==1.80.1
h11==0.16.0
httpcore==1.0.9
httptools==0.9.0
httpx==0.28.1
idna==3.20
Mako==1.4.3
MarkupSafe==3.0.4
numpy==2.4.6
opentelemetry-api==1.45.2
opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2
opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2
opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2
opentelemetry-instrumentation==0.66b2
opentelemetry-instrumentation-asgi==0.66b2
opentelemetry-instrumentation-fastapi==0.66b2
opentelemetry-instrumentation-grpc==0.66b2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
opentelemetry-util-http==0.66b2
orjson==3.13.0
packaging==26.4
prometheus_client==0.26.0
proto-plus==1.29.0
protobuf==6.33.6
pyarrow==26.0.1
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
PyJWT==2.15.1
python-dotenv==1.2.4
pytz==2026.6
PyYAML==6.0.4
requests==2.34.2
SQLAlchemy==2.1.9
sqlglot==30.11.0
starlette==1.10.0
structlog==26.1.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4
wrapt==2.5.2
PINS
)"
VENV="$CACHE_DIR/venv-bqemulator"
STAMP="$VENV/.constraints"
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

cmd_install() {
  if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$CONSTRAINTS" ]]; then
    return 0
  fi
  local start=$SECONDS py; py="$(pick_python)"
  log "installing bqemulator $BQEMULATOR_VERSION into $VENV"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  printf '%s\n' "$CONSTRAINTS" >"$VENV/constraints.txt"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$VENV/constraints.txt" "bqemulator==$BQEMULATOR_VERSION" duckdb numpy
  printf '%s\n' "$CONSTRAINTS" >"$STAMP"
  log "bqemulator installed in $((SECONDS - start))s"
}

write_launcher() {
  cat >"$1" <<'PY'
"""Start bqemulator offline and closer to BigQuery (see bigquery.sh)."""
import functools
import os
import sys

import duckdb

_connect = duckdb.connect


def _offline_connect(*args, **kwargs):
    # Never fetch DuckDB extensions over the network: only the built-in ones (json, parquet, icu) are used.
    config = dict(kwargs.pop("config", None) or {})
    config.setdefault("autoinstall_known_extensions", False)
    config.setdefault("custom_extension_repository", "http://127.0.0.1:9/")
    # DuckDB caches up to 80 % of the machine's memory by default: a 200k-change benchmark grew the emulator to
    # 17 GB and the kernel killed it. Bounded, DuckDB evicts and spills instead.
    config.setdefault("memory_limit", os.environ.get("BIGQUERY_MEMORY_LIMIT", "3GB"))
    return _connect(*args, config=config, **kwargs)


duckdb.connect = _offline_connect

import bqemulator.api.routes.jobs as jobs  # noqa: E402
import bqemulator.jobs.executor as executor  # noqa: E402
import bqemulator.storage.engine as engine  # noqa: E402
from bqemulator.domain import errors  # noqa: E402

engine.DuckDBEngine._load_spatial = lambda self: None
engine.DuckDBEngine._load_format_extensions = lambda self: None


def _load_parquet_by_name(path, target_ref, ctx):
    # BigQuery matches Parquet columns to table columns by name (absent NULLABLE columns load as NULL);
    # the emulator inserted them by position. BigQuery adds no hive partition columns (a dt=... folder in the path)
    # unless asked to; DuckDB would by default.
    ctx.engine.execute(f"INSERT INTO {target_ref} BY NAME SELECT * FROM read_parquet(?, hive_partitioning = false)", [path])


executor._LOAD_FORMAT_HANDLERS["PARQUET"] = _load_parquet_by_name


def _refuse_duplicate_job(handler):
    @functools.wraps(handler)
    async def wrapper(project_id, job_id, config, *args, **kwargs):
        ctx = kwargs["ctx"] if "ctx" in kwargs else args[0]
        if not kwargs.get("dry_run") and ctx.catalog.get_job(project_id, job_id) is not None:
            raise errors.AlreadyExistsError(f"Already Exists: Job {project_id}:US.{job_id}")
        return await handler(project_id, job_id, config, *args, **kwargs)
    return wrapper


for _name in ("_handle_query_job", "_handle_load_job_with_async_envelope", "execute_extract_job", "execute_copy_job"):
    setattr(jobs, _name, _refuse_duplicate_job(getattr(jobs, _name)))


def _raise_query_errors(endpoint):
    @functools.wraps(endpoint)
    async def wrapper(*args, **kwargs):
        result = await endpoint(*args, **kwargs)
        if isinstance(result, dict) and result.get("errors") and result.get("jobComplete"):
            first = result["errors"][0]
            cls = errors.NotFoundError if first.get("reason") == "notFound" else errors.InvalidQueryError
            raise cls(first.get("message", "query failed"), location=first.get("location"))
        return result
    return wrapper


for _route in jobs.router.routes:
    if getattr(_route, "path", "").endswith("/projects/{project_id}/queries") and "POST" in getattr(_route, "methods", ()):
        _route.endpoint = _raise_query_errors(_route.endpoint)

import contextvars  # noqa: E402

import bqemulator.api.routes.upload as upload  # noqa: E402

# Loads of uploaded local files (jobs.insert on the upload endpoint) get the job id the caller chose, and a
# duplicate id is refused with 409, as BigQuery does (the emulator made up a new id every time).
_requested_job_id = contextvars.ContextVar("requested_job_id", default=None)
_upload_job_ids = {}
_configuration_from_envelope = upload._load_configuration_from_envelope
_new_upload_job_id = upload._new_job_id
_run_upload_load = upload._run_load


def _configuration_keeping_job_id(envelope):
    configuration = _configuration_from_envelope(envelope)
    job_id = (envelope.get("jobReference") or {}).get("jobId")
    if job_id:
        _upload_job_ids[id(configuration)] = job_id
    return configuration


async def _run_upload_load_with_job_id(*, project_id, configuration, media_path, ctx):
    job_id = _upload_job_ids.pop(id(configuration), None)
    if job_id and ctx.catalog.get_job(project_id, job_id) is not None:
        raise errors.AlreadyExistsError(f"Already Exists: Job {project_id}:US.{job_id}")
    token = _requested_job_id.set(job_id)
    try:
        return await _run_upload_load(project_id=project_id, configuration=configuration, media_path=media_path, ctx=ctx)
    finally:
        _requested_job_id.reset(token)


upload._load_configuration_from_envelope = _configuration_keeping_job_id
upload._new_job_id = lambda: _requested_job_id.get() or _new_upload_job_id()
upload._run_load = _run_upload_load_with_job_id

import bqemulator.sql.translator as translator  # noqa: E402

_qualify = translator.qualify


def _qualify_keeping_case(expression, **kwargs):
    # The type pass lowercased every name of a rewritten query (a view with ARRAY(SELECT ... UNNEST ...) returned
    # `moonlanding` for `moonLanding`); BigQuery keeps the case of column names. DuckDB resolves names
    # case-insensitively whatever the case, so only the names returned change.
    if kwargs.get("dialect") == "duckdb":
        kwargs["dialect"] = "duckdb, normalization_strategy = case_sensitive"
    return _qualify(expression, **kwargs)


translator.qualify = _qualify_keeping_case

from bqemulator.cli import main  # noqa: E402

sys.exit(main())
PY
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
  write_launcher "$dir/launch.py"
  stop_bg "$NAME"
  BQEMU_GCS_LOCAL_ROOT="$RUN_DIR/gcs/data" BQEMU_ENABLE_FORMAT_EXTENSIONS=false \
    start_bg "$NAME" "$VENV/bin/python" "$dir/launch.py" start \
    --rest-host "$INFRA_HOST" --rest-port "$BIGQUERY_PORT" \
    --grpc-host "$INFRA_HOST" --grpc-port "$BIGQUERY_GRPC_PORT" \
    --persistent --data-dir "$dir/data" --project "$BIGQUERY_PROJECT" \
    --log-level warning --log-format json
  wait_port "$BIGQUERY_PORT" 60 "$NAME"
  wait_ready "$NAME" "$ENDPOINT" 30
  log "bigquery running on $ENDPOINT (project $BIGQUERY_PROJECT, data: $dir/data)"
}

run_component "$NAME" "$ENDPOINT" "$ENDPOINT project $BIGQUERY_PROJECT" "${1:-}"
