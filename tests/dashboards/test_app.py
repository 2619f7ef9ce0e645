"""Every dashboard page renders from the published copy; filters and URL
parameters change the numbers; small cells are suppressed; the patient-level
queue needs coordinator access (Streamlit AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.paths import ROOT

APP = str(ROOT / "dashboards" / "app.py")
PAGES = ["overview", "leakage", "turnaround", "program", "outreach", "cms50", "quality"]
LAST_12 = "created_month between date '2025-12-01' and date '2026-11-01'"


@pytest.fixture
def app(built_warehouse, monkeypatch):
    monkeypatch.setenv("REFLOOP_SERVING", str(built_warehouse.serving))
    monkeypatch.delenv("REFLOOP_COORDINATOR_ACCESS", raising=False)
    monkeypatch.delenv("REFLOOP_SUPPRESS_SMALL_CELLS", raising=False)

    def open_page(page: str = "overview", **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        if page != "overview":
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return open_page


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_and_says_what_it_shows(app, page):
    at = app(page)
    assert at.title[0].value
    captions = " ".join(c.value for c in at.caption)
    assert "As of **2026-11-30**" in captions
    assert "attribution window 180 days" in captions
    assert "suppressed" in captions
    assert len(at.get("download_button")) >= 1


def test_overview_numbers_match_the_marts(app, built_warehouse):
    shown = metrics(app())
    referrals, scheduled, completed = built_warehouse.query(
        f"select count(*), count(*) filter (where is_scheduled), count(*) filter (where is_completed_in_network) "
        f"from marts.fct_referrals where {LAST_12}")[0]
    assert shown["Referrals"] == f"{referrals:,}"
    assert shown["Conversion"] == f"{scheduled / referrals:.1%}"
    assert shown["Completion"] == f"{completed / referrals:.1%}"


def test_sidebar_filter_changes_the_numbers(app, built_warehouse):
    at = app()
    at.multiselect(key="f_groups").select("cardiology").run()
    cardiology = built_warehouse.scalar(
        f"select count(*) from marts.fct_referrals where {LAST_12} and specialty_group = 'cardiology'")
    assert metrics(at)["Referrals"] == f"{cardiology:,}"
    assert at.query_params["group"] in ("cardiology", ["cardiology"])  # kept in the URL


def test_url_parameters_set_the_filters(app, built_warehouse):
    at = app(**{"from": "2026-01", "to": "2026-03", "payer": "MCAID"})
    expected = built_warehouse.scalar("""
        select count(*) from marts.fct_referrals
        where created_month between date '2026-01-01' and date '2026-03-01' and payer_id = 'MCAID'""")
    assert metrics(at)["Referrals"] == f"{expected:,}"
    # a value that is not an option is ignored, never passed on
    at = app(payer="x' or 1=1 --")
    assert at.multiselect(key="f_payers").value == []


def small_cell(built_warehouse) -> tuple[str, str, int]:
    """A specialty group and practice with 1 to 10 referrals in the last 12 months."""
    rows = built_warehouse.query(f"""
        select specialty_group, referring_location_id, count(*) from marts.fct_referrals
        where {LAST_12} group by all having count(*) between 3 and 10 order by 3 desc, 1, 2 limit 1""")
    assert rows, "the generated data has small cells"
    return rows[0]


def test_small_counts_are_suppressed_by_default(app, built_warehouse, monkeypatch):
    group, practice, referrals = small_cell(built_warehouse)
    at = app()
    at.multiselect(key="f_groups").select(group)
    at.multiselect(key="f_practices").select(practice).run()
    shown = metrics(at)
    assert shown["Referrals"] == "–" and shown["Conversion"] == "–" and shown["Leaked revenue"] == "–"
    # the CSV download of the monthly table carries no count from 1 to 10
    at.switch_page("app_pages/leakage.py").run()
    table = at.dataframe[0].value
    counts = table["referrals"].dropna()
    assert not counts.between(1, 10).any()

    monkeypatch.setenv("REFLOOP_SUPPRESS_SMALL_CELLS", "0")
    at = app()
    at.multiselect(key="f_groups").select(group)
    at.multiselect(key="f_practices").select(practice).run()
    assert metrics(at)["Referrals"] == str(referrals)


def test_queue_page_needs_coordinator_access(app, built_warehouse, monkeypatch):
    at = app()
    # without access the page is not registered at all: no link, no URL
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/queue.py")

    monkeypatch.setenv("REFLOOP_COORDINATOR_ACCESS", "1")
    at = app("queue")
    rows = at.dataframe[0].value
    expected = built_warehouse.scalar("select count(*) from marts.referral_queue where action != 'none'")
    assert len(rows) == min(expected, 5000)
    assert {"referral_id", "action", "reason", "recommended_npi"} <= set(rows.columns)
    assert "patient_key" not in rows.columns


def test_program_page_shows_assumptions_and_the_observational_label(app):
    at = app("program")
    assert "Observational comparison" in at.warning[0].value
    assert "Fixed program cost" in " ".join(m.value for m in at.markdown)
    costs = at.dataframe[-1].value
    assert set(costs["channel"]) == {"sms", "email", "ivr", "phone", "portal"}
    before = metrics(at)["Extra navigated referrals"]
    at.slider(key="whatif_share").set_value(30).run()
    assert metrics(at)["Extra navigated referrals"] != before


def test_missing_warehouse_says_how_to_build_one(monkeypatch, tmp_path):
    monkeypatch.setenv("REFLOOP_SERVING", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "refloop run" in at.error[0].value


def test_quality_page_shows_the_latest_failures(app, dirty_warehouse, monkeypatch):
    monkeypatch.setenv("REFLOOP_SERVING", str(dirty_warehouse.serving))
    at = app("quality")
    shown = metrics(at)
    # every GX warning and the dbt warning of the seeded unlisted specialty code
    warned = dirty_warehouse.summary.checks["warned"] + dirty_warehouse.summary.tests_warned
    assert shown["Warnings"] == str(warned) and shown["Errors"] == "0"
    tables = {i: frame.value for i, frame in enumerate(at.dataframe)}
    failing = next(t for t in tables.values() if "check_name" in t.columns)
    assert "referrals__referring_npi__npi_valid" in set(failing["check_name"])
    assert len(failing) == warned
    status = next(t for t in tables.values() if "status" in t.columns and "checks" in t.columns)
    assert status.set_index("table_name").loc["raw.claims", "status"] == "warning"
    assert not at.error                                   # nothing blocked this run


def test_quality_page_says_when_a_run_was_stopped(app, built_warehouse, tmp_path, monkeypatch):
    """A quality copy whose latest run failed a blocking check: the page says the
    dashboards show the previous publication."""
    import shutil

    import duckdb

    from pipelines.defs.quality.store import quality_path

    copy = tmp_path / "refloop.quality.duckdb"
    shutil.copy(quality_path(built_warehouse.warehouse), copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute(
            "insert into quality.check_results select 'later-run', checked_at + interval 1 day, stage, check_name, "
            "family, table_name, column_name, 'error', false, true, 0.5, threshold, 10, rows_checked, "
            "['npi=1.0'], null, description from quality.check_results "
            "where check_name = 'providers__npi__npi_valid'"
        )
    monkeypatch.setenv("REFLOOP_QUALITY", str(copy))
    at = app("quality")
    assert at.error and "was not published" in at.error[0].value
    assert metrics(at)["Errors"] == "1"


def test_dbt_exposures_list_exactly_the_marts_each_page_reads(app, monkeypatch):
    """Render each page, record the SQL it runs, and compare the marts it names
    with the page's exposure in dbt_project/models/marts/_exposures.yml."""
    import re

    import yaml

    from dashboards import queries
    from pipelines.paths import DBT_PROJECT_DIR

    monkeypatch.setenv("REFLOOP_COORDINATOR_ACCESS", "1")
    exposures = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/_exposures.yml").read_text())["exposures"]
    declared = {e["name"].removeprefix("dashboard_"): {re.search(r"ref\('(\w+)'\)", d).group(1) for d in e["depends_on"]}
                for e in exposures}
    seen: list[str] = []
    original = queries._run

    def recording(path, version, sql, params):
        seen.append(sql)
        return original(path, version, sql, params)

    monkeypatch.setattr(queries, "_run", recording)
    for page in declared:
        at = AppTest.from_file(APP, default_timeout=90)
        at.run()                                   # the app opens on the overview
        seen.clear()
        if page == "overview":
            at.run()
        else:
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception
        read = set(re.findall(r"\bmarts\.(\w+)", " ".join(seen)))
        # the frame's filter options (agg_referrals_cube) are read on every page
        assert read - {"agg_referrals_cube"} == declared[page] - {"agg_referrals_cube"}, page


def test_outreach_page_matches_the_marts_and_follows_the_filters(app, built_warehouse):
    at = app("outreach")
    assert "Observational" in at.warning[0].value
    touched, scheduled = built_warehouse.query(
        f"select count(*), count(*) filter (where is_scheduled) from marts.fct_referral_outreach "
        f"where {LAST_12} and outreach_touches > 0")[0]
    shown = metrics(at)
    assert shown["Referrals with outreach"] == f"{touched:,}"
    assert shown["Conversion with outreach"] == f"{scheduled / touched:.1%}"
    no_show = built_warehouse.scalar(
        f"select sum(no_shows) / sum(appointments) from marts.agg_reminder_effect where {LAST_12} and has_reminder")
    assert shown["No-shows with a reminder"] == f"{no_show:.1%}"

    at.multiselect(key="f_groups").select("cardiology").run()
    cardiology = built_warehouse.scalar(
        f"select count(*) from marts.fct_referral_outreach where {LAST_12} and outreach_touches > 0 "
        f"and specialty_group = 'cardiology'")
    assert metrics(at)["Referrals with outreach"] == f"{cardiology:,}"


def test_outreach_page_suppresses_small_cells(app, built_warehouse):
    group, practice, _ = small_cell(built_warehouse)
    at = app("outreach")
    at.multiselect(key="f_groups").select(group)
    at.multiselect(key="f_practices").select(practice).run()
    assert not at.exception
    count_columns = {"referrals", "scheduled", "completed_in_network", "touches", "referrals_touched",
                     "with_phone", "without_phone", "touched", "appointments", "no_shows"}
    for frame in at.dataframe:
        table = frame.value
        if "channel" in table.columns and (table["channel"] == "(all)").any():
            continue                                # the whole-program table: all data, large counts
        for column in count_columns & set(table.columns):
            assert not table[column].dropna().between(1, 10).any(), column
    assert metrics(at)["Referrals with outreach"] == "–"
