"""No source patient id, name or date of birth (nor the warehouse key) leaves
the warehouse's private schemas: a run over extracts that carry names and
dates of birth is scanned everywhere its output goes."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.defs.quality.store import quality_path
from pipelines.generate.generator import GenerateOptions, generate_to
from pipelines.paths import DBT_PROJECT_DIR, ROOT, serving_path

REFLOOP = [sys.executable, "-m", "pipelines.cli"]
EXECUTIVE_PAGES = ["overview", "leakage", "turnaround", "program", "outreach", "cms50", "quality"]


def add_phi(landing: Path) -> dict[str, set[str]]:
    """Give every patient a name and a date of birth (extra columns, as a real
    registration extract would), name the patient on referrals too, and add a
    bad row carrying them (rejected, so its record is kept in raw._rejects)."""
    patients_file = next(landing.glob("patients*"))
    patients = pl.read_csv(patients_file, infer_schema=False)
    n = patients.height
    patients = patients.with_columns(
        pl.Series("first_name", [f"Quillon{i}" for i in range(n)]),
        pl.Series("last_name", [f"Marrowgate{i}" for i in range(n)]),
        pl.Series("date_of_birth", [f"{b}-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}"
                                    for i, b in enumerate(patients["birth_year"].fill_null("1950"))]),
    )
    patients.write_csv(patients_file)
    names = dict(zip(patients["patient_id"], patients["first_name"] + " " + patients["last_name"], strict=True))
    for path in sorted(landing.glob("referrals_*.csv*"))[:3]:
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.with_columns(pl.col("patient_id").replace_strict(names, default="Unknown Person").alias("patient_name"))
        bad = frame.head(1).with_columns(pl.lit("not-a-date").alias("created_at"))
        text = pl.concat([frame, bad]).write_csv()
        path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return {
        "patient ids": set(patients["patient_id"]),
        "names": set(patients["first_name"]) | set(patients["last_name"]),
        "dates of birth": set(patients["date_of_birth"]),
    }


def find(text: str, secrets: dict[str, set[str]]) -> dict[str, list[str]]:
    tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
    found = {kind: sorted(values & tokens)[:5] for kind, values in secrets.items() if kind != "dates of birth"}
    found["dates of birth"] = sorted(set(re.findall(r"\b(?:19|20)\d\d-\d\d-\d\d\b", text)) & secrets["dates of birth"])[:5]
    return {kind: hits for kind, hits in found.items() if hits}


def database_text(path: Path) -> str:
    """Every value of every table (and every table and column name) as text."""
    parts = []
    with duckdb.connect(str(path), read_only=True) as conn:
        for schema, table in conn.execute("select schema_name, table_name from duckdb_tables() union all "
                                          "select schema_name, view_name from duckdb_views() where not internal"
                                          ).fetchall():
            relation = conn.sql(f'select columns(*)::varchar from "{schema}"."{table}"')
            parts.append(f"{schema}.{table} {' '.join(relation.columns)}")
            parts.extend(" ".join(v or "" for v in row) for row in relation.fetchall())
    return "\n".join(parts)


@pytest.fixture(scope="module")
def phi_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("phi")
    landing = root / "landing"
    generate_to(GenerateOptions(referrals=2_000, seed=21), landing)
    secrets = add_phi(landing)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    warehouse = root / "refloop.duckdb"
    started = time.time()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    run = subprocess.run([*REFLOOP, "run", "--extracts", str(landing), "--warehouse", str(warehouse)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    quality = subprocess.run([*REFLOOP, "quality", "--warehouse", str(warehouse), "--all"],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    export = root / "export"
    exported = subprocess.run([*REFLOOP, "export", "--warehouse", str(warehouse), "--format", "csv", "--out", str(export)],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert exported.returncode == 0, exported.stderr
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        key = conn.execute("select secret from raw._warehouse_key").fetchone()[0]
        # the names really reached the warehouse's private schema: the scan below is not vacuous
        assert conn.execute("select count(*) from raw.patients where _extra::varchar like '%Quillon%'").fetchone()[0] > 0
        assert conn.execute("select count(*) from raw._rejects where record like '%MRN%'").fetchone()[0] > 0
    secrets["the warehouse key"] = {key}
    return {"root": root, "warehouse": warehouse, "home": home, "export": export, "secrets": secrets,
            "outputs": run.stdout + run.stderr + quality.stdout + quality.stderr + exported.stdout + exported.stderr,
            "started": started}


def test_run_output_and_error_messages_name_no_patient(phi_run):
    assert "rejected" in phi_run["outputs"]                 # the bad rows were reported...
    assert find(phi_run["outputs"], phi_run["secrets"]) == {}   # ...without what they held


def test_dagster_event_log_and_dbt_logs_hold_no_patient_data(phi_run):
    texts = []
    for path in phi_run["home"].rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert sum(len(t) for t in texts) > 10_000               # the run's events were stored
    for folder in (DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs"):
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file() and path.stat().st_mtime >= phi_run["started"] and path.stat().st_size < 50_000_000:
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert find("\n".join(texts), phi_run["secrets"]) == {}


def test_published_quality_and_exported_copies_hold_no_patient_data(phi_run):
    warehouse = phi_run["warehouse"]
    # the scanner finds every kind in the private warehouse itself...
    assert set(find(database_text(warehouse), phi_run["secrets"])) == set(phi_run["secrets"])
    # ...and none of them in what is published
    assert find(database_text(serving_path(warehouse)), phi_run["secrets"]) == {}
    assert find(database_text(quality_path(warehouse)), phi_run["secrets"]) == {}
    exported = "\n".join(p.read_text() for p in phi_run["export"].rglob("*.csv"))
    assert "patient_key" in exported
    assert find(exported, phi_run["secrets"]) == {}


def test_executive_page_downloads_hold_no_patient_data(phi_run, monkeypatch):
    from dashboards.components import frame

    downloads: list[str] = []
    monkeypatch.setattr(frame, "download", lambda data, name: downloads.append(data.to_csv(index=False)))
    monkeypatch.setenv("REFLOOP_SERVING", str(serving_path(phi_run["warehouse"])))
    monkeypatch.setenv("REFLOOP_QUALITY", str(quality_path(phi_run["warehouse"])))
    monkeypatch.delenv("REFLOOP_COORDINATOR_ACCESS", raising=False)
    for page in EXECUTIVE_PAGES:
        at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=90)
        at.run()
        if page != "overview":
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])
    assert len(downloads) >= 20
    assert find("\n".join(downloads), phi_run["secrets"]) == {}


def test_each_warehouse_makes_its_own_key(phi_run, built_warehouse):
    keys = set()
    for warehouse in (phi_run["warehouse"], built_warehouse.warehouse):
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            keys.add(conn.execute("select secret from raw._warehouse_key").fetchone()[0])
    assert len(keys) == 2 and all(len(k) == 64 for k in keys)
    tracked = subprocess.run(["git", "grep", "-I", "-l", *[arg for k in keys for arg in ("-e", k)]],
                             cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""                               # never committed
