"""The published read-only copy that dashboards and analysts' tools read."""

import json
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.publish.publish import Delta, publish
from pipelines.defs.transform.dbt import dbt_project, ensure_manifest, mart_asset_keys
from pipelines.resources import WarehouseResource


def mart_deltas(manifest_path: Path) -> dict[str, Delta]:
    """The published tables an incremental DuckDB build keeps incrementally,
    and how: replace_scope models by their scope model's keys, replace_cells
    models by the cells of their `cells_model`, append models by their
    `append_watermark` column. Published: the marts, and the models
    a mart that is a view reads. The manifest is parsed for the DuckDB
    target, the only one whose builds are incremental per model."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    by_name = {node["name"]: node for node in nodes.values() if node["resource_type"] == "model"}
    read_by_views = {uid for node in by_name.values()
                     if node["schema"] == "marts" and node["config"].get("materialized") == "view"
                     for uid in node["depends_on"]["nodes"]}
    deltas = {}
    for node in by_name.values():
        config = node["config"]
        published = node["schema"] == "marts" or node["unique_id"] in read_by_views
        if not published or config.get("materialized") != "incremental":
            continue
        strategy = config.get("incremental_strategy")
        if strategy == "replace_scope" and config.get("scope_model") in by_name:
            scope = by_name[config["scope_model"]]
            deltas[node["alias"]] = Delta(scope=f"{scope['schema']}.{scope['alias']}", key=config["scope_key"])
        elif strategy == "replace_cells" and config.get("cells_model") in by_name:
            cells = by_name[config["cells_model"]]
            deltas[node["alias"]] = Delta(scope=f"{cells['schema']}.{cells['alias']}",
                                          cells=tuple(config["cell_columns"]))
        elif strategy == "append" and config.get("append_watermark"):
            deltas[node["alias"]] = Delta(watermark=config["append_watermark"])
    return deltas


@asset(
    key=AssetKey(["serving", "published_warehouse"]),
    deps=mart_asset_keys(ensure_manifest(dbt_project)),
    group_name="serving",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Copy of the marts that dashboards read; replaced atomically, so readers see the old copy or the new one.",
)
def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    published = publish(warehouse.file, warehouse.serving_file, context.run.run_id,
                        mart_deltas(ensure_manifest(dbt_project)))
    changed = "".join(f"; {table} took {rows:,} rows" for table, rows in published.changed.items())
    context.log.info(f"[publish] {len(published.counts)} tables -> {warehouse.serving_file} "
                     f"({published.mode}: {published.reason}{changed})")
    return MaterializeResult(metadata={"path": str(warehouse.serving_file), "tables": len(published.counts),
                                       "mode": published.mode, "reason": published.reason, **published.counts})
