"""Land extract files into the warehouse's `raw` schema.

`raw.<entity>` keeps every version of every record with the file and line it
came from (the latest-version rule is applied downstream, in dbt, so history
and late corrections stay visible). `raw._manifest` has one row per file ever
accepted or rejected, with its checksum; `raw._rejects` one row per rejected
line. Each file lands in one transaction: a crash leaves it wholly loaded or
not at all, and re-running picks it up again.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.contract import ENTITIES, Entity, entity_of, landed_columns
from pipelines.defs.ingest.reader import FileRejected, read_extract

LOADED, REJECTED, UNCHANGED, SKIPPED = "loaded", "rejected", "unchanged", "skipped"

MANIFEST_DDL = """
create table if not exists raw._manifest (
    file_name varchar primary key,
    entity varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    status varchar not null,          -- loaded | rejected
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    error varchar,                    -- why a rejected file was rejected
    columns varchar[],                -- header as read (normalized)
    run_id varchar,
    loaded_at timestamp not null
)
"""
REJECTS_DDL = """
create table if not exists raw._rejects (
    file_name varchar not null,
    entity varchar not null,
    line_number bigint,
    reason varchar not null,
    record varchar,
    run_id varchar,
    loaded_at timestamp not null
)
"""


@dataclass
class FileResult:
    file_name: str
    entity: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str = ""

    def line(self) -> str:
        if self.status == LOADED:
            return (
                f"{self.file_name}: {self.rows_loaded:,} loaded, "
                f"{self.rows_rejected:,} rejected of {self.rows_read:,} read"
            )
        return f"{self.file_name}: {self.status}: {self.message}"


WAREHOUSE_KEY_DDL = """
create table if not exists raw._warehouse_key (
    secret varchar not null,
    created_at timestamp not null
)
"""


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists raw")
    # The secret behind patient_key: made once per warehouse, never logged,
    # never published (raw is not copied to the serving file).
    conn.execute(WAREHOUSE_KEY_DDL)
    conn.execute(
        "insert into raw._warehouse_key select ?, now() where not exists (select 1 from raw._warehouse_key)",
        [secrets.token_hex(32)],
    )
    for entity in ENTITIES.values():
        cols = ", ".join(f'"{name}" {type_}' for name, type_ in landed_columns(entity))
        conn.execute(f"create table if not exists raw.{entity.name} ({cols})")
    conn.execute(MANIFEST_DDL)
    conn.execute(REJECTS_DDL)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_files(directory: Path) -> list[Path]:
    """Files of an extracts directory, in code-point order of their names."""
    if not directory.is_dir():
        raise FileNotFoundError(f"extracts directory not found: {directory}")
    return sorted(
        (p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def load_directory(
    conn: duckdb.DuckDBPyConnection,
    directory: Path,
    run_id: str,
    log: Callable[[str], None] = lambda _: None,
) -> list[FileResult]:
    ensure_raw_schema(conn)
    results = []
    for path in extract_files(directory):
        result = load_file(conn, path, run_id)
        log(result.line())
        results.append(result)
    return results


def load_file(conn: duckdb.DuckDBPyConnection, path: Path, run_id: str) -> FileResult:
    name = entity_of(path.name)
    if name is None:
        known = ", ".join(ENTITIES)
        return FileResult(path.name, None, SKIPPED, message=f"no known entity in the name (expected a name starting with one of: {known})")
    entity = ENTITIES[name]
    sha = sha256_of(path)
    previous = conn.execute(
        "select file_name, sha256 from raw._manifest where sha256 = ? or file_name = ?",
        [sha, path.name],
    ).fetchall()
    for file_name, previous_sha in previous:
        if previous_sha == sha:
            same = "already loaded" if file_name == path.name else f"same content as {file_name}, already loaded"
            return FileResult(path.name, name, UNCHANGED, message=same)

    loaded_at = datetime.now()
    conn.execute("begin transaction")
    try:
        result = _land(conn, path, entity, sha, run_id, loaded_at)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return result


def _land(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    entity: Entity,
    sha: str,
    run_id: str,
    loaded_at: datetime,
) -> FileResult:
    # A changed file under a known name replaces what that name loaded before.
    conn.execute(f"delete from raw.{entity.name} where _file_name = ?", [path.name])
    conn.execute("delete from raw._rejects where file_name = ?", [path.name])
    conn.execute("delete from raw._manifest where file_name = ?", [path.name])

    conn.execute(f"create or replace temp table _incoming as select * from raw.{entity.name} limit 0")
    conn.execute("create or replace temp table _incoming_rejects (_line_number bigint, reason varchar, record varchar)")
    rows_read = 0
    header: list[str] | None = None
    try:
        for chunk in read_extract(path, entity):
            rows_read += chunk.rows_read
            header = chunk.header
            rows = chunk.rows  # noqa: F841 - scanned by name below
            rejects = chunk.rejects  # noqa: F841
            conn.execute(
                "insert into _incoming by name select *, ? as _file_name, ? as _run_id, ? as _loaded_at from rows",
                [path.name, run_id, loaded_at],
            )
            conn.execute("insert into _incoming_rejects by name select * from rejects")
    except FileRejected as rejected:
        conn.execute(
            "insert into raw._manifest values (?, ?, ?, ?, 'rejected', ?, 0, ?, ?, ?, ?, ?)",
            [path.name, entity.name, sha, path.stat().st_size, rows_read, rows_read,
             rejected.reason, header, run_id, loaded_at],
        )
        return FileResult(path.name, entity.name, REJECTED, rows_read, 0, rows_read, rejected.reason)

    if entity.versioned:
        _reject_same_version_duplicates(conn, entity)

    conn.execute(f"insert into raw.{entity.name} select * from _incoming")
    conn.execute(
        "insert into raw._rejects select ?, ?, _line_number, reason, record, ?, ? from _incoming_rejects",
        [path.name, entity.name, run_id, loaded_at],
    )
    loaded = conn.execute("select count(*) from _incoming").fetchone()[0]
    rejected_rows = conn.execute("select count(*) from _incoming_rejects").fetchone()[0]
    assert loaded + rejected_rows == rows_read, (path.name, rows_read, loaded, rejected_rows)
    conn.execute(
        "insert into raw._manifest values (?, ?, ?, ?, 'loaded', ?, ?, ?, null, ?, ?, ?)",
        [path.name, entity.name, sha, path.stat().st_size, rows_read, loaded, rejected_rows,
         header, run_id, loaded_at],
    )
    conn.execute("drop table _incoming")
    conn.execute("drop table _incoming_rejects")
    return FileResult(path.name, entity.name, LOADED, rows_read, loaded, rejected_rows)


def _reject_same_version_duplicates(conn: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    """Rows sharing a key and `updated_at` in one file: none can be called the
    latest, so every row of such a group is rejected."""
    keys = ", ".join(f'"{k}"' for k in (*entity.key, "updated_at"))
    conn.execute(f"""
        create or replace temp table _duplicates as
        select _line_number,
               list(_line_number) over (partition by {keys}) as group_lines,
               to_json(_incoming) as record
        from _incoming
        qualify count(*) over (partition by {keys}) > 1
    """)
    conn.execute(f"""
        insert into _incoming_rejects
        select _line_number,
               'duplicate {"/".join(entity.key)} with the same updated_at in this file (lines '
                   || array_to_string(list_sort(group_lines), ', ') || ')',
               left(record::varchar, 2000)
        from _duplicates
    """)
    conn.execute("delete from _incoming where _line_number in (select _line_number from _duplicates)")
    conn.execute("drop table _duplicates")
