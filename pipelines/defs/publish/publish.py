"""Publish the serving copy: the marts (and nothing of raw or staging, and
of intermediate only the tables a mart that is a view reads, so no source
patient id) in a separate DuckDB file, replaced atomically. Dashboards open
that file read-only and never the one the pipeline writes. A mart that is a
view (marts.referral_queue, marts.referral_queue_history) is created again in
the copy over the copy's own tables.

After an incremental build the serving copy need not be written whole: when
it holds exactly what the build before this one published, the marts that
build kept incrementally take the same change the build made (the rows of
the keys or the cells in the build's scope, or the rows appended), and every
other mart is copied. A table of the copy that has become a fifth deleted rows
from the changes it took is copied whole instead, which writes it without
them. A full copy is written otherwise, and when the copy has grown past
half deleted rows in one of its tables; the weekly compaction job keeps it
below that (`compact_serving`; pipelines/storage.py, docs/deploy.md)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.storage import BACKSTOP_SHARE, DELETED_SHARE, compact, deleted_shares, worst_of

PUBLISHED_SCHEMAS = ("marts",)
SERVED_SCHEMAS = ("marts", "intermediate")   # what a serving copy's tables live in (the views' inputs)
PUBLISH_WORKERS = 2     # tables written at once
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    """How an incremental build changes a mart. `scope`: the table (schema.name)
    holding the keys whose rows the build replaced, in column `key`, or the
    cells whose rows it replaced, in columns `cells` (the scope may have more
    columns: a mart grouped by some of them takes their distinct values);
    `watermark`: the column that orders appended rows (rows a build appends
    have a greater value than every row before them)."""

    scope: str | None = None
    key: str | None = None
    watermark: str | None = None
    cells: tuple[str, ...] = ()


@dataclass
class Publication:
    counts: dict[str, int]                  # rows of each published table
    mode: str                               # full | changes
    reason: str
    changed: dict[str, int] = field(default_factory=dict)   # rows written per table taking a change


class _Fallback(Exception):
    """The serving copy cannot take this build's change: write it whole."""


def _builds(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    exists = conn.execute("select count(*) from duckdb_tables() where database_name = 'source' "
                          "and schema_name = 'raw' and table_name = '_builds'").fetchone()[0]
    if not exists:
        return []
    return conn.execute("select run_id, started_at, target, full_refresh from source.raw._builds "
                        "order by started_at desc limit 2").fetchall()


def _published(serving: Path) -> dict | None:
    """What the serving copy says it holds (None: no copy, or one from before
    publications named their build)."""
    if not serving.exists():
        return None
    try:
        with duckdb.connect(str(serving), read_only=True) as conn:
            columns = {c for (c,) in conn.execute(
                "select column_name from duckdb_columns() where schema_name = 'meta' "
                "and table_name = 'publication'").fetchall()}
            if not {"build_run_id", "build_started_at"} <= columns:
                return None
            row = conn.execute("select build_run_id, build_started_at from meta.publication").fetchone()
            shares = deleted_shares(conn, SERVED_SCHEMAS)
    except duckdb.Error:
        return None
    if not row:
        return None
    worst, share = worst_of(shares)
    # a table past DELETED_SHARE deleted rows is copied whole, which writes it without them
    worn = frozenset(table for table, deleted in shares.items() if deleted > DELETED_SHARE)
    return {"build": row, "most_deleted": worst, "deleted_share": share, "worn": worn}


def _plan(warehouse: Path, serving: Path, deltas: Mapping[str, Delta]
          ) -> tuple[str, str, tuple | None, frozenset[str]]:
    """full or changes, why, the build being published, and the tables
    (schema.table) of the serving copy to copy whole even when it takes the
    changes."""
    with duckdb.connect() as conn:
        conn.execute("attach ? as source (read_only)", [str(warehouse)])
        builds = _builds(conn)
    build = builds[0] if builds else None
    if not deltas:
        return "full", "no mart is kept incrementally", build, frozenset()
    if build is None:
        return "full", "the warehouse records no build", build, frozenset()
    published = _published(serving)
    if published is None:
        return "full", "no serving copy that names its build", build, frozenset()
    run_id, started_at, target, full_refresh = build
    if published["build"] == (run_id, started_at):
        return "full", "the serving copy already holds the latest build: written again whole", build, frozenset()
    if full_refresh or target != "duckdb":
        return "full", f"the latest build was {'full' if full_refresh else 'on ' + target}", build, frozenset()
    if len(builds) < 2 or published["build"] != builds[1][:2]:
        return "full", "the serving copy is not the previous build's", build, frozenset()
    if published["deleted_share"] > BACKSTOP_SHARE:
        return "full", (f"{published['deleted_share']:.0%} of the serving copy's {published['most_deleted']} "
                        "are deleted rows: written whole"), build, frozenset()
    return "changes", "the previous build's copy takes this build's changes", build, published["worn"]


def _staging(serving: Path) -> Path:
    """Where a new serving copy is written before it replaces the old one."""
    return serving.with_name(f".{serving.name}.{os.getpid()}.tmp")


def publish(warehouse: Path, serving: Path, run_id: str, deltas: Mapping[str, Delta] | None = None) -> Publication:
    """Publish the marts of `warehouse` to `serving`. `deltas`: the marts an
    incremental build keeps incrementally, by table name (see module doc)."""
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging(serving)
    staging.unlink(missing_ok=True)
    mode, reason, build, worn = _plan(warehouse, serving, deltas or {})
    if mode == "changes":
        shutil.copyfile(serving, staging)
        try:
            publication = _write(staging, warehouse, run_id, build, deltas or {}, worn)
            publication.reason = reason
        except _Fallback as why:
            log.warning("publishing in full: %s", why)
            staging.unlink(missing_ok=True)
            mode, reason = "full", f"the changes did not apply ({why}): written whole"
    if mode == "full":
        publication = _write(staging, warehouse, run_id, build, {})
        publication.reason = reason
    os.replace(staging, serving)
    return publication


def _write(staging: Path, warehouse: Path, run_id: str, build: tuple | None,
           deltas: Mapping[str, Delta], worn: frozenset[str] = frozenset()) -> Publication:
    """Bring `staging` (empty, or a copy of the previous publication when
    `deltas` is given) to the warehouse's published schemas. `worn`: the
    tables (schema.table) copied whole though they have a delta."""
    publication = Publication(counts={}, mode="changes" if deltas else "full", reason="")
    conn = duckdb.connect(str(staging))
    # rows the changes delete stay stored, marked (a vacuum would rewrite every
    # row group they touch); the copy is written whole when that grows too much
    conn.execute("set max_vacuum_tasks = 0")
    try:
        conn.execute("attach ? as source (read_only)", [str(warehouse)])
        views = _views(conn)
        inputs = _view_inputs(conn, views)
        sized = [row for row in conn.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables() "
            "where database_name = 'source' order by schema_name, table_name").fetchall()
            if row[0] in PUBLISHED_SCHEMAS or row[:2] in inputs]
        # the copies first, the largest first; then the tables that take a change
        tables = [(schema, table) for schema, table, _ in
                  sorted(sized, key=lambda row: (row[1] in deltas, -(row[2] or 0)))]
        # everything but meta is the source's: what it no longer has goes
        kept = {(s, t) for (s, t) in conn.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            " and schema_name != 'meta'").fetchall()}
        for schema, view in conn.execute(
                "select schema_name, view_name from duckdb_views() where database_name = current_database() "
                "and not internal").fetchall():
            conn.execute(f'drop view "{schema}"."{view}"')
        for schema, table in kept - set(tables):
            conn.execute(f'drop table "{schema}"."{table}"')
        for schema in sorted({schema for schema, _ in tables} | {schema for schema, _, _ in views}):
            conn.execute(f'create schema if not exists "{schema}"')

        def write(cursor: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
            delta = deltas.get(table) if (schema, table) in kept and f"{schema}.{table}" not in worn else None
            if delta is not None and _same_columns(cursor, schema, table):
                publication.changed[f"{schema}.{table}"] = _apply(cursor, schema, table, delta)
            else:
                cursor.execute(f'create or replace table "{schema}"."{table}" as '
                               f'select * from source."{schema}"."{table}"')
            counts = cursor.execute(f'select (select count(*) from "{schema}"."{table}"), '
                                    f'(select count(*) from source."{schema}"."{table}")').fetchone()
            if counts[0] != counts[1]:
                raise _Fallback(f"{schema}.{table} has {counts[0]:,} rows, the warehouse {counts[1]:,}")
            publication.counts[f"{schema}.{table}"] = counts[0]

        _each_table(conn, tables, write)
        # Over the tables just written (dbt wrote them without a catalog). Not
        # counted: the same SQL over tables whose counts were just checked, and
        # counting marts.referral_queue_history would list every build's queue.
        for _schema, _view, sql in views:
            conn.execute(sql)
        publication.counts = dict(sorted(publication.counts.items()))
        publication.changed = dict(sorted(publication.changed.items()))
        parameters = conn.execute(
            "select * from duckdb_tables() where database_name = 'source' "
            "and schema_name = 'intermediate' and table_name = 'int_parameters'"
        ).fetchall()
        conn.execute("create schema if not exists meta")
        conn.execute("drop table if exists meta.parameters")
        if parameters:
            conn.execute("create table meta.parameters as select * from source.intermediate.int_parameters")
        conn.execute("detach source")
        conn.execute(
            "create or replace table meta.publication as select ?::varchar as run_id, ?::timestamp as published_at, "
            "?::varchar as build_run_id, ?::timestamp as build_started_at, ?::varchar as publish_mode",
            [run_id, datetime.now(), build[0] if build else None, build[1] if build else None, publication.mode],
        )
        conn.execute("checkpoint")
    finally:
        conn.close()
    return publication


def _views(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """The views of the published schemas in the attached `source`: schema,
    name and the statement that creates them."""
    return conn.execute(
        "select schema_name, view_name, sql from duckdb_views() where database_name = 'source' "
        "and schema_name in ? and not internal order by schema_name, view_name", [list(PUBLISHED_SCHEMAS)]).fetchall()


_VIEW_STATEMENT = re.compile(r"^\s*create\s+(?:or\s+replace\s+)?view\s+\S+\s+as\s+(.*?)\s*;?\s*$",
                             re.IGNORECASE | re.DOTALL)


def _view_inputs(conn: duckdb.DuckDBPyConnection, views: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """The source tables outside the published schemas that `views` read, as
    DuckDB's own parser finds them in their SQL (json_serialize_sql)."""
    named: set[tuple[str, str]] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
                named.add((node["schema_name"], node["table_name"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema, view, sql in views:
        found = _VIEW_STATEMENT.match(sql)
        if not found:
            raise RuntimeError(f"cannot publish the view {schema}.{view}: its definition is not a CREATE VIEW")
        tree = json.loads(conn.execute("select json_serialize_sql(?)", [found.group(1)]).fetchone()[0])
        if tree.get("error"):
            raise RuntimeError(f"cannot publish the view {schema}.{view}: {tree.get('error_message')}")
        walk(tree)
    present = set(conn.execute("select schema_name, table_name from duckdb_tables() "
                               "where database_name = 'source'").fetchall())
    return {(schema, table) for schema, table in named & present if schema not in PUBLISHED_SCHEMAS}


def _each_table(conn: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]],
                write: Callable[[duckdb.DuckDBPyConnection, str, str], None]) -> None:
    """`write` each table, on PUBLISH_WORKERS connections at once (the
    largest first): copying a table keeps about one core busy, and one
    table's copy never waits on another's. The first error is raised once
    every write has ended."""
    pending = list(tables)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        with conn.cursor() as cursor:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    schema, table = pending.pop(0)
                try:
                    write(cursor, schema, table)
                except BaseException as error:   # noqa: BLE001 - re-raised below
                    with lock:
                        errors.append(error)
                    return

    workers = [threading.Thread(target=work, name=f"publish-{n}") for n in range(min(PUBLISH_WORKERS, len(tables)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def _same_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = ("select list(column_name || ' ' || data_type order by column_index) from duckdb_columns() "
             "where database_name = ? and schema_name = ? and table_name = ?")
    here = conn.execute(query, [conn.execute("select current_database()").fetchone()[0], schema, table]).fetchone()[0]
    return here == conn.execute(query, ["source", schema, table]).fetchone()[0]


def _apply(conn: duckdb.DuckDBPyConnection, schema: str, table: str, delta: Delta) -> int:
    """Give the copy's table the change the build made to the warehouse's: the
    rows of the keys in scope replaced, or the appended rows added. Returns
    the rows written."""
    target, source = f'"{schema}"."{table}"', f'source."{schema}"."{table}"'
    if delta.scope and delta.cells:
        scope_schema, scope_table = delta.scope.split(".")
        found = {c for (c,) in conn.execute(
            "select column_name from duckdb_columns() where database_name = 'source' "
            "and schema_name = ? and table_name = ?", [scope_schema, scope_table]).fetchall()}
        if not set(delta.cells) <= found:
            raise _Fallback(f"the cells {delta.scope} of {schema}.{table} are not in the warehouse")

        def in_cells(alias: str) -> str:
            same = " and ".join(f'cells."{c}" is not distinct from {alias}."{c}"' for c in delta.cells)
            return f'exists (select 1 from source."{scope_schema}"."{scope_table}" as cells where {same})'
        conn.execute(f"delete from {target} as target where {in_cells('target')}")
        changed = _by_row_id(source, "changed", in_cells("changed"))
        return conn.execute(f"insert into {target} select * from {source} where {changed}").fetchone()[0]
    if delta.scope and delta.key:
        scope_schema, scope_table = delta.scope.split(".")
        found = conn.execute("select count(*) from duckdb_columns() where database_name = 'source' "
                             "and schema_name = ? and table_name = ? and column_name = ?",
                             [scope_schema, scope_table, delta.key]).fetchone()[0]
        if not found:
            raise _Fallback(f"the scope {delta.scope} of {schema}.{table} is not in the warehouse")
        keys = f'select "{delta.key}" from source."{scope_schema}"."{scope_table}"'
        conn.execute(f'delete from {target} where "{delta.key}" in ({keys})')
        changed = _by_row_id(source, "changed", f'"{delta.key}" in ({keys})')
        return conn.execute(f"insert into {target} select * from {source} where {changed}").fetchone()[0]
    if delta.watermark:
        column = f'"{delta.watermark}"'
        return conn.execute(f"insert into {target} select * from {source} where {column} > "
                            f"(select max({column}) from {target}) or not exists (select 1 from {target})"
                            ).fetchone()[0]
    raise _Fallback(f"{schema}.{table} names no scope and no watermark")


def _by_row_id(table: str, alias: str, condition: str) -> str:
    """A filter on `table`'s rows that meet `condition` (on `alias`), by row
    id, as dbt's models find the rows of their scope (macros/replace_scope.sql,
    rows_with_keys): the condition reads its own columns of every row, and
    DuckDB reads the other columns of the rows found only. Filtered on the
    condition itself, it reads every column of every row first: a cost that
    grows with the history (docs/performance.md)."""
    return f"rowid in (select {alias}.rowid from {table} as {alias} where {condition})"


def compact_serving(serving: Path, threshold: float = DELETED_SHARE) -> dict[str, float]:
    """Rewrite the serving copy's tables past `threshold` deleted rows
    (pipelines/storage.py): in a staging copy that then replaces it, as a
    publication does, so readers see the old copy or the compacted one. It
    holds the same build, so the next build's changes still apply to it.
    Returns {table: share of deleted rows it had}; nothing is written when no
    table is past the threshold."""
    if not serving.exists():
        return {}
    with duckdb.connect(str(serving), read_only=True) as conn:
        if not any(share > threshold for share in deleted_shares(conn, SERVED_SCHEMAS).values()):
            return {}
    staging = _staging(serving)
    shutil.copyfile(serving, staging)
    try:
        rewritten = compact(staging, SERVED_SCHEMAS, threshold)
        os.replace(staging, serving)
    finally:
        staging.unlink(missing_ok=True)
    return rewritten
