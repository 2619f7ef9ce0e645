"""Great Expectations suites as Dagster asset checks: on the landed tables
before dbt builds on them, and on the key marts before they are published.

A failed check of error severity on a blocking check stops every asset
downstream of the table it checks (dbt, then publishing), so the previous
serving copy keeps serving. Warnings are recorded and shown, never stop.
dbt's own tests are asset checks of the dbt assets (pipelines/defs/transform).
"""

from collections.abc import Iterator, Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.quality.checks import ERROR, Check, landed_checks, mart_checks
from pipelines.defs.quality.store import LANDED, MARTS, publish_quality, write_results
from pipelines.defs.quality.suites import CheckResult, run_checks
from pipelines.resources import WarehouseResource


def _asset_key(check: Check) -> AssetKey:
    return AssetKey([check.schema, check.table_name])


def _specs(checks: Sequence[Check]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            name=check.name,
            asset=_asset_key(check),
            description=f"[{check.family}] {check.description} ({check.threshold_text})",
            blocking=check.blocking,
        )
        for check in checks
    ]


def _dagster_results(results: Sequence[CheckResult]) -> Iterator[AssetCheckResult]:
    for result in results:
        metadata = {
            "family": result.check.family,
            "threshold": result.check.threshold_text,
            "observed_value": result.observed_value,
            "failing_rows": result.failing_rows,
            "rows_checked": result.rows_checked,
        }
        if result.sample:
            metadata["failing_sample"] = MetadataValue.json(result.sample)
        if result.message:
            metadata["message"] = result.message
        yield AssetCheckResult(
            asset_key=_asset_key(result.check),
            check_name=result.check.name,
            passed=result.passed,
            severity=AssetCheckSeverity.ERROR if result.severity == ERROR else AssetCheckSeverity.WARN,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )


def _run_stage(context: AssetCheckExecutionContext, warehouse: WarehouseResource, stage: str,
               checks: Sequence[Check]) -> Iterator[AssetCheckResult]:
    context.log.info(f"[quality] {stage}: {len(checks)} checks (Great Expectations on DuckDB)")
    results = run_checks(warehouse.file, checks)
    with warehouse.connect() as conn:
        write_results(conn, context.run.run_id, stage, results)
    publish_quality(warehouse.file)
    failed = [r for r in results if not r.passed]
    for r in failed:
        context.log.warning(f"[quality] {r.severity}: {r.check.table} {r.check.name} "
                            f"(observed {r.observed_value}, {r.check.threshold_text})")
    blocking = sum(r.blocks for r in results)
    context.log.info(f"[quality] {stage}: {len(results) - len(failed)} passed, {len(failed)} failed"
                     + (f", {blocking} blocking" if blocking else ""))
    yield from _dagster_results(results)


LANDED_CHECKS = landed_checks()
MART_CHECKS = mart_checks()


@multi_asset_check(specs=_specs(LANDED_CHECKS), name="landed_quality_checks", pool=WAREHOUSE_POOL)
def landed_quality_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Conformance, completeness, plausibility and freshness of the landed tables."""
    yield from _run_stage(context, warehouse, LANDED, LANDED_CHECKS)


@multi_asset_check(specs=_specs(MART_CHECKS), name="mart_quality_checks", pool=WAREHOUSE_POOL)
def mart_quality_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Invariants of the key marts, before they are published."""
    yield from _run_stage(context, warehouse, MARTS, MART_CHECKS)
