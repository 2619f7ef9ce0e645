"""`refloop run` end to end on generated extracts: Dagster ingests, dbt builds,
the serving copy is published, and every row read is accounted for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.contract import ENTITIES
from pipelines.generate.generator import GenerateOptions, generate_to
from tests.conftest import build, write

REFLOOP = [sys.executable, "-m", "pipelines.cli"]


def test_rows_read_equal_rows_loaded_plus_rejected(built_warehouse):
    summary = built_warehouse.summary
    assert summary.success and summary.published
    assert summary.files["loaded"] > 20 and summary.files["rejected"] == 0
    assert summary.tests_failed == 0 and summary.tests_passed > 50
    assert summary.models_built >= 20
    read, loaded, rejected = built_warehouse.query(
        "select sum(rows_read), sum(rows_loaded), sum(rows_rejected) from raw._manifest")[0]
    landed = sum(built_warehouse.scalar(f"select count(*) from raw.{e}") for e in ENTITIES)
    rejects = built_warehouse.scalar("select count(*) from raw._rejects")
    assert read == loaded + rejected
    assert loaded == landed == summary.rows_loaded
    assert rejected == rejects == summary.rows_rejected


def test_every_generated_line_is_read(built_warehouse):
    """Rows read equals the data lines in the files (no line silently dropped)."""
    import gzip
    lines = 0
    for path in built_warehouse.extracts.iterdir():
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            lines += sum(1 for _ in handle) - 1
    assert built_warehouse.scalar("select sum(rows_read) from raw._manifest") == lines


def test_serving_copy_holds_marts_and_no_patient_ids(built_warehouse):
    tables = built_warehouse.query(
        "select schema_name, table_name from duckdb_tables() order by 1, 2", serving=True)
    schemas = {schema for schema, _ in tables}
    assert schemas == {"marts", "meta", "intermediate"}
    # of intermediate, only the tables the views marts.referral_queue and
    # marts.referral_queue_history read
    assert {table for schema, table in tables if schema == "intermediate"} == \
        {"int_referral_queue_rows", "int_parameters", "int_referral_queue_log"}
    assert built_warehouse.query("select view_name from duckdb_views() where not internal order by 1", serving=True) == \
        [("referral_queue",), ("referral_queue_history",)]
    for view in ("referral_queue", "referral_queue_history"):
        assert built_warehouse.scalar(f"select count(*) from marts.{view}", serving=True) == \
            built_warehouse.scalar(f"select count(*) from marts.{view}") > 0
    columns = built_warehouse.query("select column_name from duckdb_columns()", serving=True)
    assert "patient_id" not in {c for (c,) in columns}
    eligible = built_warehouse.scalar("select count(*) from intermediate.int_referrals_eligible")
    assert built_warehouse.scalar("select sum(referrals) from marts.agg_referrals_monthly", serving=True) == eligible


def test_a_second_run_changes_nothing(built_warehouse, tmp_path):
    warehouse = tmp_path / "again.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    again = build(built_warehouse.extracts, warehouse)
    assert again.summary.success
    assert again.summary.files["loaded"] == 0 and again.summary.files["unchanged"] > 20
    assert again.summary.rows_loaded == 0
    assert again.query("select * from marts.agg_referrals_monthly order by all") == \
        built_warehouse.query("select * from marts.agg_referrals_monthly order by all")
    # an incremental build: it took the parse the warm dbt process made during the landed checks
    assert dbt_run_results(again)["metadata"]["env"].get("REFLOOP_DBT_PARSE") == "ahead"


def test_cli_run_prints_a_summary_and_keeps_going_past_a_bad_file(tmp_path):
    landing = tmp_path / "landing"
    generate_to(GenerateOptions(referrals=1_000, seed=5), landing)     # small: the run's output is the point
    write(landing, "referrals_zz_broken.csv", "referral_id;patient_id\nR1;P1\n")
    write(landing, "appointments_zz_bad_rows.csv",
          "appointment_id,patient_id,provider_npi,start_at,status,booked_at,updated_at\n"
          "A1,P1,1234567893,2026-01-05T09:00,booked,2026-01-01,2026-01-01\n"
          "A2,P1,1234567893,tomorrow,booked,2026-01-01,2026-01-01\n")
    warehouse = tmp_path / "wh" / "refloop.duckdb"
    done = subprocess.run(
        [*REFLOOP, "run", "--extracts", str(landing), "--warehouse", str(warehouse)],
        capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""}, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "[ingest] referrals_zz_broken.csv: rejected: missing required column(s)" in out
    assert "[ingest] appointments_zz_bad_rows.csv: 1 loaded, 1 rejected of 2 read" in out
    assert "rows rejected:  1" in out
    assert "1 rejected" in out and "published:      yes" in out
    with duckdb.connect(str(warehouse.with_name("refloop.serving.duckdb")), read_only=True) as conn:
        assert conn.execute(
            "select rule, rejected_rows, first_line_number from marts.agg_extract_rejects").fetchall() == [
            ("start_at: not an ISO 8601 timestamp", 1, 3)]


def test_cli_run_fails_clearly(tmp_path):
    missing = subprocess.run([*REFLOOP, "run", "--extracts", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert "extracts folder not found" in missing.stderr

    landing = tmp_path / "only_claims"
    write(landing, "claims.csv", "claim_id,line_number,patient_id,rendering_npi,service_date,allowed_amount,claim_status,updated_at\n")
    failed = subprocess.run([*REFLOOP, "run", "--extracts", str(landing), "--warehouse", str(tmp_path / "w.duckdb")],
                            capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""}, timeout=300)
    assert failed.returncode == 1
    assert "no referrals extract has been loaded" in failed.stdout + failed.stderr
    assert not (tmp_path / "w.serving.duckdb").exists()

    bad_var = subprocess.run([*REFLOOP, "run", "--extracts", str(landing), "--var", "novalue"],
                             capture_output=True, text=True, timeout=120)
    assert bad_var.returncode == 2 and "expected KEY=VALUE" in bad_var.stderr


def test_as_of_date_var_changes_what_counts(built_warehouse, tmp_path):
    warehouse = tmp_path / "asof.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    earlier = build(built_warehouse.extracts, warehouse, {"as_of_date": "2025-12-31"})
    assert earlier.summary.success
    assert earlier.scalar("select as_of_date::varchar from intermediate.int_parameters") == "2025-12-31"
    assert earlier.scalar("select max(created_month)::varchar from marts.agg_referrals_monthly") == "2025-12-01"
    assert built_warehouse.scalar("select max(created_month)::varchar from marts.agg_referrals_monthly") == "2026-11-01"


def test_generate_command(tmp_path):
    done = subprocess.run([*REFLOOP, "generate", "--referrals", "500", "--out", str(tmp_path / "x"), "--seed", "3", "--months", "6"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "referrals" in done.stdout and any(Path(tmp_path / "x").glob("referrals_*.csv"))


def test_the_dbt_resource_knows_the_dbt_version_without_running_dbt():
    """dagster-dbt would run `dbt --version` (2 s) before every build; the
    resource reads the installed dbt-core's version, which must be what the
    executable the builds run says."""
    import re

    from pipelines.definitions import defs
    from pipelines.defs.transform.dbt import RefloopDbtCliResource

    resource = defs.resources["dbt"]
    assert isinstance(resource, RefloopDbtCliResource)
    said = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True).stdout
    core = re.search(r"installed: +(\d+\.\d+\.\d+)", said) or re.search(r"(\d+\.\d+\.\d+)", said)
    assert str(resource._cli_version) == core.group(1)
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_dbt_build_folders_and_kept_parses_are_pruned_to_the_newest(tmp_path):
    """Every build writes a folder under dbt_project/target and every warehouse
    keeps a parse: the oldest go, but never one touched in the last hour (a
    build running beside this one may be using it)."""
    import os
    import time

    from pipelines.defs.transform.dbt import KEPT_BUILDS, KEPT_PARSES, prune_target

    now = time.time()
    recent = [tmp_path / f"refloop_dbt-recent{i:02d}-abcdefg" for i in range(KEPT_BUILDS + 2)]
    old = [tmp_path / f"refloop_dbt-old{i:02d}-abcdefg" for i in range(5)]
    parses = [tmp_path / "parses" / f"{i:016d}.msgpack" for i in range(KEPT_PARSES + 3)]
    for path in recent + old:
        (path / "compiled").mkdir(parents=True)
        (path / "run_results.json").write_text("{}")
    for path in parses:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"parse")
    for i, path in enumerate(recent):
        os.utime(path, (now - 60 * i, now - 60 * i))
    for i, path in enumerate(old + parses):
        os.utime(path, (now - (100 - i) * 86400, now - (100 - i) * 86400))
    (tmp_path / "docs").mkdir()
    assert prune_target(tmp_path) == len(old) + 3
    assert sorted(tmp_path.glob("refloop_dbt-*")) == sorted(recent)
    assert sorted((tmp_path / "parses").iterdir()) == parses[-KEPT_PARSES:]
    assert (tmp_path / "docs").is_dir()


def test_a_run_builds_in_the_warm_dbt_process(built_warehouse):
    """`refloop run` starts dbt ahead of its build (pipelines/defs/transform/warm_dbt.py):
    the build's own artifacts say the warm process ran it."""
    results = dbt_run_results(built_warehouse)
    assert results["args"]["which"] == "build"
    assert results["metadata"]["env"].get("REFLOOP_DBT_PROCESS") == "warm"
    # the parse was made ahead, during the landed checks: a full build parses as an incremental one does
    assert results["metadata"]["env"].get("REFLOOP_DBT_PARSE") == "ahead"


def dbt_run_results(built) -> dict:
    """run_results.json of the warehouse's last dbt build."""
    import json

    from pipelines.paths import DBT_PROJECT_DIR

    run_id = built.query("select run_id from raw._builds order by started_at desc limit 1")[0][0]
    folders = list((DBT_PROJECT_DIR / "target").glob(f"refloop_dbt-{run_id[:8]}-*"))
    assert len(folders) == 1
    return json.loads((folders[0] / "run_results.json").read_text())
