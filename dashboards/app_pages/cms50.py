"""CMS50 Closing the Referral Loop: rate per measurement year."""

import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download, filters_not_applied
from dashboards.components.suppression import suppress_table

st.title("CMS50: Closing the referral loop")
as_of_caption()
filters_not_applied("the measure is defined per measurement year over all patients")
st.markdown(
    "Patients with a referral created January 1 - October 31 whose first such referral got a consult report back "
    "by December 31 of the same year. Departs from the official eCQM: the extracts carry no PCP encounter (the "
    "referral stands for it), the report is a `consult_report_received` event, and no exclusions are applied.")
measure = suppress_table(queries.cms50(), ["denominator", "numerator"], column_totals=False,
                         rates=[("rate", "numerator", "denominator")])
measure["measurement_year"] = measure["measurement_year"].astype(str)
chart = px.bar(measure, x="measurement_year", y="rate", text_auto=".1%", labels={"measurement_year": "Year", "rate": "Rate"})
chart.update_yaxes(tickformat=".0%", range=[0, 1])
st.plotly_chart(chart, width="stretch")
st.dataframe(measure, hide_index=True, width="stretch", column_config={
    "rate": st.column_config.NumberColumn(format="percent"),
    "is_provisional": st.column_config.CheckboxColumn("provisional (year not over)")})
download(measure, "cms50_referral_loop")
