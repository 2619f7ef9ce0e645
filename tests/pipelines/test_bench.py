"""`refloop bench` measures every stage and every dashboard page (figures are
printed, never asserted against a clock)."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb

from pipelines.bench import STAGES, generate_cached


def test_bench_reports_every_stage_page_and_query(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "--referrals", "1500", "--months", "6", "--cache", str(tmp_path / "cache"),
         "--repeats", "2", "--sessions", "3", "--daily-runs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["referrals"] == 1500 and report["months"] == 6
    assert set(STAGES.values()) | {"generate", "full run (ingest -> publish)"} == set(report["stages"])
    assert all(stage["seconds"] > 0 for stage in report["stages"].values())
    assert report["stages"]["generate"]["peak_mib"] > 0
    full = report["stages"]["full run (ingest -> publish)"]
    assert full["peak_mib"] >= full["pipeline_process_peak_mib"] > 0 and full["dbt_process_peak_mib"] > 0
    assert report["rows"]["referrals"] >= 1500 and report["ingest_rows_per_second"] > 0
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
    assert not list((tmp_path / "cache").glob("*/run/before-daily"))
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
