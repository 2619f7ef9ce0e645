import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download

st.title("Referral volume")
as_of_caption()

groups = st.multiselect("Specialty groups", queries.specialty_groups(), placeholder="All specialty groups")
volume = queries.referral_volume(tuple(groups))

total = int(volume["referrals"].sum()) if len(volume) else 0
months = volume["created_month"].nunique() if len(volume) else 0
left, right = st.columns(2)
left.metric("Eligible referrals", f"{total:,}")
right.metric("Months", months)

if volume.empty:
    st.info("No eligible referrals for this selection.")
else:
    chart = px.bar(
        volume, x="created_month", y="referrals", color="specialty_group",
        labels={"created_month": "Month created", "referrals": "Referrals", "specialty_group": "Specialty group"},
    )
    chart.update_layout(legend_title_text="Specialty group", bargap=0.1)
    st.plotly_chart(chart, width="stretch")
    download(volume, "referral_volume_monthly")
