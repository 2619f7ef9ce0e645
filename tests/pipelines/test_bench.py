"""`refloop bench` measures every stage and every dashboard page (figures are
printed, never asserted against a clock)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipelines.bench import STAGES, generate_cached, history_files, last_build_results
from pipelines.paths import DBT_PROJECT_DIR


def test_bench_reports_every_stage_page_and_query(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "--referrals", "1500", "--months", "6", "--cache", str(tmp_path / "cache"),
         "--repeats", "2", "--sessions", "3", "--daily-runs", "2", "--history-months", "4",
         "--growth-from-months", "2", "--out", str(out)],
        # a guard against a hang, not a speed check: about 7 minutes under `make test`,
        # 10 on a machine half as fast (its 600 s guard failed there once)
        capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["referrals"] == 1500 and report["months"] == 6 and report["history_months"] == 4
    assert "over 6 months, the last 4 landed" in done.stdout
    assert set(STAGES.values()) | {"generate", "full run (ingest -> publish)"} == set(report["stages"])
    assert all(stage["seconds"] > 0 for stage in report["stages"].values())
    assert report["stages"]["generate"]["peak_mib"] > 0
    full = report["stages"]["full run (ingest -> publish)"]
    assert full["peak_mib"] >= full["pipeline_process_peak_mib"] > 0 and full["dbt_process_peak_mib"] > 0
    assert report["ingest_rows_per_second"] > 0
    # the last 4 months of the history landed, and every row of their files
    (landing,) = (tmp_path / "cache").glob("*/landing")
    landed = sorted(path.name for path in (landing.parent / "run" / "landing").iterdir())
    history = sorted(path.name for path in landing.iterdir())
    next_day = sorted(path.name for path in (landing.parent / "next-day").iterdir())
    assert set(next_day) < set(landed) and set(landed) - set(next_day) < set(history)
    assert {name for name in history if name.startswith(("patients_", "providers_", "slots_"))} < set(landed)
    assert {name.rsplit("_", 1)[1][:7] for name in landed if name.startswith("claims_")} == {
        "2026-08", "2026-09", "2026-10", "2026-11"}
    referral_files = [str(landing / name) for name in landed if name.startswith("referrals_") and name not in next_day]
    in_files = duckdb.sql(f"select count(*) from read_csv({referral_files}, all_varchar = true)").fetchall()[0][0]
    assert report["rows"]["referrals"] == in_files < duckdb.sql(
        f"select count(*) from read_csv('{landing}/referrals_*.csv*', all_varchar = true)").fetchall()[0][0]
    direct = report["direct_sql"]
    assert direct["models"] >= 50 and direct["tests"] >= 50 and direct["direct_seconds"] > 0 and direct["ratio"] > 0
    assert set(report["pages"]) == {"overview", "leakage", "turnaround", "program", "outreach", "cms50", "queue", "quality"}
    for figures in [*report["pages"].values(), *report["queries"].values()]:
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] and figures["runs"] >= 2
    assert "dashboard page" in done.stdout and "overhead x" in done.stdout
    # page loads over real HTTP/WebSocket, idle and with 3 sessions while a run writes
    load = report["under_load"]
    assert load["sessions"] == 3 and load["run_succeeded"] and load["errors"] == []
    assert set(load["pages"]) == set(load["idle"]) and len(load["pages"]) >= 7
    assert all(page["loads"] == 3 and page["p50_s"] > 0 for page in load["pages"].values())
    assert "concurrent sessions while a pipeline run writes" in done.stdout
    # the held-out day, run incrementally
    daily = report["daily"]
    assert daily["incremental"] and daily["reason"] == "new versions merge into the version layer"
    assert 0 < daily["rows_loaded"] and 0 < daily["share_of_history"] < 0.05 and daily["seconds"] > 0
    assert {"ingest", "dbt build", "publish"} <= set(daily["steps"])
    # run twice from the same full build: the same day lands, incrementally, each time
    runs = daily["runs"]
    assert [(r["rows_loaded"], r["incremental"]) for r in runs] == [(daily["rows_loaded"], True)] * 2
    assert daily["seconds"] in [r["seconds"] for r in runs] and "median of 2 runs" in done.stdout
    assert not list((tmp_path / "cache").glob("*/run*/before-daily"))
    # the same next day over the set's last 2 months too, built in full beside it, the daily runs alternated
    growth = report["history_growth"]
    shorter, longer = growth["shorter"], growth["longer"]
    assert (shorter["history"], longer["history"], growth["rounds"]) == ("the last 2 months", "the last 4 months", 2)
    assert longer["daily_seconds"] == daily["seconds"] and longer["runs"] == [r["seconds"] for r in runs]
    assert 0 < shorter["landed_rows"] < longer["landed_rows"] and len(shorter["runs"]) == 2
    assert shorter["daily_seconds"] in shorter["runs"] and 0 < shorter["scope_referrals"] <= longer["scope_referrals"]
    assert growth["seconds_per_million_landed_rows"] == pytest.approx(
        (longer["daily_seconds"] - shorter["daily_seconds"]) / ((longer["landed_rows"] - shorter["landed_rows"]) / 1e6))
    short_landed = sorted(path.name for path in (landing.parent / "run-shorter" / "landing").iterdir())
    assert set(next_day) < set(short_landed) and {
        name.rsplit("_", 1)[1][:7] for name in short_landed if name.startswith("claims_")} == {"2026-10", "2026-11"}
    assert "daily run and the history (the same next day, 2 alternated rounds" in done.stdout
    assert f"{growth['seconds_per_million_landed_rows']:+.2f} s per million" in done.stdout
    # what the daily build computed again, and where dbt's threads spent their time
    scope = daily["scope"]
    assert 0 < scope["referrals"] < scope["of_referrals"] and 1 <= scope["months"] <= scope["of_months"] <= 7
    assert f"recomputed {scope['referrals']:,} of {scope['of_referrals']:,} referrals" in done.stdout
    spent = daily["dbt_thread_seconds"]
    assert set(spent) == {"incremental models", "tables rebuilt whole", "views", "tests"}
    assert spent["incremental models"] > 0 and spent["tables rebuilt whole"] > 0 and spent["tests"] > 0
    assert spent["views"] == 0    # the daily build leaves the views as they are
    assert "dbt thread time: incremental models" in done.stdout
    assert "daily run (one more extract day" in done.stdout
    # The data set is cached: the next bench of the same size does not generate again.
    landing, seconds, _ = generate_cached(1500, 7, tmp_path / "cache", months=6)
    assert seconds == 0 and any(landing.glob("referrals_*"))
    # the referrals span the months asked for
    first, last = duckdb.sql(f"select min(created_at), max(created_at) from read_csv('{landing}/referrals_*.csv*', "
                             "all_varchar = true)").fetchall()[0]
    assert "2026-05-31" <= first and last <= "2026-11-30"


def test_the_growth_history_must_be_shorter_than_the_one_landed():
    for extra in (["--growth-from-months", "6"], ["--history-months", "4", "--growth-from-months", "4"]):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "bench", "--referrals", "1500", "--months", "6",
                               *extra], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "is not a shorter history than the" in done.stderr


def test_a_shorter_history_keeps_the_snapshots_and_the_last_months(tmp_path):
    names = ["patients_2026-11-30.csv", "providers_2026-11-30.csv", "slots_2026-11-30.csv",
             "referrals_2026-09-30.csv", "referrals_2026-10-31.csv", "referrals_2026-11-29.csv",
             "claims_2026-09-30.csv.gz", "claims_2026-10-31.csv.gz", "claims_2026-11-29.csv.gz",
             "referral_events_2026-10-31.csv", "referral_events_2026-11-29.csv"]
    for name in names:
        (tmp_path / name).write_text("")
    assert [path.name for path in history_files(tmp_path)] == sorted(names)
    assert [path.name for path in history_files(tmp_path, 2)] == sorted(
        name for name in names if "2026-09-30" not in name)
    assert [path.name for path in history_files(tmp_path, 1)] == [
        "claims_2026-11-29.csv.gz", "patients_2026-11-30.csv", "providers_2026-11-30.csv",
        "referral_events_2026-11-29.csv", "referrals_2026-11-29.csv", "slots_2026-11-30.csv"]


def test_the_direct_sql_floor_times_the_warehouses_own_build(built_warehouse):
    """Not the newest build folder: under `make test` (or beside a scheduled
    run) another process's build may have finished since."""
    decoy = DBT_PROJECT_DIR / "target" / "refloop_dbt-decoy000-0000000"
    decoy.mkdir(parents=True)
    try:
        (decoy / "run_results.json").write_text('{"results": []}')
        found = last_build_results(built_warehouse.warehouse)
    finally:
        shutil.rmtree(decoy)
    run_id = built_warehouse.scalar("select run_id from raw._builds order by started_at desc limit 1")
    assert found.parent.name.startswith(f"refloop_dbt-{run_id[:8]}-")
    built = {result["unique_id"] for result in json.loads(found.read_text())["results"]}
    assert "model.refloop.fct_referrals" in built
