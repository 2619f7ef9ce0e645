import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download

st.title("Data quality")
as_of_caption()
st.write("Every extract file the warehouse has read: rows read = rows loaded + rows rejected, per file.")

totals = queries.load_totals()
files = int(totals["files"].sum()) if len(totals) else 0
cols = st.columns(4)
cols[0].metric("Files", f"{files:,}")
cols[1].metric("Rows loaded", f"{int(totals['rows_loaded'].sum()):,}" if files else "0")
cols[2].metric("Rows rejected", f"{int(totals['rows_rejected'].sum()):,}" if files else "0")
cols[3].metric("Files rejected whole", f"{int(totals['files_rejected'].sum()):,}" if files else "0")

st.subheader("By entity")
st.dataframe(totals, hide_index=True, width="stretch")
download(totals, "load_totals")

rejected = queries.rejected_files()
st.subheader("Files rejected whole")
if rejected.empty:
    st.success("No file was rejected.")
else:
    st.dataframe(rejected, hide_index=True, width="stretch")
    download(rejected, "rejected_files")

st.subheader("Rejected rows by file and rule")
rules = queries.rejects_by_rule()
if rules.empty:
    st.success("No row was rejected.")
else:
    st.dataframe(rules, hide_index=True, width="stretch")
    download(rules, "rejected_rows_by_rule")
