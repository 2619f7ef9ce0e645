"""Keep every check result of every run in the warehouse's `quality` schema,
and publish it (with the ingest bookkeeping) to its own read-only copy.

The quality copy is published after every check stage, even when an error
stops the build: the marts' serving copy keeps the last good numbers, while
the quality team sees today's failures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.defs.quality.suites import CheckResult

LANDED, DBT, MARTS = "landed", "dbt", "marts"

RESULTS_DDL = """
create schema if not exists quality;
create table if not exists quality.check_results (
    run_id varchar not null,
    checked_at timestamp not null,
    stage varchar not null,            -- landed | dbt | marts
    check_name varchar not null,
    family varchar not null,           -- conformance | completeness | plausibility | freshness | dbt_test
    table_name varchar not null,       -- schema.table
    column_name varchar,
    severity varchar,                  -- error | warn when failed, null when passed
    passed boolean not null,
    blocking boolean not null,         -- an error on it stops downstream assets
    observed_value double,             -- failing share, count, or hours (freshness)
    threshold varchar,
    failing_rows bigint,
    rows_checked bigint,
    failing_sample varchar[],          -- keys of some failing rows (never patient ids)
    message varchar,
    description varchar
);
"""
# Ingest bookkeeping as the quality team sees it: no record contents (they may hold PHI).
INGEST_VIEWS = """
create or replace view quality.ingest_files as
select file_name, entity, source_format, status, rows_read, rows_loaded, rows_rejected, error, size_bytes, run_id, loaded_at
from raw._manifest;
create or replace view quality.ingest_rejects as
select file_name, entity, line_number, reason, run_id, loaded_at
from raw._rejects;
"""


def quality_path(warehouse: Path) -> Path:
    """The published quality copy, beside the warehouse."""
    return warehouse.with_name(warehouse.stem + ".quality.duckdb")


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(RESULTS_DDL)
    has_raw = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name in ('_manifest', '_rejects')"
    ).fetchone()[0]
    if has_raw == 2:
        conn.execute(INGEST_VIEWS)


def write_results(conn: duckdb.DuckDBPyConnection, run_id: str, stage: str, results: Sequence[CheckResult]) -> None:
    ensure_schema(conn)
    now = datetime.now()
    rows = [
        (
            run_id, now, stage, r.check.name, r.check.family, r.check.table, r.check.column, r.severity, r.passed,
            r.check.blocking, r.observed_value, r.check.threshold_text, r.failing_rows, r.rows_checked,
            r.sample, r.message or None, r.check.description,
        )
        for r in results
    ]
    _insert(conn, rows)


def _insert(conn: duckdb.DuckDBPyConnection, rows: Sequence[tuple]) -> None:
    """Insert check-result rows in one statement, a list per column (executemany runs one per row)."""
    if not rows:
        return
    types = [t for (t,) in conn.execute(
        "select data_type from duckdb_columns() where schema_name = 'quality' and table_name = 'check_results' "
        "and database_name = current_database() order by column_index"
    ).fetchall()]
    columns = list(zip(*rows, strict=True))
    conn.execute("insert into quality.check_results select " + ", ".join(f"unnest(?::{t}[])" for t in types),
                 [list(column) for column in columns])


def dbt_test_rows(run_results: Path, manifest: Path, run_id: str) -> list[tuple]:
    """dbt's test results of a build, as check-result rows (family `dbt_test`)."""
    if not run_results.exists():
        return []
    nodes = json.loads(manifest.read_text())["nodes"] if manifest.exists() else {}
    results = json.loads(run_results.read_text())
    checked_at = datetime.now()
    rows = []
    for result in results.get("results", []):
        node = nodes.get(result["unique_id"], {})
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
        model = nodes.get(attached, {})
        table = f"{model.get('schema', '?')}.{model.get('name', attached.split('.')[-1])}"
        status = result["status"]
        severity = {"fail": "error", "error": "error", "warn": "warn"}.get(status)
        config_severity = str(node.get("config", {}).get("severity", "error")).lower()
        rows.append((
            run_id, checked_at, DBT, node.get("name", result["unique_id"]), "dbt_test", table,
            node.get("column_name"), severity, status == "pass", config_severity == "error",
            float(result["failures"]) if result.get("failures") is not None else None,
            f"severity {config_severity}", result.get("failures"), None, [],
            (result.get("message") or None) if status != "pass" else None,
            node.get("description") or None,
        ))
    return rows


def write_dbt_results(conn: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    ensure_schema(conn)
    _insert(conn, rows)


def publish_quality(warehouse: Path, target: Path | None = None) -> Path:
    """Copy `quality.*` (views materialized) to the quality copy, atomically."""
    target = target or quality_path(warehouse)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    conn = duckdb.connect(str(staging))
    try:
        conn.execute("attach ? as source (read_only)", [str(warehouse)])
        conn.execute("create schema quality")
        objects = conn.execute(
            "select table_name from duckdb_tables() where database_name = 'source' and schema_name = 'quality' "
            "union all select view_name from duckdb_views() where database_name = 'source' and schema_name = 'quality'"
        ).fetchall()
        for (name,) in objects:
            conn.execute(f'create table quality."{name}" as select * from source.quality."{name}"')
        conn.execute("detach source")
        conn.execute("checkpoint")
    finally:
        conn.close()
    os.replace(staging, target)
    return target


LATEST_SQL = """
with latest_run as (
    select run_id from quality.check_results order by checked_at desc limit 1
),
latest_per_check as (
    -- Each check's newest result: a run stopped early keeps the earlier stages' results.
    select * from quality.check_results
    qualify row_number() over (partition by stage, check_name, table_name order by checked_at desc) = 1
)
select latest_per_check.*, latest_per_check.run_id = (select run_id from latest_run) as is_latest_run
from latest_per_check
order by case severity when 'error' then 0 when 'warn' then 1 else 2 end, stage, table_name, check_name
"""


def latest_results(quality_file: Path) -> list[dict]:
    with duckdb.connect(str(quality_file), read_only=True) as conn:
        cursor = conn.execute(LATEST_SQL)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
