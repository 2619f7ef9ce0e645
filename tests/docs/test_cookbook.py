"""Every question of docs/cookbook.md runs on a generated warehouse, and its
answer equals the same figure computed another way (another mart, or Python
over the fact table)."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import polars as pl
import pytest

from pipelines.analyst import open_read_only
from pipelines.paths import ROOT

COOKBOOK = ROOT / "docs" / "cookbook.md"
QUESTIONS = dict(re.findall(r"<!-- question: (\w+) -->\s*```sql\n(.*?)```", COOKBOOK.read_text(), re.S))


@pytest.fixture(scope="module")
def conn(built_warehouse):
    connection = open_read_only(built_warehouse.warehouse)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def referrals(conn) -> pl.DataFrame:
    return conn.sql("select * from marts.fct_referrals").pl()


def answer(conn, name: str) -> pl.DataFrame:
    return conn.sql(QUESTIONS[name]).pl()


def test_the_cookbook_has_at_least_ten_questions_and_each_is_checked():
    assert len(QUESTIONS) >= 10
    checked = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(QUESTIONS) <= checked


def close(a, b, tol=1e-9) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) <= tol)


def test_cardiology_leakage_by_practice(conn, referrals):
    got = answer(conn, "cardiology_leakage_by_practice")
    assert got.height > 0 and got["leaked_referrals"].to_list() == sorted(got["leaked_referrals"], reverse=True)
    by_practice = conn.sql("select sum(completed_out_of_network) from marts.agg_referrals_by_practice "
                           "where specialty_group = 'cardiology'").fetchall()[0][0]
    destinations = conn.sql("select sum(leaked_referrals) from marts.agg_leakage_destinations "
                            "where specialty_group = 'cardiology'").fetchall()[0][0]
    assert got["leaked_referrals"].sum() == by_practice == destinations
    leaked = referrals.filter((pl.col("specialty_group") == "cardiology") & pl.col("is_leaked_out_of_network"))
    biggest = leaked.group_by("referring_location_id").len().sort(["len", "referring_location_id"], descending=[True, False])
    top = got.group_by("practice").agg(pl.col("leaked_referrals").sum()).sort(
        ["leaked_referrals", "practice"], descending=[True, False])
    assert top.row(0) == biggest.row(0)
    assert close(got["leaked_revenue"].sum(), leaked["out_of_network_revenue"].sum(), 0.01)


def test_urgent_days_to_visit_by_payer(conn, referrals):
    got = answer(conn, "urgent_days_to_visit_by_payer")
    urgent = referrals.filter(pl.col("priority").is_in(["urgent", "asap", "stat"]))
    for row in got.iter_rows(named=True):
        payer = None if row["payer"] == "(not given)" else row["payer"]
        days = urgent.filter(pl.col("payer_id").is_null() if payer is None else pl.col("payer_id") == payer)[
            "days_to_visit"].drop_nulls().to_numpy()
        assert row["referrals_seen"] == len(days)
        if len(days):
            assert close(row["median_days_to_visit"], np.percentile(days, 50))
            assert close(row["p90_days_to_visit"], np.percentile(days, 90))


def test_orthopedics_completion_by_month(conn, referrals):
    got = answer(conn, "orthopedics_completion_by_month")
    expected = (referrals.filter(pl.col("specialty_group") == "orthopedics")
                .group_by("created_month").agg(pl.len().alias("n"), pl.col("is_completed_in_network").mean().alias("rate"))
                .sort("created_month"))
    assert got["created_month"].to_list() == expected["created_month"].to_list()
    assert got["referrals"].to_list() == expected["n"].to_list()
    assert all(close(a, b) for a, b in zip(got["completion_rate"], expected["rate"], strict=True))


def test_network_leakage_by_payer(conn, referrals):
    got = answer(conn, "network_leakage_by_payer")
    last = referrals["created_month"].max()
    first = date(last.year - (last.month <= 11), (last.month - 12) % 12 + 1, 1) if last.month != 12 else date(last.year, 1, 1)
    window = referrals.filter(pl.col("created_month") >= first).with_columns(
        pl.col("payer_id").fill_null("(not given)"))
    for row in got.iter_rows(named=True):
        part = window.filter(pl.col("payer_id") == row["payer"])
        out = (part["outcome"] == "completed_out_of_network").sum()
        anywhere = part["outcome"].is_in(["completed_in_network", "completed_out_of_network"]).sum()
        assert (row["completed_out_of_network"], row["completed_anywhere"]) == (out, anywhere)
        assert close(row["network_leakage_rate"], out / anywhere if anywhere else None)


def test_top_leakage_destinations(conn, referrals):
    got = answer(conn, "top_leakage_destinations")
    assert got.height == 10 and got["leaked_revenue"].to_list() == sorted(got["leaked_revenue"], reverse=True)
    # Referrals leaked to each provider: counted from the fact table by first out-of-network visit.
    leaked = dict(referrals.filter(pl.col("is_leaked_out_of_network")).group_by("first_visit_npi").len().iter_rows())
    assert all(row["leaked_referrals"] == leaked.get(row["provider_npi"], 0) for row in got.iter_rows(named=True))
    # Revenue: every destination's lines add up to the leaked revenue of the monthly mart.
    total = conn.sql("select sum(leaked_revenue) from marts.agg_referrals_monthly").fetchall()[0][0]
    all_destinations = conn.sql(QUESTIONS["top_leakage_destinations"].replace("limit 10", "")).pl()
    assert close(all_destinations["leaked_revenue"].sum(), total, 0.01)


def test_revenue_by_group(conn, referrals):
    got = answer(conn, "revenue_by_group")
    expected = referrals.group_by("specialty_group").agg(
        pl.col("in_network_revenue").sum().alias("captured"), pl.col("out_of_network_revenue").sum().alias("leaked"))
    expected = {r["specialty_group"]: r for r in expected.iter_rows(named=True)}
    assert set(got["specialty_group"]) == set(expected)
    for row in got.iter_rows(named=True):
        assert close(row["captured_revenue"], expected[row["specialty_group"]]["captured"], 0.01)
        assert close(row["leaked_revenue"], expected[row["specialty_group"]]["leaked"], 0.01)


def test_navigated_conversion(conn):
    got = {r["is_navigated"]: r for r in answer(conn, "navigated_conversion").iter_rows(named=True)}
    program = conn.sql("select referrals, navigated_referrals, navigated_conversion_rate from marts.agg_program_return "
                       "where created_year is null").pl().row(0, named=True)
    assert got[True]["referrals"] == program["navigated_referrals"]
    assert got[True]["referrals"] + got[False]["referrals"] == program["referrals"]
    assert close(got[True]["conversion_rate"], program["navigated_conversion_rate"])


def test_seen_within_30_days(conn, referrals):
    got = answer(conn, "seen_within_30_days")
    as_of = conn.sql("select as_of_date from meta.parameters").fetchall()[0][0]
    old_enough = referrals.filter((pl.lit(as_of) - pl.col("created_date")).dt.total_days() >= 30)
    for row in got.iter_rows(named=True):
        part = old_enough.filter(pl.col("specialty_group") == row["specialty_group"])
        seen = (part["days_to_visit"].fill_null(10**6) <= 30).sum()
        assert row["referrals"] == part.height
        assert close(row["seen_within_30_days"], seen / part.height)


def test_queue_by_action(conn):
    got = answer(conn, "queue_by_action")
    expected = dict(conn.sql("select action, sum(referrals) from marts.agg_referral_queue where action <> 'none' "
                             "group by action").fetchall())
    assert dict(zip(got["action"], got["referrals"], strict=True)) == expected


def test_cms50_by_year(conn, referrals):
    got = answer(conn, "cms50_by_year")
    assert got.height >= 1
    for row in got.iter_rows(named=True):
        year = row["measurement_year"]
        patients = referrals.filter(
            (pl.col("created_date") >= date(year, 1, 1)) & (pl.col("created_date") <= date(year, 10, 31))
        )["patient_key"].n_unique()
        assert row["denominator"] == patients
        assert close(row["rate"], row["numerator"] / row["denominator"])


def test_drop_off_by_group(conn):
    got = answer(conn, "drop_off_by_group")
    totals = dict(conn.sql("select specialty_group, sum(referrals) from marts.agg_referrals_monthly group by 1").fetchall())
    summed = got.group_by("specialty_group").agg(pl.col("referrals").sum())
    assert dict(summed.iter_rows()) == totals
    resolved = conn.sql("select sum(referrals) - sum(scheduled_upcoming) - sum(unscheduled_open) - "
                        "sum(completed_in_network) - sum(completed_out_of_network) "
                        "from marts.agg_referrals_monthly").fetchall()[0][0]
    # a drop-off stage is set exactly for the referrals that ended without a completed visit
    assert got.filter(pl.col("stage") != "not dropped")["referrals"].sum() in (
        resolved, resolved + got.filter(pl.col("stage") == "network")["referrals"].sum())


def test_no_show_rate_by_group(conn):
    got = answer(conn, "no_show_rate_by_group")
    expected = {g: (n, a) for g, n, a in conn.sql(
        "select specialty_group, sum(noshow_appointments), sum(attended_appointments) "
        "from marts.agg_referrals_monthly group by 1").fetchall()}
    for row in got.iter_rows(named=True):
        assert (row["no_shows"], row["attended"]) == expected[row["specialty_group"]]
