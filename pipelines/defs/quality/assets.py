"""Great Expectations suites as Dagster asset checks: on the landed tables
before dbt builds on them, and on the key marts before they are published.

A failed check of error severity on a blocking check stops every asset
downstream of the table it checks (dbt, then publishing), so the previous
serving copy keeps serving. Warnings are recorded and shown, never stop.
dbt's own tests are asset checks of the dbt assets (pipelines/defs/transform).
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Config,
    MetadataValue,
    multi_asset_check,
)

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.quality.checks import ERROR, Check, checks_fingerprint, landed_checks, mart_checks
from pipelines.defs.quality.store import LANDED, MARTS, publish_quality, write_results
from pipelines.defs.quality.suites import CheckResult, validate
from pipelines.defs.transform import warm_dbt
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
               checks: Sequence[Check], since: datetime | None = None) -> Iterator[AssetCheckResult]:
    scope = f", row checks on the rows landed since {since:%Y-%m-%d %H:%M:%S}" if since else ""
    context.log.info(f"[quality] {stage}: {len(checks)} checks (Great Expectations on DuckDB{scope})")
    results = validate(warehouse.file, checks, since=since)
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
LANDED_FINGERPRINT = checks_fingerprint(LANDED_CHECKS)


def checked_until(warehouse: Path, fingerprint: str = LANDED_FINGERPRINT) -> datetime | None:
    """Rows landed before this were judged by these same checks: the start of
    the last successful build (which ran after its landed checks passed), if
    that build's landed checks were these. None: judge every row."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        has_column = conn.execute(
            "select count(*) from duckdb_columns() where schema_name = 'raw' and table_name = '_builds' "
            "and column_name = 'landed_checks'").fetchone()[0]
        if not has_column:
            return None
        last = conn.execute(
            "select started_at, landed_checks from raw._builds order by started_at desc limit 1").fetchone()
    return last[0] if last and last[1] == fingerprint else None


class LandedChecksConfig(Config):
    """`all_rows`: judge every landed row, not only those landed since the last build."""

    all_rows: bool = False


@multi_asset_check(specs=_specs(LANDED_CHECKS), name="landed_quality_checks", pool=WAREHOUSE_POOL)
def landed_quality_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                          config: LandedChecksConfig):
    """Conformance, completeness, plausibility and freshness of the landed tables.
    After a first build, row checks judge the rows landed since the last build:
    each row once, in the run that lands it (docs/data-quality.md)."""
    # dbt comes next: its process imports dbt, and parses the project, while these checks run
    from pipelines.defs.transform.dbt import pre_parse_spec

    warm_dbt.start(parse=pre_parse_spec(context.run.run_config, warehouse.file))
    since = None if config.all_rows else checked_until(warehouse.file)
    yield from _run_stage(context, warehouse, LANDED, LANDED_CHECKS, since)


@multi_asset_check(specs=_specs(MART_CHECKS), name="mart_quality_checks", pool=WAREHOUSE_POOL)
def mart_quality_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Invariants of the key marts, before they are published."""
    yield from _run_stage(context, warehouse, MARTS, MART_CHECKS)
