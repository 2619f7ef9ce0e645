"""Run every dbt unit test (the SQL rules pinned on hand-made inputs) against
a built warehouse. Production builds skip them; this is where they run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import yaml

from pipelines.defs.transform.dbt import DBT_EXECUTABLE
from pipelines.paths import DBT_PROJECT_DIR


def defined_unit_tests() -> set[str]:
    names = set()
    for path in DBT_PROJECT_DIR.joinpath("models").rglob("*.yml"):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            names.add(test["name"])
    return names


def test_every_dbt_unit_test_passes(built_warehouse, tmp_path):
    warehouse = tmp_path / "unit.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    done = subprocess.run(
        [str(DBT_EXECUTABLE), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "REFLOOP_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    assert done.returncode == 0, output[-4000:]
    expected = defined_unit_tests()
    assert len(expected) >= 20
    passed = set(re.findall(r"PASS \S+::(\S+)", output))
    assert passed == expected
