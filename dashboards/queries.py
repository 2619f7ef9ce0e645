"""All SQL the dashboards run.

Queries are parameterized: user values (filters, URL parameters) travel only
as bound parameters; the few identifiers a user picks (a grouping dimension)
come from a fixed whitelist. Results are cached per published copy, and each
query opens a short-lived read-only connection to the serving file, never to
the file the pipeline writes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
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


def _version(path: Path) -> int:
    """Changes whenever a new copy is published (it is replaced, not edited)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NoWarehouse(
            f"No published warehouse at {path}. Build one with `refloop run` (or `make demo`)."
        ) from None


_connections: dict[tuple[str, int], duckdb.DuckDBPyConnection] = {}
_connections_lock = threading.Lock()


def _connection(path: str, version: int) -> duckdb.DuckDBPyConnection:
    """One read-only attachment per published version, shared by the app's
    sessions (each query takes its own cursor). A new publication gets a new
    one; the old one is dropped and closes when its last query ends.

    The file is attached to a private in-memory database rather than opened
    directly, so DuckDB's per-path instance cache can never hand back the
    copy a newer publication replaced."""
    key = (path, version)
    with _connections_lock:
        conn = _connections.get(key)
        if conn is None:
            conn = duckdb.connect(":memory:")
            conn.execute("attach ? as serving (read_only)", [path])
            for stale in [k for k in _connections if k[0] == path]:
                del _connections[stale]
            _connections[key] = conn
        return conn


@st.cache_data(show_spinner=False, max_entries=512)
def _run(path: str, version: int, sql: str, params: tuple) -> pd.DataFrame:
    cursor = _connection(path, version).cursor()
    try:
        cursor.execute("use serving")
        return cursor.execute(sql, list(params)).df()
    finally:
        cursor.close()


def run(sql: str, params: tuple = ()) -> pd.DataFrame:
    path = serving_file()
    return _run(str(path), _version(path), sql, tuple(params))


# --- filters ----------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The global filters: created months from..to (first days of months),
    and specialty groups, referring practices, payers (empty = all)."""

    start: date
    end: date
    groups: tuple[str, ...] = field(default_factory=tuple)
    practices: tuple[str, ...] = field(default_factory=tuple)
    payers: tuple[str, ...] = field(default_factory=tuple)

    def shifted(self, months: int) -> Filters:
        return Filters(_add_months(self.start, months), _add_months(self.end, months),
                       self.groups, self.practices, self.payers)

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# Applies to every mart with created_month, specialty_group,
# referring_location_id and payer_id.
WHERE_ALL = """
    created_month between ? and ?
    and (len(?::varchar[]) = 0 or list_contains(?::varchar[], specialty_group))
    and (len(?::varchar[]) = 0 or list_contains(?::varchar[], referring_location_id))
    and (len(?::varchar[]) = 0 or list_contains(?::varchar[], payer_id))
"""
# For marts at month x specialty group grain only.
WHERE_MONTH_GROUP = """
    created_month between ? and ?
    and (len(?::varchar[]) = 0 or list_contains(?::varchar[], specialty_group))
"""


def all_params(f: Filters) -> tuple:
    groups, practices, payers = list(f.groups), list(f.practices), list(f.payers)
    return (f.start, f.end, groups, groups, practices, practices, payers, payers)


def month_group_params(f: Filters) -> tuple:
    groups = list(f.groups)
    return (f.start, f.end, groups, groups)


# --- metadata -------------------------------------------------------------

def parameters() -> dict:
    frame = run("select * from meta.parameters")
    return frame.iloc[0].to_dict() if len(frame) else {}


def publication() -> dict:
    frame = run("select run_id, published_at from meta.publication")
    return frame.iloc[0].to_dict() if len(frame) else {}


def filter_options() -> dict[str, list]:
    frame = run("""
        select
            min(created_month) as first_month,
            max(created_month) as last_month,
            list(distinct specialty_group order by specialty_group) filter (where specialty_group is not null) as groups,
            list(distinct referring_location_id order by referring_location_id) filter (where referring_location_id is not null) as practices,
            list(distinct payer_id order by payer_id) filter (where payer_id is not null) as payers
        from marts.agg_referrals_cube
    """)
    row = frame.iloc[0]

    def values(column: str) -> list:
        return [] if row[column] is None else list(row[column])

    return {
        "first_month": row["first_month"], "last_month": row["last_month"],
        "groups": values("groups"), "practices": values("practices"), "payers": values("payers"),
    }


# --- referral measures ----------------------------------------------------

SUM_COLUMNS = (
    "referrals", "contacted", "scheduled", "visit_completed", "resolved", "navigated",
    "completed_in_network", "completed_out_of_network", "scheduled_upcoming", "referral_cancelled",
    "no_show", "appointment_cancelled", "appointment_unresolved", "unscheduled_open", "unscheduled_expired",
    "loop_closed_in_network", "noshow_appointments", "attended_appointments",
)
SUMS = ",\n".join(f"sum({c})::bigint as {c}" for c in SUM_COLUMNS)
MONEY = "sum(captured_revenue)::double as captured_revenue, sum(leaked_revenue)::double as leaked_revenue"
DIMENSIONS = {
    "specialty_group": "Specialty group",
    "referring_location_id": "Referring practice",
    "payer_id": "Payer",
    "priority": "Priority",
}


def totals(f: Filters) -> dict:
    frame = run(f"select {SUMS}, {MONEY} from marts.agg_referrals_cube where {WHERE_ALL}", all_params(f))
    row = frame.iloc[0].to_dict()
    return {k: (0 if v is None or pd.isna(v) else v) if k in SUM_COLUMNS else v for k, v in row.items()}


def median_days_to_visit(f: Filters) -> tuple[float | None, int]:
    frame = run(
        f"select quantile_cont(days_to_visit, 0.5) as median, count(days_to_visit) as n "
        f"from marts.fct_referrals where {WHERE_ALL}", all_params(f))
    row = frame.iloc[0]
    return None if pd.isna(row["median"]) else float(row["median"]), int(row["n"])


def monthly(f: Filters) -> pd.DataFrame:
    return run(
        f"select created_month, {SUMS}, {MONEY} from marts.agg_referrals_cube where {WHERE_ALL} "
        "group by created_month order by created_month", all_params(f))


def by_dimension(f: Filters, dimension: str) -> pd.DataFrame:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    return run(
        f"select coalesce({dimension}, '(not given)') as {dimension}, {SUMS}, {MONEY} "
        f"from marts.agg_referrals_cube where {WHERE_ALL} group by 1 order by referrals desc", all_params(f))


def group_outcomes(f: Filters) -> pd.DataFrame:
    return run(
        f"select specialty_group, {SUMS} from marts.agg_referrals_cube where {WHERE_ALL} "
        "group by specialty_group order by referrals desc", all_params(f))


def leakage_destinations(f: Filters, limit: int = 25) -> pd.DataFrame:
    return run(
        f"""
        select provider_npi, coalesce(organization_id, '(not in directory)') as organization_id,
               sum(leaked_referrals)::bigint as leaked_referrals, sum(leaked_revenue)::double as leaked_revenue
        from marts.agg_leakage_destinations
        where {WHERE_MONTH_GROUP}
        group by 1, 2
        order by leaked_revenue desc nulls last, leaked_referrals desc
        limit ?
        """, (*month_group_params(f), limit))


# --- turnaround -----------------------------------------------------------

STEPS = {"first_contact": "first contact", "schedule": "booking", "visit": "visit", "report": "consult report"}


def turnaround(f: Filters, by: str) -> pd.DataFrame:
    """p50/p90 of days to each step, per specialty group or per month,
    computed on fct_referrals so any filter applies."""
    if by not in ("specialty_group", "created_month"):
        raise ValueError(by)
    measures = ",\n".join(
        f"count(days_to_{s})::bigint as n_{s}, "
        f"round(quantile_cont(days_to_{s}, 0.5), 2) as median_days_to_{s}, "
        f"round(quantile_cont(days_to_{s}, 0.9), 2) as p90_days_to_{s}"
        for s in STEPS
    )
    return run(f"select {by}, {measures} from marts.fct_referrals where {WHERE_ALL} group by 1 order by 1", all_params(f))


def days_to_visit_distribution(f: Filters, cap: int = 180) -> pd.DataFrame:
    return run(
        f"""
        select least(greatest(days_to_visit, 0), ?) as days_to_visit, count(*)::bigint as referrals
        from marts.fct_referrals
        where days_to_visit is not null and {WHERE_ALL}
        group by 1 order by 1
        """, (cap, *all_params(f)))


def time_to_visit_curve(groups: tuple[str, ...]) -> pd.DataFrame:
    chosen = list(groups) or ["(all)"]
    return run(
        """
        select specialty_group, days_since_referral, share_seen, at_risk
        from marts.agg_time_to_visit_curve
        where list_contains(?::varchar[], specialty_group)
        order by specialty_group, days_since_referral
        """, (chosen,))


def share_seen_within(groups: tuple[str, ...], days: tuple[int, ...] = (14, 30, 60)) -> pd.DataFrame:
    chosen = list(groups) or ["(all)"]
    return run(
        """
        with wanted as (select unnest(?::integer[]) as within_days),
        curve as (
            select * from marts.agg_time_to_visit_curve where list_contains(?::varchar[], specialty_group)
        )
        select curve.specialty_group, wanted.within_days,
               coalesce(max_by(curve.share_seen, curve.days_since_referral), 0) as share_seen
        from wanted
        join curve on curve.days_since_referral <= wanted.within_days
        group by 1, 2 order by 1, 2
        """, (list(days), chosen))


# --- program --------------------------------------------------------------

def program_return() -> pd.DataFrame:
    return run("select * from marts.agg_program_return order by created_year nulls last")


def uplift_by_group() -> pd.DataFrame:
    return run("select * from marts.agg_program_uplift_by_group where created_year is null order by navigated_referrals desc")


def channel_costs() -> pd.DataFrame:
    return run("select channel, cost_per_touch::double as cost_per_touch, is_overridden from marts.dim_channel_costs order by channel")


def what_if(group: str, extra_share: float) -> dict:
    """If navigation reached `extra_share` (0-1) more of the group's referrals
    (at most all of its non-navigated ones): extra navigated referrals,
    completions, revenue and engagement cost, from the group's measured
    uplift, average revenue and cost per navigated referral (all years)."""
    frame = run(
        """
        with chosen as (
            select * from marts.agg_program_uplift_by_group where created_year is null and specialty_group = ?
        ),
        extra as (
            select *, least(round(? * referrals), non_navigated_referrals) as extra_navigated from chosen
        )
        select specialty_group, referrals, navigated_referrals, uplift, average_revenue, engagement_cost_per_navigated,
               extra_navigated,
               extra_navigated * uplift as extra_completions,
               extra_navigated * uplift * average_revenue as extra_revenue,
               extra_navigated * engagement_cost_per_navigated as extra_engagement_cost
        from extra
        """, (group, extra_share))
    return frame.iloc[0].to_dict() if len(frame) else {}


# --- outreach (program managers) -------------------------------------------

def outreach_summary(f: Filters) -> dict:
    """Referrals with and without outreach and what became of them, the
    outreach spend, and the phone (advisor) figures, for the filters."""
    frame = run(
        f"""
        select
            sum(referrals)::bigint as referrals,
            sum(case when touches > 0 then referrals else 0 end)::bigint as touched,
            sum(case when touches > 0 then scheduled else 0 end)::bigint as touched_scheduled,
            sum(case when touches > 0 then completed_in_network else 0 end)::bigint as touched_completed_in_network,
            sum(case when touches = 0 then referrals else 0 end)::bigint as untouched,
            sum(case when touches = 0 then scheduled else 0 end)::bigint as untouched_scheduled,
            sum(with_phone)::bigint as with_phone,
            sum(with_phone_scheduled)::bigint as with_phone_scheduled,
            sum(escalated_to_phone)::bigint as escalated_to_phone,
            sum(outreach_cost)::double as outreach_cost,
            sum(case when touches > 0 then outreach_cost else 0 end)::double as touched_cost
        from marts.agg_outreach_touch_curve
        where {WHERE_ALL}
        """, all_params(f))
    row = frame.iloc[0].to_dict()
    return {k: (0 if v is None or pd.isna(v) else v) for k, v in row.items()}


def outreach_touch_curve(f: Filters) -> pd.DataFrame:
    return run(
        f"""
        select touches, touches_label, sum(referrals)::bigint as referrals, sum(scheduled)::bigint as scheduled,
               sum(completed_in_network)::bigint as completed_in_network, sum(outreach_cost)::double as outreach_cost
        from marts.agg_outreach_touch_curve
        where {WHERE_ALL}
        group by 1, 2 order by 1
        """, all_params(f))


def outreach_by_channel(f: Filters) -> pd.DataFrame:
    return run(
        f"""
        select channel, purpose,
               sum(touches)::bigint as touches, sum(responses)::bigint as responses,
               sum(followed_by_booking_within_7_days)::bigint as followed_by_booking_within_7_days,
               sum(referrals_touched)::bigint as referrals_touched,
               sum(referrals_scheduled)::bigint as referrals_scheduled,
               sum(referrals_completed_in_network)::bigint as referrals_completed_in_network,
               sum(cost)::double as cost
        from marts.agg_outreach_by_channel
        where {WHERE_ALL}
        group by 1, 2 order by touches desc
        """, all_params(f))


def outreach_sequences(f: Filters, limit: int = 10) -> pd.DataFrame:
    return run(
        f"""
        select first_three_channels, sum(referrals)::bigint as referrals, sum(scheduled)::bigint as scheduled,
               sum(completed_in_network)::bigint as completed_in_network
        from marts.agg_outreach_sequences
        where {WHERE_ALL}
        group by 1 order by referrals desc, first_three_channels
        limit ?
        """, (*all_params(f), limit))


def reminder_effect(f: Filters) -> pd.DataFrame:
    return run(
        f"""
        select has_reminder, sum(appointments)::bigint as appointments, sum(no_shows)::bigint as no_shows
        from marts.agg_reminder_effect
        where {WHERE_ALL}
        group by 1 order by 1 desc
        """, all_params(f))


def outreach_timing(f: Filters) -> pd.DataFrame:
    """Per specialty group: median and p90 days from referral to first touch
    and from first touch to booking (referrals with outreach)."""
    return run(
        f"""
        select specialty_group,
               count(days_to_first_touch)::bigint as touched,
               round(quantile_cont(days_to_first_touch, 0.5), 1) as median_days_to_first_touch,
               round(quantile_cont(days_to_first_touch, 0.9), 1) as p90_days_to_first_touch,
               count(days_first_touch_to_booking)::bigint as booked_after_touch,
               round(quantile_cont(days_first_touch_to_booking, 0.5), 1) as median_days_touch_to_booking,
               round(quantile_cont(days_first_touch_to_booking, 0.9), 1) as p90_days_touch_to_booking
        from marts.fct_referral_outreach
        where outreach_touches > 0 and {WHERE_ALL}
        group by 1 order by touched desc
        """, all_params(f))


def advisor_value_by_group(f: Filters) -> pd.DataFrame:
    """Per specialty group, referrals with outreach split by whether an advisor
    reached them by phone, their conversion, and the phone spend: where human
    advisors are worth their cost (observational)."""
    return run(
        f"""
        with curve as (
            select specialty_group,
                   sum(with_phone)::bigint as with_phone,
                   sum(with_phone_scheduled)::bigint as with_phone_scheduled,
                   sum(referrals - with_phone)::bigint as without_phone,
                   sum(scheduled - with_phone_scheduled)::bigint as without_phone_scheduled
            from marts.agg_outreach_touch_curve
            where touches > 0 and {WHERE_ALL}
            group by 1
        ),
        phone as (
            select specialty_group, sum(cost)::double as phone_cost
            from marts.agg_outreach_by_channel
            where channel = 'phone' and {WHERE_ALL}
            group by 1
        )
        select curve.*, coalesce(phone.phone_cost, 0) as phone_cost
        from curve left join phone using (specialty_group)
        order by with_phone desc
        """, (*all_params(f), *all_params(f)))


def outreach_cost_per_outcome() -> pd.DataFrame:
    return run(
        "select * from marts.agg_outreach_cost_per_outcome "
        "order by channel = '(all)' desc, total_cost desc")


# --- CMS50 ----------------------------------------------------------------

def cms50() -> pd.DataFrame:
    return run("select * from marts.cms50_referral_loop order by measurement_year")


# --- referral queue (coordinators) -------------------------------------------

QUEUE_ACTIONS = ("close_completed", "close_leaked", "expire", "reroute", "follow_up", "none")


def queue(actions: tuple[str, ...], groups: tuple[str, ...], practices: tuple[str, ...],
          min_days: int, max_days: int, limit: int = 5000) -> pd.DataFrame:
    return run(
        """
        select referral_id, action, reason, days_open, specialty_group, referring_location_id, priority,
               referred_to_npi, recommended_npi, recommended_next_free_slot_at, is_duplicate, outcome,
               created_date, expires_on, last_touch_at
        from marts.referral_queue
        where (len(?::varchar[]) = 0 or list_contains(?::varchar[], action))
          and (len(?::varchar[]) = 0 or list_contains(?::varchar[], specialty_group))
          and (len(?::varchar[]) = 0 or list_contains(?::varchar[], referring_location_id))
          and days_open between ? and ?
        order by case action when 'close_completed' then 0 when 'close_leaked' then 1 when 'expire' then 2
                 when 'reroute' then 3 when 'follow_up' then 4 else 5 end, days_open desc, referral_id
        limit ?
        """,
        (list(actions), list(actions), list(groups), list(groups), list(practices), list(practices),
         min_days, max_days, limit))


def queue_volume() -> pd.DataFrame:
    return run("""
        select action, age_band_order, age_band, sum(referrals)::bigint as referrals
        from marts.agg_referral_queue group by 1, 2, 3 order by 2, 1""")


def queue_changes() -> pd.DataFrame:
    return run("select * from marts.agg_referral_queue_changes order by action, change")


# --- loads ------------------------------------------------------------------

def load_totals() -> pd.DataFrame:
    return run(
        """
        select
            entity,
            count(*)::bigint as files,
            count(*) filter (where file_status = 'rejected')::bigint as files_rejected,
            sum(rows_read)::bigint as rows_read,
            sum(rows_loaded)::bigint as rows_loaded,
            sum(rows_rejected)::bigint as rows_rejected
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


# --- data quality (the quality copy, published even when a run is stopped) ---

def quality_file() -> Path:
    """`<warehouse>.quality.duckdb`, beside the serving copy (or REFLOOP_QUALITY)."""
    configured = os.environ.get("REFLOOP_QUALITY")
    if configured:
        return Path(configured)
    serving = serving_file()
    return serving.with_name(serving.name.replace(".serving.duckdb", ".quality.duckdb"))


def run_quality(sql: str, params: tuple = ()) -> pd.DataFrame | None:
    """None when no check has run yet (a warehouse built before quality checks existed)."""
    path = quality_file()
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _run(str(path), version, sql, tuple(params))


_LATEST_RUN = "(select run_id from quality.check_results order by checked_at desc limit 1)"


def quality_runs(limit: int = 30) -> pd.DataFrame | None:
    """One row per run: when, and how many checks passed, warned, failed (newest last)."""
    return run_quality(
        """
        with runs as (
            select
                run_id,
                min(checked_at) as checked_at,
                count(*) filter (where passed)::bigint as passed,
                count(*) filter (where severity = 'warn')::bigint as warnings,
                count(*) filter (where severity = 'error')::bigint as errors,
                count(*) filter (where severity = 'error' and blocking)::bigint as blocking_errors,
                bool_or(stage = 'marts') as reached_marts
            from quality.check_results
            group by run_id
        )
        select * from (select * from runs order by checked_at desc limit ?) order by checked_at
        """,
        (limit,),
    )


def quality_status_by_table() -> pd.DataFrame | None:
    return run_quality(
        f"""
        select
            table_name,
            count(*)::bigint as checks,
            count(*) filter (where passed)::bigint as passed,
            count(*) filter (where severity = 'warn')::bigint as warnings,
            count(*) filter (where severity = 'error')::bigint as errors,
            case when count(*) filter (where severity = 'error') > 0 then 'error'
                 when count(*) filter (where severity = 'warn') > 0 then 'warning'
                 else 'ok' end as status
        from quality.check_results
        where run_id = {_LATEST_RUN}
        group by table_name
        order by errors desc, warnings desc, table_name
        """
    )


def quality_failures() -> pd.DataFrame | None:
    return run_quality(
        f"""
        select
            severity, stage, family, table_name, check_name, column_name,
            observed_value, threshold, failing_rows, rows_checked,
            array_to_string(failing_sample[1:3], ' | ') as failing_sample,
            coalesce(message, description) as detail,
            blocking
        from quality.check_results
        where run_id = {_LATEST_RUN} and not passed
        order by case severity when 'error' then 0 else 1 end, stage, table_name, check_name
        """
    )


def quality_freshness() -> pd.DataFrame | None:
    return run_quality(
        f"""
        select
            replace(table_name, 'raw.', '') as entity,
            observed_value as hours_since_last_file,
            threshold,
            coalesce(severity, 'fresh') as status,
            failing_sample[1] as newest_load
        from quality.check_results
        where run_id = {_LATEST_RUN} and family = 'freshness'
        order by observed_value desc nulls last
        """
    )


# --- what each page loads (the benchmark times these; dbt exposures list their marts) ---

FRAME_QUERIES: list[tuple[str, Callable]] = [
    ("filter_options", filter_options), ("parameters", parameters), ("publication", publication),
]


def default_filters() -> Filters:
    """The app's opening view: the last 12 created months, nothing else chosen."""
    options = filter_options()
    last = options["last_month"]
    last = last.date() if hasattr(last, "date") else last
    return Filters(_add_months(last, -11), last)


def page_queries(f: Filters | None = None) -> dict[str, list[tuple[str, Callable]]]:
    """Per page, the queries it runs on its opening view."""
    f = f or default_filters()
    groups = tuple(filter_options()["groups"][:1])
    return {
        "overview": [("totals", lambda: totals(f)), ("totals (previous period)", lambda: totals(f.shifted(-f.months))),
                     ("median_days_to_visit", lambda: median_days_to_visit(f)),
                     ("monthly", lambda: monthly(f)), ("group_outcomes", lambda: group_outcomes(f))],
        "leakage": [*[(f"by_dimension:{d}", (lambda d=d: by_dimension(f, d))) for d in DIMENSIONS],
                    ("leakage_destinations", lambda: leakage_destinations(f)),
                    ("group_outcomes", lambda: group_outcomes(f))],
        "turnaround": [("turnaround:specialty_group", lambda: turnaround(f, "specialty_group")),
                       ("turnaround:created_month", lambda: turnaround(f, "created_month")),
                       ("days_to_visit_distribution", lambda: days_to_visit_distribution(f)),
                       ("time_to_visit_curve", lambda: time_to_visit_curve(groups)),
                       ("share_seen_within", lambda: share_seen_within(groups))],
        "program": [("program_return", program_return), ("uplift_by_group", uplift_by_group),
                    ("channel_costs", channel_costs),
                    ("what_if", lambda: what_if(groups[0] if groups else "cardiology", 0.1))],
        "outreach": [("outreach_summary", lambda: outreach_summary(f)),
                     ("outreach_touch_curve", lambda: outreach_touch_curve(f)),
                     ("reminder_effect", lambda: reminder_effect(f)),
                     ("outreach_by_channel", lambda: outreach_by_channel(f)),
                     ("outreach_timing", lambda: outreach_timing(f)),
                     ("outreach_sequences", lambda: outreach_sequences(f)),
                     ("advisor_value_by_group", lambda: advisor_value_by_group(f)),
                     ("outreach_cost_per_outcome", outreach_cost_per_outcome)],
        "cms50": [("cms50", cms50)],
        "queue": [("queue", lambda: queue((), (), (), 0, 10_000)), ("queue_volume", queue_volume),
                  ("queue_changes", queue_changes)],
        "quality": [("load_totals", load_totals), ("rejected_files", rejected_files),
                    ("rejects_by_rule", rejects_by_rule), ("quality_runs", quality_runs),
                    ("quality_status_by_table", quality_status_by_table),
                    ("quality_failures", quality_failures), ("quality_freshness", quality_freshness)],
    }
