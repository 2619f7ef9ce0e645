"""How long referrals take: p50/p90 by specialty and month, the distribution
of days to visit, censoring-aware time-to-visit curves, share seen within
14/30/60 days."""

import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.filters import current, describe
from dashboards.components.frame import as_of_caption, download, pct
from dashboards.components.suppression import suppress_table

f = current()
st.title("Turnaround")
as_of_caption(describe(f))

COUNTS = [f"n_{s}" for s in queries.STEPS]


def suppressed_percentiles(frame):
    shown = suppress_table(frame, COUNTS, column_totals=False)
    for step in queries.STEPS:
        hidden = shown[f"n_{step}"].isna()
        shown.loc[hidden, [f"median_days_to_{step}", f"p90_days_to_{step}"]] = None
    return shown


st.subheader("Days to each step, by specialty group")
by_group = suppressed_percentiles(queries.turnaround(f, "specialty_group"))
st.dataframe(by_group, hide_index=True, width="stretch")
download(by_group, "turnaround_by_group")

st.subheader("Median and p90 days to visit, by month")
by_month = suppressed_percentiles(queries.turnaround(f, "created_month"))
trend = by_month.rename(columns={"median_days_to_visit": "Median", "p90_days_to_visit": "90th percentile"}).melt(
    id_vars="created_month", value_vars=["Median", "90th percentile"], var_name="measure", value_name="days")
st.plotly_chart(px.line(trend, x="created_month", y="days", color="measure", markers=True,
                        labels={"created_month": "Month created", "days": "Days", "measure": ""}), width="stretch")
st.caption("Over referrals that had a visit; recent months look fast because slow visits have not happened yet. "
           "The curves below count those referrals too.")
download(by_month, "turnaround_by_month")

st.subheader("Distribution of days to visit")
distribution = suppress_table(queries.days_to_visit_distribution(f), ["referrals"], column_totals=True)
st.plotly_chart(px.bar(distribution, x="days_to_visit", y="referrals",
                       labels={"days_to_visit": "Days from referral to visit (180 = 180 or more)", "referrals": "Referrals"}),
                width="stretch")
download(distribution, "days_to_visit_distribution")

st.subheader("Time to visit, open referrals included (Kaplan-Meier)")
st.caption("Filters applied: specialty group (the curves cover all dates and practices). Open referrals count as "
           "not yet seen until the as-of date, so slow specialties are not flattered.")
curves = queries.time_to_visit_curve(f.groups)
curve_chart = px.line(curves, x="days_since_referral", y="share_seen", color="specialty_group", line_shape="hv",
                      labels={"days_since_referral": "Days since referral", "share_seen": "Share seen", "specialty_group": ""})
curve_chart.update_yaxes(tickformat=".0%", range=[0, 1])
st.plotly_chart(curve_chart, width="stretch")
download(curves, "time_to_visit_curves")

shares = queries.share_seen_within(f.groups)
wide = shares.pivot(index="specialty_group", columns="within_days", values="share_seen").reset_index()
wide.columns = ["specialty_group", *[f"seen within {d} days" for d in wide.columns[1:]]]
st.dataframe(wide.style.format({c: pct for c in wide.columns[1:]}), hide_index=True, width="stretch")
download(wide, "share_seen_within")
