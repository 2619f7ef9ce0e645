"""Outreach effectiveness, for program managers: which touches get patients
scheduled, at what cost, and where human advisors are worth theirs
(docs/outreach.md)."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import queries
from dashboards.components.filters import current, describe
from dashboards.components.frame import as_of_caption, download, filters_not_applied, num, pct, usd
from dashboards.components.suppression import count, rate, suppress_table

OBSERVATIONAL = (
    "**Observational.** Outreach goes to the referrals the program chose, and a channel is credited with every "
    "referral it touched: these figures show what went with each touch, not what it caused."
)

f = current()
st.title("Outreach")
as_of_caption(f"{describe(f)} · channel costs on the Program ROI page")
st.warning(OBSERVATIONAL)

s = queries.outreach_summary(f)
if not s["referrals"]:
    st.info("No referrals in this view.")
    st.stop()
touched_conversion = rate(s["touched_scheduled"], s["touched"])
untouched_conversion = rate(s["untouched_scheduled"], s["untouched"])
reminders = queries.reminder_effect(f)
by_reminder = {bool(r["has_reminder"]): r for r in reminders.to_dict("records")}
no_show = {k: rate(v["no_shows"], v["appointments"]) for k, v in by_reminder.items()}

cols = st.columns(5)
cols[0].metric("Referrals with outreach", num(count(s["touched"])),
               help="Eligible referrals with at least one outreach touch (reminders do not count).")
delta = (None if touched_conversion is None or untouched_conversion is None
         else f"{(touched_conversion - untouched_conversion) * 100:+.1f} pts vs. none")
cols[1].metric("Conversion with outreach", pct(touched_conversion), delta)
cols[2].metric("Engagement spend", usd(s["outreach_cost"] if count(s["referrals"]) is not None else None),
               help="All engagements of these referrals, reminders included, at their channel costs.")
cols[3].metric("Spend per scheduled referral",
               f"${s['touched_cost'] / s['touched_scheduled']:,.2f}"
               if count(s["touched_scheduled"]) and s["touched_scheduled"] else "–",
               help="Engagement spend on referrals with outreach / those of them scheduled.")
reminded, unreminded = no_show.get(True), no_show.get(False)
cols[4].metric("No-shows with a reminder", pct(reminded),
               None if reminded is None or unreminded is None else f"{(reminded - unreminded) * 100:+.1f} pts vs. without",
               delta_color="inverse", help="Reminder in the 72 hours before the visit.")

st.subheader("Conversion by number of touches")
curve = queries.outreach_touch_curve(f)
curve = suppress_table(curve, ["referrals", "scheduled", "completed_in_network"],
                       rates=[("conversion_rate", "scheduled", "referrals"),
                              ("completion_rate", "completed_in_network", "referrals")],
                       money=[("outreach_cost", "referrals")])
curve["cost_per_referral"] = curve["outreach_cost"] / curve["referrals"]
chart = go.Figure()
chart.add_bar(x=curve["touches_label"], y=curve["referrals"], name="Referrals", yaxis="y2", opacity=0.35)
chart.add_scatter(x=curve["touches_label"], y=curve["conversion_rate"], name="Scheduled", mode="lines+markers")
chart.add_scatter(x=curve["touches_label"], y=curve["completion_rate"], name="Completed in network",
                  mode="lines+markers")
chart.update_layout(xaxis_title="Outreach touches", yaxis={"title": "Share of referrals", "tickformat": ".0%"},
                    yaxis2={"title": "Referrals", "overlaying": "y", "side": "right", "showgrid": False},
                    legend={"orientation": "h"})
st.plotly_chart(chart, width="stretch")
st.caption("0 = no outreach touch. Each extra touch that no longer lifts the share scheduled is spend with "
           "diminishing returns.")
download(curve, "outreach_by_number_of_touches")

left, right = st.columns(2)
with left:
    st.subheader("Reminders and no-shows")
    table = suppress_table(reminders, ["appointments", "no_shows"], rates=[("no_show_rate", "no_shows", "appointments")])
    table["reminder"] = table["has_reminder"].map({True: "reminder in the 72 h before", False: "no reminder"})
    st.plotly_chart(px.bar(table, x="reminder", y="no_show_rate", labels={"reminder": "", "no_show_rate": "No-show rate"})
                    .update_yaxes(tickformat=".0%"), width="stretch")
    coverage = rate(by_reminder.get(True, {}).get("appointments", 0), reminders["appointments"].sum())
    st.caption(f"Reminder coverage: {pct(coverage)} of attended or missed appointments of referrals.")
    download(table[["reminder", "appointments", "no_shows", "no_show_rate"]], "outreach_reminders_no_shows")
with right:
    st.subheader("Time to first touch and to booking")
    timing = queries.outreach_timing(f)
    timing = suppress_table(timing, ["touched", "booked_after_touch"], column_totals=True)
    for column in ("median_days_to_first_touch", "p90_days_to_first_touch"):
        timing[column] = timing[column].mask(timing["touched"].isna())
    for column in ("median_days_touch_to_booking", "p90_days_touch_to_booking"):
        timing[column] = timing[column].mask(timing["booked_after_touch"].isna())
    st.dataframe(timing, hide_index=True, width="stretch", height=300)
    download(timing, "outreach_timing_by_group")

st.subheader("By channel and purpose")
channels = queries.outreach_by_channel(f)
channels = suppress_table(
    channels,
    ["touches", "responses", "followed_by_booking_within_7_days", "referrals_touched", "referrals_scheduled",
     "referrals_completed_in_network"],
    rates=[("response_rate", "responses", "touches"),
           ("booked_within_7_days_rate", "followed_by_booking_within_7_days", "touches"),
           ("conversion_rate", "referrals_scheduled", "referrals_touched")],
    money=[("cost", "referrals_touched")],
)
channels["cost_per_scheduled_referral"] = channels["cost"] / channels["referrals_scheduled"].where(channels["referrals_scheduled"] > 0)
channels["cost_per_completed_visit"] = channels["cost"] / channels["referrals_completed_in_network"].where(
    channels["referrals_completed_in_network"] > 0)
shown = ["channel", "purpose", "touches", "response_rate", "booked_within_7_days_rate", "referrals_touched",
         "conversion_rate", "cost", "cost_per_scheduled_referral", "cost_per_completed_visit"]
st.dataframe(channels[shown], hide_index=True, width="stretch", column_config={
    "response_rate": st.column_config.NumberColumn("responded", format="percent"),
    "booked_within_7_days_rate": st.column_config.NumberColumn("booked within 7 days", format="percent"),
    "conversion_rate": st.column_config.NumberColumn("referrals scheduled", format="percent"),
    "cost": st.column_config.NumberColumn("spend", format="dollar"),
    "cost_per_scheduled_referral": st.column_config.NumberColumn("per scheduled referral", format="$%.2f"),
    "cost_per_completed_visit": st.column_config.NumberColumn("per completed in-network visit", format="$%.2f"),
})
st.caption("Cost per outcome: the channel's spend over the referrals it touched that were scheduled (completed in "
           "network). A referral touched by several channels counts for each.")
download(channels[shown], "outreach_by_channel_purpose")

st.subheader("Most common first three touches")
sequences = suppress_table(queries.outreach_sequences(f), ["referrals", "scheduled", "completed_in_network"],
                           rates=[("conversion_rate", "scheduled", "referrals"),
                                  ("completion_rate", "completed_in_network", "referrals")])
st.dataframe(sequences, hide_index=True, width="stretch", column_config={
    "conversion_rate": st.column_config.NumberColumn("scheduled", format="percent"),
    "completion_rate": st.column_config.NumberColumn("completed in network", format="percent"),
})
download(sequences, "outreach_sequences")

st.subheader("Where advisors are worth their cost")
advisors = queries.advisor_value_by_group(f)
advisors = suppress_table(
    advisors, ["with_phone", "with_phone_scheduled", "without_phone", "without_phone_scheduled"],
    rates=[("phone_conversion", "with_phone_scheduled", "with_phone"),
           ("other_conversion", "without_phone_scheduled", "without_phone")],
    money=[("phone_cost", "with_phone")],
)
advisors["difference"] = advisors["phone_conversion"] - advisors["other_conversion"]
advisors["extra_scheduled"] = advisors["with_phone"] * advisors["difference"]
advisors["phone_cost_per_extra_scheduled"] = advisors["phone_cost"] / advisors["extra_scheduled"].where(
    advisors["extra_scheduled"] > 0)
shown = ["specialty_group", "with_phone", "phone_conversion", "without_phone", "other_conversion", "difference",
         "extra_scheduled", "phone_cost", "phone_cost_per_extra_scheduled"]
st.dataframe(advisors[shown], hide_index=True, width="stretch", column_config={
    "with_phone": st.column_config.NumberColumn("reached by phone"),
    "phone_conversion": st.column_config.NumberColumn("scheduled (phone)", format="percent"),
    "without_phone": st.column_config.NumberColumn("other outreach only"),
    "other_conversion": st.column_config.NumberColumn("scheduled (other)", format="percent"),
    "difference": st.column_config.NumberColumn("difference", format="percent"),
    "extra_scheduled": st.column_config.NumberColumn("extra scheduled", format="%.0f"),
    "phone_cost": st.column_config.NumberColumn("phone spend", format="dollar"),
    "phone_cost_per_extra_scheduled": st.column_config.NumberColumn("phone spend per extra scheduled",
                                                                    format="$%.2f"),
})
st.caption("Referrals with outreach, split by whether an advisor called (channel phone). Extra scheduled = reached "
           "by phone x the difference in conversion. Observational: advisors may call different patients.")
download(advisors[shown], "outreach_advisor_value_by_group")

st.subheader("Whole program: cost per outcome")
filters_not_applied("all loaded referrals, with the program's fixed cost on the whole-program row")
program = suppress_table(queries.outreach_cost_per_outcome(),
                         ["referrals_touched", "referrals_scheduled", "referrals_completed_in_network"],
                         column_totals=False,
                         money=[("variable_cost", "referrals_touched"), ("total_cost", "referrals_touched")])
for column, basis in (("cost_per_scheduled_referral", "referrals_scheduled"),
                      ("cost_per_completed_visit", "referrals_completed_in_network")):
    program[column] = pd.to_numeric(program[column], errors="coerce").mask(program[basis].isna())
st.dataframe(program, hide_index=True, width="stretch", column_config={
    **{c: st.column_config.NumberColumn(format="dollar") for c in ("variable_cost", "fixed_cost", "total_cost")},
    **{c: st.column_config.NumberColumn(format="$%.2f") for c in ("cost_per_scheduled_referral", "cost_per_completed_visit")},
})
download(program, "outreach_cost_per_outcome")
