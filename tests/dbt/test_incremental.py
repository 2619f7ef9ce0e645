"""Daily loads (docs/deploy.md, Daily loads): a run after the first merges
the new versions into the version layer instead of rebuilding it, and gives
the same marts, row for row, as a full rebuild of the same landed data,
late corrections to year-old records included."""

from __future__ import annotations

import shutil

import duckdb
import pytest

import tests.pipelines.test_reliability as reliability
from pipelines.cli import run_pipeline
from pipelines.defs.ingest.loader import load_directory
from pipelines.defs.transform.dbt import plan_build, project_checksum
from pipelines.generate.generator import GenerateOptions, generate_to
from tests.conftest import late_corrections

DAY = "2026-11-30"


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    generate_to(GenerateOptions(referrals=2_000, seed=31), root / "landing", next_day=root / "day")
    corrected = late_corrections(root / "landing", root / "day", DAY)
    first = run_pipeline(root / "landing", root / "daily.duckdb", quiet=True)
    assert first.success, first.failures
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        before = dict(conn.execute(
            "select referral_id, outcome from marts.fct_referrals where referral_id in (?, ?)",
            corrected["referrals"]).fetchall())
        history_rows = conn.execute("select count(*) from intermediate.int_claims_deduplicated").fetchone()[0]
    for path in (root / "day").iterdir():
        shutil.copy(path, root / "landing")
    second = run_pipeline(root / "landing", root / "daily.duckdb", quiet=True)
    assert second.success, second.failures
    # the reference: everything landed at once and built in full
    full = run_pipeline(root / "landing", root / "full.duckdb", quiet=True)
    assert full.success, full.failures
    return root, corrected, before, history_rows


def builds(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("select full_refresh, reason from raw._builds order by started_at").fetchall()


def test_the_second_run_is_incremental_and_the_reference_is_full(daily):
    root, *_ = daily
    assert builds(root / "daily.duckdb") == [(True, "first build on duckdb"),
                                             (False, "new versions merge into the version layer")]
    assert builds(root / "full.duckdb") == [(True, "first build on duckdb")]


def test_incremental_marts_equal_a_full_rebuild_row_for_row(daily):
    root, *_ = daily
    # patient_key differs only because each warehouse has its own secret
    assert reliability.mart_differences(root / "full.duckdb", root / "daily.duckdb") == {}
    with duckdb.connect() as conn:
        conn.execute("attach ? as f (read_only)", [str(root / "full.duckdb")])
        conn.execute("attach ? as d (read_only)", [str(root / "daily.duckdb")])
        for table in ("int_referrals_deduplicated", "int_claims_deduplicated", "int_appointments_deduplicated",
                      "int_referral_events_deduplicated", "int_engagements_deduplicated"):
            only = [conn.execute(f"select count(*) from (select * exclude (loaded_at) from {x}.intermediate.{table} "
                                 f"except all select * exclude (loaded_at) from {y}.intermediate.{table})").fetchone()[0]
                    for x, y in (("f", "d"), ("d", "f"))]
            assert only == [0, 0], table


def test_late_corrections_to_year_old_records_change_the_marts(daily):
    root, corrected, before, history_rows = daily
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        in_error, completed = corrected["referrals"]
        # entered in error: no longer an eligible referral
        assert before.get(in_error) is not None
        assert conn.execute("select count(*) from marts.fct_referrals where referral_id = ?", [in_error]).fetchone()[0] == 0
        assert conn.execute("select referral_status from marts.fct_referrals where referral_id = ?",
                            [completed]).fetchone()[0] == "completed"
        reversed_lines = conn.execute(
            "select count(*) from intermediate.int_claims_deduplicated where claim_id in (?, ?, ?) "
            "and claim_status = 'reversed'", corrected["claims"]).fetchone()[0]
        assert reversed_lines == 3
        statuses = conn.execute("select appointment_id, status from marts.fct_appointments where appointment_id in (?, ?) "
                                "order by 1", corrected["appointments"]).fetchall()
        assert [s for _, s in statuses] == ["fulfilled", "noshow"]
        # merged, not appended: one row per claim line still
        lines = conn.execute("select count(*), count(distinct (claim_id, line_number)) "
                             "from intermediate.int_claims_deduplicated").fetchone()
        assert lines[0] == lines[1] > history_rows


def test_a_re_sent_file_makes_the_next_build_full(daily, tmp_path):
    """A re-sent file takes its earlier versions out of the landed tables, so
    the version layer may hold a version that is gone: the next build is full
    (and a full build is the first build, checked everywhere else)."""
    root, corrected, _, _ = daily
    warehouse = tmp_path / "resent.duckdb"
    shutil.copy(root / "daily.duckdb", warehouse)
    landing = tmp_path / "landing"
    shutil.copytree(root / "landing", landing)
    corrections = landing / f"referrals_{DAY}-corrections.csv"
    lines = corrections.read_text().splitlines()
    corrections.write_text("\n".join(lines[:2]) + "\n")      # the second correction withdrawn
    with duckdb.connect(str(warehouse)) as conn:
        vars_json, checksum = conn.execute(
            "select vars, project_checksum from raw._builds order by started_at desc limit 1").fetchone()
        assert checksum == project_checksum()
        assert plan_build(conn, "duckdb", vars_json, checksum) == (False, "new versions merge into the version layer")
        results = load_directory(conn, landing, "resend")
        assert [(r.file_name, r.status) for r in results if r.status != "unchanged"] == [
            (corrections.name, "loaded")]
        assert conn.execute("select status from raw.referrals where referral_id = ? order by updated_at desc "
                            "limit 1", [corrected["referrals"][1]]).fetchone()[0] == "active"
        assert plan_build(conn, "duckdb", vars_json, checksum) == (
            True, f"{corrections.name} was re-sent and replaced versions landed earlier")
        assert plan_build(conn, "duckdb", '{"attribution_window_days": 90}', checksum) == (
            True, "parameters changed since the last build")
        assert plan_build(conn, "duckdb", vars_json, "0" * 64) == (True, "the dbt project changed since the last build")
        assert plan_build(conn, "spark", vars_json, checksum) == (True, "first build on spark")
        assert plan_build(conn, "duckdb", vars_json, checksum, asked=True) == (True, "full refresh asked for")
