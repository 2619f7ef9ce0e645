"""Shared fixtures: hand-made extract files, and one generated warehouse built
once per session through the real pipeline (Dagster + dbt + publish)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import duckdb
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

