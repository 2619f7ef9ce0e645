"""Executive overview: headline KPIs with change versus the previous period,
monthly trends, the funnel with drop-offs, leakage by specialty group."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import queries
from dashboards.components.filters import current, describe
from dashboards.components.frame import as_of_caption, days, download, num, pct, usd_short
from dashboards.components.suppression import count, is_small, rate, suppress_table

f = current()
st.title("Overview")
as_of_caption(describe(f))

now, before = queries.totals(f), queries.totals(f.shifted(-f.months))


def kpis(t: dict) -> dict:
    small = is_small(t["referrals"])
    return {
        "Referrals": count(t["referrals"]),
        "Conversion": rate(t["scheduled"], t["referrals"]),
        "Completion": rate(t["completed_in_network"], t["referrals"]),
        "Keepage": rate(t["completed_in_network"], t["resolved"]),
        "Network leakage": rate(t["completed_out_of_network"], t["completed_in_network"] + t["completed_out_of_network"]),
        "Leaked revenue": None if small else t["leaked_revenue"],
    }


current, previous = kpis(now), kpis(before)
median_now, n_now = queries.median_days_to_visit(f)
median_before, n_before = queries.median_days_to_visit(f.shifted(-f.months))
current["Median days to visit"] = None if is_small(n_now) else median_now
previous["Median days to visit"] = None if is_small(n_before) else median_before

formats = {"Referrals": num, "Leaked revenue": usd_short, "Median days to visit": days}
lower_is_better = {"Network leakage", "Leaked revenue", "Median days to visit"}
columns = st.columns(len(current))
for column, (label, value) in zip(columns, current.items(), strict=True):
    shown = formats.get(label, pct)(value)
    delta, prior = None, previous[label]
    if value is not None and prior is not None and not pd.isna(value) and not pd.isna(prior):
        if label in formats:
            delta = f"{(value - prior) / prior:+.1%}" if prior else None
        else:
            delta = f"{(value - prior) * 100:+.1f} pts"
    column.metric(label, shown, delta, delta_color="inverse" if label in lower_is_better else "normal",
                  help=f"Previous {f.months} months: {formats.get(label, pct)(prior)}")

st.subheader("Monthly trends")
monthly = suppress_table(
    queries.monthly(f),
    ["referrals", "scheduled", "completed_in_network", "completed_out_of_network"],
    column_totals=True,
    rates=[("conversion_rate", "scheduled", "referrals"), ("completion_rate", "completed_in_network", "referrals")],
)
if monthly.empty:
    st.info("No referrals for these filters.")
else:
    monthly["network_leakage_rate"] = (
        monthly["completed_out_of_network"] / (monthly["completed_in_network"] + monthly["completed_out_of_network"]))
    names = {"conversion_rate": "Conversion", "completion_rate": "Completion", "network_leakage_rate": "Network leakage"}
    trend = monthly.rename(columns=names).melt(
        id_vars="created_month", value_vars=list(names.values()), var_name="metric", value_name="rate")
    chart = px.line(trend, x="created_month", y="rate", color="metric", markers=True,
                    labels={"created_month": "Month created", "rate": "Rate", "metric": ""})
    chart.update_yaxes(tickformat=".0%")
    left, right = st.columns(2)
    left.plotly_chart(chart, width="stretch")
    volume = px.bar(monthly, x="created_month", y="referrals", labels={"created_month": "Month created", "referrals": "Referrals"})
    right.plotly_chart(volume, width="stretch")
    st.caption("The latest months dip because many of their referrals are still open; the Turnaround page's "
               "curves account for that.")
    download(monthly[["created_month", "referrals", "scheduled", "completed_in_network", "completed_out_of_network",
                      "conversion_rate", "completion_rate", "network_leakage_rate"]], "overview_monthly")

st.subheader("Funnel")
stages = [("Referred", "referrals"), ("Contacted", "contacted"), ("Scheduled", "scheduled"),
          ("Visit completed", "visit_completed"), ("Loop closed", "loop_closed_in_network")]
funnel = pd.DataFrame({"stage": [s for s, _ in stages], "referrals": [now[c] for _, c in stages]})
funnel["dropped_off"] = (-funnel["referrals"].diff()).fillna(0)
funnel = suppress_table(funnel, ["referrals", "dropped_off"], column_totals=False)
# a hidden stage would follow from its neighbours: hide the drop-offs around it
for i in funnel.index[funnel["referrals"].isna()]:
    funnel.loc[i, "dropped_off"] = None
    if i + 1 in funnel.index:
        funnel.loc[i + 1, "dropped_off"] = None
left, right = st.columns([3, 2])
figure = go.Figure(go.Funnel(y=funnel["stage"], x=funnel["referrals"], textinfo="value+percent initial"))
left.plotly_chart(figure, width="stretch")
right.dataframe(funnel, hide_index=True, width="stretch",
                column_config={"referrals": st.column_config.NumberColumn(format="%d"),
                               "dropped_off": st.column_config.NumberColumn("dropped off", format="%d")})
download(funnel, "overview_funnel")

st.subheader("Network leakage by specialty group")
groups = suppress_table(
    queries.group_outcomes(f), ["completed_in_network", "completed_out_of_network"], column_totals=True)
groups["completed"] = groups["completed_in_network"] + groups["completed_out_of_network"]
groups["network_leakage_rate"] = groups["completed_out_of_network"] / groups["completed"]
groups = groups.dropna(subset=["network_leakage_rate"]).sort_values("network_leakage_rate")
bars = px.bar(groups, x="network_leakage_rate", y="specialty_group", orientation="h",
              labels={"network_leakage_rate": "Network leakage", "specialty_group": ""})
bars.update_xaxes(tickformat=".0%")
st.plotly_chart(bars, width="stretch")
download(groups[["specialty_group", "completed_in_network", "completed_out_of_network", "network_leakage_rate"]],
         "overview_leakage_by_group")
