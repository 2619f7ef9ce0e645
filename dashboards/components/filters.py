"""The global filters: date range, specialty group, practice, payer. They live
in the sidebar, apply on every page, and are kept in the URL's query
parameters (`from`, `to`, `group`, `practice`, `payer`) so a view can be
shared by its link."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards import queries
from dashboards.queries import Filters

LIST_PARAMS = {"group": "groups", "practice": "practices", "payer": "payers"}


def _month(text: str | None, fallback: date) -> date:
    try:
        parsed = date.fromisoformat(f"{text}-01" if text and len(text) == 7 else str(text))
        return parsed.replace(day=1)
    except (TypeError, ValueError):
        return fallback


def _months_between(first: date, last: date) -> list[date]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def global_filters() -> Filters:
    """Draw the sidebar filters (seeded from the URL) and return them. Called
    once per run by the app frame, so the widgets live across pages."""
    options = queries.filter_options()
    first = pd.Timestamp(options["first_month"]).date()
    last = pd.Timestamp(options["last_month"]).date()
    months = _months_between(first, last)
    params = st.query_params

    if "filters_seeded" not in st.session_state:
        default_start = months[max(0, len(months) - 12)]
        start = _month(params.get("from"), default_start)
        end = _month(params.get("to"), last)
        st.session_state["f_start"] = min(max(start, first), last)
        st.session_state["f_end"] = min(max(end, first), last)
        for param, key in LIST_PARAMS.items():
            allowed = set(options[key])
            st.session_state[f"f_{key}"] = [v for v in params.get_all(param) if v in allowed]
        st.session_state["filters_seeded"] = True

    with st.sidebar:
        st.header("Filters")
        left, right = st.columns(2)
        start = left.selectbox("Created from", months, key="f_start", format_func=lambda d: d.strftime("%b %Y"))
        end = right.selectbox("to", months, key="f_end", format_func=lambda d: d.strftime("%b %Y"))
        groups = st.multiselect("Specialty group", options["groups"], key="f_groups", placeholder="All")
        practices = st.multiselect("Referring practice", options["practices"], key="f_practices", placeholder="All")
        payers = st.multiselect("Payer", options["payers"], key="f_payers", placeholder="All")

    if start > end:
        start, end = end, start
    st.query_params.from_dict({
        "from": start.strftime("%Y-%m"), "to": end.strftime("%Y-%m"),
        "group": groups, "practice": practices, "payer": payers,
    })
    chosen = Filters(start, end, tuple(groups), tuple(practices), tuple(payers))
    st.session_state["filters"] = chosen
    return chosen


def current() -> Filters:
    """The filters the frame drew for this run."""
    return st.session_state["filters"]


def describe(f: Filters) -> str:
    parts = [f"{f.start:%b %Y} - {f.end:%b %Y}"]
    for label, values in (("groups", f.groups), ("practices", f.practices), ("payers", f.payers)):
        if values:
            parts.append(f"{label}: {', '.join(values)}")
    return " · ".join(parts)
