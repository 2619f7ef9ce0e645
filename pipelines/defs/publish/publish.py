"""Publish the serving copy: the marts (and nothing of raw, staging or
intermediate, so no source patient id) in a separate DuckDB file, replaced
atomically. Dashboards open that file read-only and never the one the
pipeline writes."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts",)


def publish(warehouse: Path, serving: Path, run_id: str) -> dict[str, int]:
    """Copy the published schemas of `warehouse` into `serving`; return the
    row count of each table copied."""
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    conn = duckdb.connect(str(staging))
    try:
        conn.execute("attach ? as source (read_only)", [str(warehouse)])
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = 'source' and schema_name in ?"
            " order by schema_name, table_name",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        for schema, table in tables:
            conn.execute(f'create schema if not exists "{schema}"')
            conn.execute(f'create table "{schema}"."{table}" as select * from source."{schema}"."{table}"')
            counts[f"{schema}.{table}"] = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        parameters = conn.execute(
            "select * from duckdb_tables() where database_name = 'source' "
            "and schema_name = 'intermediate' and table_name = 'int_parameters'"
        ).fetchall()
        conn.execute("create schema if not exists meta")
        if parameters:
            conn.execute("create table meta.parameters as select * from source.intermediate.int_parameters")
        conn.execute(
            "create table meta.publication as select ?::varchar as run_id, ?::timestamp as published_at",
            [run_id, datetime.now()],
        )
        conn.execute("detach source")
        conn.execute("checkpoint")
    finally:
        conn.close()
    os.replace(staging, serving)
    return counts
