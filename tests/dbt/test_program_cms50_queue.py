"""Program return, CMS50 and the referral queue on the default generated data (the
rebuild with another var, on the small shared sample)."""

from __future__ import annotations

import shutil

import duckdb
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
def costly(dirty_warehouse, tmp_path_factory):
    """A second build of a warehouse, with another program fixed cost,
    on a warehouse whose queue history is as refloop 0.1 kept it: a table
    marts.referral_queue_history, the whole queue appended each build. Three
    such builds, a day apart, before this one: the first five referrals of the
    queue enter it at the third, the next five change action then, the next
    five leave at the second and come back at the third, and two referrals
    leave, at the second and at the third. One build for the tests below, of
    the small shared sample (conftest.py): a changed var rebuilds in full."""
    warehouse = tmp_path_factory.mktemp("costly") / "cost.duckdb"
    shutil.copy(dirty_warehouse.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        queue = conn.execute("select referral_id, action from marts.referral_queue order by referral_id").fetchall()
        t = conn.execute("select as_of_date from intermediate.int_parameters").fetchone()[0]
        changing = [(r, "follow_up" if a == "none" else "none") for r, a in queue[5:10]]
        leaving = [("left-1", "expire"), ("left-2", "follow_up")]
        snapshots = {
            "2026-01-01 06:00:00": [*changing, *leaving, *queue[10:]],
            "2026-01-02 06:00:00": [*changing, leaving[0], *queue[15:]],
            "2026-01-03 06:00:00": queue,
        }
        conn.execute("drop view marts.referral_queue_history")
        conn.execute("drop table intermediate.int_referral_queue_log")
        conn.execute("create table marts.referral_queue_history "
                     "(built_at timestamp, as_of_date date, referral_id varchar, action varchar)")
        for built_at, rows in snapshots.items():
            conn.executemany("insert into marts.referral_queue_history values (?, ?, ?, ?)",
                             [(built_at, t, r, a) for r, a in rows])
    built = build(dirty_warehouse.extracts, warehouse, {"program_fixed_cost_per_year": "250000"})
    assert built.summary.success, built.summary.failures
    built.snapshots, built.queue = snapshots, queue
    return built


def test_queue_changes_between_builds(costly):
    """The queue's history keeps every build's queue (the full rebuild a
    changed var makes included); the program cost does not move the queue."""
    changes = dict(costly.query("select change, sum(referrals) from marts.agg_referral_queue_changes group by 1"))
    assert changes == {"unchanged": len(costly.queue)}
    assert costly.scalar("select count(distinct built_at) from marts.referral_queue_history") == 4
    assert costly.scalar("select count(*) from marts.agg_referral_queue_changes where previous_built_at is null") == 0


def test_a_warehouse_of_0_1_keeps_its_queue_snapshots_in_the_log(costly):
    """The first build of int_referral_queue_log turned 0.1's snapshots into
    their changes; marts.referral_queue_history, now a view over the log,
    lists every old snapshot as it was, then the new build's queue. The new
    build's queue is the last snapshot's: it logged only its own row."""
    assert costly.scalar("select table_type from information_schema.tables "
                         "where table_name = 'referral_queue_history'") == "VIEW"
    for built_at, rows in costly.snapshots.items():
        kept = costly.query("select referral_id, action from marts.referral_queue_history where built_at = ? "
                            "order by referral_id", [built_at])
        assert kept == sorted(rows), built_at
    latest = costly.query("select referral_id, action from marts.referral_queue_history where built_at = "
                          "(select max(built_at) from marts.referral_queue_history) order by referral_id")
    assert latest == costly.queue
    # the first snapshot whole; at the second, five and one left; at the third,
    # five entered, five changed, five came back and one left; then nothing
    logged = costly.query("select count(*), count(referral_id) from intermediate.int_referral_queue_log "
                          "group by built_at order by built_at")
    first = len(costly.snapshots["2026-01-01 06:00:00"])
    assert logged == [(first + 1, first), (1 + 6, 6), (1 + 16, 16), (1, 0)]


def test_fixed_cost_var_changes_roi(dirty_warehouse, costly):
    base = dirty_warehouse.query("select program_cost, roi from marts.agg_program_return where created_year is null")[0]
    high = costly.query("select program_cost, roi, years_covered from marts.agg_program_return where created_year is null")[0]
    assert float(high[0]) == float(base[0]) + 250000 * high[2]
    assert high[1] < base[1]
