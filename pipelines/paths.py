"""Where the project's files live. Paths a user chooses come from the CLI or
environment (`REFLOOP_*`), with these as defaults."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
DATA_DIR = ROOT / "data"
DEFAULT_EXTRACTS = DATA_DIR / "landing"
DEFAULT_WAREHOUSE = DATA_DIR / "warehouse" / "refloop.duckdb"


def warehouse_path() -> Path:
    return Path(os.environ.get("REFLOOP_WAREHOUSE", DEFAULT_WAREHOUSE)).resolve()


def extracts_path() -> Path:
    return Path(os.environ.get("REFLOOP_EXTRACTS", DEFAULT_EXTRACTS)).resolve()


def serving_path(warehouse: Path) -> Path:
    """The published read-only copy that dashboards read, beside the warehouse."""
    return warehouse.with_name(warehouse.stem + ".serving.duckdb")
