"""Program return, CMS50 and the referral queue on the default generated data."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import build


def test_queue_holds_every_open_referral_with_one_action(built_warehouse):
    open_referrals = built_warehouse.scalar(
        "select count(*) from intermediate.int_referrals_eligible where referral_status in ('active', 'on-hold')")
    assert built_warehouse.scalar("select count(distinct referral_id) from marts.referral_queue") == open_referrals
    assert built_warehouse.scalar("select sum(referrals) from marts.agg_referral_queue") == open_referrals
    # closes follow the outcome exactly
    assert built_warehouse.scalar("""
        select count(*) from marts.referral_queue
        where (action = 'close_completed') != (outcome = 'completed_in_network')
           or (action = 'close_leaked') != (outcome = 'completed_out_of_network')""") == 0


def test_recommended_providers_meet_every_routing_rule(built_warehouse):
    violations = built_warehouse.scalar("""
        select count(*)
        from marts.referral_queue as queue
        join intermediate.int_providers_on_as_of_date as provider on queue.recommended_npi = provider.npi
        where not provider.is_in_network
           or provider.accepting_new_patients = false
           or provider.specialty_group != queue.specialty_group
           or provider.npi = coalesce(queue.referred_to_npi, '')""")
    assert violations == 0
    misplaced = built_warehouse.scalar("""
        select count(*) from marts.referral_queue
        where recommended_npi is not null and action not in ('reroute', 'follow_up')""")
    assert misplaced == 0
    assert built_warehouse.scalar("select count(*) from marts.referral_queue where recommended_npi is not null") > 0


def test_cms50_counts_patients_not_referrals(built_warehouse):
    rows = built_warehouse.query("select measurement_year, denominator, numerator, rate from marts.cms50_referral_loop order by 1")
    assert rows
    for year, denominator, numerator, rate in rows:
        patients = built_warehouse.scalar("""
            select count(distinct patient_id) from intermediate.int_referrals_eligible
            where extract(year from created_date) = ? and extract(month from created_date) <= 10""", [year])
        assert denominator == patients
        assert 0 <= numerator <= denominator and abs(rate - numerator / denominator) < 1e-12


def test_program_return_pools_all_years(built_warehouse):
    rows = {r[0]: r[1:] for r in built_warehouse.query("""
        select created_year, referrals, navigated_referrals, years_covered, program_cost, roi, comparison
        from marts.agg_program_return""")}
    years = [y for y in rows if y is not None]
    assert None in rows and len(years) >= 2
    pooled = rows[None]
    assert pooled[0] == sum(rows[y][0] for y in years)
    assert pooled[2] == len(years)
    assert pooled[3] > 0 and pooled[4] is not None
    assert pooled[5].startswith("observational")
    navigated = built_warehouse.scalar("select count(*) from marts.fct_referrals where is_navigated")
    assert pooled[1] == navigated


@pytest.fixture(scope="module")
def costly(built_warehouse, tmp_path_factory):
    """A second build of the same warehouse, with another program fixed cost:
    one build for the two tests below."""
    warehouse = tmp_path_factory.mktemp("costly") / "cost.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    built = build(built_warehouse.extracts, warehouse, {"program_fixed_cost_per_year": "250000"})
    assert built.summary.success, built.summary.failures
    return built


def test_queue_changes_between_builds(costly):
    """The queue history keeps every build's snapshot (a full rebuild, as a
    changed var makes, included); the program cost does not move the queue."""
    changes = dict(costly.query("select change, sum(referrals) from marts.agg_referral_queue_changes group by 1"))
    assert set(changes) == {"unchanged"}
    assert costly.scalar("select count(distinct built_at) from marts.referral_queue_history") == 2
    assert costly.scalar("select count(*) from marts.agg_referral_queue_changes where previous_built_at is null") == 0


def test_fixed_cost_var_changes_roi(built_warehouse, costly):
    base = built_warehouse.query("select program_cost, roi from marts.agg_program_return where created_year is null")[0]
    high = costly.query("select program_cost, roi, years_covered from marts.agg_program_return where created_year is null")[0]
    assert float(high[0]) == float(base[0]) + 250000 * high[2]
    assert high[1] < base[1]
