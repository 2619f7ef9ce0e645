"""Shared fixtures: hand-made extract files, and one generated warehouse built
once per session through the real pipeline (Dagster + dbt + publish)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import RunSummary, run_pipeline
from pipelines.generate.generator import GenerateOptions, generate_to

# The default sample (`refloop generate` with no options): what a new user sees.
DEFAULT_SAMPLE = GenerateOptions()

# Test runs use an ephemeral Dagster instance, never a developer's .dagster/.
os.environ.pop("DAGSTER_HOME", None)


def write(directory: Path, name: str, text: str | bytes) -> Path:
    """Write an extract file; `.gz` names are gzip-compressed."""
    directory.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    path = directory / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


class Built:
    def __init__(self, extracts: Path, warehouse: Path, summary: RunSummary):
        self.extracts, self.warehouse, self.summary = extracts, warehouse, summary

    @property
    def serving(self) -> Path:
        return self.warehouse.with_name(self.warehouse.stem + ".serving.duckdb")

    def query(self, sql: str, params: list | None = None, serving: bool = False) -> list[tuple]:
        with duckdb.connect(str(self.serving if serving else self.warehouse), read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | None = None, serving: bool = False):
        return self.query(sql, params, serving)[0][0]


def build(extracts: Path, warehouse: Path, dbt_vars: dict[str, str] | None = None) -> Built:
    summary = run_pipeline(extracts, warehouse, dbt_vars, quiet=True)
    return Built(extracts, warehouse, summary)


@pytest.fixture(scope="session")
def generated_extracts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "landing"
    generate_to(DEFAULT_SAMPLE, out)
    return out


@pytest.fixture(scope="session")
def built_warehouse(generated_extracts, tmp_path_factory) -> Built:
    built = build(generated_extracts, tmp_path_factory.mktemp("warehouse") / "refloop.duckdb")
    assert built.summary.success, built.summary.failures
    return built


@pytest.fixture(scope="session")
def dirty_warehouse(tmp_path_factory) -> Built:
    """A small sample with every warning-level defect of `refloop generate --dirty` seeded."""
    root = tmp_path_factory.mktemp("dirty")
    generate_to(GenerateOptions(referrals=3_000, seed=11, dirty="warn"), root / "landing")
    return build(root / "landing", root / "dirty.duckdb")


def late_corrections(history: Path, out: Path, day: str, month: str = "2025-06") -> dict[str, list[str]]:
    """Change files dated `day` that correct records from a year and more
    before: paid claim lines reversed, a referral entered in error, another
    completed, booked appointments marked attended and no-show. They must
    change old months' numbers. Returns the corrected ids per entity."""
    def month_file(entity: str) -> pl.DataFrame:
        [path] = history.glob(f"{entity}_{month}-*")
        return pl.read_csv(path, infer_schema=False)

    claims = month_file("claims").filter(pl.col("claim_status") == "paid").sort("claim_id", "line_number").head(3)
    claims = claims.with_columns(pl.lit("reversed").alias("claim_status"), pl.lit("0.0").alias("allowed_amount"),
                                 pl.lit("0.0").alias("paid_amount"), pl.lit(f"{day}T11:00:00").alias("updated_at"))
    referrals = month_file("referrals").filter(pl.col("status") == "active").sort("referral_id").head(2)
    referrals = referrals.with_columns(pl.Series("status", ["entered-in-error", "completed"]),
                                       pl.lit(f"{day}T11:05:00").alias("updated_at"))
    appointments = month_file("appointments").filter(pl.col("status") == "booked").sort("appointment_id").tail(2)
    appointments = appointments.with_columns(pl.Series("status", ["fulfilled", "noshow"]),
                                             pl.lit(f"{day} 11:10:00").alias("updated_at"))
    out.mkdir(parents=True, exist_ok=True)
    claims.write_csv(out / f"claims_{day}-corrections.csv")
    referrals.write_csv(out / f"referrals_{day}-corrections.csv")
    appointments.write_csv(out / f"appointments_{day}-corrections.csv")
    return {"claims": claims["claim_id"].to_list(), "referrals": referrals["referral_id"].to_list(),
            "appointments": appointments["appointment_id"].to_list()}
