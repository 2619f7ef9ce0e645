"""The dashboards render from the published copy (Streamlit AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.paths import ROOT

APP = str(ROOT / "dashboards" / "app.py")


@pytest.fixture
def app(built_warehouse, monkeypatch) -> AppTest:
    monkeypatch.setenv("REFLOOP_SERVING", str(built_warehouse.serving))
    return AppTest.from_file(APP, default_timeout=60)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_volume_page_shows_eligible_referrals(app, built_warehouse):
    app.run()
    assert not app.exception
    eligible = built_warehouse.scalar("select count(*) from intermediate.int_referrals_eligible")
    assert metrics(app)["Eligible referrals"] == f"{eligible:,}"
    assert "As of" in app.caption[0].value


def test_specialty_filter_changes_the_numbers(app, built_warehouse):
    app.run()
    app.multiselect[0].select("cardiology").run()
    cardiology = built_warehouse.scalar(
        "select count(*) from intermediate.int_referrals_eligible where specialty_group = 'cardiology'")
    assert metrics(app)["Eligible referrals"] == f"{cardiology:,}"


def test_loads_page_shows_the_load_summary(app, built_warehouse):
    app.run()
    app.switch_page("app_pages/loads.py").run()
    assert not app.exception
    files, loaded = built_warehouse.query("select count(*), sum(rows_loaded) from raw._manifest")[0]
    shown = metrics(app)
    assert shown["Files"] == f"{files:,}" and shown["Rows loaded"] == f"{int(loaded):,}"
    assert shown["Rows rejected"] == "0"


def test_missing_warehouse_says_how_to_build_one(monkeypatch, tmp_path):
    monkeypatch.setenv("REFLOOP_SERVING", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "refloop run" in at.error[0].value
