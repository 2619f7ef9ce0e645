"""The published read-only copy that dashboards and analysts' tools read."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.publish.publish import publish
from pipelines.defs.transform.dbt import dbt_project, ensure_manifest, mart_asset_keys
from pipelines.resources import WarehouseResource


@asset(
    key=AssetKey(["serving", "published_warehouse"]),
    deps=mart_asset_keys(ensure_manifest(dbt_project)),
    group_name="serving",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Copy of the marts that dashboards read; replaced atomically, so readers see the old copy or the new one.",
)
def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    counts = publish(warehouse.file, warehouse.serving_file, context.run.run_id)
    context.log.info(f"[publish] {len(counts)} tables -> {warehouse.serving_file}")
    return MaterializeResult(metadata={"path": str(warehouse.serving_file), "tables": len(counts), **{k: v for k, v in counts.items()}})
