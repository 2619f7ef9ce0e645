"""The analysts' warehouse: `refloop sql`, `refloop export`, `refloop docs`,
read-only, on a generated warehouse."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import duckdb
import polars as pl
import yaml

from pipelines.paths import DBT_PROJECT_DIR

REFLOOP = [sys.executable, "-m", "pipelines.cli"]


def refloop(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*REFLOOP, *args], capture_output=True, text=True, input=stdin, timeout=timeout)


def test_sql_prints_a_query_and_writes_csv_and_parquet(built_warehouse, tmp_path):
    wh = str(built_warehouse.warehouse)
    referrals = built_warehouse.scalar("select count(*) from marts.fct_referrals", serving=True)
    done = refloop("sql", "--warehouse", wh, "select count(*) as n from marts.fct_referrals")
    assert done.returncode == 0, done.stderr
    assert f"{referrals}" in done.stdout and "│" in done.stdout

    csv, parquet = tmp_path / "out.csv", tmp_path / "out.parquet"
    query = "select referral_id, outcome from marts.fct_referrals order by referral_id;"
    assert refloop("sql", "--warehouse", wh, query, "--csv", str(csv)).returncode == 0
    assert refloop("sql", "--warehouse", wh, query, "--parquet", str(parquet)).returncode == 0
    from_csv, from_parquet = pl.read_csv(csv), pl.read_parquet(parquet)
    assert from_csv.height == from_parquet.height == referrals
    assert from_csv["referral_id"].to_list() == from_parquet["referral_id"].to_list()


def test_sql_is_read_only_and_explains_errors(built_warehouse):
    wh = str(built_warehouse.warehouse)
    before = built_warehouse.serving.stat().st_mtime_ns
    done = refloop("sql", "--warehouse", wh, "create table marts.scratch as select 1")
    assert done.returncode == 2 and "read-only" in done.stderr.lower()
    assert refloop("sql", "--warehouse", wh, "delete from marts.fct_referrals").returncode == 2
    assert built_warehouse.scalar("select count(*) from duckdb_tables() where table_name = 'scratch'", serving=True) == 0
    assert built_warehouse.serving.stat().st_mtime_ns == before
    missing = refloop("sql", "--warehouse", "/nowhere/refloop.duckdb", "select 1")
    assert missing.returncode == 2 and "refloop run" in missing.stderr
    # The published copy holds no raw data; --full reads the warehouse itself.
    assert refloop("sql", "--warehouse", wh, "select count(*) from raw.referrals").returncode == 2
    full = refloop("sql", "--warehouse", wh, "--full", "select count(*) as landed from raw.referrals")
    assert full.returncode == 0 and "landed" in full.stdout


def test_sql_shell_runs_multi_line_statements(built_warehouse):
    script = ".tables\nselect count(*) as n\n  from marts.cms50_referral_loop;\nselect nope;\n.quit\n"
    done = refloop("sql", "--warehouse", str(built_warehouse.warehouse), stdin=script)
    assert done.returncode == 0
    assert "fct_referrals" in done.stdout                          # .tables
    years = built_warehouse.scalar("select count(*) from marts.cms50_referral_loop", serving=True)
    assert re.search(rf"│\s+{years}\s+│", done.stdout)
    assert "error:" in done.stdout and "nope" in done.stdout       # a bad statement does not end the shell


def test_export_writes_every_mart_as_parquet(built_warehouse, tmp_path):
    out = tmp_path / "lake"
    done = refloop("export", "--warehouse", str(built_warehouse.warehouse), "--format", "parquet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    marts = dict(built_warehouse.query(
        "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts' "
        "union all select view_name, null from duckdb_views() where schema_name = 'marts'", serving=True))
    assert "referral_queue" in marts
    assert {p.stem for p in out.glob("*.parquet")} == set(marts)
    for table in marts:
        exported = pl.read_parquet(out / f"{table}.parquet")
        assert exported.height == built_warehouse.scalar(f"select count(*) from marts.{table}", serving=True)
    with duckdb.connect() as conn:
        columns = [r[0] for r in conn.execute("describe select * from read_parquet(?)",
                                              [str(out / "fct_referrals.parquet")]).fetchall()]
    assert "patient_key" in columns and "patient_id" not in columns


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docs_site_describes_every_mart_metric_and_dashboard(built_warehouse, tmp_path):
    site = tmp_path / "site"
    port = _free_port()
    server = subprocess.Popen([*REFLOOP, "docs", "--warehouse", str(built_warehouse.warehouse), "--out", str(site),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as response:
                    assert response.status == 200 and b"dbt" in response.read().lower()
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "docs server did not start"
                time.sleep(1)
        catalog = json.loads((site / "catalog.json").read_text())
        manifest = json.loads((site / "manifest.json").read_text())
    finally:
        server.terminate()
        server.wait(timeout=10)

    interface = yaml.safe_load((DBT_PROJECT_DIR / "public_interface.yml").read_text())
    documented = {n["name"]: n for n in manifest["nodes"].values()
                  if n["resource_type"] == "model" and n["schema"] == "marts"}
    in_catalog = {n["metadata"]["name"]: n for n in catalog["nodes"].values() if n["metadata"]["schema"] == "marts"}
    assert set(documented) == set(interface) == set(in_catalog)
    for name, node in documented.items():
        assert node["description"]
        for column, meta in node["columns"].items():
            assert meta["description"], f"{name}.{column}"
        assert set(node["columns"]) == {c.lower() for c in in_catalog[name]["columns"]}
    # Metric columns carry the metric's definition, from one docs block wherever they appear.
    for name in ("agg_referrals_monthly", "agg_referrals_by_payer", "agg_referrals_by_practice"):
        description = documented[name]["columns"]["completion_rate"]["description"]
        assert description.startswith("**Completion rate**") and "docs/metrics.md" in description
    assert documented["fct_referrals"]["columns"]["outcome"]["description"].startswith("**Outcome**")
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert exposures == {f"dashboard_{p}" for p in ("overview", "leakage", "turnaround", "program", "outreach",
                                                      "cms50", "queue", "quality")}
