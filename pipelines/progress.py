"""A Dagster logger that prints the assets' progress lines (`[ingest] ...`,
`[dbt] ...`, `[publish] ...`) and errors, without Dagster's own event chatter.
The refloop CLI uses it; `dagster dev` keeps its usual console logger."""

from __future__ import annotations

import logging
import sys

from dagster import Field, InitLoggerContext, logger

META = "dagster_meta"


class _ProgressFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, META, None) or {}
        return meta.get("orig_message", record.getMessage())


class _ProgressFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, META, None) or {}
        event = meta.get("dagster_event")
        if record.levelno >= logging.ERROR:
            return True
        if event is None:
            return str(meta.get("orig_message", "")).startswith("[")
        return event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE")


@logger(
    config_schema={"errors_only": Field(bool, default_value=False,
                                        description="Print errors only (quiet runs: the benchmark, tests).")},
    description="Prints refloop progress lines and errors only.",
)
def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    errors_only = init_context.logger_config["errors_only"]
    log = logging.getLogger("refloop.progress.errors" if errors_only else "refloop.progress")
    log.setLevel(logging.ERROR if errors_only else logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_ProgressFormatter())
        handler.addFilter(_ProgressFilter())
        log.addHandler(handler)
    return log
