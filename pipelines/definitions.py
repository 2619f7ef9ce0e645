"""The Dagster code location: `dagster dev` and `refloop run` load this."""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job, in_process_executor

from pipelines.defs.automation import daily_build_schedule, landing_folder_sensor
from pipelines.defs.ingest.assets import landed_extracts
from pipelines.defs.maintenance import compaction_job, weekly_compaction_schedule
from pipelines.defs.publish.assets import published_warehouse
from pipelines.defs.quality.assets import landed_quality_checks, mart_quality_checks
from pipelines.defs.transform import warm_dbt
from pipelines.defs.transform.dbt import RefloopDbtCliResource, dbt_project, refloop_dbt
from pipelines.paths import DEFAULT_EXTRACTS, DEFAULT_WAREHOUSE
from pipelines.resources import ExtractsResource, WarehouseResource

BUILD_JOB = "refloop_build"


def _setting(name: str, default: object) -> str | EnvVar:
    return EnvVar(name) if name in os.environ else str(default)


build_job = define_asset_job(
    BUILD_JOB,
    selection=AssetSelection.all(),
    description="Ingest the landing folder, build the warehouse with dbt, publish the serving copy.",
)

defs = Definitions(
    assets=[landed_extracts, refloop_dbt, published_warehouse],
    asset_checks=[landed_quality_checks, mart_quality_checks],
    jobs=[build_job, compaction_job],
    sensors=[landing_folder_sensor],
    schedules=[daily_build_schedule, weekly_compaction_schedule],
    resources={
        "warehouse": WarehouseResource(path=_setting("REFLOOP_WAREHOUSE", DEFAULT_WAREHOUSE)),
        "extracts": ExtractsResource(directory=_setting("REFLOOP_EXTRACTS", DEFAULT_EXTRACTS)),
        "dbt": RefloopDbtCliResource(project_dir=dbt_project, dbt_executable=str(warm_dbt.executable())),
    },
    # One writer to the DuckDB file at a time: steps of a run go one after another.
    executor=in_process_executor,
)
