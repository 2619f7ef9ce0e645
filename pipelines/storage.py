"""How much of a DuckDB file's tables is rows deleted but still stored, and
compaction.

A checkpoint that vacuums rewrites every row group with deleted rows in it:
seconds for a few percent of a million rows scattered over the table, which
is what an incremental build deletes. The pipeline's connections therefore
leave deleted rows stored (marked, and skipped by scans). The weekly
compaction job (pipelines/defs/maintenance.py, `refloop compact`) rewrites
the tables that have become a fifth deleted rows, in the warehouse and in
the serving copy, outside the daily build. Should it not run, a daily build
compacts when a table is half deleted rows: the dbt build then vacuums
(pipelines/defs/transform/dbt.py), the publish step writes the serving copy
whole (pipelines/defs/publish/publish.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

DELETED_SHARE = 0.20      # the compaction job rewrites a table past this share of deleted rows
BACKSTOP_SHARE = 0.50     # past this, a daily build compacts (the compaction job is off or failing)
ROW_GROUP_ROWS = 122_880  # smaller tables are left out: their deletes cost little either way


def deleted_shares(conn: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> dict[str, float]:
    """{schema.table: share of its stored rows that are deleted ones} for the
    tables of `schemas` (in the connection's database) of a row group or more."""
    database = conn.execute("select current_database()").fetchone()[0]
    shares = {}
    for schema, table, stored in conn.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables() "
            "where database_name = ? and schema_name in ? and estimated_size >= ? order by all",
            [database, list(schemas), ROW_GROUP_ROWS]).fetchall():
        live = conn.execute(f'select count(*) from "{database}"."{schema}"."{table}"').fetchone()[0]
        shares[f"{schema}.{table}"] = 1 - live / stored
    return shares


def most_deleted(conn: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> tuple[str | None, float]:
    """The table of `schemas` with the largest share of deleted rows among
    those it stores, and that share."""
    return worst_of(deleted_shares(conn, schemas))


def worst_of(shares: dict[str, float]) -> tuple[str | None, float]:
    """The table of deleted_shares' result with the largest share above 0, and
    that share; (None, 0.0) when none has deleted rows."""
    worst, worst_share = None, 0.0
    for table, share in shares.items():
        if share > worst_share:
            worst, worst_share = table, share
    return worst, worst_share


def compact(path: Path, schemas: Sequence[str], threshold: float = DELETED_SHARE) -> dict[str, float]:
    """Rewrite every table of `schemas` in the DuckDB file `path` whose stored
    rows are more than `threshold` deleted ones: its rows are copied out, all
    deleted and inserted again, so the checkpoint drops the old row groups
    whole. The table keeps its definition (columns, constraints). Returns
    {table: share of deleted rows it had} for the tables rewritten."""
    rewritten = {}
    with duckdb.connect(str(path)) as conn:
        for table, share in deleted_shares(conn, schemas).items():
            if share <= threshold:
                continue
            schema, name = table.split(".")
            quoted = f'"{schema}"."{name}"'
            conn.execute("begin")
            conn.execute(f"create temp table _compacting as select * from {quoted}")
            conn.execute(f"delete from {quoted}")
            conn.execute(f"insert into {quoted} select * from _compacting")
            conn.execute("drop table _compacting")
            conn.execute("commit")
            rewritten[table] = share
        conn.execute("checkpoint")
    return rewritten
