"""All SQL the dashboards run. Queries are parameterized (user values travel
only as bound parameters), cached per published copy, and open a short-lived
read-only connection to the serving file, never to the file the pipeline
writes."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from pipelines.paths import DEFAULT_WAREHOUSE, serving_path


class NoWarehouse(Exception):
    """No published copy exists yet."""


def serving_file() -> Path:
    configured = os.environ.get("REFLOOP_SERVING")
    return Path(configured) if configured else serving_path(DEFAULT_WAREHOUSE)


def _version(path: Path) -> float:
    """Changes whenever a new copy is published (it is replaced, not edited)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NoWarehouse(
            f"No published warehouse at {path}. Build one with `refloop run` (or `make demo`)."
        ) from None


@st.cache_data(show_spinner=False, max_entries=256)
def _run(path: str, version: float, sql: str, params: tuple) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute(sql, list(params)).df()


def run(sql: str, params: tuple = ()) -> pd.DataFrame:
    path = serving_file()
    return _run(str(path), _version(path), sql, params)


# --- metadata -------------------------------------------------------------

def parameters() -> dict:
    frame = run("select * from meta.parameters")
    return frame.iloc[0].to_dict() if len(frame) else {}


def publication() -> dict:
    frame = run("select run_id, published_at from meta.publication")
    return frame.iloc[0].to_dict() if len(frame) else {}


# --- referral volume --------------------------------------------------------

def specialty_groups() -> list[str]:
    frame = run("select distinct specialty_group from marts.agg_referrals_monthly order by 1")
    return frame["specialty_group"].tolist()


def referral_volume(groups: tuple[str, ...]) -> pd.DataFrame:
    """Referrals per created month and specialty group, for the chosen groups
    (all when none are chosen)."""
    return run(
        """
        select created_month, specialty_group, referrals
        from marts.agg_referrals_monthly
        where len(?::varchar[]) = 0 or list_contains(?::varchar[], specialty_group)
        order by created_month, specialty_group
        """,
        (list(groups), list(groups)),
    )


# --- loads ----------------------------------------------------------------

def load_totals() -> pd.DataFrame:
    return run(
        """
        select
            entity,
            count(*) as files,
            count(*) filter (where file_status = 'rejected') as files_rejected,
            sum(rows_read) as rows_read,
            sum(rows_loaded) as rows_loaded,
            sum(rows_rejected) as rows_rejected
        from marts.fct_extract_files
        group by entity
        order by entity
        """
    )


def rejected_files() -> pd.DataFrame:
    return run(
        """
        select file_name, entity, rejection_reason, loaded_at
        from marts.fct_extract_files
        where file_status = 'rejected'
        order by loaded_at desc, file_name
        """
    )


def rejects_by_rule() -> pd.DataFrame:
    return run(
        """
        select file_name, entity, rule, rejected_rows, first_line_number
        from marts.agg_extract_rejects
        order by rejected_rows desc, file_name, rule
        """
    )
