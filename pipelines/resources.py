"""Dagster resources: where the extracts are and which warehouse file to build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from pipelines.paths import ROOT, serving_path


def _resolve(path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (ROOT / candidate).resolve()


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file the pipeline writes. One writer at a time:
    every asset that opens it runs in the `duckdb_warehouse` pool (limit 1),
    and each connection is closed before the next step starts."""

    path: str

    @property
    def file(self) -> Path:
        return _resolve(self.path)

    @property
    def serving_file(self) -> Path:
        return serving_path(self.file)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(self.file))
        # Rows the dbt build deleted are compacted only by the builds planned
        # to (plan_vacuum in pipelines/defs/transform/dbt.py): a checkpoint of
        # this connection would otherwise compact every table that has them.
        conn.execute("set max_vacuum_tasks = 0")
        try:
            yield conn
        finally:
            conn.close()


class ExtractsResource(ConfigurableResource):
    """The landing folder that holds the extract files."""

    directory: str

    @property
    def path(self) -> Path:
        return _resolve(self.directory)
