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

import bqemulator.versioning.snapshots as snapshots  # noqa: E402
from bqemulator.domain.events import TableDataChanged  # noqa: E402


def _record_change_without_copy(self, project_id, dataset_id, table_id):
    # The emulator copied the whole table after every load and DML statement (for FOR SYSTEM_TIME AS OF, which the
    # project does not use): each load of a growing table got slower and memory grew with history. Only the
    # change event (cache invalidation) is kept.
    self._events.publish(TableDataChanged(project_id, dataset_id, table_id))
    return None


snapshots.SnapshotManager.record_change = _record_change_without_copy


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
