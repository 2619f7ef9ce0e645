"""Shared fixtures: hand-made extract files, and generated warehouses built
through the real pipeline (Dagster + dbt + publish) once per test session,
for all of pytest-xdist's workers together."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

from pipelines.cli import RunSummary, run_pipeline
from pipelines.defs.quality.store import quality_path
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


def copy_built(built: Built, landing: Path, warehouse: Path) -> Built:
    """A copy of a built warehouse, its published copy and its quality copy at
    `warehouse`, for a test to build on (`landing` holds the same files)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    for source, target in ((built.warehouse, warehouse), (built.serving, Built(landing, warehouse, None).serving),
                           (quality_path(built.warehouse), quality_path(warehouse))):
        shutil.copy(source, target)
    return Built(landing, warehouse, built.summary)


def shared(tmp_path_factory, name: str, make: Callable[[Path], object]) -> tuple[Path, object]:
    """`make(folder)` once for the whole session: the first worker to ask
    makes it, the others wait for it and read its result. What is made here
    is only read afterwards (tests copy a warehouse before writing to it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent                     # shared by the workers of one run
    folder = base / f"shared-{name}"
    with FileLock(str(folder) + ".lock"):
        result = folder / "result.pickle"
        if not result.exists():
            folder.mkdir(exist_ok=True)
            made = make(folder)
            result.write_bytes(pickle.dumps(made))
        return folder, pickle.loads(result.read_bytes())


@pytest.fixture(scope="session", autouse=True)
def checks_in_the_test_process():
    """A run a test starts in its own process validates there, as a run does
    in a process that has imported Great Expectations already
    (`suites.start_worker`): one import per test process, not a checks'
    process and its import (3 s of CPU) for every run. The checks' process
    itself is tested in test_quality, and every `refloop run` a test starts
    as a command uses it."""
    from pipelines.defs.quality import suites

    original = suites.start_worker

    def start_worker() -> bool:
        suites._import_great_expectations()
        return original()

    suites.start_worker = start_worker
    yield
    suites.start_worker = original


@pytest.fixture(scope="session")
def generated_extracts(tmp_path_factory) -> Path:
    folder, _ = shared(tmp_path_factory, "generated", lambda folder: generate_to(DEFAULT_SAMPLE, folder / "landing"))
    return folder / "landing"


@pytest.fixture(scope="session")
def built_warehouse(generated_extracts, tmp_path_factory) -> Built:
    folder, summary = shared(tmp_path_factory, "warehouse",
                             lambda folder: run_pipeline(generated_extracts, folder / "refloop.duckdb", quiet=True))
    assert summary.success, summary.failures
    return Built(generated_extracts, folder / "refloop.duckdb", summary)


@pytest.fixture(scope="session")
def dirty_warehouse(tmp_path_factory) -> Built:
    """A small sample with every warning-level defect of `refloop generate --dirty` seeded;
    also the set the tests that rebuild with another var start from (a
    changed var rebuilds in full, cheaper here than on the default sample)."""
    def make(folder: Path) -> RunSummary:
        generate_to(GenerateOptions(referrals=3_000, seed=11, dirty="warn"), folder / "landing")
        return run_pipeline(folder / "landing", folder / "dirty.duckdb", quiet=True)

    folder, summary = shared(tmp_path_factory, "dirty", make)
    return Built(folder / "landing", folder / "dirty.duckdb", summary)
