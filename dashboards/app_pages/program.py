"""Program ROI: what navigation returns, with its assumptions, a what-if, and
the observational label."""

import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download, filters_not_applied, num, pct, usd, usd_short
from dashboards.components.suppression import count, suppress_table

OBSERVATIONAL = (
    "**Observational comparison.** Navigated referrals are compared with non-navigated ones of the same specialty "
    "group; the program chose whom to navigate, so the uplift is an association, not a proven effect."
)

st.title("Program ROI")
costs = queries.channel_costs()
parameters = queries.parameters()
fixed = float(parameters.get("program_fixed_cost_per_year", 0) or 0)
as_of_caption(f"fixed program cost ${fixed:,.0f}/year · channel costs below")
filters_not_applied("program figures are per year of referral creation, over all practices and payers")
st.warning(OBSERVATIONAL)

program = queries.program_return()
pooled = program[program["created_year"].isna()]
if pooled.empty:
    st.info("No referrals yet.")
    st.stop()
row = pooled.iloc[0]
cols = st.columns(5)
cols[0].metric("Navigated referrals", num(count(row["navigated_referrals"])))
cols[1].metric("Scheduled after navigation", num(count(row["navigated_scheduled"])))
cols[2].metric("Navigated conversion", pct(row["navigated_conversion_rate"]))
cols[3].metric("Incremental revenue", usd_short(row["incremental_revenue"]))
cols[4].metric("ROI", "–" if row["roi"] is None or row["roi"] != row["roi"] else f"{row['roi']:.1f}x")

st.subheader("By year of referral")
yearly = program.copy()
yearly["created_year"] = yearly["created_year"].astype("Int64").astype("string").fillna("all years")
yearly = suppress_table(yearly, ["referrals", "navigated_referrals", "navigated_scheduled"], column_totals=False)
shown = ["created_year", "referrals", "navigated_referrals", "navigated_scheduled", "navigated_conversion_rate",
         "incremental_completions", "incremental_revenue", "program_cost", "net_benefit", "roi",
         "captured_revenue", "leaked_revenue", "unrealized_revenue_estimate"]
st.dataframe(yearly[shown], hide_index=True, width="stretch", column_config={
    "navigated_conversion_rate": st.column_config.NumberColumn("navigated conversion", format="percent"),
    "incremental_completions": st.column_config.NumberColumn(format="%.1f"),
    **{c: st.column_config.NumberColumn(format="dollar") for c in
       ("incremental_revenue", "program_cost", "net_benefit", "captured_revenue", "leaked_revenue", "unrealized_revenue_estimate")},
    "roi": st.column_config.NumberColumn(format="%.2f"),
})
download(yearly[shown], "program_return_by_year")

st.subheader("Uplift by specialty group (all years)")
uplift = suppress_table(queries.uplift_by_group(),
                        ["referrals", "navigated_referrals", "non_navigated_referrals"], column_totals=True)
uplift.loc[uplift["navigated_referrals"].isna() | uplift["non_navigated_referrals"].isna(), "uplift"] = None
chart = px.bar(uplift.dropna(subset=["uplift"]).sort_values("uplift"), x="uplift", y="specialty_group",
               orientation="h", labels={"uplift": "Completion uplift (navigated - not)", "specialty_group": ""})
chart.update_xaxes(tickformat=".0%")
st.plotly_chart(chart, width="stretch")
download(uplift, "program_uplift_by_group")

st.subheader("What if navigation reached more referrals?")
groups = uplift.dropna(subset=["uplift"])["specialty_group"].tolist()
if groups:
    left, right = st.columns(2)
    group = left.selectbox("Specialty group", groups, key="whatif_group")
    extra = right.slider("More of the group's referrals navigated", 0, 50, 10, step=5, format="%d%%", key="whatif_share")
    scenario = queries.what_if(group, extra / 100)
    cols = st.columns(4)
    cols[0].metric("Extra navigated referrals", num(scenario.get("extra_navigated")))
    cols[1].metric("Extra completions", f"{scenario.get('extra_completions', 0):,.1f}")
    cols[2].metric("Extra revenue", usd(scenario.get("extra_revenue")))
    cols[3].metric("Extra outreach cost", usd(scenario.get("extra_engagement_cost")))
    st.caption(f"Uses {group}'s measured uplift ({pct(scenario.get('uplift'))}), average revenue "
               f"({usd(scenario.get('average_revenue'))}) and outreach cost per navigated referral; observational.")

st.subheader("Assumptions")
left, right = st.columns(2)
left.dataframe(costs, hide_index=True, width="stretch", column_config={
    "cost_per_touch": st.column_config.NumberColumn("cost per touch", format="$%.2f"),
    "is_overridden": st.column_config.CheckboxColumn("set by --var channel_costs")})
right.markdown(
    f"- Fixed program cost: **${fixed:,.0f} per year** (`--var program_fixed_cost_per_year=...`)\n"
    f"- Channel costs: the reference table unless overridden (`--var 'channel_costs={{\"phone\": 8}}'`)\n"
    f"- An engagement's own `cost_amount` wins over its channel's cost")
