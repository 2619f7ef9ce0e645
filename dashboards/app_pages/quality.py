import plotly.express as px
import streamlit as st

from dashboards import queries
from dashboards.components.frame import as_of_caption, download

st.title("Data quality")
as_of_caption()
st.write(
    "Every run checks the landed extracts (conformance, completeness, plausibility, freshness) before dbt "
    "builds on them, then dbt's tests and the key marts. An error on a blocking check stops publication: "
    "the dashboards keep the last good copy. `refloop quality` prints the same results."
)

runs = queries.quality_runs()
if runs is None or runs.empty:
    st.info("No data-quality results yet: they appear after the next `refloop run`.")
else:
    latest = runs.iloc[-1]
    published = queries.publication()
    if latest["blocking_errors"] > 0:
        st.error(
            f"The latest run ({latest['checked_at']:%Y-%m-%d %H:%M}) failed {int(latest['blocking_errors'])} "
            f"blocking check(s) and was not published: the other pages show the copy published "
            f"{published.get('published_at'):%Y-%m-%d %H:%M}."
        )
    cols = st.columns(4)
    cols[0].metric("Checks passed", f"{int(latest['passed']):,}")
    cols[1].metric("Warnings", f"{int(latest['warnings']):,}")
    cols[2].metric("Errors", f"{int(latest['errors']):,}")
    cols[3].metric("Runs on record", f"{len(runs):,}")

    st.subheader("Latest status by table")
    status = queries.quality_status_by_table()
    st.dataframe(status, hide_index=True, width="stretch")
    download(status, "quality_status_by_table")

    st.subheader("Failing checks")
    failures = queries.quality_failures()
    if failures.empty:
        st.success("Every check of the latest run passed.")
    else:
        st.dataframe(failures, hide_index=True, width="stretch")
        download(failures, "quality_failing_checks")

    st.subheader("Failures over runs")
    trend = runs.melt(id_vars=["checked_at"], value_vars=["errors", "warnings"], var_name="severity",
                      value_name="checks")
    chart = px.bar(trend, x="checked_at", y="checks", color="severity", barmode="stack",
                   color_discrete_map={"errors": "#c0392b", "warnings": "#e6a23c"},
                   labels={"checked_at": "run", "checks": "failed checks"})
    st.plotly_chart(chart, width="stretch")
    download(runs, "quality_runs")

    st.subheader("Freshness")
    st.caption("Hours since each feed's newest file arrived, against its cadence (dbt source freshness).")
    freshness = queries.quality_freshness()
    st.dataframe(freshness, hide_index=True, width="stretch")
    download(freshness, "quality_freshness")

st.header("Loads and rejects")
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
