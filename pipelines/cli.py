"""`refloop`: generate sample extracts, build the warehouse, serve the dashboards."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.paths import DATA_DIR, DEFAULT_EXTRACTS, DEFAULT_WAREHOUSE, ROOT, serving_path

DEFAULT_PORT = 8501


class UsageError(Exception):
    """A mistake in the command line; the message says what to do."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _var(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


# --- generate -------------------------------------------------------------

def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate.generator import DEFAULT_END_DATE, GenerateOptions, generate_to

    options = GenerateOptions(
        referrals=args.referrals, months=args.months, seed=args.seed,
        end_date=args.end_date or DEFAULT_END_DATE, dirty=args.dirty,
    )
    started = time.perf_counter()
    print(f"generating {options.referrals:,} referrals over {options.months} months "
          f"ending {options.end_date} (seed {options.seed}) -> {args.out}")
    next_day = getattr(args, "next_day", None)
    counts = generate_to(options, Path(args.out), Path(next_day) if next_day else None)
    for entity, rows in counts.items():
        print(f"  {entity:<16} {rows:>12,} rows")
    if next_day:
        print(f"  the versions of {options.end_date} are in {next_day}: copy them into the folder "
              "for the next day's incremental run")
    if options.dirty:
        print(f"  seeded defects: {options.dirty} level (docs/data-quality.md lists them)")
    if getattr(args, "formats", "csv") == "mixed":
        from pipelines.generate.formats import convert_directory

        converted = convert_directory(Path(args.out))
        print(f"  referrals as HL7 v2 REF^I12 ({converted['hl7v2']} .hl7 files), appointments as FHIR R4 "
              f"NDJSON ({converted['fhir']} .ndjson files), the rest as CSV")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


# --- run ------------------------------------------------------------------

@dataclass
class RunSummary:
    success: bool
    files: dict[str, int] = field(default_factory=dict)
    rows_loaded: int = 0
    rows_rejected: int = 0
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    checks: dict[str, int] = field(default_factory=lambda: {"passed": 0, "warned": 0, "failed": 0})
    published: bool = False
    failures: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        files = ", ".join(f"{v} {k}" for k, v in self.files.items() if v) or "none"
        return [
            f"files:          {files}",
            f"rows loaded:    {self.rows_loaded:,}",
            f"rows rejected:  {self.rows_rejected:,}",
            f"models built:   {self.models_built}",
            f"dbt tests:      {self.tests_passed} passed, {self.tests_failed} failed"
            + (f", {self.tests_warned} warned" if self.tests_warned else ""),
            f"quality checks: {self.checks['passed']} passed, {self.checks['failed']} failed, "
            f"{self.checks['warned']} warned (refloop quality --warehouse ... lists them)",
            f"published:      {'yes' if self.published else 'no (the previous copy keeps serving)'}",
        ]


def run_pipeline(
    extracts: Path,
    warehouse: Path,
    dbt_vars: dict[str, str] | None = None,
    quiet: bool = False,
    target: str = "duckdb",
    full_refresh: bool = False,
) -> RunSummary:
    """Run the Dagster build job in-process: ingest, dbt build, publish."""
    from pipelines.defs.quality.suites import start_worker, stop_worker
    from pipelines.defs.transform import warm_dbt

    # first, so the checks' process imports Great Expectations while this one loads Dagster
    start_worker()
    try:
        return _run_pipeline(extracts, warehouse, dbt_vars, quiet, target, full_refresh)
    finally:
        stop_worker()
        warm_dbt.stop()   # started by the landed checks; still waiting if the run ended before dbt


def _run_pipeline(extracts: Path, warehouse: Path, dbt_vars: dict[str, str] | None, quiet: bool, target: str,
                  full_refresh: bool) -> RunSummary:
    os.environ["REFLOOP_EXTRACTS"] = str(extracts.resolve())
    os.environ["REFLOOP_WAREHOUSE"] = str(warehouse.resolve())
    from dagster import AssetKey, DagsterInstance

    from pipelines.definitions import BUILD_JOB, defs
    from pipelines.progress import progress_logger
    from pipelines.resources import ExtractsResource, WarehouseResource

    # Progress lines only (or nothing): Dagster's own event log still records everything.
    job = defs.resolve_job_def(BUILD_JOB).with_logger_defs({"progress": progress_logger})
    run_config = {
        "ops": {"refloop_dbt": {"config": {"vars": dict(dbt_vars or {}), "target": target,
                                                "full_refresh": full_refresh}},
                "landed_quality_checks": {"config": {"all_rows": full_refresh}}},
        # Quiet: errors only. Without a logger Dagster would print every event at DEBUG,
        # which costs a daily run about a second per hundred events.
        "loggers": {"progress": {"config": {"errors_only": quiet}}},
    }
    # Runs are kept in DAGSTER_HOME when it is set (make demo: the UI shows them).
    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
    instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
    with instance:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            resources={
                "warehouse": WarehouseResource(path=str(warehouse.resolve())),
                "extracts": ExtractsResource(directory=str(extracts.resolve())),
            },
        )
        summary = RunSummary(success=result.success)
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key
            meta = {k: v.value for k, v in materialization.metadata.items()}
            if key == AssetKey(["raw", "_manifest"]):
                summary.files = {
                    "loaded": meta.get("files_loaded", 0),
                    "rejected": meta.get("files_rejected", 0),
                    "unchanged": meta.get("files_unchanged", 0),
                    "skipped": meta.get("files_skipped", 0),
                }
            elif key.path[0] == "raw" and not key.path[1].startswith("_"):
                summary.rows_loaded += int(meta.get("rows_loaded_this_run", 0))
                summary.rows_rejected += int(meta.get("rows_rejected_this_run", 0))
            elif key == AssetKey(["serving", "published_warehouse"]):
                summary.published = True
            elif key.path[0] in ("staging", "intermediate", "marts"):
                summary.models_built += 1
        from pipelines.defs.quality.assets import LANDED_CHECKS, MART_CHECKS

        suite_checks = {c.name for c in LANDED_CHECKS + MART_CHECKS}
        for evaluation in result.get_asset_check_evaluations():
            if evaluation.check_name in suite_checks:
                outcome = "passed" if evaluation.passed else (
                    "warned" if evaluation.severity.value == "WARN" else "failed")
                summary.checks[outcome] += 1
                if outcome == "failed":
                    summary.failures.append(f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}")
            elif evaluation.passed:
                summary.tests_passed += 1
            elif evaluation.severity.value == "WARN":
                summary.tests_warned += 1
            else:
                summary.tests_failed += 1
                summary.failures.append(f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}")
        started_at: dict[str, float] = {}
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type_value == "STEP_START":
                started_at[event.step_key] = record.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started_at:
                summary.step_seconds[event.step_key] = record.timestamp - started_at[event.step_key]
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                error = event.step_failure_data.error
                summary.failures.append(f"step {event.step_key} failed: {error.message.strip() if error else ''}")
    return summary


def cmd_run(args: argparse.Namespace) -> int:
    extracts, warehouse = Path(args.extracts), Path(args.warehouse)
    if not extracts.is_dir():
        raise UsageError(f"extracts folder not found: {extracts} (generate one with: refloop generate --out {extracts})")
    dbt_vars = dict(args.var or [])
    if args.as_of:
        dbt_vars["as_of_date"] = args.as_of.isoformat()
    started = time.perf_counter()
    engine = "" if args.target == "duckdb" else f" (dbt on {args.target})"
    print(f"refloop run: {extracts} -> {warehouse}{engine}")
    summary = run_pipeline(extracts, warehouse, dbt_vars, target=args.target, full_refresh=args.full_refresh)
    print()
    print(f"{'succeeded' if summary.success else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    for line in summary.lines():
        print("  " + line)
    for failure in summary.failures:
        print("  ! " + failure, file=sys.stderr)
    if summary.success:
        print(f"  serving copy:   {serving_path(warehouse.resolve())}")
    return 0 if summary.success else 1


# --- dashboard ------------------------------------------------------------

def dashboard_command(warehouse: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]


def serve_dashboard(warehouse: Path, host: str, port: int, coordinator_access: bool = False) -> int:
    serving = serving_path(warehouse.resolve())
    if not serving.exists():
        raise UsageError(f"no published warehouse at {serving}: build one first with `refloop run`")
    env = {**os.environ, "REFLOOP_SERVING": str(serving)}
    if coordinator_access:
        env["REFLOOP_COORDINATOR_ACCESS"] = "1"
        print("coordinator access: the patient-level referral queue page is on")
    print(f"dashboards: http://{host}:{port}  (reading {serving}; Ctrl+C to stop)")
    server = subprocess.Popen(dashboard_command(warehouse, host, port), env=env)

    def stop(_signum, _frame) -> None:
        # a service manager's SIGTERM reaches this process only: stop the server with it
        server.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            try:
                return server.wait()
            except KeyboardInterrupt:      # Ctrl+C reaches the server too; wait for it to finish
                server.terminate()
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_dashboard(args: argparse.Namespace) -> int:
    return serve_dashboard(Path(args.warehouse), args.host, args.port, args.coordinator_access)


def start_dagster_ui(extracts: Path, warehouse: Path, port: int) -> subprocess.Popen:
    """`dagster dev` in the background, over the same definitions and files."""
    env = {
        **os.environ,
        "REFLOOP_EXTRACTS": str(extracts.resolve()),
        "REFLOOP_WAREHOUSE": str(warehouse.resolve()),
    }
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.Popen(
        [str(dagster), "dev", "-m", "pipelines.definitions", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    landing = Path(args.out)
    if not any(landing.glob("referrals*")) or args.regenerate:
        generate_args = argparse.Namespace(
            referrals=args.referrals, out=landing, seed=args.seed, months=24, end_date=None)
        cmd_generate(generate_args)
    else:
        print(f"using the extracts already in {landing} (--regenerate to make new ones)")
    run_args = argparse.Namespace(extracts=landing, warehouse=args.warehouse, as_of=None, var=[])
    code = cmd_run(run_args)
    if code != 0 or args.no_serve:
        return code
    ui = None
    if args.dagster_port:
        ui = start_dagster_ui(landing, Path(args.warehouse), args.dagster_port)
        print(f"dagster UI: http://127.0.0.1:{args.dagster_port}  (asset graph, runs, dbt tests as checks)")
    try:
        return serve_dashboard(Path(args.warehouse), args.host, args.port, args.coordinator_access)
    finally:
        if ui is not None:
            ui.terminate()
            ui.wait(timeout=30)


# --- queue export ---------------------------------------------------------

QUEUE_ACTIONS = ("close_completed", "close_leaked", "expire", "reroute", "follow_up", "none")
QUEUE_EXPORT_COLUMNS = (
    "referral_id", "action", "reason", "days_open", "referral_status", "priority", "specialty_group",
    "requested_specialty_code", "referring_location_id", "referring_npi", "referred_to_npi",
    "recommended_npi", "recommended_next_free_slot_at", "is_duplicate", "outcome", "first_visit_date",
    "first_visit_npi", "last_touch_at", "created_date", "expires_on", "as_of_date",
)


def export_queue(serving: Path, out: Path, actions: list[str] | None) -> dict[str, int]:
    """Write the referral work list (one row per open referral) to CSV; return
    the rows written per action."""
    import duckdb
    import pyarrow.csv as pacsv

    chosen = list(actions or QUEUE_ACTIONS)
    order = " ".join(f"when '{a}' then {i}" for i, a in enumerate(QUEUE_ACTIONS))
    with duckdb.connect(str(serving), read_only=True) as conn:
        table = conn.sql(
            f"select {', '.join(QUEUE_EXPORT_COLUMNS)} from marts.referral_queue "
            f"where list_contains(?::varchar[], action) "
            f"order by case action {order} end, days_open desc, referral_id",
            params=[chosen],
        ).to_arrow_table()
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out)
    counts: dict[str, int] = {}
    for action in table.column("action").to_pylist():
        counts[action] = counts.get(action, 0) + 1
    return counts


def cmd_queue_export(args: argparse.Namespace) -> int:
    serving = serving_path(Path(args.warehouse).resolve())
    if not serving.exists():
        raise UsageError(f"no published warehouse at {serving}: build one first with `refloop run`")
    counts = export_queue(serving, Path(args.out), args.action)
    total = sum(counts.values())
    detail = ", ".join(f"{a}: {counts[a]:,}" for a in QUEUE_ACTIONS if a in counts) or "none"
    print(f"wrote {total:,} referrals ({detail}) to {args.out}")
    return 0


# --- analysts -------------------------------------------------------------

def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.analyst import AccessError, open_read_only, run_query, shell

    warehouse = Path(args.warehouse).resolve()
    try:
        conn = open_read_only(warehouse, full=args.full)
    except AccessError as error:
        raise UsageError(str(error)) from None
    source = warehouse if args.full else serving_path(warehouse)
    with conn:
        if args.query is None:
            if args.csv or args.parquet:
                raise UsageError("--csv/--parquet need a QUERY")
            return shell(conn, str(source))
        try:
            run_query(conn, args.query, csv=args.csv, parquet=args.parquet, max_rows=args.max_rows)
        except duckdb.Error as error:
            raise UsageError(f"query failed: {error}") from None
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.analyst import AccessError, export_marts

    try:
        counts = export_marts(Path(args.warehouse).resolve(), Path(args.out), args.format)
    except AccessError as error:
        raise UsageError(str(error)) from None
    for table, rows in counts.items():
        print(f"  {table:<34} {rows:>12,} rows")
    print(f"wrote {len(counts)} marts as {args.format} to {args.out}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from pipelines.analyst import AccessError, generate_docs, serve_docs

    try:
        target = generate_docs(Path(args.warehouse).resolve(), Path(args.out).resolve() if args.out else None)
    except AccessError as error:
        raise UsageError(str(error)) from None
    print(f"dbt docs written to {target}")
    if args.no_serve:
        return 0
    return serve_docs(target, args.host, args.port)


# --- bench ----------------------------------------------------------------

def cmd_bench(args: argparse.Namespace) -> int:
    from pipelines.bench import bench, write_json

    if args.history_months is not None and args.history_months > args.months:
        raise UsageError(f"--history-months {args.history_months} is more than the set's --months {args.months}")
    longer = args.history_months or args.months
    if args.growth_from_months is not None and args.growth_from_months >= longer:
        raise UsageError(f"--growth-from-months {args.growth_from_months} is not a shorter history than the "
                         f"{longer} months landed: it must be less")
    report = bench(args.referrals, seed=args.seed, cache=Path(args.cache), repeats=args.repeats, sessions=args.sessions,
                   months=args.months, daily_runs=args.daily_runs, history_months=args.history_months,
                   growth_from_months=args.growth_from_months)
    print()
    for line in report.lines():
        print(line)
    if args.out:
        write_json(report, Path(args.out))
        print(f"\nwrote {args.out}")
    return 0


# --- quality --------------------------------------------------------------

def _quality_line(row: dict) -> str:
    status = (row["severity"] or "pass").upper()
    observed = row["observed_value"]
    if observed is None:
        shown = "-"
    elif row["family"] == "freshness":
        shown = f"{observed:g} h"
    elif row["failing_rows"] is not None and row["rows_checked"] and row["family"] != "dbt_test":
        shown = f"{row['failing_rows']:,} rows ({observed:.2%})" if observed < 1 or row["failing_rows"] > 1 else f"{observed:g}"
    else:
        shown = f"{observed:g}"
    line = f"{status:<5} {row['stage']:<7} {row['table_name']:<34} {row['check_name']:<52} {shown:<22} {row['threshold'] or ''}"
    if row["severity"] and row["failing_sample"]:
        line += "\n        e.g. " + "\n             ".join(row["failing_sample"][:3])
    if row["message"] and row["severity"]:
        line += f"\n        {row['message'][:300]}"
    return line


def cmd_compact(args: argparse.Namespace) -> int:
    from pipelines.defs.maintenance import compact_files

    warehouse = Path(args.warehouse).resolve()
    started = time.perf_counter()
    try:
        result = compact_files(warehouse, serving_path(warehouse))
    except FileNotFoundError as missing:
        raise UsageError(str(missing)) from None
    print(f"compact: {result.summary()} in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from pipelines.defs.quality.store import latest_results, quality_path

    warehouse = Path(args.warehouse).resolve()
    if args.html:
        from pipelines.defs.quality.checks import landed_checks, mart_checks
        from pipelines.defs.quality.suites import existing_tables, run_checks

        if not warehouse.exists():
            raise UsageError(f"no warehouse at {warehouse}: build one first with `refloop run`")
        print(f"validating {warehouse} and writing Great Expectations Data Docs to {args.html} ...")
        present = existing_tables(warehouse)
        checks = [c for c in landed_checks() + mart_checks() if c.table in present]
        run_checks(warehouse, checks, data_docs=Path(args.html).resolve(), read_only=True)
        index = next(Path(args.html).resolve().rglob("data_docs/local_site/index.html"), None)
        print(f"Data Docs: {index or args.html}")
    quality = quality_path(warehouse)
    if not quality.exists():
        raise UsageError(f"no quality results at {quality}: run the pipeline first (`refloop run`)")
    rows = latest_results(quality)
    errors = [r for r in rows if r["severity"] == "error"]
    warnings = [r for r in rows if r["severity"] == "warn"]
    shown = rows if args.all else errors + warnings
    print(f"{'STATUS':<5} {'STAGE':<7} {'TABLE':<34} {'CHECK':<52} {'OBSERVED':<22} THRESHOLD")
    for row in shown:
        print(_quality_line(row))
    newest = max((r["checked_at"] for r in rows), default=None)
    print(f"\n{len(rows)} checks (newest result {newest:%Y-%m-%d %H:%M}): {len(errors)} errors, "
          f"{len(warnings)} warnings, {len(rows) - len(errors) - len(warnings)} passed" if newest else "no checks yet")
    return 1 if errors else 0


# --- entry point ----------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refloop", description="Referral follow-through warehouse: extracts in, leakage dashboards out.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("generate", help="write a realistic sample extract set")
    p.add_argument("--referrals", type=_positive, default=20_000, help="number of referrals (default 20,000)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the extract files to")
    p.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same files")
    p.add_argument("--months", type=_positive, default=24, help="months of history (default 24)")
    p.add_argument("--end-date", type=_date, help="last day of the extracts (default 2026-11-30)")
    p.add_argument("--dirty", nargs="?", const="warn", choices=("warn", "error"),
                   help="seed data defects the quality checks must catch: 'warn' (default) stays under "
                        "error thresholds; 'error' adds one that stops the build (docs/data-quality.md)")
    p.add_argument("--next-day", type=Path, metavar="DIR",
                   help="write the last day's versions to DIR as a daily extract instead (for an incremental run)")
    p.add_argument("--formats", choices=("csv", "mixed"), default="csv",
                   help="'mixed': referrals as HL7 v2 messages and appointments as FHIR NDJSON, the rest "
                        "CSV, as a health system's exports often are (docs/formats/)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="ingest an extracts folder and build the warehouse")
    p.add_argument("--extracts", type=Path, default=DEFAULT_EXTRACTS, help="folder of extract files")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="DuckDB warehouse file to build")
    p.add_argument("--as-of", type=_date, help="as-of date T (default: derived from the data)")
    p.add_argument("--var", type=_var, action="append", metavar="KEY=VALUE",
                   help="dbt var, e.g. attribution_window_days=90 (repeatable)")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild every model from all landed versions and judge every landed row "
                        "(by default a run merges what is new and checks the rows it lands)")
    p.add_argument("--target", choices=("duckdb", "spark"), default="duckdb",
                   help="where dbt builds the models: duckdb (default, embedded) or spark (the spark output of "
                        "dbt_project/profiles.yml; the marts come back to the DuckDB warehouse to be published; "
                        "docs/deploy.md)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("queue", help="the referral work list")
    queue_sub = p.add_subparsers(dest="queue_command", required=True, metavar="SUBCOMMAND")
    q = queue_sub.add_parser("export", help="write the work list to CSV (for coordinators or an EMR bulk update)")
    q.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file (its published copy is read)")
    q.add_argument("--out", type=Path, required=True, help="CSV file to write")
    q.add_argument("--action", action="append", choices=QUEUE_ACTIONS,
                   help="only these actions (repeatable; default all)")
    q.set_defaults(func=cmd_queue_export)

    p = sub.add_parser("sql", help="read-only SQL over the published marts (a shell without QUERY)")
    p.add_argument("query", nargs="?", help="SQL to run; without it an interactive shell starts")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file (its published copy is read)")
    p.add_argument("--full", action="store_true",
                   help="read the warehouse itself (raw, staging, intermediate too), not the published copy")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the result to CSV instead of printing it")
    p.add_argument("--parquet", type=Path, metavar="FILE", help="write the result to Parquet instead of printing it")
    p.add_argument("--max-rows", type=_positive, default=40, help="rows to print (default 40)")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("export", help="write every public mart to Parquet (or CSV) files for a data lake")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file (its published copy is read)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--out", type=Path, required=True, help="folder to write <mart>.<format> files to")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("docs", help="build and serve the dbt documentation site (marts, columns, tests, lineage)")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file (catalog source)")
    p.add_argument("--out", type=Path, help="where to write the site (default dbt_project/target/docs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--no-serve", action="store_true", help="write the site and stop")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("bench", help="time the pipeline and the dashboard queries on N generated referrals")
    p.add_argument("--referrals", type=_positive, default=1_000_000, help="data set size (default 1,000,000)")
    p.add_argument("--months", type=_positive, default=24,
                   help="months of history the referrals span (default 24): with --referrals, sets the daily volume")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, help="also write the figures as JSON")
    p.add_argument("--cache", type=Path, default=DATA_DIR / "bench", help="where generated data sets are kept")
    p.add_argument("--repeats", type=_positive, default=20, help="cold runs per dashboard query (default 20)")
    p.add_argument("--sessions", type=int, default=20,
                   help="concurrent dashboard sessions loading every page while a run writes (default 20; 0 skips)")
    p.add_argument("--daily-runs", type=_positive, default=3,
                   help="daily runs, each from the same full build; the median is reported (default 3)")
    p.add_argument("--history-months", type=_positive,
                   help="land only the last N months of the set's history, then the same next day: "
                        "how the daily run's cost grows with the history at the same new data")
    p.add_argument("--growth-from-months", type=_positive, metavar="M",
                   help="also build the same set's last M months in full, run the same next day on both "
                        "histories (alternated, --daily-runs rounds) and report the daily run's seconds per "
                        "million more landed rows")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compact", help="rewrite the tables daily builds have left a fifth deleted rows "
                                       "(the weekly compaction job, by hand)")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="DuckDB warehouse file")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("quality", help="data-quality results of the latest run (exit 1 on any error)")
    p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file (its quality copy is read)")
    p.add_argument("--all", action="store_true", help="list passing checks too")
    p.add_argument("--html", type=Path, metavar="DIR",
                   help="re-validate the warehouse and write Great Expectations Data Docs to DIR")
    p.set_defaults(func=cmd_quality)

    for name, helptext in (("dashboard", "serve the dashboards"),
                           ("demo", "generate sample extracts, build, and serve the dashboards")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="warehouse file")
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default localhost only)")
        p.add_argument("--port", type=int, default=DEFAULT_PORT)
        p.add_argument("--coordinator-access", action="store_true",
                       help="show the patient-level referral queue page (care coordinators only)")
        if name == "demo":
            p.add_argument("--referrals", type=_positive, default=20_000)
            p.add_argument("--seed", type=int, default=7)
            p.add_argument("--out", type=Path, default=DEFAULT_EXTRACTS, help="landing folder for the sample")
            p.add_argument("--regenerate", action="store_true", help="write new sample files even if some exist")
            p.add_argument("--no-serve", action="store_true", help="stop after the build")
            p.add_argument("--dagster-port", type=int, default=0,
                           help="also serve the Dagster UI on this port (make demo uses 3000)")
            p.set_defaults(func=cmd_demo)
        else:
            p.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as error:
        print(f"refloop: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
