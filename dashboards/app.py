"""refloop dashboards: `refloop dashboard` (or `streamlit run dashboards/app.py`).

Reads only the published read-only copy (REFLOOP_SERVING). The patient-level
referral queue appears only with REFLOOP_COORDINATOR_ACCESS=1."""

import streamlit as st

from dashboards import queries
from dashboards.components.filters import global_filters
from dashboards.settings import coordinator_access

st.set_page_config(page_title="refloop", page_icon=":material/sync_alt:", layout="wide")

pages = {
    "Executive": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/leakage.py", title="Leakage", icon=":material/call_split:"),
        st.Page("app_pages/turnaround.py", title="Turnaround", icon=":material/timer:"),
        st.Page("app_pages/program.py", title="Program ROI", icon=":material/savings:"),
        st.Page("app_pages/outreach.py", title="Outreach", icon=":material/campaign:"),
        st.Page("app_pages/cms50.py", title="CMS50", icon=":material/assignment_turned_in:"),
    ],
    "Operations": [
        st.Page("app_pages/quality.py", title="Data quality", icon=":material/fact_check:"),
    ],
}
if coordinator_access():
    pages["Operations"].insert(0, st.Page("app_pages/queue.py", title="Referral queue", icon=":material/checklist:"))

try:
    queries.publication()
except queries.NoWarehouse as missing:
    st.title("refloop")
    st.error(str(missing))
    st.stop()

page = st.navigation(pages)
global_filters()
page.run()
