"""The referral work list for care coordinators (patient-level: shown only
when the app runs with coordinator access)."""

import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download
from dashboards.settings import coordinator_access

if not coordinator_access():  # the page is not in the navigation then; this guards a direct call
    st.error("The referral queue needs coordinator access (REFLOOP_COORDINATOR_ACCESS=1).")
    st.stop()

st.title("Referral queue")
as_of_caption("patient-level: for care coordinators")

options = queries.filter_options()
left, middle, right = st.columns(3)
actions = left.multiselect("Action", queries.QUEUE_ACTIONS, default=[a for a in queries.QUEUE_ACTIONS if a != "none"],
                           key="queue_actions")
groups = middle.multiselect("Specialty group", options["groups"], key="queue_groups", placeholder="All")
practices = right.multiselect("Referring practice", options["practices"], key="queue_practices", placeholder="All")
low, high = st.slider("Days open", 0, 730, (0, 730), key="queue_age")

rows = queries.queue(tuple(actions), tuple(groups), tuple(practices), low, high)
st.metric("Referrals in this view", f"{len(rows):,}" + (" (first 5,000)" if len(rows) == 5000 else ""))
st.dataframe(rows, hide_index=True, width="stretch", column_config={
    "recommended_npi": st.column_config.TextColumn("recommended provider"),
    "recommended_next_free_slot_at": st.column_config.DatetimeColumn("its next free slot"),
})
download(rows, "referral_queue")

left, right = st.columns(2)
volume = queries.queue_volume()
left.plotly_chart(px.bar(volume, x="age_band", y="referrals", color="action",
                         category_orders={"age_band": volume.sort_values("age_band_order")["age_band"].unique().tolist()},
                         labels={"age_band": "Days open", "referrals": "Referrals"}), width="stretch")
changes = queries.queue_changes()
if not changes.empty:
    previous = changes["previous_built_at"].iloc[0]
    right.markdown(f"**Since the previous build** ({previous if previous == previous and previous is not None else 'none yet'})")
    right.dataframe(changes.pivot_table(index="action", columns="change", values="referrals", fill_value=0).reset_index(),
                    hide_index=True, width="stretch")
