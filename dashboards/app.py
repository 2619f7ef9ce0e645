"""refloop dashboards: `streamlit run dashboards/app.py` (or `refloop dashboard`)."""

import streamlit as st

from dashboards import queries

st.set_page_config(page_title="refloop", page_icon=":material/sync_alt:", layout="wide")

pages = [
    st.Page("app_pages/volume.py", title="Referral volume", icon=":material/bar_chart:", default=True),
    st.Page("app_pages/loads.py", title="Data loads", icon=":material/upload_file:"),
]

try:
    queries.publication()
except queries.NoWarehouse as missing:
    st.title("refloop")
    st.error(str(missing))
    st.stop()

st.navigation(pages).run()
