"""The latest-version and de-duplication rules, through the real pipeline on
hand-made files (docs/extracts.md: updated_at wins, ties to the file that
sorts last; entities without updated_at: last file, then last line)."""

import shutil

import pytest

from tests.conftest import Built, build, copy_built, write

HEADER = "referral_id,patient_id,created_at,requested_specialty_code,status,updated_at,priority"


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    landing = tmp_path_factory.mktemp("versions") / "landing"
    write(landing, "referrals_2026-03-01.csv",
          f"{HEADER}\n"
          "R1,P1,2026-03-01,207RC0000X,active,2026-03-01T09:00,routine\n"
          "R2,P2,2026-03-01,207rc0000x,active,2026-03-01T09:00,routine\n"
          "R3,P3,2026-03-01,207X00000X,active,2026-03-04T09:00,routine\n")
    write(landing, "referrals_2026-03-02.csv",
          f"{HEADER}\n"
          "R1,P1,2026-03-01,207RC0000X,completed,2026-03-02T09:00,routine\n"
          "R2,P2,2026-03-01,207RC0000X,revoked,2026-03-01T09:00,urgent\n"
          "R3,P3,2026-03-01,207X00000X,on-hold,2026-03-03T09:00,routine\n"
          "R4,P4,2026-03-01,999X00000X,draft,2026-03-02T09:00,\n")
    write(landing, "providers_a.csv", "npi,specialty_code,in_network,effective_from\n"
          "1234567893,207RC0000X,true,2025-01-01\n1234567893,207RC0000X,false,2025-01-01\n")
    write(landing, "providers_b.csv", "npi,specialty_code,in_network,effective_from,zip3\n"
          "1234567893,207RC0000X,true,2025-01-01,021\n")
    built = build(landing, landing.parent / "w.duckdb")
    assert built.summary.success, built.summary.failures
    return built


def test_greatest_updated_at_wins(versions):
    assert versions.query("select referral_status from intermediate.int_referrals_deduplicated where referral_id = 'R1'") == [("completed",)]
    # an older version in a later file does not win
    assert versions.query("select referral_status from intermediate.int_referrals_deduplicated where referral_id = 'R3'") == [("active",)]


def test_tie_goes_to_the_file_that_sorts_last(versions):
    assert versions.query("select referral_status, priority from intermediate.int_referrals_deduplicated where referral_id = 'R2'") == [("revoked", "urgent")]


def test_codes_normalized_and_unlisted_code_is_its_own_group(versions):
    rows = versions.query("select referral_id, requested_specialty_code, specialty_group from intermediate.int_referrals_deduplicated order by 1")
    assert rows == [("R1", "207RC0000X", "cardiology"), ("R2", "207RC0000X", "cardiology"),
                    ("R3", "207X00000X", "orthopedics"), ("R4", "999X00000X", "999X00000X")]


def test_draft_referrals_are_not_eligible(versions):
    assert versions.query("select referral_id from intermediate.int_referrals_eligible order by 1") == [("R1",), ("R2",), ("R3",)]


def test_unversioned_entities_take_the_last_file_then_last_line(versions):
    assert versions.query("select is_in_network, zip3, source_file_name from intermediate.int_providers_deduplicated") == [
        (True, "021", "providers_b.csv")]


@pytest.fixture(scope="module")
def two_referrals(tmp_path_factory):
    """Two referrals and no other entity, built once: tests build on a copy."""
    landing = tmp_path_factory.mktemp("two_referrals") / "landing"
    write(landing, "referrals_2026-03-01.csv",
          f"{HEADER}\n"
          "R1,P1,2026-03-01,207RC0000X,active,2026-03-01T09:00,routine\n"
          "R2,P2,2026-03-01,207RC0000X,active,2026-03-01T09:00,routine\n")
    built = build(landing, landing.parent / "w.duckdb")
    assert built.summary.success, built.summary.failures
    return built


def a_copy(built: Built, tmp_path) -> Built:
    landing = tmp_path / "landing"
    shutil.copytree(built.extracts, landing)
    return copy_built(built, landing, tmp_path / "w.duckdb")


def test_an_entitys_first_file_in_a_daily_build_recomputes_every_referral(two_referrals, tmp_path):
    """fct_referrals is kept by referral on a daily build; when a day brings
    the first file of an entity, the metrics that needed it turn from null to
    numbers for every referral (int_referral_scope_changes, rule 5), not only
    for those the file names."""
    first = a_copy(two_referrals, tmp_path)
    landing = first.extracts
    assert first.query("select referral_id, noshow_appointments from marts.fct_referrals order by 1") == [
        ("R1", None), ("R2", None)]
    write(landing, "appointments_2026-03-02.csv",
          "appointment_id,patient_id,provider_npi,start_at,status,booked_at,updated_at,referral_id\n"
          "A1,P1,1234567893,2026-03-02T10:00,noshow,2026-03-01T12:00,2026-03-02T11:00,R1\n")
    second = build(landing, first.warehouse)
    assert second.summary.success, second.summary.failures
    assert second.query("select full_refresh from raw._builds order by started_at") == [(True,), (False,)]
    assert second.query("select referral_id, noshow_appointments from marts.fct_referrals order by 1") == [
        ("R1", 1), ("R2", 0)]


def test_the_directorys_first_file_in_a_daily_build_sets_every_rows_network(tmp_path):
    """Without providers data, appointments are in network and claim lines of
    unknown network status; when a day brings the directory's first file,
    every evidence row's network status is decided again from it
    (int_care_evidence_networked), not only the rows of that day's versions."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    write(landing, "referrals_2026-03-01.csv",
          f"{HEADER}\nR1,P1,2026-03-01,207RC0000X,active,2026-03-01T09:00,routine\n")
    write(landing, "appointments_2026-03-02.csv",
          "appointment_id,patient_id,provider_npi,start_at,status,booked_at,updated_at,referral_id\n"
          "A1,P1,1234567893,2026-03-05T10:00,booked,2026-03-01T12:00,2026-03-02T11:00,R1\n"
          "A2,P1,1992753883,2026-03-06T10:00,booked,2026-03-01T12:00,2026-03-02T11:00,\n")
    first = build(landing, warehouse)
    assert first.summary.success, first.summary.failures
    networked = "select evidence_id, is_in_network from intermediate.int_care_evidence_networked order by 1"
    assert first.query(networked) == [("A1", True), ("A2", True)]
    write(landing, "providers_2026-03-03.csv", "npi,specialty_code,in_network,effective_from\n"
          "1234567893,207RC0000X,false,2025-01-01\n")
    second = build(landing, warehouse)
    assert second.summary.success, second.summary.failures
    assert second.query("select full_refresh from raw._builds order by started_at") == [(True,), (False,)]
    assert second.query(networked) == [("A1", False), ("A2", False)]   # A2's NPI is not in the directory


def test_a_build_that_failed_part_way_makes_the_next_one_full(two_referrals, tmp_path):
    """A dbt build that fails may have written some incremental models and not
    those that read them: it is recorded, and the next build rebuilds in full
    instead of trusting what the failed one left."""
    first = a_copy(two_referrals, tmp_path)
    landing, warehouse = first.extracts, first.warehouse
    failed = build(landing, warehouse, {"attribution_window_days": "ninety"})      # the SQL does not bind
    assert not failed.summary.success
    assert failed.query("select target from raw._build_failures") == [("duckdb",)]
    again = build(landing, warehouse)
    assert again.summary.success, again.summary.failures
    assert again.query("select full_refresh, reason from raw._builds order by started_at") == [
        (True, "first build on duckdb"), (True, "a build on duckdb failed part-way after the last one that passed")]
    # and the build after that is incremental again
    assert build(landing, warehouse).query(
        "select full_refresh from raw._builds order by started_at desc limit 1") == [(False,)]
