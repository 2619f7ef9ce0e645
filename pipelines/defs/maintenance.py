"""Weekly compaction of the warehouse and its serving copy, outside the
daily build (pipelines/storage.py): a daily build leaves the rows it
replaces stored as deleted rows, because rewriting the row groups they sit
in would cost it seconds every day. This job rewrites the tables that have
become a fifth deleted rows. It takes the warehouse pool, so it never runs
beside a build. `refloop compact` does the same by hand."""

import os
from dataclasses import dataclass
from pathlib import Path

from dagster import DefaultScheduleStatus, OpExecutionContext, ScheduleDefinition, in_process_executor, job, op

from pipelines.defs.automation import TIMEZONE
from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.publish.publish import compact_serving
from pipelines.resources import WarehouseResource
from pipelines.storage import DELETED_SHARE, compact

COMPACTION_CRON = os.environ.get("REFLOOP_COMPACTION_CRON", "0 4 * * 0")
WAREHOUSE_SCHEMAS = ("intermediate", "marts")


@dataclass
class Compaction:
    warehouse: dict[str, float]     # table: share of deleted rows it had, for the tables rewritten
    serving: dict[str, float]

    def summary(self) -> str:
        parts = [f"{where} {table} ({share:.0%} deleted rows)"
                 for where, tables in (("warehouse", self.warehouse), ("serving copy", self.serving))
                 for table, share in tables.items()]
        return ("rewrote " + ", ".join(parts)) if parts else \
            f"nothing to do: no table is more than {DELETED_SHARE:.0%} deleted rows"


def compact_files(warehouse: Path, serving: Path) -> Compaction:
    """Compact the warehouse's intermediate and mart tables, then the serving copy's marts."""
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: build one first with `refloop run`")
    return Compaction(warehouse=compact(warehouse, WAREHOUSE_SCHEMAS), serving=compact_serving(serving))


@op(pool=WAREHOUSE_POOL, description="Rewrite the warehouse and serving-copy tables that are a fifth deleted rows.")
def compact_tables(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
    result = compact_files(warehouse.file, warehouse.serving_file)
    context.log.info(f"[compact] {result.summary()}")


@job(name="refloop_compaction", executor_def=in_process_executor,
     description="Weekly: rewrite the tables that daily builds have left a fifth deleted rows.")
def compaction_job():
    compact_tables()


weekly_compaction_schedule = ScheduleDefinition(
    name="weekly_compaction",
    job=compaction_job,
    cron_schedule=COMPACTION_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compacts the warehouse and the serving copy every week (REFLOOP_COMPACTION_CRON, default "
                "Sunday 04:00 REFLOOP_TIMEZONE), before the daily build.",
    tags={"refloop/trigger": "weekly_schedule"},
)
