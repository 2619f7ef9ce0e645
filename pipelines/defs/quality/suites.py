"""Run the checks as Great Expectations suites inside DuckDB.

Each table gets one suite, validated through GX's SQL datasource (SQLAlchemy
with duckdb-engine), so every metric is a query DuckDB runs: no table is
pulled into pandas. Results come back as `CheckResult`s.

Two things GX 1.x does not do for DuckDB out of the box, handled here:
- it fetches query results after returning the connection to the pool,
  which DuckDB empties (great_expectations#11579): we register DuckDB among
  the dialects GX keeps one persisted connection for;
- its table assets drop the schema when reading column types: connections
  get a `search_path` over the warehouse schemas instead, and assets are
  named by table.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pipelines.defs.quality.checks import ERROR, FRESHNESS, Check, judges_new_rows, on_new_rows

SAMPLE_SIZE = 5
log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    check: Check
    passed: bool
    severity: str | None        # error | warn when it failed, else None
    observed_value: float | None
    failing_rows: int | None
    rows_checked: int | None
    sample: list[str]
    message: str = ""

    @property
    def blocks(self) -> bool:
        return self.severity == ERROR and self.check.blocking


class _DuckDBDialect:
    """Stands in GX's list of dialects that keep one connection per engine."""

    value = "duckdb"

    def __eq__(self, other: object) -> bool:
        return str(getattr(other, "value", other)).lower() == "duckdb"

    def __hash__(self) -> int:
        return hash("duckdb")


# Every GX SQL execution engine made in this process, to close their connections after a run.
_ENGINES: weakref.WeakSet = weakref.WeakSet()


def _patch_great_expectations() -> None:
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    persisted = engine_module._PERSISTED_CONNECTION_DIALECTS
    if not any(d == "duckdb" for d in persisted):
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*persisted, _DuckDBDialect())
    engine_class = engine_module.SqlAlchemyExecutionEngine
    if not getattr(engine_class, "_refloop_registered", False):
        original_init = engine_class.__init__

        def registering_init(self, *args, **kwargs) -> None:
            original_init(self, *args, **kwargs)
            _ENGINES.add(self)

        engine_class.__init__ = registering_init
        engine_class._refloop_registered = True


@contextmanager
def _search_path(schemas: Sequence[str]) -> Iterator[None]:
    """Every DuckDB connection SQLAlchemy opens meanwhile resolves bare table names in our schemas."""
    import sqlalchemy as sa
    from sqlalchemy.pool import Pool

    def on_connect(dbapi_connection, _record) -> None:
        if type(dbapi_connection).__module__.startswith("duckdb_engine"):
            dbapi_connection.execute(f"set search_path = '{','.join(schemas)}'")

    sa.event.listen(Pool, "connect", on_connect)
    try:
        yield
    finally:
        sa.event.remove(Pool, "connect", on_connect)


def _now() -> datetime:
    return datetime.now()


def _plain(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal | float):
        return f"{float(value):g}"
    return str(value)


def _sample_from_rows(rows: Sequence[dict], keys: Sequence[str]) -> list[str]:
    keys = list(dict.fromkeys(keys))
    out = []
    for row in rows[:SAMPLE_SIZE]:
        shown = [f"{k}={_plain(row.get(k))}" for k in keys if k in row]
        out.append(", ".join(shown))
    return out


def _sample_from_index(result: dict, keys: Sequence[str]) -> list[str]:
    rows = result.get("partial_unexpected_index_list") or []
    return _sample_from_rows([r for r in rows if isinstance(r, dict)], keys)


def _expectation(check: Check):
    import great_expectations.expectations as gxe

    if check.sql is not None:
        return gxe.UnexpectedRowsExpectation(unexpected_rows_query=check.sql, description=check.name)
    name, kwargs = check.expectation
    if check.family == FRESHNESS:
        kwargs = {**kwargs, "min_value": _now() - timedelta(hours=check.warn_above or 0)}
    if check.per_row and check.warn_above and "column" in kwargs:
        # GX's own verdict (and its Data Docs) matches ours: fails above the warning threshold.
        kwargs = {**kwargs, "mostly": 1 - check.warn_above}
    return getattr(gxe, name)(**kwargs, description=check.name)


def _index_columns(table_checks: Sequence[Check]) -> list[str]:
    """Columns that name a failing row in this table's suite: those every
    row-level expectation of the table lists among its sample keys."""
    keyed = [c.sample_keys for c in table_checks if c.expectation and c.per_row and c.sample_keys]
    if not keyed:
        return []
    common = set.intersection(*(set(k) for k in keyed))
    return [k for k in keyed[0] if k in common]


def _to_result(check: Check, validation, row_count: int) -> CheckResult:
    result = dict(validation.result or {})
    if validation.exception_info and not validation.success:
        infos = validation.exception_info
        messages = [v.get("exception_message") for v in infos.values() if isinstance(v, dict)] \
            if not isinstance(infos.get("raised_exception"), bool) else [infos.get("exception_message")]
        message = "; ".join(m for m in messages if m) or "the check could not run"
        if any(isinstance(v, dict) and v.get("raised_exception") for v in infos.values()) \
                or infos.get("raised_exception"):
            return CheckResult(check, False, ERROR, None, None, row_count, [], f"check failed to run: {message[:500]}")
    if check.sql is not None:
        failing = int(result.get("observed_value") or 0)
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        sample = _sample_from_rows([dict(r) for r in rows], check.sample_keys)
        observed = failing / row_count if check.per_row and row_count else float(failing)
    elif check.per_row and "unexpected_count" in result:
        failing = int(result.get("unexpected_count") or 0)
        checked = int(result.get("element_count") or row_count)
        observed = failing / checked if checked else 0.0
        sample = _sample_from_index(result, check.sample_keys)
        if not sample and failing and result.get("partial_unexpected_list"):
            sample = [_plain(v) for v in result["partial_unexpected_list"][:SAMPLE_SIZE]]
    elif check.family == FRESHNESS:
        newest = result.get("observed_value")
        if newest is None:
            return CheckResult(check, True, None, None, None, row_count, [], "no file of this entity loaded yet")
        newest = datetime.fromisoformat(str(newest)) if not isinstance(newest, datetime) else newest
        hours = round((_now() - newest).total_seconds() / 3600, 1)
        severity = check.severity_of(hours)
        return CheckResult(check, severity is None, severity, hours, None, row_count,
                           [f"newest load {newest:%Y-%m-%d %H:%M}"])
    else:
        failing = 0 if validation.success else 1
        observed = float(failing)
        sample = []
        if not validation.success:
            details = result.get("details") or {}
            mismatched = details.get("mismatched") or {}
            sample = [f"{k}: {', '.join(map(str, v))}" for k, v in mismatched.items() if v][:SAMPLE_SIZE]
            if not sample and "observed_value" in result:
                sample = [f"observed {_plain(result['observed_value'])}"]
    severity = check.severity_of(observed)
    return CheckResult(
        check, severity is None, severity, observed, failing if check.per_row or check.sql else None,
        row_count, sample,
    )


# the tables and the views (a mart may be one: marts.referral_queue)
RELATIONS = ("select schema_name, table_name from duckdb_tables() "
             "union all select schema_name, view_name from duckdb_views() where not internal")


def existing_tables(warehouse: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {f"{s}.{t}" for s, t in conn.execute(RELATIONS).fetchall()}


def _new_rows(table: str, since: datetime) -> str:
    return f"select *, rowid as _landed_row from {table} where _loaded_at > timestamp '{since.isoformat(sep=' ')}'"


def _row_counts(warehouse: Path, batches: set[tuple[str, datetime | None]]) -> dict[tuple[str, datetime | None], int]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        present = {f"{s}.{t}" for s, t in conn.execute(RELATIONS).fetchall()}
        missing = sorted({table for table, _ in batches} - present)
        if missing:
            raise RuntimeError(f"{warehouse} has no table {', '.join(missing)}: has the pipeline built it?")
        return {(table, since): conn.execute(
                    f"select count(*) from ({_new_rows(table, since) if since else 'select * from ' + table})").fetchone()[0]
                for table, since in batches}


# A batch of the rows landed since the last build that holds none (an entity
# with no file today) is not validated: GX would judge every row check on it
# passed, with nothing failing of nothing checked (tests/pipelines/test_quality.py
# compares), and each validation costs about 70 ms of GX's Python.
_SKIP_EMPTY_BATCHES = True


def _nothing_landed(check: Check) -> CheckResult:
    severity = check.severity_of(0.0)
    return CheckResult(check, severity is None, severity, 0.0, 0, 0, [])


def run_checks(warehouse: Path, checks: Sequence[Check], data_docs: Path | None = None,
               read_only: bool = False, since: datetime | None = None) -> list[CheckResult]:
    """Validate `checks` on the warehouse file; one GX suite per table.
    With `since`, row checks of the landed tables judge only the rows landed
    after it (checks.judges_new_rows). With `data_docs`, also write Great
    Expectations Data Docs there."""
    _import_great_expectations()
    import great_expectations as gx

    _patch_great_expectations()
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    # One batch per table, and one more of its new rows when `since` is given.
    by_batch: dict[tuple[str, datetime | None], list[Check]] = defaultdict(list)
    for check in checks:
        if since is not None and judges_new_rows(check):
            by_batch[(check.table, since)].append(on_new_rows(check))
        else:
            by_batch[(check.table, None)].append(check)
    counts = _row_counts(warehouse, set(by_batch))

    if data_docs is not None:
        context = gx.get_context(mode="file", project_root_dir=str(data_docs))
    else:
        context = gx.get_context(mode="ephemeral")
        # An ephemeral context re-serializes its whole config to YAML each time
        # an asset or batch definition is added, into a store nothing reads
        # back: a tenth of a daily run's landed checks. This context only.
        context._save_project_config = lambda *args, **kwargs: None
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    results: list[CheckResult] = []
    with _search_path(sorted({check.schema for check in checks})):
        source = context.data_sources.add_or_update_sql(
            "refloop_warehouse", connection_string=f"duckdb:///{warehouse}",
            **({"kwargs": {"connect_args": {"read_only": True}}} if read_only else {}),
        )
        try:
            for (table, new_since), table_checks in by_batch.items():
                if new_since is not None and counts[(table, new_since)] == 0 and _SKIP_EMPTY_BATCHES:
                    results.extend(_nothing_landed(check) for check in table_checks)
                    continue
                name = table.replace(".", "__") + ("__new_rows" if new_since else "")
                if new_since:
                    asset = source.add_query_asset(name, query=_new_rows(table, new_since))
                else:
                    asset = source.add_table_asset(name, table_name=table.split(".")[1])
                batch = asset.add_batch_definition_whole_table(name)
                # Two suites per table: GX's column/table expectations, and our SQL rules
                # (unexpected-rows queries, whose failing rows GX returns only in COMPLETE format).
                expectations = [c for c in table_checks if c.sql is None]
                rules = [c for c in table_checks if c.sql is not None]
                index_columns = _index_columns(expectations)
                loaded = None
                summary: dict = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
                if index_columns:
                    summary["unexpected_index_column_names"] = index_columns
                    summary["return_unexpected_index_query"] = False
                for suite_name, suite_checks, result_format in (
                    (f"{name}__expectations", expectations, summary),
                    (f"{name}__rules", rules, {"result_format": "COMPLETE"}),
                ):
                    if not suite_checks:
                        continue
                    suite = gx.ExpectationSuite(
                        name=suite_name, expectations=[_expectation(check) for check in suite_checks])
                    if data_docs is None:
                        # validated on the batch directly: nothing is stored (storing each suite
                        # and validation definition in GX's stores cost a third of the checks' time)
                        if loaded is None:
                            loaded = batch.get_batch()
                        outcome = loaded.validate(suite, result_format=result_format)
                    else:
                        # built whole, then stored once (adding to a stored suite re-saves it each
                        # time); Data Docs are built from the stored validation results
                        suite = context.suites.add_or_update(suite)
                        validation = context.validation_definitions.add_or_update(
                            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
                        )
                        outcome = validation.run(result_format=result_format)
                    by_name = {r.expectation_config.description: r for r in outcome.results}
                    for check in suite_checks:
                        results.append(_to_result(check, by_name[check.name], counts[(table, new_since)]))
            if data_docs is not None:
                context.build_data_docs()
        finally:
            source.get_engine().dispose()
            _close_gx_connections()
    return results


# A process of its own for the checks, started as a run begins (`start_worker`):
# importing Great Expectations takes about 3 s (it pulls in SciPy and Altair),
# which it then spends beside the run's start-up and ingest, on the other core,
# instead of in the landed checks' step. A thread would not do: the import
# holds the interpreter lock the run's own Python needs.
_WORKER_LOCK = threading.Lock()
_worker: ProcessPoolExecutor | None = None


def _import_great_expectations() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations  # noqa: F401


def start_worker() -> bool:
    """Start the checks' process and its Great Expectations import, unless
    it runs or this process has imported Great Expectations already (then
    checks run here, at no import cost). Returns whether one was started."""
    global _worker
    with _WORKER_LOCK:
        if _worker is not None or "great_expectations" in sys.modules:
            return False
        _worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_import_great_expectations)
        _worker.submit(int)   # the executor starts its process on the first task
        return True


def stop_worker() -> None:
    """End the checks' process, at the end of `refloop run`. A run Dagster
    launches (sensor, schedule, UI) ends with its process, and so does this one."""
    global _worker
    with _WORKER_LOCK:
        worker, _worker = _worker, None
    if worker is not None:
        worker.shutdown(wait=True, cancel_futures=True)


def validate(warehouse: Path, checks: Sequence[Check], since: datetime | None = None) -> list[CheckResult]:
    """`run_checks` in the checks' process when one was started, else here.
    The warehouse file is free meanwhile: this process holds no connection
    while the other one validates."""
    with _WORKER_LOCK:
        worker = _worker
    if worker is not None:
        try:
            return worker.submit(run_checks, warehouse, list(checks), since=since).result()
        except BrokenProcessPool:
            log.warning("the checks' process ended unexpectedly: running the checks in this process")
            stop_worker()
    return run_checks(warehouse, checks, since=since)


def _close_gx_connections() -> None:
    """GX keeps a persisted connection per execution engine; close them so
    the DuckDB file is free for the next step (dbt, or another process).
    The engines are those registered as they were made (a scan of every
    object in the process took a third of a second)."""
    for engine in list(_ENGINES):
        connection = getattr(engine, "_connection", None)
        if connection is not None:
            connection.close()
            engine._connection = None
        if hasattr(engine.engine, "dispose"):
            engine.engine.dispose()


def to_json(results: Sequence[CheckResult]) -> str:
    return json.dumps([
        {"check": r.check.name, "table": r.check.table, "passed": r.passed, "severity": r.severity,
         "observed": r.observed_value, "failing_rows": r.failing_rows}
        for r in results
    ], indent=2)
