"""Landed tables: one asset per `raw.*` table, keyed as the dbt sources are
(`raw/<table>`), so Dagster shows one lineage graph from files to marts."""


from collections import defaultdict

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Failure, MaterializeResult, multi_asset

from pipelines.contract import ENTITIES
from pipelines.defs.ingest.loader import LOADED, REJECTED, load_directory
from pipelines.defs.quality.suites import start_worker
from pipelines.resources import ExtractsResource, WarehouseResource

WAREHOUSE_POOL = "duckdb_warehouse"
BOOKKEEPING = {
    "_manifest": "One row per extract file and entity accepted or rejected, with format, checksum and row counts.",
    "_fhir_references": "What FHIR references point at (NPIs, specialties, payers), across every FHIR file loaded.",
    "_rejects": "One row per rejected line: file, line number and reason.",
    "_warehouse_key": "This warehouse's secret for patient_key (made once; never published or logged).",
}


def _specs() -> list[AssetSpec]:
    specs = [
        AssetSpec(
            AssetKey(["raw", entity.name]),
            description=f"Landed {entity.name}: {entity.description}; every version, with file and line.",
            group_name="landed",
            kinds={"duckdb"},
        )
        for entity in ENTITIES.values()
    ]
    specs += [
        AssetSpec(AssetKey(["raw", name]), description=text, group_name="landed", kinds={"duckdb"})
        for name, text in BOOKKEEPING.items()
    ]
    return specs


@multi_asset(specs=_specs(), pool=WAREHOUSE_POOL, name="landed_extracts")
def landed_extracts(
    context: AssetExecutionContext, warehouse: WarehouseResource, extracts: ExtractsResource
):
    """Load every new or changed file of the landing folder into `raw.*`."""
    # the landed checks come next: their process imports Great Expectations meanwhile
    start_worker()
    directory = extracts.path
    if not directory.is_dir():
        raise Failure(f"extracts folder not found: {directory} (pass --extracts DIR or set REFLOOP_EXTRACTS)")
    context.log.info(f"[ingest] {directory}")
    with warehouse.connect() as conn:
        results = load_directory(conn, directory, context.run.run_id, log=lambda m: context.log.info(f"[ingest] {m}"))
        has_referrals = conn.execute(
            "select count(*) from raw._manifest where entity = 'referrals' and status = 'loaded'"
        ).fetchone()[0]
        totals = dict(conn.execute(
            "select entity, sum(rows_loaded) from raw._manifest group by entity"
        ).fetchall())
    if not has_referrals:
        raise Failure(
            "no referrals extract has been loaded: referrals is the one required entity "
            "(add a file named referrals_*.csv, a FHIR ServiceRequest export or HL7 v2 REF messages "
            "to the extracts folder; docs/extracts.md, docs/formats/)"
        )

    by_entity: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for result in results:
        if result.entity is None:
            continue
        stats = by_entity[result.entity]
        stats["files_loaded"] += result.status == LOADED
        stats["files_rejected"] += result.status == REJECTED
        stats["rows_read"] += result.rows_read
        stats["rows_loaded"] += result.rows_loaded
        stats["rows_rejected"] += result.rows_rejected
    for entity in ENTITIES:
        stats = by_entity.get(entity, {})
        yield MaterializeResult(
            asset_key=AssetKey(["raw", entity]),
            metadata={
                "files_this_run": int(stats.get("files_loaded", 0) + stats.get("files_rejected", 0)),
                "rows_loaded_this_run": int(stats.get("rows_loaded", 0)),
                "rows_rejected_this_run": int(stats.get("rows_rejected", 0)),
                "rows_total": int(totals.get(entity) or 0),
            },
        )
    def files(status: str | None = None) -> int:
        return len({r.file_name for r in results if status is None or r.status == status})

    formats: dict[str, set[str]] = defaultdict(set)
    for result in results:
        if result.status in (LOADED, REJECTED):
            formats[result.source_format].add(result.file_name)
    yield MaterializeResult(
        asset_key=AssetKey(["raw", "_manifest"]),
        metadata={
            "files_seen": files(),
            "files_loaded": files(LOADED),
            "files_rejected": files(REJECTED),
            "files_unchanged": files("unchanged"),
            "files_skipped": files("skipped"),
            **{f"files_read_as_{fmt}": len(names) for fmt, names in sorted(formats.items())},
        },
    )
    yield MaterializeResult(asset_key=AssetKey(["raw", "_fhir_references"]))
    yield MaterializeResult(asset_key=AssetKey(["raw", "_warehouse_key"]))
    yield MaterializeResult(
        asset_key=AssetKey(["raw", "_rejects"]),
        metadata={"rows_rejected_this_run": sum(r.rows_rejected for r in results)},
    )
