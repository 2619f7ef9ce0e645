"""Daily loads (docs/deploy.md, Daily loads): a run after the first merges
the new versions into the version layer instead of rebuilding it, and gives
the same marts, row for row, as a full rebuild of the same landed data, late
corrections to year-old records included; on DuckDB and on Spark (a local
session), where the incremental build rewrites only the key buckets of the
changed records (insert_overwrite). One history and one next day serve both
engines: Spark's builds are slow, so the set is built once."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

import tests.pipelines.test_publish as test_publish
import tests.pipelines.test_reliability as reliability
from pipelines.cli import run_pipeline
from pipelines.defs.ingest.loader import ensure_raw_schema, load_directory
from pipelines.defs.transform.dbt import dbt_project, plan_build, project_checksum
from pipelines.defs.transform.spark import spark_dir
from pipelines.generate.generator import GenerateOptions, generate_to
from pipelines.paths import serving_path

pytestmark = pytest.mark.slow
DAY = "2026-11-30"


def late_corrections(history: Path, out: Path, day: str, month: str = "2025-06") -> dict[str, list[str]]:
    """Change files dated `day` that correct records from a year and more
    before: paid claim lines reversed, a referral entered in error, another
    completed, booked appointments marked attended and no-show, a specialist
    out of the network since January, a referral moved to another patient.
    They must change old months' numbers. Returns the corrected ids per entity."""
    def month_file(entity: str) -> pl.DataFrame:
        [path] = history.glob(f"{entity}_{month}-*")
        return pl.read_csv(path, infer_schema=False)

    claims = month_file("claims").filter(pl.col("claim_status") == "paid").sort("claim_id", "line_number").head(3)
    claims = claims.with_columns(pl.lit("reversed").alias("claim_status"), pl.lit("0.0").alias("allowed_amount"),
                                 pl.lit("0.0").alias("paid_amount"), pl.lit(f"{day}T11:00:00").alias("updated_at"))
    # an older version of another paid line, sent late: the line keeps its newer version
    stale = month_file("claims").filter(pl.col("claim_status") == "paid").sort("claim_id", "line_number").slice(3, 1)
    stale = stale.with_columns(pl.lit("reversed").alias("claim_status"), pl.lit(f"{month}-01T00:00:00").alias("updated_at"))
    referrals = month_file("referrals").filter(pl.col("status") == "active").sort("referral_id").head(2)
    referrals = referrals.with_columns(pl.Series("status", ["entered-in-error", "completed"]),
                                       pl.lit(f"{day}T11:05:00").alias("updated_at"))
    booked = month_file("appointments").filter(pl.col("status") == "booked").sort("appointment_id")
    appointments = booked.tail(2).with_columns(pl.Series("status", ["fulfilled", "noshow"]),
                                               pl.lit(f"{day} 11:10:00").alias("updated_at"))
    # an appointment that named one referral now names another (of another patient): the first loses it
    moved = booked.filter(pl.col("referral_id").is_not_null()).head(1)
    other = month_file("referrals").filter(pl.col("status") == "active").sort("referral_id").tail(1)
    moved_from = moved["referral_id"][0]
    moved = moved.with_columns(pl.lit(other["referral_id"][0]).alias("referral_id"),
                               pl.lit(f"{day} 11:15:00").alias("updated_at"))
    # a referral of a patient with no other moves to another patient: the first is left with no referral
    every = pl.concat([pl.read_csv(path, infer_schema=False) for path in sorted(history.glob("referrals_*"))])
    alone = every.group_by("patient_id").agg(pl.col("referral_id").n_unique().alias("referrals")).filter(
        pl.col("referrals") == 1)["patient_id"]
    candidates = month_file("referrals").filter(pl.col("patient_id").is_in(alone.implode()) & (pl.col("status") == "active")
                                                & ~pl.col("referral_id").is_in(referrals["referral_id"].implode())
                                                ).sort("referral_id")
    moved_referral = candidates.head(1).with_columns(pl.lit(candidates["patient_id"][1]).alias("patient_id"),
                                                     pl.lit(f"{day}T11:20:00").alias("updated_at"))
    # a specialist leaves the network from January: its directory row is closed and a new one opens
    [directory] = history.glob("providers_*")
    leaving = pl.read_csv(directory, infer_schema=False).filter(
        (pl.col("in_network") == "true") & ~pl.col("organization_id").str.starts_with("ORG-PC")
        & pl.col("effective_to").is_null()).sort("npi").head(1)
    providers = pl.concat([leaving.with_columns(pl.lit("2025-12-31").alias("effective_to")),
                           leaving.with_columns(pl.lit("false").alias("in_network"),
                                                pl.lit("2026-01-01").alias("effective_from"))])
    out.mkdir(parents=True, exist_ok=True)
    providers.write_csv(out / f"providers_{day}_corrections.csv")   # sorts after providers_{day}.csv: it wins
    claims.write_csv(out / f"claims_{day}-corrections.csv")
    stale.write_csv(out / f"claims_{day}-stale.csv")
    referrals.write_csv(out / f"referrals_{day}-corrections.csv")
    moved_referral.write_csv(out / f"referrals_{day}-moved.csv")
    pl.concat([appointments, moved]).write_csv(out / f"appointments_{day}-corrections.csv")
    return {"claims": claims["claim_id"].to_list(), "stale": [stale["claim_id"][0], int(stale["line_number"][0])],
            "referrals": referrals["referral_id"].to_list(),
            "appointments": appointments["appointment_id"].to_list(), "providers": leaving["npi"].to_list(),
            "moved": [moved["appointment_id"][0], moved_from, other["referral_id"][0]],
            "moved_referral": [moved_referral["referral_id"][0], candidates["patient_id"][0], candidates["patient_id"][1]]}


def ahead_of_the_history(history: Path, last_day: str = "2026-11-29") -> dict[str, str]:
    """Edit the history's last files so that records landed with it change
    standing only when T reaches the next day, with no new version: an
    appointment marked fulfilled ahead of its visit on DAY (attended once T
    gets there), a referral created on DAY (eligible from then on) that a
    later appointment names, an appointment booked for the last day
    (upcoming until T passes it), and a paid claim line for a service on DAY
    (counted once T gets there). Returns their ids."""
    path = history / f"appointments_{last_day}.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    referrals = {r["referral_id"]: r for r in csv.DictReader((history / f"referrals_{last_day}.csv").open(newline=""))}
    ahead = next(r for r in rows if r["status"] == "booked" and r["referral_id"] and r["start_at"] > "2026-12-01")
    ahead.update(start_at=f"{DAY} 09:00:00", status="fulfilled")
    # booked for the history's last day: upcoming while T is that day, not once T moves past it
    once = {r["referral_id"] for r in rows if r["referral_id"]}
    once = {rid for rid in once if sum(r["referral_id"] == rid for r in rows) == 1}
    today = next(r for r in rows if r["status"] == "booked" and r["referral_id"] in once and r is not ahead
                 and r["start_at"] > "2026-12-01")
    today.update(start_at=f"{last_day} 15:00:00")
    named = next(r["referral_id"] for r in rows
                 if r["referral_id"] in referrals and r is not ahead and r["start_at"] > "2026-12-01")
    referrals[named]["created_at"] = f"{DAY}T08:00:00"
    claims_path = history / f"claims_{last_day}.csv.gz"
    with gzip.open(claims_path, "rt", newline="") as f:
        claims = list(csv.DictReader(f))
    counted = next(r for r in claims if r["claim_status"] == "paid" and r["referral_id"])
    counted.update(service_date=DAY)
    for out, table in ((path, rows), (history / f"referrals_{last_day}.csv", list(referrals.values())),
                       (claims_path, claims)):
        with (gzip.open(out, "wt", newline="") if out.suffix == ".gz" else out.open("w", newline="")) as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    return {"appointment": ahead["appointment_id"], "referral": named, "today": today["appointment_id"],
            "claim_line": f"{counted['claim_id']}#{counted['line_number']}"}


def start_run(landing: Path, warehouse: Path) -> subprocess.Popen:
    """`refloop run` in a process of its own, so DuckDB builds while Spark (which mostly waits) builds."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    with open(warehouse.with_suffix(".log"), "w") as log:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--extracts", str(landing),
                                 "--warehouse", str(warehouse)], stdout=log, stderr=subprocess.STDOUT, env=env)


def finished(run: subprocess.Popen, warehouse: Path) -> None:
    run.wait(timeout=900)
    assert run.returncode == 0, warehouse.with_suffix(".log").read_text()[-3000:]


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    landing = root / "landing"
    generate_to(GenerateOptions(referrals=2_000, seed=23), landing, next_day=root / "day")
    corrected = late_corrections(landing, root / "day", DAY)
    corrected["ahead"] = ahead_of_the_history(landing)
    # Both engines' warehouses share one patient_key secret (made with the raw schema)
    with duckdb.connect(str(root / "daily.duckdb")) as conn:
        ensure_raw_schema(conn)
    shutil.copy(root / "daily.duckdb", root / "spark.duckdb")
    # the history, on DuckDB and on Spark at once
    history = start_run(landing, root / "daily.duckdb")
    spark_first = run_pipeline(landing, root / "spark.duckdb", quiet=True, target="spark")
    assert spark_first.success, spark_first.failures
    finished(history, root / "daily.duckdb")
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        before = dict(conn.execute(
            "select referral_id, outcome from marts.fct_referrals where referral_id in (?, ?)",
            corrected["referrals"]).fetchall())
        history_rows = conn.execute("select count(*) from intermediate.int_claims_deduplicated").fetchone()[0]
    # the next day, with the late corrections: incremental on both engines, and
    # the reference, everything landed at once and built in full
    for path in (root / "day").iterdir():
        shutil.copy(path, landing)
    reference = start_run(landing, root / "full.duckdb")
    second = start_run(landing, root / "daily.duckdb")
    spark = run_pipeline(landing, root / "spark.duckdb", quiet=True, target="spark")
    assert spark.success, spark.failures
    finished(reference, root / "full.duckdb")
    finished(second, root / "daily.duckdb")
    return root, corrected, before, history_rows, spark


def builds(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("select target, full_refresh, reason from raw._builds order by started_at").fetchall()


def test_the_second_run_is_incremental_and_the_reference_is_full(daily):
    root, *_ = daily
    assert builds(root / "daily.duckdb") == [("duckdb", True, "first build on duckdb"),
                                             ("duckdb", False, "new versions merge into the version layer")]
    assert builds(root / "full.duckdb") == [("duckdb", True, "first build on duckdb")]


def test_the_daily_build_leaves_views_and_seeds_and_runs_their_tests(daily):
    """Views and seeds are as the last build left them (same SQL, same CSV):
    the daily build does not create them again, yet every dbt test runs,
    those on views and seeds among them; the full build ran every node."""
    root, *_ = daily
    manifest = json.loads(dbt_project.manifest_path.read_text())["nodes"]
    settled = {uid for uid, node in manifest.items() if node["resource_type"] == "seed"
               or (node["resource_type"] == "model" and node["config"]["materialized"] == "view")}
    tests = {uid for uid, node in manifest.items() if node["resource_type"] == "test"}
    on_settled = {uid for uid in tests if set(manifest[uid]["depends_on"]["nodes"]) & settled}
    assert len(settled) > 10 and on_settled
    ran = {}
    for warehouse in ("daily.duckdb", "full.duckdb"):
        with duckdb.connect(str(root / warehouse), read_only=True) as conn:
            for (run_id,) in conn.execute("select run_id from raw._builds order by started_at").fetchall():
                [results] = (dbt_project.project_dir / "target").glob(f"refloop_dbt-{run_id[:8]}-*/run_results.json")
                ran[warehouse, run_id] = {r["unique_id"] for r in json.loads(results.read_text())["results"]}
            tested = {name for (name,) in conn.execute(
                "select check_name from quality.check_results where stage = 'dbt' and run_id = "
                "(select run_id from raw._builds order by started_at desc limit 1)").fetchall()}
        assert {manifest[uid]["name"] for uid in tests} <= tested, warehouse
    (first, daily_run), (full,) = [[ids for (w, _), ids in ran.items() if w == name]
                                   for name in ("daily.duckdb", "full.duckdb")]
    assert settled <= first and settled <= full
    assert not settled & daily_run
    assert tests <= daily_run and on_settled <= daily_run


def test_incremental_marts_equal_a_full_rebuild_row_for_row(daily):
    root, *_ = daily
    # patient_key differs only because each warehouse has its own secret
    assert reliability.mart_differences(root / "full.duckdb", root / "daily.duckdb") == {}
    with duckdb.connect() as conn:
        conn.execute("attach ? as f (read_only)", [str(root / "full.duckdb")])
        conn.execute("attach ? as d (read_only)", [str(root / "daily.duckdb")])
        # when a row landed or was computed differs, by design; nothing else may
        for table, when in (("int_referrals_deduplicated", "loaded_at"), ("int_claims_deduplicated", "loaded_at"),
                            ("int_appointments_deduplicated", "loaded_at"),
                            ("int_referral_events_deduplicated", "loaded_at"),
                            ("int_engagements_deduplicated", "loaded_at"), ("int_providers_deduplicated", "loaded_at"),
                            ("int_care_evidence_networked", "loaded_at, _built_at"),
                            ("int_care_evidence_attributed", "_built_at"),
                            ("int_referral_evidence_summarized", "_built_at"),
                            ("int_referral_outcomes_assigned", "_built_at"), ("int_referral_queue_actions", None),
                            ("int_cms50_first_referrals", None),
                            ("int_referral_queue_rows", "patient_key")):
            columns = f"* exclude ({when})" if when else "*"
            only = [conn.execute(f"select count(*) from (select {columns} from {x}.intermediate.{table} "
                                 f"except all select {columns} from {y}.intermediate.{table})").fetchone()[0]
                    for x, y in (("f", "d"), ("d", "f"))]
            assert only == [0, 0], table


def test_the_daily_publication_took_the_builds_changes_and_equals_the_warehouse(daily):
    """The serving copy of the history took the daily build's changes instead
    of being written whole, and holds every mart of the warehouse row for row
    (every column, every queue snapshot)."""
    root, *_ = daily
    warehouse = root / "daily.duckdb"
    with duckdb.connect(str(serving_path(warehouse)), read_only=True) as conn:
        assert conn.execute("select publish_mode from meta.publication").fetchone() == ("changes",)
        snapshots = conn.execute("select count(distinct built_at) from marts.referral_queue_history").fetchone()[0]
    assert snapshots == 2
    assert test_publish.differences(warehouse, serving_path(warehouse)) == {}


def test_the_daily_build_left_the_rows_it_replaced_stored(daily):
    """Without a vacuum (pipelines/storage.py) the rows the daily build
    replaced stay stored, marked deleted, in the warehouse and its serving copy."""
    root, *_ = daily
    for path in (root / "daily.duckdb", serving_path(root / "daily.duckdb")):
        stored, live = test_publish.stored_and_live(path, "marts.fct_referrals")
        assert stored > live, path
    stored, live = test_publish.stored_and_live(root / "full.duckdb", "marts.fct_referrals")
    assert stored == live


def test_the_daily_build_kept_the_fine_aggregates_by_cell(daily):
    """The aggregates kept by cell (macros/replace_cells.sql) took the daily
    build's change in place: the rows of the cells in scope replaced (stored
    but deleted, without a vacuum), the other cells' rows left; the coarse
    ones are rebuilt whole. Equal to the full rebuild all the same (above)."""
    root, *_ = daily
    for table in ("marts.agg_referrals_cube", "marts.agg_referrals_by_practice", "marts.agg_outreach_by_channel",
                  "marts.agg_outreach_touch_curve", "marts.agg_outreach_sequences", "marts.agg_reminder_effect"):
        stored, live = test_publish.stored_and_live(root / "daily.duckdb", table)
        assert live < stored < 2 * live, table
    stored, live = test_publish.stored_and_live(root / "daily.duckdb", "marts.agg_referrals_monthly")
    assert stored == live


def test_the_daily_build_keeps_the_queue_by_referral(daily):
    """The queue's rows are kept by referral (int_referral_queue_scope): the
    daily build replaced a small share of them in place, and marts.referral_queue
    is a view that adds days_open and T, so the rows it did not replace are
    a day older all the same; among those it replaced, the open referrals sent
    to the specialist who left the network (the directory on T changed, not
    the referral). The full rebuild's scope is empty; the serving copy holds
    the view over its own copy of the rows."""
    root, corrected, *_ = daily
    [npi] = corrected["providers"]
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        scope = {r for (r,) in conn.execute("select referral_id from intermediate.int_referral_queue_scope").fetchall()}
        queue = conn.execute("select count(*) from marts.referral_queue").fetchone()[0]
        sent = {r for (r,) in conn.execute(
            "select referral_id from marts.referral_queue where referred_to_npi = ?", [npi]).fetchall()}
        kept = conn.execute(
            "select count(*) from marts.referral_queue cross join intermediate.int_parameters as p "
            "where referral_id not in (select referral_id from intermediate.int_referral_queue_scope) "
            "and days_open = p.as_of_date - created_date and referral_queue.as_of_date = date '" + DAY + "'").fetchone()[0]
        kind = conn.execute("select table_type from information_schema.tables "
                            "where table_schema = 'marts' and table_name = 'referral_queue'").fetchone()[0]
    stored, live = test_publish.stored_and_live(root / "daily.duckdb", "intermediate.int_referral_queue_rows")
    assert kind == "VIEW"
    assert 0 < len(scope) < queue / 4
    assert live < stored < live + len(scope) + 1
    assert sent and sent <= scope
    assert kept > queue / 2
    with duckdb.connect(str(root / "full.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from intermediate.int_referral_queue_scope").fetchone()[0] == 0
    with duckdb.connect(str(serving_path(root / "daily.duckdb")), read_only=True) as conn:
        assert conn.execute("select count(*) from marts.referral_queue").fetchone()[0] == queue


def test_the_daily_build_keeps_the_cms50_first_referrals_by_patient(daily):
    """CMS50's first referrals are kept by patient (int_cms50_scope): the
    daily build replaced a small share of the rows in place, among them the
    rows of the patients of the year-old referrals corrected late (one
    entered in error, which may have been that patient's first of 2025),
    and both patients of the referral moved to another: the first had no
    other referral, so only the last build's rows tell that they are in
    scope, and their row goes. The full rebuild's scope is empty."""
    root, corrected, *_ = daily
    _, moved_from, moved_to = corrected["moved_referral"]
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        scope = {p for (p,) in conn.execute("select patient_id from intermediate.int_cms50_scope").fetchall()}
        patients, years = conn.execute("select count(distinct patient_id), count(distinct measurement_year) "
                                       "from intermediate.int_cms50_first_referrals").fetchone()
        corrected_patients = {p for (p,) in conn.execute(
            "select patient_id from intermediate.int_referrals_deduplicated where referral_id in (?, ?)",
            corrected["referrals"]).fetchall()}
        firsts = dict(conn.execute("select patient_id, list(referral_id) from intermediate.int_cms50_first_referrals "
                                   "where patient_id in (?, ?) group by 1", [moved_from, moved_to]).fetchall())
    stored, live = test_publish.stored_and_live(root / "daily.duckdb", "intermediate.int_cms50_first_referrals")
    assert 0 < len(scope) < patients / 4
    assert len(corrected_patients) == 2 and corrected_patients <= scope
    assert {moved_from, moved_to} <= scope
    assert moved_from not in firsts and moved_to in firsts
    assert live < stored <= live + len(scope) * years
    with duckdb.connect(str(root / "full.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from intermediate.int_cms50_scope").fetchone()[0] == 0


def test_the_daily_build_logged_only_the_queues_changes(daily):
    """The queue's history is kept as its changes (int_referral_queue_log):
    the first build logged its whole queue, the daily build its own row and
    the referrals that entered the queue, left it or changed action, far
    fewer than the queue; marts.referral_queue_history still lists both
    builds' queues, the latest equal to marts.referral_queue; and
    agg_referral_queue_changes (the referrals the build logged, the rest of
    the queue unchanged) counts what a comparison of the two whole queues
    counts. Spark, whose history stays a table of snapshots, counts the same
    from its log. The daily build compared only the queue's scope with the log."""
    root, *_ = daily
    changes = "select action, change, referrals from marts.agg_referral_queue_changes order by all"
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        logged = conn.execute("select count(referral_id) from intermediate.int_referral_queue_log "
                              "group by built_at order by built_at").fetchall()
        snapshots = conn.execute("select count(*) from marts.referral_queue_history "
                                 "group by built_at order by built_at").fetchall()
        changed = conn.execute("select sum(referrals) from marts.agg_referral_queue_changes "
                               "where change != 'unchanged'").fetchone()[0]
        queue = conn.execute("select count(*) from marts.referral_queue").fetchone()[0]
        unequal = conn.execute("select count(*) from (select referral_id, action from marts.referral_queue_history "
                               "where built_at = (select max(built_at) from marts.referral_queue_history) "
                               "except all select referral_id, action from marts.referral_queue)").fetchone()[0]
        on_duckdb = conn.execute(changes).fetchall()
        # the changes as refloop 0.1 counted them, from the two builds' whole queues
        by_snapshots = conn.execute("""
            with builds as (select distinct built_at from marts.referral_queue_history),
            latest as (select * from marts.referral_queue_history where built_at = (select max(built_at) from builds)),
            previous as (select * from marts.referral_queue_history where built_at = (select min(built_at) from builds))
            select coalesce(latest.action, previous.action) as action,
                case when previous.referral_id is null then 'new' when latest.referral_id is null then 'resolved'
                     when latest.action != previous.action then 'action_changed' else 'unchanged' end as change,
                count(*) as referrals
            from latest full outer join previous on latest.referral_id = previous.referral_id
            group by all order by all""").fetchall()
    with duckdb.connect(str(root / "spark.duckdb"), read_only=True) as conn:
        on_spark = conn.execute(changes).fetchall()
    assert logged[0] == snapshots[0] and snapshots[1] == (queue,) and unequal == 0
    assert 0 < logged[1][0] == changed < queue / 4
    assert on_duckdb == by_snapshots == on_spark
    # Spark's log, which stays in Spark: one row per build, as DuckDB's
    spark_log = spark_dir(root / "spark.duckdb") / "warehouse" / "intermediate.db" / "int_referral_queue_log"
    with duckdb.connect() as conn:
        assert conn.execute("select count(*), count(distinct built_at) from read_parquet(?) where referral_id is null",
                            [f"{spark_log}/*.parquet"]).fetchone() == (2, 2)
    # the daily build compared the queue's scope with the log; the full build, the whole queue
    for warehouse, scoped in (("daily.duckdb", True), ("full.duckdb", False)):
        with duckdb.connect(str(root / warehouse), read_only=True) as conn:
            run_id = conn.execute("select run_id from raw._builds order by started_at desc limit 1").fetchone()[0]
        [compiled] = (dbt_project.project_dir / "target").glob(
            f"refloop_dbt-{run_id[:8]}-*/compiled/refloop/models/intermediate/queue/int_referral_queue_log.sql")
        compares = re.search(r"referral_id in \(select referral_id from \S*int_referral_queue_scope", compiled.read_text())
        assert bool(compares) == scoped, warehouse
    assert {change for _, change, _ in on_duckdb} >= {"unchanged", "action_changed"}


def test_the_daily_build_attributes_only_the_patients_in_scope(daily):
    """Attribution is kept incrementally: the daily build recomputed the
    patients whose evidence or referrals changed or whose dates T passed, a
    small share of all, and among them those of the late corrections."""
    root, corrected, *_ = daily
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        in_scope, patients = conn.execute(
            "select (select count(*) from intermediate.int_care_evidence_attribution_scope), "
            "count(distinct patient_id) from intermediate.int_care_evidence_attributed").fetchone()
        corrected_patients = {p for (p,) in conn.execute(
            "select patient_id from intermediate.int_referrals_deduplicated where referral_id in (?, ?) "
            "union select patient_id from intermediate.int_claims_deduplicated where claim_id in (?, ?, ?)",
            corrected["referrals"] + corrected["claims"]).fetchall()}
        missing = conn.execute(
            "select count(*) from unnest(?::varchar[]) as t(patient_id) where patient_id not in "
            "(select patient_id from intermediate.int_care_evidence_attribution_scope)",
            [sorted(corrected_patients)]).fetchone()[0]
    with duckdb.connect(str(root / "full.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from intermediate.int_care_evidence_attribution_scope").fetchone()[0] == 0
    assert 0 < in_scope < patients / 4
    assert len(corrected_patients) >= 2 and missing == 0


def test_the_daily_build_recomputes_only_the_referrals_in_scope(daily):
    """The evidence summary, outcomes and fct_referrals are kept by referral:
    the daily build recomputed a small share, among them the referral that
    lost its appointment to another (named by no new evidence: only the
    attribution before the build tells), the one that gained it, and the
    one whose appointment stopped being upcoming when T passed its date."""
    root, corrected, *_ = daily
    appointment, moved_from, moved_to = corrected["moved"]
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        scope = {r for (r,) in conn.execute("select referral_id from intermediate.int_referral_scope").fetchall()}
        referrals = conn.execute("select count(*) from marts.fct_referrals").fetchone()[0]
        today = conn.execute("select attributed_referral_id from intermediate.int_care_evidence_attributed "
                             "where evidence_type = 'appointment' and evidence_id = ?",
                             [corrected["ahead"]["today"]]).fetchone()[0]
        assert conn.execute("select attributed_referral_id from intermediate.int_care_evidence_attributed "
                            "where evidence_type = 'appointment' and evidence_id = ?",
                            [appointment]).fetchone()[0] == moved_to
    with duckdb.connect(str(root / "full.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from intermediate.int_referral_scope").fetchone()[0] == 0
    assert 0 < len(scope) < referrals / 4
    assert {moved_from, moved_to, today, *corrected["referrals"]} <= scope


def test_the_daily_build_leaves_the_referrals_that_did_not_change(daily):
    """The scope is what changed, not everything near it: a referral of a
    patient attributed again, with evidence attributed to it that is what it
    was (the patient's new claim line went to another referral, or to none),
    is not computed again, nor a completed referral whose attribution window
    ended as T moved (the window decides only an unscheduled outcome). The
    release before computed both again."""
    root, *_ = daily
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        unchanged = conn.execute(
            "select count(*) from intermediate.int_referrals_eligible "
            "where patient_id in (select patient_id from intermediate.int_care_evidence_attribution_scope) "
            "and referral_id in (select attributed_referral_id from intermediate.int_care_evidence_attributed) "
            "and referral_id not in (select referral_id from intermediate.int_referral_scope)").fetchone()[0]
        window_ended = conn.execute(
            "select count(*), count(scope.referral_id) from marts.fct_referrals as referrals "
            "cross join intermediate.int_parameters as parameters "
            "left join intermediate.int_referral_scope as scope on referrals.referral_id = scope.referral_id "
            "where cast(referrals.created_at as date) = parameters.as_of_date - 180 "
            "and referrals.outcome like 'completed%'").fetchone()
    assert unchanged > 0
    assert window_ended[0] > 0 and window_ended[1] == 0


def test_records_whose_dates_t_reached_change_without_a_new_version(daily):
    """T moved to DAY: the appointment marked fulfilled ahead of its visit
    that day is attended now, the referral created that day is eligible, and
    the claim line for a service that day counts, although none has a new
    version (the equality with the full rebuild above depends on attribution
    seeing them)."""
    root, corrected, *_ = daily
    ahead = corrected["ahead"]
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        assert conn.execute("select as_of_date from intermediate.int_parameters").fetchone()[0].isoformat() == DAY
        assert conn.execute("select is_attended from intermediate.int_care_evidence_attributed "
                            "where evidence_type = 'appointment' and evidence_id = ?",
                            [ahead["appointment"]]).fetchall() == [(True,)]
        assert conn.execute("select evidence_date from intermediate.int_care_evidence_attributed "
                            "where evidence_type = 'claim_line' and evidence_id = ?",
                            [ahead["claim_line"]]).fetchone()[0].isoformat() == DAY
        assert conn.execute("select count(*) from marts.fct_referrals where referral_id = ?",
                            [ahead["referral"]]).fetchone()[0] == 1
        # and both were there before T reached them, landed with the history
        assert conn.execute("select count(*) from raw.appointments where appointment_id = ? and _file_name like ?",
                            [ahead["appointment"], "appointments_2026-11-29%"]).fetchone()[0] == 1


def test_late_corrections_to_year_old_records_change_the_marts(daily):
    root, corrected, before, history_rows, _ = daily
    with duckdb.connect(str(root / "daily.duckdb"), read_only=True) as conn:
        in_error, completed = corrected["referrals"]
        # entered in error: no longer an eligible referral
        assert before.get(in_error) is not None
        assert conn.execute("select count(*) from marts.fct_referrals where referral_id = ?", [in_error]).fetchone()[0] == 0
        assert conn.execute("select referral_status from marts.fct_referrals where referral_id = ?",
                            [completed]).fetchone()[0] == "completed"
        reversed_lines = conn.execute(
            "select count(*) from intermediate.int_claims_deduplicated where claim_id in (?, ?, ?) "
            "and claim_status = 'reversed'", corrected["claims"]).fetchone()[0]
        assert reversed_lines == 3
        # a late older version changes nothing: the line keeps its newer version
        [(kept_file, kept_newer)] = conn.execute(
            "select source_file_name, updated_at > timestamp '2025-06-01' from intermediate.int_claims_deduplicated "
            "where claim_id = ? and line_number = ?", corrected["stale"]).fetchall()
        assert kept_newer and not kept_file.endswith("-stale.csv")
        assert conn.execute("select count(*) from raw.claims where claim_id = ? and line_number = ? "
                            "and _file_name like '%-stale.csv'", corrected["stale"]).fetchone()[0] == 1
        statuses = conn.execute("select appointment_id, status from marts.fct_appointments where appointment_id in (?, ?) "
                                "order by 1", corrected["appointments"]).fetchall()
        assert [s for _, s in statuses] == ["fulfilled", "noshow"]
        # the specialist's care since January is out of network, before it in network
        [npi] = corrected["providers"]
        network = dict(conn.execute(
            "select evidence_date >= date '2026-01-01', list(distinct is_in_network) "
            "from intermediate.int_care_evidence_networked where provider_npi = ? group by 1", [npi]).fetchall())
        assert network == {False: [True], True: [False]}
        # merged, not appended: one row per claim line still
        lines = conn.execute("select count(*), count(distinct (claim_id, line_number)) "
                             "from intermediate.int_claims_deduplicated").fetchone()
        assert lines[0] == lines[1] > history_rows


def test_a_re_sent_file_makes_the_next_build_full(daily, tmp_path):
    """A re-sent file takes its earlier versions out of the landed tables, so
    the version layer may hold a version that is gone: the next build is full
    (and a full build is the first build, checked everywhere else)."""
    root, corrected, _, _, _ = daily
    warehouse = tmp_path / "resent.duckdb"
    shutil.copy(root / "daily.duckdb", warehouse)
    landing = tmp_path / "landing"
    shutil.copytree(root / "landing", landing)
    corrections = landing / f"referrals_{DAY}-corrections.csv"
    lines = corrections.read_text().splitlines()
    corrections.write_text("\n".join(lines[:2]) + "\n")      # the second correction withdrawn
    with duckdb.connect(str(warehouse)) as conn:
        vars_json, checksum = conn.execute(
            "select vars, project_checksum from raw._builds order by started_at desc limit 1").fetchone()
        assert checksum == project_checksum()
        assert plan_build(conn, "duckdb", vars_json, checksum) == (False, "new versions merge into the version layer")
        results = load_directory(conn, landing, "resend")
        assert [(r.file_name, r.status) for r in results if r.status != "unchanged"] == [
            (corrections.name, "loaded")]
        # the withdrawn correction is out of the landed rows
        assert conn.execute("select referral_id from raw.referrals where _file_name = ?",
                            [corrections.name]).fetchall() == [(corrected["referrals"][0],)]
        assert plan_build(conn, "duckdb", vars_json, checksum) == (
            True, f"{corrections.name} was re-sent and replaced versions landed earlier")
        assert plan_build(conn, "duckdb", '{"attribution_window_days": 90}', checksum) == (
            True, "parameters changed since the last build")
        assert plan_build(conn, "duckdb", vars_json, "0" * 64) == (True, "the dbt project changed since the last build")
        assert plan_build(conn, "spark", vars_json, checksum) == (True, "first build on spark")
        assert plan_build(conn, "duckdb", vars_json, checksum, asked=True) == (True, "full refresh asked for")


# --- Spark -------------------------------------------------------------------

def test_fct_referrals_on_spark_equals_duckdb_row_for_row(daily):
    root, *_ = daily
    with duckdb.connect() as conn:
        conn.execute("attach ? as d (read_only)", [str(root / "daily.duckdb")])
        conn.execute("attach ? as s (read_only)", [str(root / "spark.duckdb")])
        columns = conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'd' "
            "and schema_name = 'marts' and table_name = 'fct_referrals' order by column_index").fetchall()
        assert conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 's' "
            "and schema_name = 'marts' and table_name = 'fct_referrals' order by column_index").fetchall() == columns
        total = conn.execute("select count(*) from d.marts.fct_referrals").fetchone()[0]
        # patient_key is the same: the warehouse key is landed data, and SHA-256 is SHA-256 on both engines
        only = [conn.execute(f"select count(*) from (select * from {x}.marts.fct_referrals "
                             f"except all select * from {y}.marts.fct_referrals)").fetchone()[0]
                for x, y in (("d", "s"), ("s", "d"))]
    assert total > 1_500 and only == [0, 0]


def test_every_mart_on_spark_equals_duckdb(daily):
    root, *_ = daily
    assert reliability.mart_differences(root / "daily.duckdb", root / "spark.duckdb") == {}


def test_the_second_spark_build_was_incremental(daily):
    root, *_ = daily
    assert builds(root / "spark.duckdb") == [("spark", True, "first build on spark"),
                                             ("spark", False, "new versions merge into the version layer")]
    table = spark_dir(root / "spark.duckdb") / "warehouse" / "intermediate.db" / "int_claims_deduplicated"
    assert len(list(table.glob("_version_bucket=*"))) == 64


def data_tests() -> int:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return sum(node["resource_type"] == "test" for node in manifest["nodes"].values())


def test_spark_tables_live_beside_the_warehouse_and_the_serving_copy_is_published(daily):
    root, *_, summary = daily
    tables = spark_dir(root / "spark.duckdb") / "warehouse"
    assert (tables / "marts.db" / "fct_referrals").is_dir()
    assert any((tables / "marts.db" / "fct_referrals").glob("*.parquet"))
    assert (spark_dir(root / "spark.duckdb") / "raw" / "referrals" / "part-0.parquet").exists()
    # every data test of the project ran on Spark, and none failed
    assert summary.published and summary.tests_failed == 0, summary
    assert summary.tests_passed + summary.tests_warned == data_tests(), summary
    with duckdb.connect(str(root / "spark.serving.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from marts.fct_referrals").fetchone()[0] > 1_500


def test_the_local_sessions_jvm_takes_the_options_in_refloop_spark_java_options(monkeypatch):
    """The `spark` output passes REFLOOP_SPARK_JAVA_OPTIONS to the session's
    JVM after its own options, and without it keeps only its own."""
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    def rendered() -> str:
        set_invocation_context(dict(os.environ))
        spark = read_profile(str(dbt_project.project_dir))["refloop"]["outputs"]["spark"]
        return ProfileRenderer({}).render_data(spark)["server_side_parameters"]["spark.driver.extraJavaOptions"]

    monkeypatch.setenv("REFLOOP_SPARK_DIR", "/srv/refloop.spark")
    monkeypatch.setenv("REFLOOP_SPARK_JAVA_OPTIONS", "-XX:+UseSerialGC")
    assert rendered() == "-Dderby.stream.error.file=/srv/refloop.spark/derby.log -XX:+UseSerialGC"
    monkeypatch.setenv("REFLOOP_SPARK_JAVA_OPTIONS", "-Djava.io.tmpdir=/big/disk -Xss4m")
    assert rendered() == "-Dderby.stream.error.file=/srv/refloop.spark/derby.log -Djava.io.tmpdir=/big/disk -Xss4m"
    monkeypatch.delenv("REFLOOP_SPARK_JAVA_OPTIONS")
    assert rendered().split() == ["-Dderby.stream.error.file=/srv/refloop.spark/derby.log"]
