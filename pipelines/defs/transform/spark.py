"""The dbt project on Spark (`refloop run --target spark`).

Ingest stays where it is (the DuckDB landing zone: checksums, rejects,
manifest). The run exports the landed `raw` tables to Parquet, dbt builds
every model on Spark from them (the `spark` output of dbt_project/profiles.yml;
a local session here, a cluster or Databricks by changing the profile), and
the marts come back into the DuckDB warehouse so the quality checks and the
published serving copy work exactly as with the DuckDB target.

Layout, beside the warehouse file `refloop.duckdb`:

    refloop.spark/raw/<table>/part-0.parquet    landed tables, re-exported every run
    refloop.spark/warehouse/<schema>.db/<model>  Spark's Parquet tables
    refloop.spark/metastore_db                   Spark's table catalog
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

# What comes back to DuckDB: every mart, and the parameters the build used
# (published with the marts).
RETURNED = (("marts", None), ("intermediate", "int_parameters"))


def spark_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".spark")


def export_raw(conn: duckdb.DuckDBPyConnection, root: Path) -> dict[str, int]:
    """Write every landed table to `root/raw/<table>/part-0.parquet`."""
    counts = {}
    tables = [t for (t,) in conn.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()]
    for table in tables:
        folder = root / "raw" / table
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        conn.execute(f"copy raw.\"{table}\" to '{folder / 'part-0.parquet'}' (format parquet)")
        counts[table] = conn.execute(f'select count(*) from raw."{table}"').fetchone()[0]
    return counts


def _parquet_tables(root: Path, schema: str) -> dict[str, Path]:
    folder = root / "warehouse" / f"{schema}.db"
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and any(p.glob("*.parquet"))}


def import_models(conn: duckdb.DuckDBPyConnection, root: Path) -> dict[str, int]:
    """Replace the DuckDB copies of the marts (and int_parameters) with the
    tables Spark built. Spark's timestamps are instants in UTC (the session
    time zone): they come back as the plain timestamps the contracts declare."""
    counts = {}
    for schema, only in RETURNED:
        conn.execute(f"create schema if not exists {schema}")
        for table, folder in _parquet_tables(root, schema).items():
            if only and table != only:
                continue
            source = f"read_parquet('{folder}/*.parquet')"
            columns = conn.execute(f"describe select * from {source}").fetchall()
            select = ", ".join(
                f"timezone('UTC', \"{name}\") as \"{name}\"" if type_ == "TIMESTAMP WITH TIME ZONE" else f'"{name}"'
                for name, type_, *_ in columns
            )
            conn.execute(f'create or replace table {schema}."{table}" as select {select} from {source}')
            counts[f"{schema}.{table}"] = conn.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
    return counts
