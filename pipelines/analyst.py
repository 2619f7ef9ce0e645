"""Analysts' access to the warehouse: `refloop sql`, `refloop export`, `refloop docs`.

All of it reads the published copy (read-only) unless told otherwise, so it
works while the pipeline writes the warehouse and can never change it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.defs.quality.store import quality_path
from pipelines.paths import DBT_PROJECT_DIR, serving_path

PUBLIC_SCHEMA = "marts"


class AccessError(Exception):
    """The file to read is missing or locked; the message says what to do."""


def open_read_only(warehouse: Path, full: bool = False) -> duckdb.DuckDBPyConnection:
    """The published copy of `warehouse` (marts and run metadata), or with
    `full` the warehouse itself, read-only. The quality copy is attached as
    `quality_copy` when present."""
    target = warehouse if full else serving_path(warehouse)
    if not target.exists():
        hint = "build it with `refloop run`" if not full else "check the --warehouse path"
        raise AccessError(f"no {'warehouse' if full else 'published copy'} at {target}: {hint}")
    conn = duckdb.connect(":memory:")
    try:
        conn.execute("attach ? as warehouse (read_only)", [str(target)])
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise AccessError(
                f"{target} is being written by a pipeline run; query the published copy instead "
                "(leave out --full), or wait for the run to finish"
            ) from None
        raise
    conn.execute("use warehouse")
    quality = quality_path(warehouse)
    if quality.exists():
        conn.execute("attach ? as quality_copy (read_only)", [str(quality)])
    return conn


def run_query(conn: duckdb.DuckDBPyConnection, sql: str, csv: Path | None = None,
              parquet: Path | None = None, max_rows: int = 40) -> int:
    """Run one query; print it as a table, or write it to CSV/Parquet. Returns rows."""
    sql = sql.strip().rstrip(";").strip()
    if csv or parquet:
        out = csv or parquet
        out.parent.mkdir(parents=True, exist_ok=True)
        options = "(format csv, header true)" if csv else "(format parquet, compression zstd)"
        conn.execute(f"copy ({sql}) to '{_sql_string(str(out))}' {options}")
        rows = conn.execute(f"select count(*) from read_{'csv' if csv else 'parquet'}(?)", [str(out)]).fetchone()[0]
        print(f"wrote {rows:,} rows to {out}")
        return rows
    relation = conn.sql(sql)
    if relation is None:          # a statement without a result (e.g. SET)
        return 0
    table = relation.to_arrow_table()
    conn.from_arrow(table).show(max_rows=max_rows, max_width=240)
    return table.num_rows


HELP = """Read-only SQL over the published marts (DuckDB dialect). End a statement with `;`.
  .tables            list tables          .describe TABLE   columns and types
  .help              this help            .quit             leave (or Ctrl-D)"""


def shell(conn: duckdb.DuckDBPyConnection, source: str) -> int:
    """A minimal interactive shell: statements end with `;`."""
    try:
        import readline  # noqa: F401  (history and line editing where available)
    except ImportError:
        pass
    print(f"refloop sql: {source} (read-only)\n{HELP}")
    buffer: list[str] = []
    while True:
        try:
            line = input("...> " if buffer else "sql> ")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            buffer = []
            continue
        stripped = line.strip()
        if not buffer and stripped.startswith("."):
            command, _, arg = stripped.partition(" ")
            if command in (".quit", ".exit"):
                return 0
            if command == ".help":
                print(HELP)
            elif command == ".tables":
                conn.sql("select schema_name as schema, table_name as table, estimated_size as rows "
                         "from duckdb_tables() where database_name = 'warehouse' "
                         "union all select schema_name, view_name || ' (view)', null from duckdb_views() "
                         "where database_name = 'warehouse' and not internal order by 1, 2").show(max_rows=200)
            elif command == ".describe" and arg:
                try:
                    conn.sql(f"describe {arg}").show(max_rows=200)
                except duckdb.Error as error:
                    print(f"error: {error}")
            else:
                print(f"unknown command {command}; .help lists them")
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            sql = "\n".join(buffer)
            buffer = []
            try:
                run_query(conn, sql)
            except duckdb.Error as error:
                print(f"error: {error}")


def export_marts(warehouse: Path, out: Path, fmt: str = "parquet") -> dict[str, int]:
    """Write every public mart to `out/<table>.<fmt>` (for a data lake); returns rows per table."""
    conn = open_read_only(warehouse)
    try:
        tables = [t for (t,) in conn.execute(
            "select table_name from duckdb_tables() where database_name = 'warehouse' and schema_name = $schema "
            "union all select view_name from duckdb_views() where database_name = 'warehouse' "
            "and schema_name = $schema order by 1", {"schema": PUBLIC_SCHEMA}).fetchall()]
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for table in tables:
            path = out / f"{table}.{fmt}"
            options = "(format parquet, compression zstd)" if fmt == "parquet" else "(format csv, header true)"
            conn.execute(f"copy {PUBLIC_SCHEMA}.\"{table}\" to '{_sql_string(str(path))}' {options}")
            counts[table] = conn.execute(f"select count(*) from {PUBLIC_SCHEMA}.\"{table}\"").fetchone()[0]
        return counts
    finally:
        conn.close()


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def dbt_env(warehouse: Path) -> dict[str, str]:
    return {**os.environ, "REFLOOP_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false"}


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def generate_docs(warehouse: Path, target: Path | None = None) -> Path:
    """`dbt docs generate` against the warehouse, opened read-only (the catalog
    is read from the database, which must not be locked by a running pipeline;
    other readers may have it open)."""
    if not warehouse.exists():
        raise AccessError(f"no warehouse at {warehouse}: build it first with `refloop run`")
    target = target or DBT_PROJECT_DIR / "target" / "docs"
    done = subprocess.run(
        [dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)],
        capture_output=True, text=True, env={**dbt_env(warehouse), "REFLOOP_WAREHOUSE_ACCESS": "read_only"},
        check=False,
    )
    if done.returncode != 0:
        tail = done.stdout[-2000:]
        if "lock" in tail.lower():
            raise AccessError(f"{warehouse} is being written by a pipeline run: try again when it finishes")
        raise AccessError(f"dbt docs generate failed:\n{tail}")
    return target


def serve_docs(target: Path, host: str, port: int) -> int:
    """Serve the generated docs site (index.html, manifest.json, catalog.json)."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"dbt docs on http://{host}:{port} (Ctrl+C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            return 0
    return 0


def marts_named_in(sql: str) -> set[str]:
    return set(re.findall(r"\bmarts\.(\w+)", sql))
