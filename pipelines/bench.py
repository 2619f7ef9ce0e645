"""`refloop bench`: how fast and how big, on a generated data set of N referrals.

Prints (and optionally writes as JSON) per stage wall time and peak memory,
ingest rows per second, the p50/p95 latency of every dashboard query and
page, and the ratio of the orchestrated dbt build to the same compiled SQL
run directly in one DuckDB session. Figures are measured, never asserted:
tests check the command works, not how fast this machine is.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.paths import DATA_DIR, DBT_PROJECT_DIR

BENCH_DIR = DATA_DIR / "bench"
# Dagster step -> benchmark stage
STAGES = {
    "landed_extracts": "ingest",
    "landed_quality_checks": "quality checks (landed)",
    "refloop_dbt": "dbt build",
    "mart_quality_checks": "quality checks (marts)",
    "serving__published_warehouse": "publish",
}


@dataclass
class BenchReport:
    referrals: int
    months: int = 24
    history_months: int | None = None
    machine: dict = field(default_factory=dict)
    stages: dict[str, dict] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    ingest_rows_per_second: float = 0.0
    direct_sql: dict = field(default_factory=dict)
    queries: dict[str, dict] = field(default_factory=dict)
    pages: dict[str, dict] = field(default_factory=dict)
    under_load: dict = field(default_factory=dict)
    daily: dict = field(default_factory=dict)
    history_growth: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        landed = f", the last {self.history_months} landed" if self.history_months else ""
        out = [f"refloop bench: {self.referrals:,} referrals over {self.months} months{landed} on {self.machine.get('cpus')} CPUs, "
               f"{self.machine.get('memory_gib')} GiB ({self.machine.get('python')}, duckdb {self.machine.get('duckdb')})",
               "", f"{'stage':<26} {'wall s':>8} {'peak MiB':>10}"]
        for name, stage in self.stages.items():
            peak = f"{stage['peak_mib']:,.0f}" if stage.get("peak_mib") else "-"
            out.append(f"{name:<26} {stage['seconds']:>8.1f} {peak:>10}")
        out.append("")
        out.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in self.rows.items()))
        out.append(f"ingest: {self.ingest_rows_per_second:,.0f} rows/s")
        if self.daily:
            d = self.daily
            runs = [r["seconds"] for r in d.get("runs", [])]
            spread = f" (median of {len(runs)} runs: {', '.join(f'{r:.1f}' for r in runs)} s)" if len(runs) > 1 else ""
            out.append(f"daily run (one more extract day, {d['rows_loaded']:,} rows = {d['share_of_history']:.2%} of the "
                       f"landed history, {'incremental' if d['incremental'] else 'FULL: ' + d['reason']}): "
                       f"{d['seconds']:.1f} s{spread}, peak {d['peak_mib']:,.0f} MiB")
            out.append("  " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in d["steps"].items()))
            if d.get("scope"):
                sc = d["scope"]
                out.append(f"  recomputed {sc['referrals']:,} of {sc['of_referrals']:,} referrals "
                           f"({sc['referrals'] / max(sc['of_referrals'], 1):.1%}), created in {sc['months']} of "
                           f"{sc['of_months']} months")
            if d.get("dbt_thread_seconds"):
                out.append("  dbt thread time: " + ", ".join(
                    f"{kind} {seconds:.1f} s" for kind, seconds in d["dbt_thread_seconds"].items() if seconds))
        if self.history_growth:
            out.extend(growth_lines(self.history_growth))
        if self.direct_sql:
            d = self.direct_sql
            out.append(f"dbt build {d['orchestrated_seconds']:.1f} s vs the same compiled SQL in one DuckDB session "
                       f"{d['direct_seconds']:.1f} s: overhead x{d['ratio']:.2f} ({d['models']} models, {d['tests']} tests)")
        out.append("")
        out.append(f"{'dashboard page':<26} {'p50 ms':>8} {'p95 ms':>8}   (all of a page's queries, cold cache)")
        for name, page in self.pages.items():
            out.append(f"{name:<26} {page['p50_ms']:>8.1f} {page['p95_ms']:>8.1f}")
        out.append("")
        out.append(f"{'dashboard query':<40} {'p50 ms':>8} {'p95 ms':>8}")
        for name, q in self.queries.items():
            out.append(f"{name:<40} {q['p50_ms']:>8.1f} {q['p95_ms']:>8.1f}")
        if self.under_load:
            load = self.under_load
            out.append("")
            out.append(f"page loads over HTTP/WebSocket (whole page rendered by the Streamlit server), "
                       f"{load['sessions']} concurrent sessions while a pipeline run writes:")
            out.append(f"{'page':<26} {'idle s':>8} {'p50 s':>8} {'p95 s':>8}")
            for name, page in load["pages"].items():
                idle = load["idle"].get(name, {}).get("p50_s", float("nan"))
                out.append(f"{name:<26} {idle:>8.2f} {page['p50_s']:>8.2f} {page['p95_s']:>8.2f}")
            out.append(f"errors: {len(load['errors'])}; the run {'succeeded' if load['run_succeeded'] else 'FAILED'}")
        return out


def _rows(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{n:,}"


def growth_lines(growth: dict) -> list[str]:
    """The daily run over a shorter and a longer history of the same set, at
    the same next day: what the longer history costs per million landed rows."""
    short, long = growth["shorter"], growth["longer"]
    out = [f"daily run and the history (the same next day, {growth['rounds']} alternated round"
           f"{'s' if growth['rounds'] > 1 else ''}, medians):"]
    for history in (short, long):
        out.append(f"  {history['history']}: {history['landed_rows']:,} landed rows, daily run "
                   f"{history['daily_seconds']:.1f} s ({', '.join(f'{s:.1f}' for s in history['runs'])} s), "
                   f"{history['scope_referrals']:,} referrals recomputed")
    per_million = growth["seconds_per_million_landed_rows"]
    line = (f"  {long['daily_seconds'] - short['daily_seconds']:+.1f} s for "
            f"{_rows(long['landed_rows'] - short['landed_rows'])} more landed rows: {per_million:+.2f} s per million")
    if growth.get("thirty_seconds_at_landed_rows"):
        line += (f"; at this rate a daily run passes 30 s at about "
                 f"{_rows(growth['thirty_seconds_at_landed_rows'])} landed rows")
    out.append(line)
    return out


def machine() -> dict:
    import duckdb

    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpus": os.cpu_count(), "memory_gib": round(pages / 2**30, 1), "platform": platform.platform(),
        "python": platform.python_version(), "duckdb": duckdb.__version__,
    }


def _peak_mib(rusage_kib: int) -> float:
    return rusage_kib / 1024


def generate_cached(referrals: int, seed: int, cache: Path, months: int = 24) -> tuple[Path, float, float]:
    """The landing folder for N referrals over `months` months, generated once
    and kept in `cache`. Returns (folder, seconds, peak MiB) — zeros when it
    was cached."""
    # v2: primary-care claims and a held-out next day (older caches are not reused)
    span = "" if months == 24 else f"-months-{months}"
    landing = cache / f"referrals-{referrals}{span}-seed-{seed}-v2" / "landing"
    done = landing.parent / ".complete"
    if done.exists():
        return landing, 0.0, 0.0
    shutil.rmtree(landing.parent, ignore_errors=True)
    started = time.perf_counter()
    # A child process, so its peak memory is its own.
    proc = subprocess.run(
        [sys.executable, "-c",
         "import resource, sys; from pathlib import Path; "
         "from pipelines.generate.generator import GenerateOptions, generate_to; "
         f"generate_to(GenerateOptions(referrals={referrals}, months={months}, seed={seed}), "
         "Path(sys.argv[1]), Path(sys.argv[2])); "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)", str(landing), str(next_day_folder(landing))],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"generating the bench data set failed:\n{proc.stderr[-2000:]}")
    done.touch()
    return landing, time.perf_counter() - started, _peak_mib(int(proc.stdout.split()[-1]))


def next_day_folder(landing: Path) -> Path:
    """The cached set's last day, held out: the daily extract of the incremental run."""
    return landing.parent / "next-day"


def history_files(landing: Path, months: int | None = None) -> list[Path]:
    """The cached set's files a bench run lands: all of them; with `months`,
    the snapshot files (patients, providers, slots) and the monthly change
    files of the last `months` months only. That is a shorter history of the
    same system, followed by the same held-out day, so benches of different
    `months` compare the daily run's cost at the same new data."""
    from pipelines.generate.generator import DATED_BY, VERSIONED

    files = sorted(landing.iterdir())
    if months is None:
        return files

    def entity(path: Path) -> str:
        return path.name.rsplit("_", 1)[0]

    def month_end(path: Path) -> str:
        return path.name.rsplit("_", 1)[1].split(".")[0]

    monthly = [path for path in files if entity(path) in VERSIONED or entity(path) in DATED_BY]
    kept = set(sorted({month_end(path) for path in monthly})[-months:])
    return [path for path in files if path not in monthly or month_end(path) in kept]


def run_pipeline_measured(landing: Path, warehouse: Path) -> dict:
    """The full Dagster job in a child process: per-step wall times from its
    event log, peak memory of the pipeline process and of dbt's subprocess."""
    code = r"""
import json, resource, sys
from pathlib import Path
from pipelines.cli import run_pipeline
summary = run_pipeline(Path(sys.argv[1]), Path(sys.argv[2]), quiet=True)
print(json.dumps({
    "success": summary.success, "failures": summary.failures, "rows_loaded": summary.rows_loaded,
    "steps": summary.step_seconds,
    "self_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "children_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(landing), str(warehouse)],
                          capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""}, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"the pipeline failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["success"]:
        raise RuntimeError("the pipeline failed: " + "; ".join(result["failures"]))
    result["wall_seconds"] = wall
    return result


def direct_sql(warehouse: Path, workdir: Path) -> dict:
    """Run every model's compiled SQL, in dbt's execution order, in one DuckDB
    session over a copy of the landed data: the floor without Dagster or dbt."""
    import duckdb

    found = last_build_results(warehouse)
    run_results = json.loads(found.read_text())
    manifest = json.loads((found.parent / "manifest.json").read_text())
    # Models and data tests, in the order dbt ran them (seeds are loaded as data, not timed).
    nodes = [r for r in run_results["results"] if r["unique_id"].startswith(("model.", "test."))]
    copy = workdir / "direct.duckdb"
    copy.unlink(missing_ok=True)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("attach ? as source (read_only)", [str(warehouse)])
        for schema in ("raw", "reference"):  # landed data and seeds
            conn.execute(f"create schema {schema}")
            for (table,) in conn.execute(
                "select table_name from duckdb_tables() where database_name = 'source' and schema_name = ?",
                [schema]).fetchall():
                conn.execute(f'create table {schema}."{table}" as select * from source.{schema}."{table}"')
        conn.execute("detach source")
        db = conn.execute("select current_database()").fetchone()[0]
        started = time.perf_counter()
        models = tests = 0
        for result in nodes:
            node = manifest["nodes"][result["unique_id"]]
            sql = node.get("compiled_code")
            if not sql:
                continue
            sql = sql.replace(f'"{node["database"]}".', f'"{db}".')
            for other in {manifest["nodes"][d]["database"] for d in node["depends_on"]["nodes"]
                          if d in manifest["nodes"]}:
                sql = sql.replace(f'"{other}".', f'"{db}".')
            if node["resource_type"] == "test":
                conn.execute(f"select count(*) from ({sql}) as failures").fetchone()
                tests += 1
                continue
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            conn.execute(f'create schema if not exists "{node["schema"]}"')
            conn.execute(f'create or replace {kind} "{node["schema"]}"."{node["alias"]}" as {sql}')
            models += 1
        direct = time.perf_counter() - started
    copy.unlink(missing_ok=True)
    return {"direct_seconds": direct, "models": models, "tests": tests}


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "runs": len(ordered)}


def dashboard_latency(serving: Path, repeats: int) -> tuple[dict, dict]:
    """Each dashboard query, and each page's whole set, with the cache cleared
    before every call (a first visit), on the published copy."""
    os.environ["REFLOOP_SERVING"] = str(serving)
    from dashboards import queries

    pages = queries.page_queries()
    frame = queries.FRAME_QUERIES
    per_query: dict[str, list[float]] = {}
    per_page: dict[str, list[float]] = {}
    for _ in range(repeats):
        for page, calls in pages.items():
            total = 0.0
            for name, call in frame + calls:
                queries._run.clear()
                started = time.perf_counter()
                call()
                spent = time.perf_counter() - started
                total += spent
                per_query.setdefault(name, []).append(spent)
            per_page.setdefault(page, []).append(total)
    return ({k: _percentiles(v) for k, v in per_query.items()}, {k: _percentiles(v) for k, v in per_page.items()})


def load_while_writing(landing: Path, warehouse: Path, sessions: int) -> dict:
    """Serve the dashboards on the published copy, load every page once in
    one session (idle), then in `sessions` concurrent sessions while a
    pipeline run rebuilds and republishes the warehouse."""
    from pipelines.loadtest import run_sessions, serving_dashboards, summarize

    with serving_dashboards(warehouse) as base:
        idle = summarize(run_sessions(base, sessions=1))
        run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--extracts", str(landing),
                                "--warehouse", str(warehouse), "--full-refresh"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "DAGSTER_HOME": ""})
        loaded = summarize(run_sessions(base, sessions=sessions, timeout=300))
        run.wait()
    return {"sessions": sessions, "idle": idle["pages"], "pages": loaded["pages"], "overall": loaded["overall"],
            "errors": loaded["errors"], "run_succeeded": run.returncode == 0}


def bench(referrals: int, seed: int = 7, cache: Path = BENCH_DIR, repeats: int = 20, sessions: int = 20,
          months: int = 24, daily_runs: int = 3, history_months: int | None = None,
          growth_from_months: int | None = None, log: Callable[[str], None] = print) -> BenchReport:
    import duckdb

    report = BenchReport(referrals, months, history_months, machine())
    log(f"[bench] data set of {referrals:,} referrals over {months} months (cached in {cache})")
    landing, seconds, peak = generate_cached(referrals, seed, cache, months)
    report.stages["generate"] = {"seconds": seconds, "peak_mib": peak, "cached": seconds == 0}
    work = landing.parent / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse = work / "refloop.duckdb"
    # The run's landing folder links to the cached files, so the next day can be added to it.
    extracts = work / "landing"
    extracts.mkdir()
    landed = history_files(landing, history_months)
    for path in landed:
        (extracts / path.name).symlink_to(path)
    if history_months is not None:
        log(f"[bench] landing the last {history_months} months of the history: {len(landed)} of "
            f"{len(list(landing.iterdir()))} files, then the same next day")
    log("[bench] full pipeline: ingest, quality checks, dbt build, publish")
    result = run_pipeline_measured(extracts, warehouse)
    for step, stage in STAGES.items():
        if step in result["steps"]:
            report.stages[stage] = {"seconds": result["steps"][step]}
    report.stages["full run (ingest -> publish)"] = {
        "seconds": sum(result["steps"].values()),
        "peak_mib": _peak_mib(max(result["self_peak_kib"], result["children_peak_kib"])),
        "pipeline_process_peak_mib": _peak_mib(result["self_peak_kib"]),
        "dbt_process_peak_mib": _peak_mib(result["children_peak_kib"]),
        "process_wall_seconds": result["wall_seconds"],
    }
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for entity in ("referrals", "appointments", "claims", "engagements", "referral_events"):
            report.rows[entity] = conn.execute(f"select count(*) from raw.{entity}").fetchone()[0]
    report.ingest_rows_per_second = result["rows_loaded"] / max(result["steps"].get("landed_extracts", 0), 1e-9)
    landed_rows = result["rows_loaded"]
    log("[bench] the same compiled SQL, directly in one DuckDB session")
    direct = direct_sql(warehouse, work)
    dbt_seconds = result["steps"].get("refloop_dbt", 0.0)
    report.direct_sql = {**direct, "orchestrated_seconds": dbt_seconds, "ratio": dbt_seconds / max(direct["direct_seconds"], 1e-9)}
    log(f"[bench] dashboard queries, {repeats} cold runs each")
    from pipelines.paths import serving_path

    report.queries, report.pages = dashboard_latency(serving_path(warehouse), repeats)
    if sessions:
        log(f"[bench] {sessions} concurrent dashboard sessions while a pipeline run writes")
        report.under_load = load_while_writing(extracts, warehouse, sessions)
    next_day = next_day_folder(landing)
    if growth_from_months is None:
        log(f"[bench] daily run: one more extract day, incremental ({daily_runs} run{'s' if daily_runs > 1 else ''})")
        report.daily = daily_runs_measured(extracts, next_day, warehouse, report.rows, daily_runs)
        return report
    log(f"[bench] the last {growth_from_months} months of the same history, built in full beside it")
    shorter = Path(str(work) + "-shorter")
    shutil.rmtree(shorter, ignore_errors=True)
    (shorter / "landing").mkdir(parents=True)
    for path in history_files(landing, growth_from_months):
        (shorter / "landing" / path.name).symlink_to(path)
    short_result = run_pipeline_measured(shorter / "landing", shorter / "refloop.duckdb")
    with duckdb.connect(str(shorter / "refloop.duckdb"), read_only=True) as conn:
        short_rows = {entity: conn.execute(f"select count(*) from raw.{entity}").fetchone()[0] for entity in report.rows}
    log(f"[bench] daily run: one more extract day, incremental, on both histories alternated "
        f"({daily_runs} round{'s' if daily_runs > 1 else ''})")
    report.daily, short_daily = alternating_daily_runs(
        [(extracts, warehouse, report.rows), (shorter / "landing", shorter / "refloop.duckdb", short_rows)],
        next_day, daily_runs)
    longer_history = f"the last {history_months} months" if history_months else f"all {months} months"
    report.history_growth = history_growth(
        {"history": f"the last {growth_from_months} months", "landed_rows": short_result["rows_loaded"],
         "full_run_seconds": sum(short_result["steps"].values()), **short_daily},
        {"history": longer_history, "landed_rows": landed_rows,
         "full_run_seconds": report.stages["full run (ingest -> publish)"]["seconds"], **report.daily},
        daily_runs)
    return report


def history_growth(shorter: dict, longer: dict, rounds: int) -> dict:
    """The daily run's growth from a shorter to a longer history of the same
    set, at the same next day: seconds per million more landed rows, and
    where, at that rate, a daily run would pass the scale target's 30 s."""
    def summary(history: dict) -> dict:
        return {"history": history["history"], "landed_rows": history["landed_rows"],
                "full_run_seconds": history["full_run_seconds"], "daily_seconds": history["seconds"],
                "runs": [run["seconds"] for run in history["runs"]], "scope_referrals": history["scope"]["referrals"]}

    short, long = summary(shorter), summary(longer)
    more_rows = long["landed_rows"] - short["landed_rows"]
    per_million = (long["daily_seconds"] - short["daily_seconds"]) / (more_rows / 1e6) if more_rows > 0 else 0.0
    thirty = None
    if per_million > 0 and long["daily_seconds"] < 30:
        thirty = round(long["landed_rows"] + (30 - long["daily_seconds"]) / per_million * 1e6)
    return {"shorter": short, "longer": long, "rounds": rounds,
            "seconds_per_million_landed_rows": per_million, "thirty_seconds_at_landed_rows": thirty}


def daily_runs_measured(extracts: Path, next_day: Path, warehouse: Path, history_rows: dict[str, int],
                        runs: int) -> dict:
    """The daily run `runs` times, each from the same full build (its
    warehouse files copied aside first and put back before each repeat):
    the figures of the median run, and every run's total. One machine's
    speed moves by a third within an hour; a single run says little."""
    (measured,) = alternating_daily_runs([(extracts, warehouse, history_rows)], next_day, runs)
    return measured


def alternating_daily_runs(histories: list[tuple[Path, Path, dict[str, int]]], next_day: Path,
                           runs: int) -> list[dict]:
    """daily_runs_measured for each (landing folder, warehouse, its history's
    rows), in rounds: each round runs every history's daily run once, so a
    machine whose speed drifts slows them alike. One result per history."""
    def warehouse_files(warehouse: Path) -> list[Path]:   # it, its serving and quality copies, their WALs
        return sorted(warehouse.parent.glob(f"{warehouse.stem}*.duckdb*"))

    files = {}
    for extracts, warehouse, _ in histories:
        for path in sorted(next_day.iterdir()):
            (extracts / path.name).symlink_to(path)
        files[warehouse] = warehouse_files(warehouse)
        saved = warehouse.parent / "before-daily"
        if runs > 1:
            shutil.rmtree(saved, ignore_errors=True)
            saved.mkdir()
            for path in files[warehouse]:
                shutil.copy2(path, saved / path.name)
    results: list[list[dict]] = [[] for _ in histories]
    for run in range(runs):
        for measured, (extracts, warehouse, history_rows) in zip(results, histories, strict=True):
            if run:
                for path in warehouse_files(warehouse):
                    path.unlink()
                for path in files[warehouse]:
                    shutil.copy2(warehouse.parent / "before-daily" / path.name, path)
                os.sync()   # the copy's writeback would otherwise run during the measured run
            measured.append(daily_run(extracts, warehouse, history_rows))
    medians = []
    for measured, (_, warehouse, _) in zip(results, histories, strict=True):
        shutil.rmtree(warehouse.parent / "before-daily", ignore_errors=True)
        ordered = sorted(measured, key=lambda r: r["seconds"])
        medians.append({**ordered[(len(ordered) - 1) // 2],
                        "runs": [{k: r[k] for k in ("seconds", "rows_loaded", "incremental")} for r in measured]})
    return medians


def daily_run(extracts: Path, warehouse: Path, history_rows: dict[str, int]) -> dict:
    """Run again with the held-out day's files in the landing folder: the
    version layer merges what is new (pipelines/defs/transform/dbt.py decides
    incremental)."""
    import duckdb

    result = run_pipeline_measured(extracts, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        run_id, full_refresh, reason = conn.execute(
            "select run_id, full_refresh, reason from raw._builds order by started_at desc limit 1").fetchone()
        scope = recomputed_scope(conn)
    history = sum(history_rows.values())
    return {
        "seconds": sum(result["steps"].values()),
        "steps": {STAGES.get(step, step): seconds for step, seconds in result["steps"].items()},
        "rows_loaded": result["rows_loaded"],
        "share_of_history": result["rows_loaded"] / max(history, 1),
        "incremental": not full_refresh, "reason": reason,
        "peak_mib": _peak_mib(max(result["self_peak_kib"], result["children_peak_kib"])),
        "scope": scope, "dbt_thread_seconds": dbt_thread_seconds(run_id),
    }


def recomputed_scope(conn) -> dict:
    """How much of the history the daily build computed again: the referrals
    in int_referral_scope (the per-referral models replace their rows), and
    the created months they fall in, out of all (a month-grained aggregate
    could keep only the months no referral in scope falls in)."""
    referrals, months = conn.execute(
        "select count(*), count(distinct created_month) from marts.fct_referrals "
        "where referral_id in (select referral_id from intermediate.int_referral_scope)").fetchall()[0]
    of_referrals, of_months = conn.execute(
        "select count(*), count(distinct created_month) from marts.fct_referrals").fetchall()[0]
    return {"referrals": referrals, "of_referrals": of_referrals, "months": months, "of_months": of_months}


def dbt_thread_time(results: list[dict], nodes: dict[str, dict]) -> dict[str, float]:
    """Seconds dbt's threads spent, by what the node does: the incremental
    models (their cost follows what changed), the tables rebuilt whole and
    the tests (theirs follows the history), the views."""
    kinds = {"incremental": "incremental models", "table": "tables rebuilt whole", "view": "views"}
    spent = dict.fromkeys([*kinds.values(), "tests"], 0.0)
    for result in results:
        node = nodes.get(result["unique_id"])
        if node is None:
            continue
        if node["resource_type"] == "test":
            spent["tests"] += result["execution_time"]
        elif node["resource_type"] == "model":
            kind = kinds.get(node["config"]["materialized"], "tables rebuilt whole")
            spent[kind] += result["execution_time"]
    return {kind: round(seconds, 2) for kind, seconds in spent.items()}


def last_build_results(warehouse: Path) -> Path:
    """The run_results.json of the warehouse's last dbt build: its run's own
    target folder, not the newest folder, which may be another process's
    build."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        run_id = conn.execute("select run_id from raw._builds order by started_at desc limit 1").fetchone()[0]
    found = _build_results(run_id)
    if found is None:
        raise RuntimeError(f"no dbt results of run {run_id} under {DBT_PROJECT_DIR / 'target'}")
    return found


def _build_results(run_id: str) -> Path | None:
    """The run_results.json of one pipeline run's dbt build (dagster-dbt
    gives each invocation a target folder named after the run)."""
    found = sorted((DBT_PROJECT_DIR / "target").glob(f"refloop_dbt-{run_id[:8]}-*/run_results.json"))
    return found[-1] if found else None


def dbt_thread_seconds(run_id: str) -> dict[str, float]:
    """dbt_thread_time of the build of one pipeline run."""
    found = _build_results(run_id)
    if found is None:
        return {}
    manifest = json.loads((found.parent / "manifest.json").read_text())
    return dbt_thread_time(json.loads(found.read_text())["results"], manifest["nodes"])


def write_json(report: BenchReport, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.__dict__, indent=2, default=str))


def peak_self_mib() -> float:
    return _peak_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
