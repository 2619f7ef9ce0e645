"""Pieces every page uses: the line saying what data and assumptions it shows,
formatting, and a CSV download under each chart (of exactly what is shown,
suppression included)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboards import queries
from dashboards.components.suppression import NOTE
from dashboards.settings import suppression_on


def as_of_caption(extra: str = "") -> None:
    params = queries.parameters()
    published = queries.publication()
    if not params:
        return
    text = (
        f"As of **{pd.Timestamp(params['as_of_date']):%Y-%m-%d}** · attribution window {params['attribution_window_days']} days · "
        f"published {pd.Timestamp(published.get('published_at')):%Y-%m-%d %H:%M}"
    )
    if extra:
        text += f" · {extra}"
    if suppression_on():
        text += f"  \n{NOTE}"
    st.caption(text)


def download(frame: pd.DataFrame, name: str) -> None:
    st.download_button(
        "Download data (CSV)",
        frame.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"download-{name}",
    )


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def pct(value) -> str:
    return "–" if missing(value) else f"{value:.1%}"


def num(value) -> str:
    return "–" if missing(value) else f"{value:,.0f}"


def usd(value) -> str:
    return "–" if missing(value) else f"${value:,.0f}"


def usd_short(value) -> str:
    if missing(value):
        return "–"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"${value / limit:,.1f}{suffix}"
    return f"${value:,.0f}"


def filters_not_applied(scope: str) -> None:
    st.caption(f"The sidebar filters do not apply on this page: {scope}.")


def days(value) -> str:
    return "–" if missing(value) else f"{value:,.1f} d"
