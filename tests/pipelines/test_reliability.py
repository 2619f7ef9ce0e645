"""Crashes, restarts and load: a run killed (SIGKILL) in the middle of ingest
and again in the middle of the dbt build is completed by the next run with
marts equal to an uninterrupted run's; a reader of the serving copy never sees
a half-published copy; dashboards keep serving 20 concurrent sessions while a
run writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from pipelines.defs.publish.publish import publish
from pipelines.loadtest import PAGES, run_sessions, serving_dashboards, summarize
from pipelines.paths import ROOT, serving_path

REFLOOP = [sys.executable, "-m", "pipelines.cli"]
# Columns that differ between any two runs by design: the per-warehouse patient
# surrogate, and when and by which run a file was loaded.
RUN_SPECIFIC = {"patient_key", "loaded_at", "run_id", "built_at"}
# Snapshots appended once per build: compared on their latest snapshot only.
PER_BUILD = {"referral_queue_history", "agg_referral_queue_changes"}


def start_run(extracts: Path, warehouse: Path) -> subprocess.Popen:
    return subprocess.Popen([*REFLOOP, "run", "--extracts", str(extracts), "--warehouse", str(warehouse)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "DAGSTER_HOME": ""},
                            start_new_session=True)


def kill_when(process: subprocess.Popen, ready, timeout: float = 600) -> list[str]:
    """Read the run's output until `ready(lines)` holds, then SIGKILL the run
    and everything it started (dbt included), as a crash would."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if ready(lines):
            os.killpg(process.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "the run never reached the point to kill it"
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(lines[-40:])
    return lines


def mart_differences(reference: Path, other: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    """Per mart: rows only in the reference, rows only in the other (run-specific
    columns, and the marts in `skip`, left out)."""
    differences = {}
    with duckdb.connect() as conn:
        conn.execute("attach ? as a (read_only)", [str(reference)])
        conn.execute("attach ? as b (read_only)", [str(other)])
        tables = [t for (t,) in conn.execute(     # referral_queue is a view on DuckDB
            "select table_name from duckdb_tables() where database_name = 'a' and schema_name = 'marts' "
            "union all select view_name from duckdb_views() where database_name = 'a' and schema_name = 'marts'"
        ).fetchall()]
        assert len(tables) >= 20
        for table in tables:
            columns = [(c, t) for (c, t) in conn.execute(
                "select column_name, data_type from duckdb_columns() where database_name = 'a' "
                "and schema_name = 'marts' and table_name = ? order by column_index", [table]).fetchall()
                if c not in RUN_SPECIFIC]
            # doubles summed in parallel can differ in the last bits between two builds
            select = ", ".join(f'round("{c}", 9)' if t in ("DOUBLE", "FLOAT") else f'"{c}"' for c, t in columns)
            latest = {db: (f" where built_at = (select max(built_at) from {db}.marts.{table})"
                           if table == "referral_queue_history" else "") for db in ("a", "b")}
            if table == "agg_referral_queue_changes" or table in skip:
                continue                                  # changes between builds: differ by definition
            only_a, only_b = (conn.execute(
                f"select count(*) from (select {select} from {x}.marts.{table}{latest[x]} "
                f"except all select {select} from {y}.marts.{table}{latest[y]})").fetchone()[0]
                for x, y in (("a", "b"), ("b", "a")))
            if only_a or only_b:
                differences[table] = (only_a, only_b)
    return differences


def test_killed_runs_are_completed_by_the_next_with_the_same_marts(built_warehouse, tmp_path):
    extracts = built_warehouse.extracts
    warehouse = tmp_path / "crash.duckdb"
    files = len([p for p in extracts.iterdir() if p.is_file()])

    # 1. killed in the middle of ingest, some files landed
    kill_when(start_run(extracts, warehouse),
              lambda lines: sum("[ingest]" in line and " loaded," in line for line in lines) >= 20)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        landed_files = conn.execute("select count(*) from raw._manifest").fetchone()[0]
        assert 0 < landed_files < files
        # each landed file is whole: its rows in raw equal what the manifest says
        partial = conn.execute("""
            select count(*) from raw._manifest m
            where rows_loaded != (select count(*) from raw.referrals r where r._file_name = m.file_name)
              and entity = 'referrals'""").fetchone()[0]
        assert partial == 0

    # 2. the next run is killed in the middle of the dbt build
    kill_when(start_run(extracts, warehouse),
              lambda lines: any("[dbt]" in line for line in lines)
              and sum("OK created" in line or "ASSET_MATERIALIZATION" in line for line in lines) >= 12)
    assert not serving_path(warehouse).exists()          # a killed run publishes nothing

    # 3. the next run completes, while 20 dashboard sessions load every page of the
    #    previous publication (put in place here) and then of the new one
    shutil.copy(built_warehouse.serving, serving_path(warehouse))
    with serving_dashboards(warehouse) as base:
        final = start_run(extracts, warehouse)
        started = time.monotonic()
        loads = run_sessions(base, sessions=20, pages=PAGES, timeout=180)
        elapsed = time.monotonic() - started
        output = final.communicate(timeout=900)[0]
    assert final.returncode == 0, output[-4000:]
    report = summarize(loads)
    print(f"\n20 sessions x {len(PAGES)} pages while a run wrote: {elapsed:.0f} s, "
          f"p50 {report['overall']['p50_s']} s, p95 {report['overall']['p95_s']} s")
    assert len(loads) == 20 * len(PAGES)
    assert report["errors"] == []
    assert all(load.headings for load in loads)            # every page drew its content

    with duckdb.connect(str(warehouse), read_only=True) as conn, \
            duckdb.connect(str(built_warehouse.warehouse), read_only=True) as ref:
        for sql in ("select count(*) from raw._manifest where status = 'loaded'",
                    "select sum(rows_loaded) from raw._manifest",
                    "select count(*) from raw.referrals", "select count(*) from raw.claims",
                    "select count(*) from raw._rejects"):
            assert conn.execute(sql).fetchone() == ref.execute(sql).fetchone(), sql
    assert mart_differences(built_warehouse.warehouse, warehouse) == {}
    assert mart_differences(built_warehouse.serving, serving_path(warehouse)) == {}


def test_a_reader_sees_the_old_copy_or_the_new_never_a_mix(built_warehouse, tmp_path):
    """Publish two different warehouses in turn while readers open the serving
    copy over and over: every read succeeds and is wholly one publication."""
    small = tmp_path / "small.duckdb"
    with duckdb.connect(str(small)) as conn:
        conn.execute("attach ? as src (read_only)", [str(built_warehouse.warehouse)])
        conn.execute("create schema marts")
        for (table,) in conn.execute("select table_name from duckdb_tables() where database_name = 'src' "
                                     "and schema_name = 'marts'").fetchall():
            conn.execute(f"create table marts.{table} as select * from src.marts.{table} limit 7")
    expected = {"big": built_warehouse.scalar("select count(*) from marts.fct_referrals"), "small": 7}
    serving = tmp_path / "serving.duckdb"
    publish(small, serving, "small")
    problems: list[str] = []
    reads = 0
    stop = threading.Event()

    def reader():
        nonlocal reads
        while not stop.is_set():
            try:
                with duckdb.connect(str(serving), read_only=True) as conn:
                    run_id = conn.execute("select run_id from meta.publication").fetchone()[0]
                    count = conn.execute("select count(*) from marts.fct_referrals").fetchone()[0]
                if count != expected[run_id]:
                    problems.append(f"{run_id} publication with {count} referrals")
                reads += 1
            except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
                problems.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(6):
        publish(built_warehouse.warehouse if i % 2 == 0 else small, serving, "big" if i % 2 == 0 else "small")
    stop.set()
    for thread in threads:
        thread.join()
    assert problems == []
    assert reads > 10
