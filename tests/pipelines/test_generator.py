"""The sample generator: deterministic for a seed, contract-valid, and showing
the traits of a real health system's extracts."""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl
import pytest

from pipelines.contract import ENTITIES, entity_of, npi_check_digit_ok
from pipelines.generate.generator import GenerateOptions, generate, generate_to


def digest(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return generate(GenerateOptions(referrals=6_000, seed=3))


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    options = GenerateOptions(referrals=1_500, seed=5)
    generate_to(options, tmp_path / "a")
    generate_to(options, tmp_path / "b")
    generate_to(GenerateOptions(referrals=1_500, seed=6), tmp_path / "c")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_files_follow_the_contract_names_and_columns(tmp_path):
    generate_to(GenerateOptions(referrals=1_000, seed=1), tmp_path)
    names = [p.name for p in tmp_path.iterdir()]
    assert {entity_of(n) for n in names} == set(ENTITIES)
    assert any(n.endswith(".csv.gz") for n in names) and any(n.endswith(".csv") for n in names)


def test_every_entity_has_the_contract_columns(frames):
    for name, frame in frames.items():
        assert set(ENTITIES[name].by_name) <= set(frame.columns), name


def test_referrals_span_two_years_from_about_forty_practices(frames):
    latest = frames["referrals"].unique("referral_id")
    assert latest.height == 6_000
    created = latest["created_at"].str.slice(0, 10)
    assert created.min() >= "2024-12-01" and created.max() <= "2026-11-30"
    assert latest["referring_location_id"].n_unique() == 40
    assert frames["referrals"].filter(pl.col("status") == "completed").height > 0
    # status changes appear as later versions of the same referral
    versions = frames["referrals"].group_by("referral_id").len()
    assert versions["len"].max() == 2


def test_npis_carry_valid_check_digits(frames):
    npis = frames["providers"]["npi"].unique().to_list()
    assert len(npis) > 100
    assert all(npi_check_digit_ok(n) for n in npis)


def test_directory_has_network_changes_and_out_of_network_providers(frames):
    providers = frames["providers"]
    assert providers.filter(pl.col("in_network") == "false").height > 0
    changed = providers.group_by("npi").agg(pl.col("in_network").n_unique().alias("kinds"))
    assert changed.filter(pl.col("kinds") > 1).height > 0


def test_appointments_show_no_shows_cancellations_rebookings_and_stale_bookings(frames):
    appointments = frames["appointments"]
    latest = appointments.sort("updated_at").unique("appointment_id", keep="last")
    resolved = latest.filter(pl.col("status").is_in(["fulfilled", "noshow"]))
    no_show_rate = resolved.filter(pl.col("status") == "noshow").height / resolved.height
    assert 0.12 <= no_show_rate <= 0.25
    assert latest.filter(pl.col("status") == "cancelled").height > 0
    end = "2026-11-30"
    assert latest.filter((pl.col("status") == "booked") & (pl.col("start_at") > end)).height > 0  # future
    assert latest.filter((pl.col("status") == "booked") & (pl.col("start_at") < "2026-10-01")).height > 0  # never marked
    linked = latest.filter(pl.col("referral_id").is_not_null())
    assert 0.6 < linked.height / latest.height < 0.85  # the rest must be matched by attribution


def test_claims_have_denials_reversals_corrections_and_out_of_network_care(frames):
    claims = frames["claims"]
    statuses = set(claims["claim_status"].unique())
    assert statuses == {"paid", "denied", "reversed"}
    corrected = claims.group_by("claim_id", "line_number").agg(pl.col("claim_status").unique().alias("s"))
    assert corrected.filter(pl.col("s").list.len() > 1).height > 0
    out_of_network = set(frames["providers"].filter(pl.col("in_network") == "false")["npi"])
    assert claims.filter(pl.col("rendering_npi").is_in(list(out_of_network))).height > 0


def test_events_engagements_and_slots_are_present(frames):
    events = frames["referral_events"]
    assert set(events["event_type"].unique()) == {"sent", "received", "accepted", "declined", "consult_report_received"}
    engagements = frames["engagements"]
    assert set(engagements["channel"].unique()) == {"sms", "email", "ivr", "phone", "portal"}
    assert engagements.filter(pl.col("purpose") == "reminder").height > 0
    navigated = engagements["referral_id"].n_unique() / 6_000
    assert 0.3 < navigated < 0.55
    assert set(frames["slots"]["status"].unique()) == {"free", "busy"}
    assert frames["patients"]["zip3"].null_count() == 0


def test_end_date_and_months_are_respected():
    frames = generate(GenerateOptions(referrals=500, months=6, seed=2, end_date=date(2025, 6, 30)))
    created = frames["referrals"]["created_at"].str.slice(0, 10)
    assert created.min() >= "2025-01-01" and created.max() <= "2025-06-30"
    assert frames["appointments"]["updated_at"].str.slice(0, 10).max() <= "2025-06-30"
