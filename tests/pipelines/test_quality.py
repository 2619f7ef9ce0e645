"""Data quality: Great Expectations suites run by Dagster as asset checks
catch each seeded defect, pass on clean data, stop publication on an error,
and leave their results in the warehouse and its quality copy."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import run_pipeline
from pipelines.contract import npi_check_digit_ok
from pipelines.defs.quality.checks import (
    COMPLETENESS,
    CONFORMANCE,
    FRESHNESS,
    PLAUSIBILITY,
    _luhn_sql,
    judges_new_rows,
    landed_checks,
    mart_checks,
)
from pipelines.defs.quality.store import quality_path
from pipelines.defs.transform.dbt import DBT_EXECUTABLE
from pipelines.generate.dirty import DEFECTS
from pipelines.generate.generator import GenerateOptions, generate_to
from pipelines.paths import DBT_PROJECT_DIR
from tests.conftest import build, copy_built

REFLOOP = [sys.executable, "-m", "pipelines.cli"]
SMALL = 3_000


def results(warehouse: Path, where: str = "true", params: list | None = None) -> list[dict]:
    with duckdb.connect(str(quality_path(warehouse)), read_only=True) as conn:
        cursor = conn.execute(f"select * from quality.check_results where {where}", params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def latest_run(warehouse: Path) -> list[dict]:
    return results(warehouse, "run_id = (select run_id from quality.check_results order by checked_at desc limit 1)")


def published_run(serving: Path) -> str:
    with duckdb.connect(str(serving), read_only=True) as conn:
        return conn.execute("select run_id from meta.publication").fetchone()[0]


@pytest.fixture(scope="module")
def small_clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "landing"
    generate_to(GenerateOptions(referrals=SMALL, seed=11), out)
    return out


@pytest.fixture(scope="module")
def small_clean_built(small_clean, tmp_path_factory):
    """small_clean built once; tests take a copy of the warehouse and its published copies."""
    built = build(small_clean, tmp_path_factory.mktemp("clean_built") / "refloop.duckdb")
    assert built.summary.success and built.summary.published
    return built


def test_luhn_rule_in_sql_agrees_with_the_contract():
    rng = random.Random(3)
    npis = [str(rng.randrange(10**9, 10**10)) for _ in range(3000)]
    npis += ["1234567893", "123456789", "12345678930", "12345678a3", "1234567893.0", ""]
    with duckdb.connect() as conn:
        conn.execute("create table t as select unnest(?::varchar[]) as npi", [npis])
        sql = _luhn_sql("npi").replace("{{", "{").replace("}}", "}")
        got = dict(conn.execute(f"select npi, {sql} from t").fetchall())
    assert sum(npi_check_digit_ok(n) for n in npis) > 250          # both outcomes are exercised
    assert all(bool(got[n]) == npi_check_digit_ok(n) for n in npis)


def test_check_catalog_covers_every_family_and_entity():
    checks = landed_checks()
    assert {c.family for c in checks} == {CONFORMANCE, COMPLETENESS, PLAUSIBILITY, FRESHNESS}
    names = [c.name for c in checks + mart_checks()]
    assert len(names) == len(set(names))
    for entity in ("referrals", "appointments", "claims", "providers", "patients", "engagements"):
        assert f"{entity}__columns_match_contract" in names and f"{entity}__freshness" in names


def test_clean_sample_passes_every_check(built_warehouse):
    """The default sample: every GX check of the run passes, at every stage."""
    rows = latest_run(built_warehouse.warehouse)
    stages = {r["stage"] for r in rows}
    assert stages == {"landed", "dbt", "marts"}
    failed = [(r["check_name"], r["observed_value"], r["failing_sample"]) for r in rows if not r["passed"]]
    assert failed == []
    assert len([r for r in rows if r["stage"] == "landed"]) == len(landed_checks())
    assert len([r for r in rows if r["stage"] == "marts"]) == len(mart_checks())
    summary = built_warehouse.summary
    assert summary.checks == {"passed": len(landed_checks()) + len(mart_checks()), "warned": 0, "failed": 0}
    # dbt's tests land in the same table, one row per test of the build.
    assert len([r for r in rows if r["stage"] == "dbt"]) == summary.tests_passed + summary.tests_warned


def test_each_seeded_defect_is_caught_as_a_warning_and_the_build_still_publishes(dirty_warehouse):
    built = dirty_warehouse
    assert built.summary.success and built.summary.published, built.summary.failures
    landed = [r for r in latest_run(built.warehouse) if r["stage"] == "landed"]
    failing = {r["check_name"]: r for r in landed if not r["passed"]}
    # Exactly the seeded defects fail: nothing more, nothing less.
    assert set(failing) == {check for _, check in DEFECTS.values()}
    assert {r["severity"] for r in failing.values()} == {"warn"}
    assert {r["family"] for r in failing.values()} == {CONFORMANCE, COMPLETENESS, PLAUSIBILITY}
    npi = failing["referrals__referring_npi__npi_valid"]
    assert npi["failing_rows"] > 0 and 0 < npi["observed_value"] < 0.05
    assert all("_file_name=referrals_" in s and "_line_number=" in s for s in npi["failing_sample"])
    bad_npis = [s.split("referring_npi=")[1] for s in npi["failing_sample"]]
    assert bad_npis and not any(npi_check_digit_ok(n) for n in bad_npis)
    amount = failing["claims__amount_plausible"]
    assert all(float(s.split("allowed_amount=")[1]) < 0 for s in amount["failing_sample"])
    # No sample names a patient.
    assert not any("MRN" in s for r in failing.values() for s in r["failing_sample"])


WORKER_SCRIPT = r"""
import json, sys
from pathlib import Path
from pipelines.defs.quality import suites
from pipelines.defs.quality.checks import FRESHNESS, landed_checks
warehouse = Path(sys.argv[1])
# two tables' checks, with failing rows among them; freshness is left out (its
# observed value is the hours since the newest load, which moves between the two)
checks = [c for c in landed_checks() if c.table in ("raw.referrals", "raw.claims") and c.family != FRESHNESS]
assert "great_expectations" not in sys.modules
started = suites.start_worker()
there = suites.validate(warehouse, checks)
# the import happened in the checks' process, not in this one
imported_here = "great_expectations" in sys.modules
process = next(iter(suites._worker._processes.values()))
suites.stop_worker()
here = suites.run_checks(warehouse, checks)
print(json.dumps({"started": started, "imported_here": imported_here, "worker_alive": process.is_alive(),
                  "there": suites.to_json(there), "here": suites.to_json(here),
                  "samples_there": [r.sample for r in there], "samples_here": [r.sample for r in here]}))
"""


def test_the_checks_process_judges_as_this_one_would(dirty_warehouse, tmp_path):
    """A run validates in a process of its own (started as the run begins, so
    Great Expectations is imported beside ingest): the same results, failing
    samples included, as validating in the run's own process; the process
    ends with the run."""
    warehouse = tmp_path / "dirty.duckdb"
    shutil.copy(dirty_warehouse.warehouse, warehouse)
    proc = subprocess.run([sys.executable, "-c", WORKER_SCRIPT, str(warehouse)], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["started"] and not out["imported_here"] and not out["worker_alive"]
    assert out["there"] == out["here"]
    assert out["samples_there"] == out["samples_here"]
    assert any(not r["passed"] for r in json.loads(out["there"]))   # the seeded defects fail in both


def test_an_entity_with_no_new_rows_is_judged_as_great_expectations_would(dirty_warehouse, tmp_path, monkeypatch):
    """A daily run's batch of an entity that landed nothing is not validated:
    its row checks get what Great Expectations gives them on no rows."""
    from datetime import datetime

    from pipelines.defs.quality import suites

    warehouse = tmp_path / "dirty.duckdb"
    shutil.copy(dirty_warehouse.warehouse, warehouse)
    checks = [c for c in landed_checks() if c.family != FRESHNESS]   # its hours move between validations
    nothing_since = datetime(2999, 1, 1)
    shortcut = []
    monkeypatch.setattr(suites, "_nothing_landed", lambda check, f=suites._nothing_landed: shortcut.append(check) or f(check))
    skipped = suites.run_checks(warehouse, checks, since=nothing_since, read_only=True)
    assert {c.name for c in shortcut} == {c.name for c in checks if judges_new_rows(c)}   # none went to GX
    monkeypatch.setattr(suites, "_SKIP_EMPTY_BATCHES", False)
    validated = suites.run_checks(warehouse, checks, since=nothing_since, read_only=True)
    def verdicts(results):
        return {r.check.name: (r.passed, r.severity, r.observed_value, r.failing_rows, r.rows_checked, r.sample,
                               r.message) for r in results}

    assert verdicts(skipped) == verdicts(validated)
    row_checks = [r for r in skipped if judges_new_rows(r.check)]
    assert len(row_checks) > 50 and all(r.rows_checked == 0 for r in row_checks)
    # and the table checks still judge the whole table: the seeded defects fail
    assert any(not r.passed for r in skipped if not judges_new_rows(r.check))


def test_an_error_stops_publication_and_the_previous_copy_keeps_serving(small_clean_built, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_clean_built.extracts, landing)
    warehouse = tmp_path / "wh" / "refloop.duckdb"
    first = copy_built(small_clean_built, landing, warehouse)
    serving_before = published_run(first.serving)
    marts_before = first.query("select count(*), sum(out_of_network_revenue) from marts.fct_referrals")

    # A roster that went through a spreadsheet: every NPI came back as a decimal.
    roster = next(landing.glob("providers_*.csv"))
    mangled = pl.read_csv(roster, infer_schema=False).with_columns(pl.col("npi") + ".0")
    mangled.write_csv(landing / "providers_zz_from_excel.csv")
    # and a new referral that dbt would otherwise have built into the marts
    second = build(landing, warehouse)

    assert not second.summary.success and not second.summary.published
    assert "raw/providers: providers__npi__npi_valid" in second.summary.failures
    assert second.summary.models_built == 0                      # dbt never ran on it
    assert published_run(first.serving) == serving_before         # the old copy serves
    with duckdb.connect(str(first.serving), read_only=True) as conn:
        assert conn.execute("select count(*), sum(out_of_network_revenue) from marts.fct_referrals").fetchall() \
            == marts_before
    # The quality copy is published anyway, so the failure is visible.
    error = [r for r in latest_run(warehouse) if r["severity"] == "error"]
    assert [r["check_name"] for r in error] == ["providers__npi__npi_valid"]
    # judged on the rows landed since the last build: the new file, all of it wrong
    assert error[0]["blocking"] and error[0]["observed_value"] == 1.0
    assert error[0]["rows_checked"] == error[0]["failing_rows"] == mangled.height
    assert any("npi=" in s and s.split("npi=")[1].split(",")[0].endswith(".0") for s in error[0]["failing_sample"])
    # Every run left its results.
    runs = {r["run_id"] for r in results(warehouse, "stage = 'landed'")}
    assert len(runs) == 2

    done = subprocess.run([*REFLOOP, "quality", "--warehouse", str(warehouse)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    first_line = done.stdout.splitlines()[1]
    assert first_line.startswith("ERROR") and "providers__npi__npi_valid" in first_line
    assert "1 errors" in done.stdout


def test_stale_feeds_are_flagged_and_a_daily_run_judges_the_rows_it_lands(small_clean_built, tmp_path):
    """Freshness looks at the whole table every run and never blocks. Row
    checks judge each landed row once, in the run that lands it, so a daily
    run's checks cost what its rows cost; a re-sent key and version is still
    found against the whole table; --full-refresh judges every row."""
    landing = tmp_path / "landing"
    shutil.copytree(small_clean_built.extracts, landing)
    warehouse = tmp_path / "stale.duckdb"
    copy_built(small_clean_built, landing, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update raw.claims set _loaded_at = _loaded_at - interval 20 day")
        conn.execute("update raw.providers set _loaded_at = _loaded_at - interval 200 day")
    # the only new file: one appointment re-sent as it was (same key and updated_at), two corrected
    history = pl.read_csv(sorted(landing.glob("appointments_*"))[-1], infer_schema=False)
    day = pl.concat([history.head(1),
                     history.slice(1, 2).with_columns(pl.lit("2026-12-01T09:00:00").alias("updated_at"))])
    day.write_csv(landing / "appointments_2026-12-01.csv")
    total = small_clean_built.scalar("select count(*) from raw.appointments") + 3

    again = build(landing, warehouse)
    assert again.summary.success and again.summary.published      # freshness never blocks
    latest = latest_run(warehouse)
    fresh = {r["check_name"]: r for r in latest if r["family"] == FRESHNESS}
    assert fresh["claims__freshness"]["severity"] == "warn"       # cadence: warn after 10 days, error after 35
    assert fresh["claims__freshness"]["observed_value"] == pytest.approx(480, abs=2)
    assert fresh["providers__freshness"]["severity"] == "error"   # warn 35 days, error 95
    assert fresh["referrals__freshness"]["passed"]
    visits = {r["check_name"]: r for r in latest if r["table_name"] == "raw.appointments"}
    assert visits["appointments__freshness"]["rows_checked"] == total   # table checks see the whole table
    assert visits["appointments__columns_match_contract"]["rows_checked"] == total
    assert visits["appointments__appointment_id__not_null"]["rows_checked"] == 3
    assert visits["appointments__key_unique"]["failing_rows"] == 1      # the re-sent one, found against history
    assert visits["appointments__key_unique"]["severity"] == "warn"
    assert visits["appointments__key_unique"]["observed_value"] == pytest.approx(1 / 3)

    done = subprocess.run([*REFLOOP, "quality", "--warehouse", str(warehouse)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "providers__freshness" in done.stdout

    full = run_pipeline(landing, warehouse, quiet=True, full_refresh=True)
    assert full.success, full.failures
    visits = {r["check_name"]: r for r in latest_run(warehouse) if r["table_name"] == "raw.appointments"}
    assert visits["appointments__appointment_id__not_null"]["rows_checked"] == total
    assert visits["appointments__key_unique"]["failing_rows"] == 2      # both copies of the re-sent one


def test_the_staging_tests_judge_the_rows_landed_since_the_last_build(small_clean_built, tmp_path):
    """Ingest rejects a version repeated within a file, so the dbt key tests
    of the staging views guard against a landing bug; here two duplicate
    pairs are written straight into raw.referrals, and two manifest rows whose
    counts do not add up into raw._manifest (which dbt's tests alone judge):
    one of each as if landed before the last build, one after it. On an
    incremental build every staging test judges only the rows landed since the
    last build (dbt_project.yml, data_tests; macros/get_where_subquery.sql)
    and finds the new ones; a full build judges every row and finds both.
    (dbt runs just those tests, as `dbt build` runs them in a pipeline run.)"""
    warehouse = tmp_path / "twice.duckdb"
    copy_built(small_clean_built, small_clean_built.extracts, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        last_build = conn.execute("select max(started_at) from raw._builds").fetchone()[0]
        manifest = conn.execute("select file_name from raw._manifest where entity = 'referrals' limit 1").fetchone()[0]
        for file_name, loaded_at in (("referrals_2026-12-01.csv", "now()::timestamp"),
                                     ("referrals_2020-01-01.csv", "timestamp '2020-01-01 06:00:00'")):
            for line in (2, 3):
                conn.execute(f"insert into raw.referrals select * replace ('{file_name}' as _file_name, {line} as "
                             f"_line_number, {loaded_at} as _loaded_at) from raw.referrals order by referral_id limit 1")
            conn.execute(f"insert into raw._manifest by name select * replace ('x{file_name}' as file_name, "
                         f"rows_read + 1 as rows_read, {loaded_at} as loaded_at) from raw._manifest "
                         "where file_name = ? and entity = 'referrals'", [manifest])
        assert conn.execute("select count(*) from raw.referrals where _loaded_at > ?", [last_build]).fetchone()[0] == 2
    tests = ["unique_combination_stg_extracts__referrals_referral_id__updated_at__source_file_name",
             "expression_is_true_stg_extracts__files_rows_read_rows_loaded_rows_rejected"]
    target = tmp_path / "target"
    for full_refresh, failing in (([], 1), (["--full-refresh"], 2)):
        done = subprocess.run(
            [str(DBT_EXECUTABLE), "build", *full_refresh, "--select", *tests, "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(tmp_path / "logs")],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "REFLOOP_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
        results = {r["unique_id"].split(".")[2]: (r["status"], r["failures"])
                   for r in json.loads((target / "run_results.json").read_text())["results"]
                   if r["unique_id"].startswith("test.")}
        assert done.returncode == 1 and results == {test: ("fail", failing) for test in tests}, done.stdout[-2000:]


def test_quality_html_writes_data_docs(built_warehouse, tmp_path):
    out = tmp_path / "docs"
    done = subprocess.run([*REFLOOP, "quality", "--warehouse", str(built_warehouse.warehouse), "--html", str(out)],
                          capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    index = next(out.rglob("index.html"))
    pages = "".join(p.read_text(errors="ignore") for p in out.rglob("*.html"))
    assert "raw__referrals__expectations" in index.read_text() or "raw__referrals__expectations" in pages
    assert "0 errors" in done.stdout


def test_a_dbt_warning_is_recorded_and_does_not_stop_publication(dirty_warehouse):
    """The seeded unlisted specialty code fails a warn-severity dbt test."""
    summary = dirty_warehouse.summary
    assert summary.published and summary.tests_warned >= 1 and summary.tests_failed == 0
    dbt = [r for r in latest_run(dirty_warehouse.warehouse) if r["stage"] == "dbt" and not r["passed"]]
    assert [(r["family"], r["severity"], r["table_name"], r["blocking"]) for r in dbt] == \
        [("dbt_test", "warn", "marts.fct_referrals", False)]
    assert dbt[0]["check_name"].startswith("relationships_fct_referrals_requested_specialty_code")
    assert dbt[0]["failing_rows"] > 0
