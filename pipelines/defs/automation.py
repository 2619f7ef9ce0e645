"""What starts a build without anyone pressing a button: a sensor on the
landing folder (new or changed extract files) and a daily schedule (the as-of
date moves every day, so outcomes such as expiry change even without new
files). Both run under `dagster dev` / the Dagster daemon; `refloop run` is the
same job started by hand."""

from __future__ import annotations

import hashlib
import json
import os
import time

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pipelines.contract import entity_of
from pipelines.defs.ingest.formats import detect
from pipelines.resources import ExtractsResource

# A file younger than this may still be being written by the transfer job:
# the sensor waits for it to settle rather than load half a file.
SETTLE_SECONDS = int(os.environ.get("REFLOOP_SETTLE_SECONDS", "60"))
DAILY_CRON = os.environ.get("REFLOOP_DAILY_CRON", "0 6 * * *")
TIMEZONE = os.environ.get("REFLOOP_TIMEZONE", "UTC")


def landing_state(extracts: ExtractsResource) -> dict[str, list[float]]:
    """{file name: [size, modified time]} of the extract files in the landing folder."""
    folder = extracts.path
    if not folder.is_dir():
        return {}
    state = {}
    for path in folder.iterdir():
        # CSV extracts by name; FHIR, HL7 v2 and CMS files by name or content
        if path.is_file() and not path.name.startswith(".") and (entity_of(path.name) or detect(path)):
            stat = path.stat()
            state[path.name] = [stat.st_size, stat.st_mtime]
    return state


def changed_files(seen: dict[str, list[float]], now: dict[str, list[float]]) -> list[str]:
    return sorted(name for name, figures in now.items() if seen.get(name) != figures)


def build_sensor_evaluation(context: SensorEvaluationContext, extracts: ExtractsResource,
                            now: float | None = None) -> SensorResult | SkipReason:
    seen = json.loads(context.cursor) if context.cursor else {}
    state = landing_state(extracts)
    changed = changed_files(seen, state)
    if not changed:
        return SkipReason(f"no new or changed extract files in {extracts.path}")
    now = time.time() if now is None else now
    settling = [name for name in changed if now - state[name][1] < SETTLE_SECONDS]
    if settling:
        return SkipReason(f"waiting for {len(settling)} file(s) still being written to settle "
                          f"({SETTLE_SECONDS} s): {', '.join(settling[:5])}")
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return SensorResult(
        run_requests=[RunRequest(run_key=f"landing-{digest}",
                                 tags={"refloop/trigger": "landing_sensor", "refloop/files": str(len(changed))})],
        cursor=json.dumps(state, sort_keys=True),
    )


@sensor(job_name="refloop_build", minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Starts a build when new or changed extract files arrive in the landing folder "
                    "(once they have stopped changing for REFLOOP_SETTLE_SECONDS).")
def landing_folder_sensor(context: SensorEvaluationContext, extracts: ExtractsResource):
    return build_sensor_evaluation(context, extracts)


daily_build_schedule = ScheduleDefinition(
    name="daily_build",
    job_name="refloop_build",
    cron_schedule=DAILY_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Rebuilds every day (REFLOOP_DAILY_CRON, default 06:00 REFLOOP_TIMEZONE): the as-of date moves, "
                "so expiry and follow-up change even on a day without new files.",
    tags={"refloop/trigger": "daily_schedule"},
)
