"""Land extract files into the warehouse's `raw` schema.

`raw.<entity>` keeps every version of every record with the file and line it
came from (the latest-version rule is applied downstream, in dbt, so history
and late corrections stay visible). `raw._manifest` has one row per file and
entity ever accepted or rejected, with its checksum (a CSV extract holds one
entity; a FHIR Bundle, an HL7 v2 feed or a CMS file may hold several);
`raw._rejects` one row per rejected line or record. Each file lands in one
transaction: a crash leaves it wholly loaded or not at all, and re-running
picks it up again.

Which reader a file needs is decided by `formats.detect` (name, then
content); every reader's rows pass the same validation as CSV rows.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.contract import ENTITIES, Entity, entity_of, landed_columns
from pipelines.defs.ingest.formats import CMS_RIF, CSV, FHIR, HL7V2, cms_rif, detect, fhir, hl7v2
from pipelines.defs.ingest.formats.common import Mapped, Tally
from pipelines.defs.ingest.reader import CHUNK_ROWS, Chunk, FileRejected, read_extract, records_chunk

LOADED, REJECTED, UNCHANGED, SKIPPED = "loaded", "rejected", "unchanged", "skipped"

MANIFEST_DDL = """
create table if not exists raw._manifest (
    file_name varchar not null,
    entity varchar not null,          -- '(none)' for a non-CSV file rejected whole
    source_format varchar not null,   -- csv | fhir | hl7v2 | cms_rif
    sha256 varchar not null,
    size_bytes bigint not null,
    status varchar not null,          -- loaded | rejected
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    error varchar,                    -- why a rejected file was rejected
    columns varchar[],                -- header as read (normalized)
    run_id varchar,
    loaded_at timestamp not null,
    unresolved_references bigint not null default 0,  -- FHIR references that resolved to nothing
    note varchar,                     -- what a non-CSV reader saw but did not map
    primary key (file_name, entity)
)
"""
NO_ENTITY = "(none)"
# A re-sent file's earlier rows, taken out: the next dbt build is a full one.
# What each file of the folder looked like when its checksum was taken.
FILE_STATS_DDL = """
create table if not exists raw._file_stats (
    file_name varchar not null,
    size_bytes bigint not null,
    modified_ns bigint not null,
    sha256 varchar not null,
    recorded_ns bigint not null
)
"""
# A file modified this close to when its stats were recorded may have changed
# again within the file system's timestamp resolution: it is read again.
RACY_NS = 2_000_000_000
RETRACTIONS_DDL = """
create table if not exists raw._retractions (
    file_name varchar not null,
    entity varchar not null,
    retracted_at timestamp not null
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
    source_format: str = CSV

    def line(self) -> str:
        name = self.file_name if self.source_format == CSV else f"{self.file_name} [{self.source_format}"
        if self.source_format != CSV:
            name += f" -> {self.entity}]" if self.entity and self.entity != NO_ENTITY else "]"
        if self.status == LOADED:
            note = f" ({self.message})" if self.message else ""
            return (
                f"{name}: {self.rows_loaded:,} loaded, "
                f"{self.rows_rejected:,} rejected of {self.rows_read:,} read{note}"
            )
        return f"{name}: {self.status}: {self.message}"


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
    _upgrade_manifest(conn)
    conn.execute(MANIFEST_DDL)
    conn.execute(REJECTS_DDL)
    conn.execute(RETRACTIONS_DDL)
    conn.execute(FILE_STATS_DDL)
    conn.execute(fhir.INDEX_DDL)


def _upgrade_manifest(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before non-CSV formats keyed the manifest by file name
    alone; carry their rows into the (file_name, entity) layout."""
    columns = [row[0] for row in conn.execute(
        "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = '_manifest'"
    ).fetchall()]
    if not columns or "source_format" in columns:
        return
    conn.execute("alter table raw._manifest rename to _manifest_before_formats")
    conn.execute(MANIFEST_DDL)
    conn.execute("""
        insert into raw._manifest by name
        select *, 'csv' as source_format, 0 as unresolved_references, null as note
        from raw._manifest_before_formats
    """)
    conn.execute("drop table raw._manifest_before_formats")


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
    """Land every file of `directory`; one result per file and entity."""
    ensure_raw_schema(conn)
    paths = extract_files(directory)
    formats = {path: detect(path) for path in paths}
    shas = checksums(conn, [path for path in paths if formats[path] is not None])
    index = None
    if FHIR in formats.values():
        # References cross files (an Appointment names a Practitioner sent in
        # another file, or on another day): index every new FHIR file first.
        index = fhir.FhirIndex.load(conn)
        for path in paths:
            if formats[path] == FHIR:
                if _unchanged(conn, path, shas[path]) is None:
                    index.add_file(path)
        index.save(conn)
    results = []
    for path in paths:
        for result in load_file(conn, path, run_id, formats[path], index, shas.get(path)):
            if result.status != UNCHANGED:     # a daily run keeps every earlier extract: said once, below
                log(result.line())
            results.append(result)
    unchanged = sorted({r.file_name for r in results if r.status == UNCHANGED})
    if unchanged:
        log(f"{len(unchanged):,} files unchanged since they were loaded ({unchanged[0]} ... {unchanged[-1]})"
            if len(unchanged) > 1 else f"{unchanged[0]}: unchanged since it was loaded")
    return results


def checksums(conn: duckdb.DuckDBPyConnection, paths: list[Path]) -> dict[Path, str]:
    """The SHA-256 of each file. A file whose size and modification time (in
    nanoseconds) are what they were when the last run took its checksum is
    not read again (the rule rsync and git use): a run reads the new and
    changed files, not every extract the folder has kept. A file modified
    within RACY_NS of that run is read again, as git does, since a file
    system's timestamps can be coarser than a rewrite. The folder's stats
    replace those in raw._file_stats."""
    known = {name: (size, modified, sha, recorded) for name, size, modified, sha, recorded
             in conn.execute("select * from raw._file_stats").fetchall()}
    now_ns = time.time_ns()
    shas: dict[Path, str] = {}
    stats: list[tuple] = []
    for path in paths:
        stat = path.stat()
        size, modified, sha, recorded = known.get(path.name, (None, None, None, None))
        if size == stat.st_size and modified == stat.st_mtime_ns and modified < recorded - RACY_NS:
            shas[path] = sha
            stats.append((path.name, stat.st_size, stat.st_mtime_ns, sha, recorded))
        else:
            shas[path] = sha256_of(path)
            stats.append((path.name, stat.st_size, stat.st_mtime_ns, shas[path], now_ns))
    conn.execute("delete from raw._file_stats")
    if stats:
        conn.execute("insert into raw._file_stats select unnest(?::varchar[]), unnest(?::bigint[]), "
                     "unnest(?::bigint[]), unnest(?::varchar[]), unnest(?::bigint[])",
                     [list(column) for column in zip(*stats, strict=True)])
    return shas


def _unchanged(conn: duckdb.DuckDBPyConnection, path: Path, sha: str) -> str | None:
    """Why a file needs no loading (same content already landed), or None."""
    previous = conn.execute(
        "select distinct file_name from raw._manifest where sha256 = ? order by file_name != ?",
        [sha, path.name],
    ).fetchall()
    if not previous:
        return None
    file_name = previous[0][0]
    return "already loaded" if file_name == path.name else f"same content as {file_name}, already loaded"


def load_file(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    run_id: str,
    source_format: str | None = "",
    index: fhir.FhirIndex | None = None,
    sha: str | None = None,
) -> list[FileResult]:
    if source_format == "":
        source_format = detect(path)
    if source_format is None:
        known = ", ".join(ENTITIES)
        return [FileResult(path.name, None, SKIPPED, message=(
            f"no known entity in the name (expected a name starting with one of: {known}) and not "
            "a FHIR (.ndjson/.json), HL7 v2 (.hl7) or CMS RIF (pipe-delimited) file"))]
    sha = sha or sha256_of(path)
    why = _unchanged(conn, path, sha)
    if why:
        entity = entity_of(path.name) if source_format == CSV else None
        return [FileResult(path.name, entity, UNCHANGED, message=why, source_format=source_format)]

    loaded_at = datetime.now()
    conn.execute("begin transaction")
    try:
        # A changed file under a known name replaces what that name loaded before.
        _forget(conn, path.name)
        if source_format == CSV:
            entity = ENTITIES[entity_of(path.name)]
            results = [_land_csv(conn, path, entity, sha, run_id, loaded_at)]
        else:
            results = _land_mapped(conn, path, source_format, index, sha, run_id, loaded_at)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return results


def _forget(conn: duckdb.DuckDBPyConnection, file_name: str) -> None:
    """Take out what an earlier version of this file landed (only the
    entities its manifest rows name: a new file costs no table scan)."""
    entities = [e for (e,) in conn.execute(
        "select distinct entity from raw._manifest where file_name = ?", [file_name]).fetchall()]
    if not entities:
        return
    for entity in entities:
        if entity in ENTITIES:
            conn.execute(f"delete from raw.{entity} where _file_name = ?", [file_name])
    # The next dbt build rebuilds in full: versions it merged may be gone.
    conn.executemany("insert into raw._retractions values (?, ?, now()::timestamp)",
                     [[file_name, entity] for entity in entities])
    conn.execute("delete from raw._rejects where file_name = ?", [file_name])
    conn.execute("delete from raw._manifest where file_name = ?", [file_name])


def _mapped_records(path: Path, source_format: str, index: fhir.FhirIndex | None, tally: Tally):
    if source_format == FHIR:
        if index is None:
            index = fhir.FhirIndex()
            index.add_file(path)
        return fhir.read(path, index, tally)
    if source_format == HL7V2:
        return hl7v2.read(path, tally)
    if source_format == CMS_RIF:
        return cms_rif.read(path, tally)
    raise ValueError(source_format)


class _Stage:
    """One entity's incoming rows and rejects of one file, in temp tables
    until the whole file has been read; then moved to `raw` at once."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, entity: Entity, path: Path, run_id: str, loaded_at: datetime):
        self.conn, self.entity, self.path, self.run_id, self.loaded_at = conn, entity, path, run_id, loaded_at
        self.rows_read = 0
        self.header: list[str] | None = None
        self.incoming = f"_incoming_{entity.name}"
        self.rejects = f"_incoming_rejects_{entity.name}"
        conn.execute(f"create or replace temp table {self.incoming} as select * from raw.{entity.name} limit 0")
        conn.execute(f"create or replace temp table {self.rejects} (_line_number bigint, reason varchar, record varchar)")

    def add(self, chunk: Chunk) -> None:
        self.rows_read += chunk.rows_read
        self.header = chunk.header if self.header is None else list(dict.fromkeys(self.header + chunk.header))
        rows = chunk.rows  # noqa: F841 - scanned by name below
        rejects = chunk.rejects  # noqa: F841
        self.conn.execute(
            f"insert into {self.incoming} by name select *, ? as _file_name, ? as _run_id, ? as _loaded_at from rows",
            [self.path.name, self.run_id, self.loaded_at],
        )
        self.conn.execute(f"insert into {self.rejects} by name select * from rejects")

    def drop(self) -> None:
        self.conn.execute(f"drop table if exists {self.incoming}")
        self.conn.execute(f"drop table if exists {self.rejects}")

    def finish(self, sha: str, source_format: str, unresolved: int = 0, note: str | None = None) -> FileResult:
        conn, entity, name = self.conn, self.entity, self.path.name
        if entity.versioned:
            _reject_same_version_duplicates(conn, entity, self.incoming, self.rejects)
        conn.execute(f"insert into raw.{entity.name} select * from {self.incoming}")
        conn.execute(
            f"insert into raw._rejects select ?, ?, _line_number, reason, record, ?, ? from {self.rejects}",
            [name, entity.name, self.run_id, self.loaded_at],
        )
        loaded = conn.execute(f"select count(*) from {self.incoming}").fetchone()[0]
        rejected_rows = conn.execute(f"select count(*) from {self.rejects}").fetchone()[0]
        assert loaded + rejected_rows == self.rows_read, (name, self.rows_read, loaded, rejected_rows)
        conn.execute(
            "insert into raw._manifest values (?, ?, ?, ?, ?, 'loaded', ?, ?, ?, null, ?, ?, ?, ?, ?)",
            [name, entity.name, source_format, sha, self.path.stat().st_size, self.rows_read, loaded, rejected_rows,
             self.header, self.run_id, self.loaded_at, unresolved, note],
        )
        self.drop()
        return FileResult(name, entity.name, LOADED, self.rows_read, loaded, rejected_rows, note or "", source_format)


def _land_mapped(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    source_format: str,
    index: fhir.FhirIndex | None,
    sha: str,
    run_id: str,
    loaded_at: datetime,
) -> list[FileResult]:
    """Land a FHIR, HL7 v2 or CMS RIF file: each entity it maps to gets its own
    manifest row, so rows read = loaded + rejected holds per entity. Records
    are validated and staged in chunks as they are read (a large NDJSON export
    is never held in memory whole)."""
    tally = Tally()
    stages: dict[str, _Stage] = {}
    buffers: dict[str, list[Mapped]] = {}

    def flush(name: str) -> None:
        if name not in stages:
            stages[name] = _Stage(conn, ENTITIES[name], path, run_id, loaded_at)
        stages[name].add(records_chunk(ENTITIES[name], buffers.pop(name)))

    try:
        for record in _mapped_records(path, source_format, index, tally):
            buffer = buffers.setdefault(record.entity, [])
            buffer.append(record)
            if len(buffer) >= CHUNK_ROWS:
                flush(record.entity)
        for name in list(buffers):
            flush(name)
    except FileRejected as rejected:
        for stage in stages.values():
            stage.drop()
        conn.execute(
            "insert into raw._manifest values (?, ?, ?, ?, ?, 'rejected', 0, 0, 0, ?, null, ?, ?, 0, null)",
            [path.name, NO_ENTITY, source_format, sha, path.stat().st_size, rejected.reason, run_id, loaded_at],
        )
        return [FileResult(path.name, NO_ENTITY, REJECTED, message=rejected.reason, source_format=source_format)]

    note = tally.note()
    if not stages:
        # Nothing this warehouse keeps: recorded, so the file is not read again.
        note = note or "no record of an entity this warehouse keeps"
        conn.execute(
            "insert into raw._manifest values (?, ?, ?, ?, ?, 'loaded', 0, 0, 0, null, null, ?, ?, ?, ?)",
            [path.name, NO_ENTITY, source_format, sha, path.stat().st_size, run_id, loaded_at, tally.unresolved, note],
        )
        return [FileResult(path.name, NO_ENTITY, LOADED, message=note, source_format=source_format)]
    # The file's unresolved references and notes are told once, on its first entity.
    return [stages[name].finish(sha, source_format, tally.unresolved if i == 0 else 0, note if i == 0 else None)
            for i, name in enumerate(sorted(stages))]


def _land_csv(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    entity: Entity,
    sha: str,
    run_id: str,
    loaded_at: datetime,
) -> FileResult:
    stage = _Stage(conn, entity, path, run_id, loaded_at)
    try:
        for chunk in read_extract(path, entity):
            stage.add(chunk)
    except FileRejected as rejected:
        stage.drop()
        conn.execute(
            "insert into raw._manifest values (?, ?, ?, ?, ?, 'rejected', ?, 0, ?, ?, ?, ?, ?, 0, null)",
            [path.name, entity.name, CSV, sha, path.stat().st_size, stage.rows_read, stage.rows_read,
             rejected.reason, stage.header, run_id, loaded_at],
        )
        return FileResult(path.name, entity.name, REJECTED, stage.rows_read, 0, stage.rows_read, rejected.reason)
    return stage.finish(sha, CSV)


def _reject_same_version_duplicates(
    conn: duckdb.DuckDBPyConnection, entity: Entity, incoming: str, rejects: str
) -> None:
    """Rows sharing a key and `updated_at` in one file: none can be called the
    latest, so every row of such a group is rejected."""
    keys = ", ".join(f'"{k}"' for k in (*entity.key, "updated_at"))
    conn.execute(f"""
        create or replace temp table _duplicates as
        select rowid as _row, _line_number,
               list(_line_number) over (partition by {keys}) as group_lines,
               to_json({incoming}) as record
        from {incoming}
        qualify count(*) over (partition by {keys}) > 1
    """)
    conn.execute(f"""
        insert into {rejects}
        select _line_number,
               'duplicate {"/".join(entity.key)} with the same updated_at in this file (lines '
                   || array_to_string(list_sort(group_lines), ', ') || ')',
               left(record::varchar, 2000)
        from _duplicates
    """)
    # by row, not line: one FHIR resource (a line or bundle entry) may give several rows
    conn.execute(f"delete from {incoming} where rowid in (select _row from _duplicates)")
    conn.execute("drop table _duplicates")
