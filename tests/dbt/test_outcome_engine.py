"""The outcome engine on the default generated data set: invariants that must
hold for any data and the calibrated ranges; and parameters that change
results, on the small shared sample (a changed parameter rebuilds in full)."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import build

OUTCOMES = (
    "completed_in_network", "completed_out_of_network", "scheduled_upcoming", "referral_cancelled",
    "no_show", "appointment_cancelled", "appointment_unresolved", "unscheduled_open", "unscheduled_expired",
)
AGGREGATES = ("agg_referrals_monthly", "agg_referrals_by_practice", "agg_referrals_by_payer", "agg_referrals_by_priority")


def test_one_row_per_eligible_referral(built_warehouse):
    eligible = built_warehouse.scalar("select count(*) from intermediate.int_referrals_eligible")
    rows, distinct = built_warehouse.query("select count(*), count(distinct referral_id) from marts.fct_referrals")[0]
    assert rows == distinct == eligible > 15_000
    assert built_warehouse.scalar(
        "select count(*) from marts.fct_referrals where referral_status in ('draft', 'entered-in-error')") == 0


def test_outcomes_partition_the_referrals(built_warehouse):
    counts = dict(built_warehouse.query("select outcome, count(*) from marts.fct_referrals group by 1"))
    assert set(counts) == set(OUTCOMES)  # every outcome occurs in realistic data
    assert sum(counts.values()) == built_warehouse.scalar("select count(*) from marts.fct_referrals")
    # flags agree with the outcome
    assert built_warehouse.scalar("""
        select count(*) from marts.fct_referrals
        where is_completed_in_network != (outcome = 'completed_in_network')
           or is_leaked_out_of_network != (outcome = 'completed_out_of_network')
           or is_resolved != (outcome not in ('scheduled_upcoming', 'unscheduled_open'))
           or (drop_off_stage is null) != (outcome in ('completed_in_network', 'scheduled_upcoming', 'unscheduled_open'))
    """) == 0


@pytest.mark.parametrize("aggregate", AGGREGATES)
def test_aggregates_equal_sums_over_fct_referrals(built_warehouse, aggregate):
    columns = ", ".join(f"sum({o})" for o in OUTCOMES)
    from_agg = built_warehouse.query(
        f"select sum(referrals), sum(scheduled), sum(resolved), {columns}, sum(captured_revenue), sum(leaked_revenue) from marts.{aggregate}")[0]
    outcome_sums = ", ".join(f"count(*) filter (where outcome = '{o}')" for o in OUTCOMES)
    from_fct = built_warehouse.query(
        f"select count(*), count(*) filter (where is_scheduled), count(*) filter (where is_resolved), {outcome_sums}, "
        "sum(in_network_revenue), sum(out_of_network_revenue) from marts.fct_referrals")[0]
    assert from_agg == from_fct


def test_monthly_rates_reproduce_from_fct_referrals_with_one_group_by(built_warehouse):
    recomputed = built_warehouse.query("""
        select created_month, specialty_group,
               count(*) filter (where is_scheduled) / count(*) as conversion_rate,
               count(*) filter (where outcome = 'completed_in_network') / count(*) as completion_rate,
               quantile_cont(days_to_visit, 0.5) as median_days_to_visit
        from marts.fct_referrals group by all order by 1, 2""")
    published = built_warehouse.query("""
        select created_month, specialty_group, conversion_rate, completion_rate, median_days_to_visit
        from marts.agg_referrals_monthly order by 1, 2""")
    assert len(recomputed) == len(published)
    for mine, theirs in zip(recomputed, published, strict=True):
        assert mine[:2] == theirs[:2]
        assert mine[2] == pytest.approx(theirs[2]) and mine[3] == pytest.approx(theirs[3])
        assert (mine[4] is None and theirs[4] is None) or round(mine[4], 2) == theirs[4]


def test_funnel_destinations_and_turnaround_reconcile(built_warehouse):
    referrals, oon, leaked = built_warehouse.query(
        "select sum(referrals), sum(completed_out_of_network), sum(leaked_revenue) from marts.agg_referrals_monthly")[0]
    assert built_warehouse.scalar("select sum(referrals) from marts.agg_referral_funnel where stage = 'referred'") == referrals
    assert built_warehouse.scalar("""
        select count(*) from marts.agg_referral_funnel as stage
        join marts.agg_referral_funnel as previous
          on stage.created_month = previous.created_month and stage.specialty_group = previous.specialty_group
         and stage.stage_order = previous.stage_order + 1
        where stage.referrals > previous.referrals or stage.dropped_off != previous.referrals - stage.referrals""") == 0
    assert built_warehouse.query("select sum(leaked_referrals), sum(leaked_revenue) from marts.agg_leakage_destinations")[0] == (oon, leaked)
    assert built_warehouse.scalar("select sum(referrals) from marts.agg_turnaround_monthly") == referrals


def test_every_attributed_appointment_points_to_an_eligible_referral(built_warehouse):
    assert built_warehouse.scalar("""
        select count(*) from marts.fct_appointments as appointments
        left join marts.fct_referrals as referrals using (referral_id)
        where appointments.referral_id is not null and referrals.referral_id is null""") == 0
    methods = dict(built_warehouse.query("select attribution_method, count(*) from marts.fct_appointments group by 1"))
    assert methods["explicit"] > methods["matched"] > 0


def test_time_to_visit_curve_is_a_proper_survival_curve(built_warehouse):
    assert built_warehouse.scalar("""
        select count(*) from (
            select share_not_yet_seen,
                   lag(share_not_yet_seen) over (partition by specialty_group order by days_since_referral) as previous
            from marts.agg_time_to_visit_curve)
        where share_not_yet_seen > previous or share_not_yet_seen < 0 or share_not_yet_seen > 1""") == 0
    first_at_risk = built_warehouse.scalar(
        "select at_risk from marts.agg_time_to_visit_curve where specialty_group = '(all)' order by days_since_referral limit 1")
    assert first_at_risk == built_warehouse.scalar("select count(*) from marts.fct_referrals")


def test_default_data_set_lands_in_the_calibrated_ranges(built_warehouse):
    conversion, completion, network_leakage, no_show = built_warehouse.query("""
        select sum(scheduled) / sum(referrals), sum(completed_in_network) / sum(referrals),
               sum(completed_out_of_network) / (sum(completed_in_network) + sum(completed_out_of_network)),
               sum(noshow_appointments) / (sum(noshow_appointments) + sum(attended_appointments))
        from marts.agg_referrals_monthly""")[0]
    assert 0.55 <= conversion <= 0.70
    assert 0.40 <= completion <= 0.55  # about half
    assert 0.15 <= network_leakage <= 0.30
    assert 0.15 <= no_show <= 0.25
    by_group = [r[0] for r in built_warehouse.query("""
        select sum(completed_out_of_network) / (sum(completed_in_network) + sum(completed_out_of_network))
        from marts.agg_referrals_monthly group by specialty_group""")]
    assert max(by_group) - min(by_group) > 0.1  # leakage varies by specialty


@pytest.fixture(scope="module")
def narrow_elsewhere(dirty_warehouse, tmp_path_factory):
    """The small shared sample's files (conftest.py) built again into a
    warehouse of its own (its own patient_key secret) with W = 30: one build
    for the two tests below, beside the shared build with the default W."""
    built = build(dirty_warehouse.extracts, tmp_path_factory.mktemp("narrow") / "w30.duckdb",
                  {"attribution_window_days": "30"})
    assert built.summary.success, built.summary.failures
    return built


def test_patient_key_is_a_keyed_surrogate(dirty_warehouse, narrow_elsewhere):
    sources = {r[0] for r in dirty_warehouse.query("select distinct patient_id from raw.referrals")}
    keys = {r[0] for r in dirty_warehouse.query("select distinct patient_key from marts.fct_referrals")}
    assert len(keys) == dirty_warehouse.scalar("select count(distinct patient_id) from intermediate.int_referrals_eligible")
    unsalted = {hashlib.sha256(p.encode()).hexdigest()[:32] for p in sources}
    assert not keys & sources and not keys & unsalted
    # another warehouse built from the same files has its own secret, so other keys
    other = narrow_elsewhere
    other_keys = {r[0] for r in other.query("select distinct patient_key from marts.fct_referrals")}
    assert other_keys and not keys & other_keys
    # the secret lives only in the warehouse, never in the published copy
    assert other.scalar("select count(*) from duckdb_tables() where table_name = '_warehouse_key'", serving=True) == 0


def test_attribution_window_var_changes_outcomes(dirty_warehouse, narrow_elsewhere):
    narrow = narrow_elsewhere
    assert narrow.scalar("select attribution_window_days from intermediate.int_parameters") == 30
    matched = "select count(*) from marts.fct_appointments where attribution_method = 'matched'"
    assert narrow.scalar(matched) < dirty_warehouse.scalar(matched)
    expired = "select count(*) from marts.fct_referrals where outcome = 'unscheduled_expired'"
    assert narrow.scalar(expired) > dirty_warehouse.scalar(expired)
    assert narrow.scalar("select max(days_since_referral) from marts.agg_time_to_visit_curve") <= 30
