"""How much of a DuckDB file's tables is rows deleted but still stored.

A checkpoint that vacuums rewrites every row group with deleted rows in it:
seconds for a few percent of a million rows scattered over the table, which
is what an incremental build deletes. The pipeline's connections therefore
leave deleted rows stored (marked, and skipped by scans), and compact only
when a table has become a fifth deleted rows: the dbt build then vacuums
(pipelines/defs/transform/dbt.py), the publish step writes the serving copy
whole (pipelines/defs/publish/publish.py)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

DELETED_SHARE = 0.20      # compact when a table's stored rows are more than this share deleted ones
ROW_GROUP_ROWS = 122_880  # smaller tables are left out: their deletes cost little either way


def most_deleted(conn: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> tuple[str | None, float]:
    """The table of `schemas` (in the connection's database) with the largest
    share of deleted rows among those it stores, and that share."""
    database = conn.execute("select current_database()").fetchone()[0]
    worst, worst_share = None, 0.0
    for schema, table, stored in conn.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables() "
            "where database_name = ? and schema_name in ? and estimated_size >= ?",
            [database, list(schemas), ROW_GROUP_ROWS]).fetchall():
        live = conn.execute(f'select count(*) from "{database}"."{schema}"."{table}"').fetchone()[0]
        if 1 - live / stored > worst_share:
            worst, worst_share = f"{schema}.{table}", 1 - live / stored
    return worst, worst_share
