"""The dbt project as Dagster assets: one `dbt build`, streamed, so every model
is an asset and every dbt test an asset check on it."""


import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import yaml
from dagster import AssetExecutionContext, AssetKey, Config, Failure
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.defs.ingest.loader import RETRACTIONS_DDL
from pipelines.defs.quality.assets import LANDED_FINGERPRINT
from pipelines.defs.quality.store import dbt_test_rows, publish_quality, write_dbt_results
from pipelines.defs.transform import spark, warm_dbt
from pipelines.paths import DBT_PROJECT_DIR
from pipelines.resources import WarehouseResource
from pipelines.storage import BACKSTOP_SHARE, most_deleted

# The dbt of this environment (the venv's), whatever is first on PATH.
DBT_EXECUTABLE = warm_dbt.DBT
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
TARGETS = ("duckdb", "spark")   # the outputs of dbt_project/profiles.yml


class RefloopDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, without two start-up costs it pays before every
    build: asking the dbt executable for its version (a subprocess that
    imports dbt: 2 s) and opening a dbt adapter in this process (1 s), which
    only serves row-count and column metadata that refloop does not fetch.
    The executable is this environment's (DBT_EXECUTABLE), so its version is
    the installed dbt-core's."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the dbt project when its manifest is missing or older than any
    project file, so definitions always describe the models on disk."""
    manifest = project.manifest_path
    newest = max((p.stat().st_mtime for p in project_files()), default=0.0)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    # One parse at a time (a code server, the CLI and test workers may all ask at once).
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists() and manifest.stat().st_mtime >= newest:
            return manifest
        parsed = subprocess.run(
            [str(DBT_EXECUTABLE), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
            capture_output=True,
            text=True,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_FORMAT": "text", "DBT_USE_COLORS": "false"},
        )
        if parsed.returncode != 0:
            raise RuntimeError(f"the dbt project in {DBT_PROJECT_DIR} does not parse:\n{parsed.stdout[-3000:]}")
    return manifest


def project_files(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The dbt project's own files (SQL, YAML, seeds), not what dbt writes."""
    found = []
    for folder, subfolders, files in os.walk(project_dir):
        if folder == str(project_dir):
            subfolders[:] = [d for d in subfolders if d not in ("target", "logs", "dbt_packages")]
        found += [Path(folder, f) for f in files if f.endswith((".sql", ".yml", ".csv"))]
    return sorted(found)


class RefloopDbtTranslator(DagsterDbtTranslator):
    """Models are keyed `<schema>/<model>` (`marts/fct_referrals`), as analysts
    name them; sources keep the default `raw/<table>`, matching the landed assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "landed"
        return dbt_resource_props.get("schema")


translator = RefloopDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """dbt vars for this run (docs/metrics.md, Parameters), e.g.
    {"attribution_window_days": "90", "as_of_date": "2026-06-30"}, and the
    engine: `duckdb` (the embedded warehouse) or `spark` (docs/deploy.md)."""

    vars: dict[str, str] = {}
    target: str = "duckdb"
    full_refresh: bool = False


# One row per successful build and target: what the next build compares itself with.
BUILDS_DDL = """
create table if not exists raw._builds (
    run_id varchar,
    target varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    full_refresh boolean not null,
    reason varchar not null,
    vars varchar not null,
    project_checksum varchar not null,
    landed_checks varchar              -- fingerprint of the landed checks that passed before it
);
alter table raw._builds add column if not exists landed_checks varchar;
"""


# One row per dbt build that failed: it may have written some models and not
# the ones that read them, which an incremental build would then trust.
BUILD_FAILURES_DDL = """
create table if not exists raw._build_failures (
    run_id varchar,
    target varchar not null,
    started_at timestamp not null,
    failed_at timestamp not null
)
"""


def project_checksum(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 of the SQL, YAML and seeds that decide what the models hold."""
    digest = hashlib.sha256()
    files = [project_dir / "dbt_project.yml"] + sorted(
        p for folder in ("models", "macros", "seeds") for p in (project_dir / folder).rglob("*")
        if p.is_file() and p.suffix in {".sql", ".yml", ".csv"})
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def plan_build(conn: duckdb.DuckDBPyConnection, target: str, vars_json: str, checksum: str,
               asked: bool = False) -> tuple[bool, str]:
    """Incremental or full, and why. The version layer merges new versions
    (dbt_project/macros/latest_versions.sql); a full rebuild is needed when
    what it already holds may be wrong: the first build on a target, other
    parameters, changed SQL, or a re-sent file that took versions out."""
    conn.execute(BUILDS_DDL)
    conn.execute(RETRACTIONS_DDL)
    conn.execute(BUILD_FAILURES_DDL)
    if asked:
        return True, "full refresh asked for"
    last = conn.execute(
        "select started_at, vars, project_checksum from raw._builds where target = ? order by started_at desc limit 1",
        [target]).fetchone()
    if last is None:
        return True, f"first build on {target}"
    started_at, last_vars, last_checksum = last
    if last_vars != vars_json:
        return True, "parameters changed since the last build"
    if last_checksum != checksum:
        return True, "the dbt project changed since the last build"
    retracted = conn.execute(
        "select count(*), min(file_name) from raw._retractions where retracted_at >= ?", [started_at]).fetchone()
    if retracted[0]:
        return True, f"{retracted[1]} was re-sent and replaced versions landed earlier"
    failed = conn.execute("select count(*) from raw._build_failures where target = ? and started_at > ?",
                          [target, started_at]).fetchone()[0]
    if failed:
        return True, f"a build on {target} failed part-way after the last one that passed"
    return False, "new versions merge into the version layer"


def plan_vacuum(conn: duckdb.DuckDBPyConnection, full_refresh: bool) -> tuple[bool, str]:
    """Whether this build's checkpoints compact the tables (DuckDB's vacuum;
    pipelines/storage.py). An incremental build leaves the rows it deletes
    stored (`marts.fct_referrals` loses 2.7% a day at a million referrals):
    the weekly compaction job rewrites the tables that have become a fifth
    deleted rows. Should it not run, a build compacts every table once one
    intermediate or mart table is half deleted rows. A full build writes its
    tables anew, and compacts what it keeps."""
    if full_refresh:
        return True, "full build"
    worst, share = most_deleted(conn, ("intermediate", "marts"))
    if share > BACKSTOP_SHARE:
        return True, (f"{share:.0%} of {worst}'s stored rows are deleted ones (is the compaction job running?): "
                      "this build compacts the tables")
    most = f" (most: {worst}, {share:.1%})" if worst else ""
    return False, f"rows this build deletes stay stored until the weekly compaction{most}"


def settled_nodes(conn: duckdb.DuckDBPyConnection, manifest_path: Path) -> list[str]:
    """dbt selectors of the nodes an incremental DuckDB build need not run
    again: the views and seeds. A view holds no rows, and its SQL, like a
    seed's CSV, is what the last build created (a changed project, other
    vars or a failed build make the build a full one: plan_build). Empty
    when one of them is missing from the warehouse: the build then creates
    every node, as before."""
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    wanted = {(node["schema"], node["alias"]) for node in nodes
              if node["resource_type"] == "seed"
              or (node["resource_type"] == "model" and node["config"].get("materialized") == "view")}
    present = set(conn.execute(
        "select schema_name, view_name from duckdb_views() where database_name = current_database() "
        "union all select schema_name, table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall())
    return ["config.materialized:view", "resource_type:seed"] if wanted and wanted <= present else []


def parse_cache(warehouse: Path, target: str) -> Path:
    """Where the last parse of builds on this warehouse and target is kept."""
    key = hashlib.sha256(f"{warehouse.resolve()}\0{target}".encode()).hexdigest()[:16]
    return DBT_PROJECT_DIR / "target" / "parses" / f"{key}.msgpack"


def reuse_parse(target_path: Path, warehouse: Path, target: str) -> Path:
    """dbt re-parses the whole project when the profile changed, and the
    profile names the warehouse file: keep each warehouse's last parse (under
    dbt_project/target/parses/) so the next build on it parses only what
    changed. Returns where this build's parse is kept."""
    cache = parse_cache(warehouse, target)
    if cache.exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copy(cache, target_path / "partial_parse.msgpack")
    return cache


def pre_parse_spec(run_config: Mapping[str, Any], warehouse: Path) -> dict | None:
    """What the warm dbt process parses ahead (warm_dbt.start): the parse
    this run's build would make when it is the usual incremental one on
    DuckDB, with the vars of its config; None for a Spark build. A build
    that turns out otherwise (other vars) parses as usual; a full build and
    the vacuum setting do not change the parse."""
    config = run_config.get("ops", {}).get("refloop_dbt", {}).get("config", {})
    if config.get("target", "duckdb") != "duckdb":
        return None
    args = ["--vars", json.dumps(dbt_vars(config["vars"]))] if config.get("vars") else []
    env = {"REFLOOP_WAREHOUSE": str(warehouse),
           # as dagster-dbt sets them for the build (DbtCliResource.cli)
           "DBT_PROJECT_DIR": str(Path(dbt_project.project_dir)), "DBT_PROFILES_DIR": os.fspath(dbt_project.profiles_dir)}
    return {"args": args, "env": env, "partial_parse": str(parse_cache(warehouse, "duckdb"))}


def keep_parse(target_path: Path, cache: Path) -> None:
    parsed = target_path / "partial_parse.msgpack"
    if parsed.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(parsed, cache.with_suffix(".tmp"))
        cache.with_suffix(".tmp").replace(cache)


KEPT_BUILDS = 10    # newest per-build folders kept under dbt_project/target (logs, run_results)
KEPT_PARSES = 20    # newest warehouses' kept parses
IN_USE_SECONDS = 3600


def prune_target(root: Path = DBT_PROJECT_DIR / "target") -> int:
    """Each build writes a folder of its own and each warehouse keeps a parse:
    keep the newest, delete the rest (never what changed in the last hour,
    which a build running beside this one may be using). Returns how many
    were deleted."""
    now = time.time()
    deleted = 0
    for found, keep in ((root.glob("refloop_dbt-*"), KEPT_BUILDS), ((root / "parses").glob("*.msgpack"), KEPT_PARSES)):
        aged = sorted(((p.stat().st_mtime, p) for p in found), reverse=True)
        for mtime, path in aged[keep:]:
            if now - mtime < IN_USE_SECONDS:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def record_build(conn: duckdb.DuckDBPyConnection, run_id: str, target: str, started_at, full_refresh: bool,
                 reason: str, vars_json: str, checksum: str) -> None:
    conn.execute(BUILDS_DDL)
    conn.execute("insert into raw._builds values (?, ?, ?, now()::timestamp, ?, ?, ?, ?, ?)",
                 [run_id, target, started_at, full_refresh, reason, vars_json, checksum, LANDED_FINGERPRINT])


def record_failure(conn: duckdb.DuckDBPyConnection, run_id: str, target: str, started_at) -> None:
    conn.execute(BUILD_FAILURES_DDL)
    conn.execute("insert into raw._build_failures values (?, ?, ?, now()::timestamp)", [run_id, target, started_at])


def dbt_vars(raw: Mapping[str, str]) -> dict[str, Any]:
    """Vars typed as YAML reads them, so `90` is a number and `2026-06-30` text."""
    typed = {}
    for key, value in raw.items():
        parsed = yaml.safe_load(value) if isinstance(value, str) else value
        typed[key] = value if hasattr(parsed, "isoformat") else parsed
    return typed


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="refloop_dbt",
)
def refloop_dbt(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig):
    # dbt runs as a subprocess and reads the warehouse path from the profile's env var.
    os.environ["REFLOOP_WAREHOUSE"] = str(warehouse.file)
    # dbt.log at debug level writes every statement's events (6 MB a build, about
    # a second of dbt's time); info keeps each node's start, result and errors.
    # DBT_LOG_LEVEL_FILE=debug brings the statements back.
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")
    # dbt's usual text lines: dagster-dbt's json format would apply to the file
    # too, one serialized event a line. Dagster reads the json events on stdout.
    os.environ.setdefault("DBT_LOG_FORMAT_FILE", "debug")
    # Unit tests pin the SQL logic on fixed inputs: `make test` runs them
    # (tests/dbt/test_unit_tests.py); a production build tests the data.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.vars:
        args += ["--vars", json.dumps(dbt_vars(config.vars))]
    if config.target not in TARGETS:
        raise Failure(f"unknown dbt target {config.target!r}: one of {', '.join(TARGETS)}")
    if config.target == "spark":
        if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            raise Failure("--target spark runs Spark, which needs a Java runtime (17 or newer): "
                          "install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
        root = spark.spark_dir(warehouse.file)
        with warehouse.connect() as conn:
            exported = spark.export_raw(conn, root)
        context.log.info(f"[spark] {sum(exported.values()):,} landed rows exported to {root / 'raw'}")
        os.environ["REFLOOP_SPARK_DIR"] = str(root)
        args += ["--target", "spark"]
    vars_json = json.dumps(dbt_vars(config.vars), sort_keys=True)
    checksum = project_checksum()
    with warehouse.connect() as conn:
        started_at = conn.execute("select now()::timestamp").fetchone()[0]
        full_refresh, reason = plan_build(conn, config.target, vars_json, checksum, config.full_refresh)
        vacuum, vacuum_reason = plan_vacuum(conn, full_refresh)
        # a subset (assets picked in the UI) builds what was picked, with its tests
        settled = ([] if full_refresh or config.target != "duckdb" or context.is_subset
                   else settled_nodes(conn, dbt_project.manifest_path))
    if full_refresh:
        args.append("--full-refresh")
    if settled:
        # the tests on views and seeds still run: selected directly (fqn:*), not through their parents
        args += ["--exclude", " ".join(settled), "--indirect-selection", "empty"]
    # the build's max_vacuum_tasks, set by an on-run-start hook (dbt_project/macros/set_max_vacuum_tasks.sql)
    os.environ["REFLOOP_VACUUM_TASKS"] = "100" if vacuum else "0"
    context.log.info(f"[dbt] {'full' if full_refresh else 'incremental'} build: {reason}")
    if config.target == "duckdb" and not full_refresh:
        context.log.info(f"[dbt] {vacuum_reason}")
    if settled:
        context.log.info("[dbt] views and seeds stay as the last build left them; their tests run")
    context.log.info(f"[dbt] {' '.join(args)}")
    target_path = DBT_PROJECT_DIR / "target" / f"refloop_dbt-{context.run.run_id[:8]}-{uuid.uuid4().hex[:7]}"
    parse_cache = reuse_parse(target_path, warehouse.file, config.target)
    invocation = dbt.cli(args, context=context, target_path=target_path)
    try:
        yield from invocation.stream()
        keep_parse(target_path, parse_cache)
        with warehouse.connect() as conn:
            record_build(conn, context.run.run_id, config.target, started_at, full_refresh, reason, vars_json, checksum)
        if config.target == "spark":
            with warehouse.connect() as conn:
                returned = spark.import_models(conn, root)
            context.log.info(f"[spark] {len(returned)} tables back in the DuckDB warehouse for checks and publishing")
    except BaseException:
        # The next build is full: this one may have left models part-way (plan_build).
        try:
            with warehouse.connect() as conn:
                record_failure(conn, context.run.run_id, config.target, started_at)
        except Exception as error:   # the build's own error is the one to raise
            context.log.error(f"[dbt] could not record the failed build: {error}")
        raise
    finally:
        # Test results go to the quality schema whether the build passed or not.
        rows = dbt_test_rows(invocation.target_path / "run_results.json", invocation.target_path / "manifest.json",
                             context.run.run_id)
        with warehouse.connect() as conn:
            write_dbt_results(conn, rows)
        publish_quality(warehouse.file)
        prune_target()


def mart_asset_keys(manifest_path: Path) -> list[AssetKey]:
    """The marts' asset keys, but for the marts that are views: what the
    serving copy waits for. An incremental build leaves views as they are
    (settled_nodes) and so gives no event for them, and Dagster skips an
    asset when one it depends on gave none; the view is published all the
    same, over the tables the same dbt step built."""
    manifest = json.loads(manifest_path.read_text())
    return sorted(
        (translator.get_asset_key(node) for node in manifest["nodes"].values()
         if node["resource_type"] == "model" and node["schema"] == "marts"
         and node["config"].get("materialized") != "view"),
        key=lambda k: k.to_user_string(),
    )
