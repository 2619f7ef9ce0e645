"""Program return, CMS50 and the referral queue on the default generated data."""

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


def test_the_queue_history_is_its_log_of_changes(costly):
    """marts.referral_queue_history is a view over int_referral_queue_log:
    the first build logged every referral in its queue, the second (the same
    queue) only its own row; each build's snapshot is the queue."""
    logged = costly.query("select count(*), count(referral_id) from intermediate.int_referral_queue_log "
                          "group by built_at order by built_at")
    queue = costly.scalar("select count(*) from marts.referral_queue")
    assert logged == [(queue + 1, queue), (1, 0)]
    assert costly.scalar("select table_type from information_schema.tables "
                         "where table_name = 'referral_queue_history'") == "VIEW"
    assert costly.query("select count(*) from marts.referral_queue_history group by built_at") == [(queue,), (queue,)]
    assert costly.scalar("select count(*) from (select referral_id, action from marts.referral_queue_history "
                         "where built_at = (select max(built_at) from marts.referral_queue_history) "
                         "except all select referral_id, action from marts.referral_queue)") == 0


def test_a_warehouse_of_0_1_keeps_its_queue_snapshots(built_warehouse, tmp_path):
    """refloop 0.1 appended the whole queue to a table marts.referral_queue_history
    each build. The first build of the log turns those snapshots into their
    changes (referrals entering, changing action, leaving, coming back), so
    the view lists every old snapshot as it was, then the new build's queue."""
    warehouse = tmp_path / "old.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        queue = conn.execute("select referral_id, action from marts.referral_queue order by referral_id").fetchall()
        t = conn.execute("select as_of_date from intermediate.int_parameters").fetchone()[0]
        # the first five enter the queue at the third build, the next five change
        # action then, the next five leave at the second and come back at the
        # third; two referrals leave, at the second and at the third
        changing = [(r, "follow_up" if a == "none" else "none") for r, a in queue[5:10]]
        leaving = [("left-1", "expire"), ("left-2", "follow_up")]
        snapshots = {   # three builds, a day apart, before the upgrade
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
        old = conn.execute("select count(*) from marts.referral_queue_history").fetchone()[0]
        # the release's project differs from 0.1's: the next build is full
        conn.execute("update raw._builds set project_checksum = 'refloop 0.1'")
    upgraded = build(built_warehouse.extracts, warehouse)
    assert upgraded.summary.success, upgraded.summary.failures

    assert upgraded.scalar("select table_type from information_schema.tables "
                           "where table_name = 'referral_queue_history'") == "VIEW"
    for built_at, rows in snapshots.items():
        kept = upgraded.query("select referral_id, action from marts.referral_queue_history where built_at = ? "
                              "order by referral_id", [built_at])
        assert kept == sorted(rows), built_at
    latest = upgraded.query("select referral_id, action from marts.referral_queue_history where built_at = "
                            "(select max(built_at) from marts.referral_queue_history) order by referral_id")
    assert latest == queue
    # the log: the first snapshot whole; at the second, five and one left; at the
    # third, five entered, five changed, five came back and one left; then nothing
    changes = upgraded.query("select count(referral_id) from intermediate.int_referral_queue_log "
                             "group by built_at order by built_at")
    assert changes == [(len(snapshots["2026-01-01 06:00:00"]),), (1 + 5,), (5 + 5 + 1 + 5,), (0,)]
    assert sum(n for (n,) in changes) < old / 2
    assert dict(upgraded.query("select change, sum(referrals) from marts.agg_referral_queue_changes group by 1")) \
        == {"unchanged": len(queue)}


def test_fixed_cost_var_changes_roi(built_warehouse, costly):
    base = built_warehouse.query("select program_cost, roi from marts.agg_program_return where created_year is null")[0]
    high = costly.query("select program_cost, roi, years_covered from marts.agg_program_return where created_year is null")[0]
    assert float(high[0]) == float(base[0]) + 250000 * high[2]
    assert high[1] < base[1]
