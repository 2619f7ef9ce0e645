"""Outreach marts on the default generated data: the generator's built-in
program effects are recovered, and the marts reconcile with each other, with
the engagements and with the program return."""

from __future__ import annotations

import pytest

from pipelines.generate import generator


def test_reminders_cut_no_shows_as_the_generator_made_them(built_warehouse):
    rates = dict(built_warehouse.query(
        "select has_reminder, sum(no_shows) / sum(appointments) from marts.agg_reminder_effect group by 1"))
    assert rates[True] < rates[False]
    assert rates[False] == pytest.approx(generator.NO_SHOW, abs=0.04)
    assert rates[True] == pytest.approx(generator.NO_SHOW_WITH_REMINDER, abs=0.04)
    assert rates[False] - rates[True] == pytest.approx(generator.NO_SHOW - generator.NO_SHOW_WITH_REMINDER, abs=0.04)


def test_phone_outreach_converts_hard_cases_as_the_generator_made_it(built_warehouse):
    """Of referrals with outreach, those an advisor reached by phone convert
    PHONE_UPLIFT - DIGITAL_UPLIFT more often than the others (same mix of
    specialties and priorities, which the generator draws independently)."""
    conversion = dict(built_warehouse.query("""
        select has_phone_touch, avg(case when is_scheduled then 1.0 else 0 end)
        from marts.fct_referral_outreach where outreach_touches > 0 group by 1"""))
    expected = generator.PHONE_UPLIFT - generator.DIGITAL_UPLIFT
    assert conversion[True] - conversion[False] == pytest.approx(expected, abs=0.05)
    # the touch curve, the page's source, says the same
    phone, phone_scheduled, referrals, scheduled = built_warehouse.query("""
        select sum(with_phone), sum(with_phone_scheduled), sum(referrals), sum(scheduled)
        from marts.agg_outreach_touch_curve where touches > 0""")[0]
    other = (scheduled - phone_scheduled) / (referrals - phone)
    assert phone_scheduled / phone - other == pytest.approx(conversion[True] - conversion[False], abs=1e-9)


def test_outreach_marts_reconcile(built_warehouse):
    q = built_warehouse.scalar
    engagements = q("""
        select count(*) from intermediate.int_engagements_deduplicated e
        join marts.fct_referrals r using (referral_id)""")
    assert q("select count(*) from marts.fct_engagements") == engagements
    assert q("select sum(touches) from marts.agg_outreach_by_channel") == engagements
    referrals = q("select count(*) from marts.fct_referrals")
    assert q("select sum(referrals) from marts.agg_outreach_touch_curve") == referrals
    touched = q("select count(*) from marts.fct_referral_outreach where outreach_touches > 0")
    assert q("select sum(referrals) from marts.agg_outreach_sequences") == touched
    # touches are numbered 1..n without gaps, reminders are never numbered
    assert q("""
        select count(*) from (
            select referral_id, max(touch_number) as top, count(touch_number) as n
            from marts.fct_engagements group by 1) where top != n""") == 0
    assert q("select count(*) from marts.fct_engagements where purpose = 'reminder' and touch_number is not null") == 0
    # the program's engagement cost is the same here as in the program return (docs/metrics.md)
    outreach_cost = q("select variable_cost from marts.agg_outreach_cost_per_outcome where channel = '(all)'")
    program_cost = q("select engagement_cost from marts.agg_program_return where created_year is null")
    assert outreach_cost == program_cost
    assert q("select sum(cost) from marts.agg_outreach_by_channel") == outreach_cost


def test_reminder_effect_counts_every_resolved_appointment(built_warehouse):
    """Attended or missed attributed appointments up to T, counted another way."""
    expected = built_warehouse.scalar("""
        select count(*) from marts.fct_appointments a
        join marts.fct_referrals r using (referral_id)
        where a.start_date <= (select as_of_date from intermediate.int_parameters)
          and (a.is_attended or a.status = 'noshow')""")
    assert built_warehouse.scalar("select sum(appointments) from marts.agg_reminder_effect") == expected
