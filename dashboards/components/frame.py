"""Pieces every page uses: the header line saying what data it shows, and a
CSV download under each chart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import queries


def as_of_caption() -> None:
    params = queries.parameters()
    published = queries.publication()
    if not params:
        return
    st.caption(
        f"As of **{params['as_of_date']}** · attribution window {params['attribution_window_days']} days · "
        f"published {pd.Timestamp(published.get('published_at')):%Y-%m-%d %H:%M}"
    )


def download(frame: pd.DataFrame, name: str) -> None:
    st.download_button(
        "Download data (CSV)",
        frame.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"download-{name}",
    )
