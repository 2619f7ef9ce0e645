"""Where referrals drop: by stage, by specialty/practice/payer/priority,
out-of-network destinations, and the flow from specialty to outcome."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import queries
from dashboards.components.filters import current, describe
from dashboards.components.frame import as_of_caption, download
from dashboards.components.suppression import suppress_table

OUTCOMES = ["completed_in_network", "completed_out_of_network", "scheduled_upcoming", "referral_cancelled",
            "no_show", "appointment_cancelled", "appointment_unresolved", "unscheduled_open", "unscheduled_expired"]

f = current()
st.title("Leakage")
as_of_caption(describe(f))

st.subheader("Where referrals drop")
t = queries.totals(f)
stages = pd.DataFrame({
    "drop_off_stage": ["scheduling (never scheduled)", "attendance (no-show, cancelled, unresolved)",
                       "referral cancelled", "network (seen out of network)"],
    "referrals": [t["unscheduled_expired"], t["no_show"] + t["appointment_cancelled"] + t["appointment_unresolved"],
                  t["referral_cancelled"], t["completed_out_of_network"]],
})
stages = suppress_table(stages, ["referrals"])
st.plotly_chart(px.bar(stages, x="referrals", y="drop_off_stage", orientation="h",
                       labels={"drop_off_stage": "", "referrals": "Referrals"}), width="stretch")
download(stages, "leakage_by_stage")

st.subheader("By dimension")
dimension = st.radio("Break down by", list(queries.DIMENSIONS), horizontal=True,
                     format_func=queries.DIMENSIONS.get, key="leakage_dimension")
table = queries.by_dimension(f, dimension)
table["dropped"] = table["resolved"] - table["completed_in_network"]
shown = suppress_table(
    table, ["referrals", "completed_in_network", "completed_out_of_network", "unscheduled_expired", "no_show"],
    column_totals=True,
    rates=[("total_leakage_rate", "dropped", "resolved"), ("completion_rate", "completed_in_network", "referrals")],
    money=[("leaked_revenue", "referrals")],
)
shown["network_leakage_rate"] = shown["completed_out_of_network"] / (shown["completed_in_network"] + shown["completed_out_of_network"])
columns = [dimension, "referrals", "completion_rate", "total_leakage_rate", "network_leakage_rate",
           "completed_out_of_network", "unscheduled_expired", "no_show", "leaked_revenue"]
st.dataframe(shown[columns], hide_index=True, width="stretch", column_config={
    "completion_rate": st.column_config.NumberColumn("completion", format="percent"),
    "total_leakage_rate": st.column_config.NumberColumn("total leakage", format="percent"),
    "network_leakage_rate": st.column_config.NumberColumn("network leakage", format="percent"),
    "leaked_revenue": st.column_config.NumberColumn("leaked revenue", format="dollar"),
})
download(shown[columns], f"leakage_by_{dimension}")

st.subheader("Out-of-network destinations")
st.caption("Filters applied: date range and specialty group (destinations are not broken down by practice or payer).")
destinations = suppress_table(queries.leakage_destinations(f), ["leaked_referrals"], column_totals=False,
                              money=[("leaked_revenue", "leaked_referrals")])
destinations = destinations[destinations["leaked_referrals"].ne(0) | destinations["leaked_revenue"].notna()]
st.dataframe(destinations, hide_index=True, width="stretch", column_config={
    "leaked_revenue": st.column_config.NumberColumn("leaked revenue", format="dollar")})
download(destinations, "leakage_destinations")

st.subheader("From specialty to outcome")
flows = queries.group_outcomes(f)
flows = suppress_table(flows, ["referrals", *OUTCOMES], row_total="referrals", column_totals=True)
top = flows.head(8)
links = top.melt(id_vars="specialty_group", value_vars=OUTCOMES, var_name="outcome", value_name="flow").dropna()
links = links.rename(columns={"flow": "referrals"})
links = links[links["referrals"] > 0]
sources = list(top["specialty_group"])
nodes = sources + OUTCOMES
sankey = go.Figure(go.Sankey(
    node={"label": [n.replace("_", " ") for n in nodes], "pad": 12},
    link={"source": [nodes.index(s) for s in links["specialty_group"]],
          "target": [nodes.index(o) for o in links["outcome"]],
          "value": links["referrals"].tolist()},
))
sankey.update_layout(height=520)
st.plotly_chart(sankey, width="stretch")
st.caption("The eight specialty groups with the most referrals; suppressed flows are left out.")
download(links, "leakage_specialty_to_outcome")
