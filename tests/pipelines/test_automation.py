"""The landing-folder sensor, the daily schedule and the weekly compaction,
evaluated and run by Dagster on real files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

import duckdb
from dagster import DagsterInstance, SensorResult, SkipReason, build_schedule_context, build_sensor_context

from pipelines import storage
from pipelines.definitions import BUILD_JOB, defs
from pipelines.defs.automation import SETTLE_SECONDS, daily_build_schedule, landing_folder_sensor
from pipelines.paths import serving_path
from pipelines.resources import ExtractsResource, WarehouseResource

HEADER = "referral_id,patient_id,created_at,requested_specialty_code,status,updated_at\n"


def evaluate(folder, cursor=None):
    context = build_sensor_context(cursor=cursor, resources={"extracts": ExtractsResource(directory=str(folder))})
    return landing_folder_sensor(context)


def age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_code_location_has_the_sensor_and_the_schedule_on_the_build_job():
    assert defs.get_sensor_def("landing_folder_sensor").job_name == BUILD_JOB
    schedule = defs.get_schedule_def("daily_build")
    assert schedule.job_name == BUILD_JOB and schedule.cron_schedule == "0 6 * * *"


def test_sensor_starts_a_build_for_new_and_changed_files_once_they_settle(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    assert isinstance(evaluate(landing), SkipReason)                    # nothing there

    first = landing / "referrals_2026-03-01.csv"
    first.write_text(HEADER + "R1,P1,2026-03-01,207RC0000X,active,2026-03-01\n")
    waiting = evaluate(landing)                                          # still being written?
    assert isinstance(waiting, SkipReason) and "settle" in waiting.skip_message

    age(first, SETTLE_SECONDS + 5)
    (landing / "notes.txt").write_text("not an extract")                # ignored
    fired = evaluate(landing)
    assert isinstance(fired, SensorResult) and len(fired.run_requests) == 1
    assert fired.run_requests[0].tags["refloop/files"] == "1"
    cursor = fired.cursor

    assert isinstance(evaluate(landing, cursor), SkipReason)           # nothing new since

    second = landing / "appointments_2026-03-02.csv"
    second.write_text("appointment_id\n")
    age(second, SETTLE_SECONDS + 5)
    again = evaluate(landing, cursor)
    assert isinstance(again, SensorResult)
    assert again.run_requests[0].run_key != fired.run_requests[0].run_key
    assert again.run_requests[0].tags["refloop/files"] == "1"

    first.write_text(HEADER + "R1,P1,2026-03-01,207RC0000X,revoked,2026-03-05\n")   # a re-sent file
    age(first, SETTLE_SECONDS + 5)
    assert isinstance(evaluate(landing, again.cursor), SensorResult)


def test_missing_landing_folder_is_a_skip_not_a_crash(tmp_path):
    result = evaluate(tmp_path / "not-there")
    assert isinstance(result, SkipReason)


def test_daily_schedule_requests_a_build():
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 12, 2, 6, tzinfo=UTC))
    requests = list(daily_build_schedule.evaluate_tick(context).run_requests)
    assert len(requests) == 1 and requests[0].tags["refloop/trigger"] == "daily_schedule"


def test_sensor_sees_fhir_hl7_and_cms_files_whatever_their_names(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    files = {
        "Patient.ndjson": '{"resourceType": "Patient", "id": "p1"}\n',
        "feed_0302.txt": "MSH|^~\\&|EPIC|C|R|H|20260302||REF^I12|1|P|2.5.1\rRF1|A\r",
        "export.dat": "DML_IND|BENE_ID|CLM_ID|LINE_NUM|PRF_PHYSN_NPI|LINE_ALOWD_CHRG_AMT\n",
        "vendor_readme.txt": "not an extract",
    }
    for name, text in files.items():
        (landing / name).write_text(text)
        age(landing / name, SETTLE_SECONDS + 5)
    fired = evaluate(landing)
    assert isinstance(fired, SensorResult) and fired.run_requests[0].tags["refloop/files"] == "3"


def stored_and_live(path, table):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"select (select estimated_size from duckdb_tables() where schema_name || '.' || "
                            f"table_name = '{table}'), (select count(*) from {table})").fetchone()


def test_the_weekly_compaction_job_rewrites_what_daily_builds_left_deleted(built_warehouse, tmp_path, monkeypatch):
    schedule = defs.get_schedule_def("weekly_compaction")
    assert schedule.job_name == "refloop_compaction" and schedule.cron_schedule == "0 4 * * 0"
    warehouse = tmp_path / "refloop.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    shutil.copy(serving_path(built_warehouse.warehouse), serving_path(warehouse))
    for path in (warehouse, serving_path(warehouse)):
        with duckdb.connect(str(path)) as conn:
            conn.execute("set max_vacuum_tasks = 0")     # as a daily build leaves them
            conn.execute("delete from marts.fct_engagements where hash(engagement_id) % 100 < 30")
    stored, live = stored_and_live(warehouse, "marts.fct_engagements")
    assert stored > live

    monkeypatch.setattr(storage, "ROW_GROUP_ROWS", 1)     # the sample's tables are smaller than a row group
    job = defs.resolve_job_def("refloop_compaction")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, resources={"warehouse": WarehouseResource(path=str(warehouse))})
        logged = [r.user_message for r in instance.all_logs(result.run_id) if "[compact]" in r.user_message]
    assert result.success
    assert stored_and_live(warehouse, "marts.fct_engagements") == (live, live)
    assert stored_and_live(serving_path(warehouse), "marts.fct_engagements") == (live, live)
    assert any("warehouse marts.fct_engagements (30% deleted rows)" in m for m in logged), logged

    # by hand: the sample's tables are all under a row group, so there is nothing to do
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "compact", "--warehouse", str(warehouse)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "compact: nothing to do: no table is more than 20% deleted rows" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "pipelines.cli", "compact", "--warehouse", str(tmp_path / "no.duckdb")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no warehouse at" in missing.stderr
