"""Publishing after an incremental build: the serving copy of the previous
build takes this build's changes (the rows of the keys or the cells in
scope, the rows appended) and the other marts are copied, as is a table of
the copy a fifth deleted rows; a copy that is not the previous build's,
that the changes leave unequal in size to the warehouse, or that has become
half deleted rows, is written whole. And the deleted rows both
files keep stored until the weekly compaction rewrites the tables a fifth
deleted rows (pipelines/storage.py, pipelines/defs/maintenance.py). The daily
build's copy equal to its warehouse row for row is in
tests/dbt/test_incremental.py."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines import storage
from pipelines.defs.maintenance import compact_files
from pipelines.defs.publish.assets import mart_deltas
from pipelines.defs.publish.publish import Delta, publish
from pipelines.defs.transform.dbt import dbt_project, ensure_manifest, plan_vacuum
from pipelines.paths import serving_path


@pytest.fixture
def copies(built_warehouse, tmp_path):
    warehouse = tmp_path / "refloop.duckdb"
    shutil.copy(built_warehouse.warehouse, warehouse)
    shutil.copy(built_warehouse.serving, serving_path(warehouse))
    return warehouse, serving_path(warehouse)


def next_build(warehouse, run_id: str, scope: list[str]) -> None:
    """What an incremental build leaves, by hand: a build recorded after the
    last, the referrals of its scope and their cells, and the queue's log
    appended (the build's row and a change of action)."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("insert into raw._builds select ?, target, now()::timestamp, now()::timestamp, false, "
                     "'new versions merge into the version layer', vars, project_checksum, landed_checks "
                     "from raw._builds order by started_at desc limit 1", [run_id])
        conn.execute("delete from intermediate.int_referral_scope")
        conn.execute("delete from intermediate.int_care_evidence_scope_keys")
        conn.execute("delete from intermediate.int_referral_queue_scope")
        conn.execute("delete from intermediate.int_referral_scope_cells")
        conn.execute("insert into intermediate.int_referral_scope_cells select distinct created_month, specialty_group, "
                     "referring_location_id, payer_id, priority from marts.fct_referrals where referral_id in ?",
                     [scope or [""]])
        for referral in scope:
            conn.execute("insert into intermediate.int_referral_scope values (?)", [referral])
            conn.execute("insert into intermediate.int_referral_queue_scope values (?)", [referral])
            conn.execute("insert into intermediate.int_care_evidence_scope_keys "
                         "select patient_key from marts.fct_referrals where referral_id = ?", [referral])
        built_at = conn.execute("select now()::timestamp").fetchone()[0]
        for referral in [None, *scope]:     # the build's own row, then the referral's change
            conn.execute("insert into intermediate.int_referral_queue_log select ?, as_of_date, ?, "
                         "case when ? is not null then 'changed' end from intermediate.int_parameters",
                         [built_at, referral, referral])


def outcomes(path, referrals: list[str]) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(conn.execute("select referral_id, outcome from marts.fct_referrals where referral_id in ? ",
                                 [referrals]).fetchall())


def differences(warehouse, serving) -> dict[str, list[int]]:
    """Per mart, rows only in the warehouse and rows only in the serving copy (every column)."""
    found = {}
    with duckdb.connect() as conn:
        conn.execute("attach ? as w (read_only)", [str(warehouse)])
        conn.execute("attach ? as s (read_only)", [str(serving)])
        marts = ("select table_name from duckdb_tables() where database_name = ? and schema_name = 'marts' "
                 "union all select view_name from duckdb_views() where database_name = ? and schema_name = 'marts'")
        tables = {t for (t,) in conn.execute(marts, ["w", "w"]).fetchall()}
        published = {t for (t,) in conn.execute(marts, ["s", "s"]).fetchall()}
        assert tables == published
        for table in tables:
            only = [conn.execute(f"select count(*) from (select * from {x}.marts.{table} "
                                 f"except all select * from {y}.marts.{table})").fetchone()[0]
                    for x, y in (("w", "s"), ("s", "w"))]
            if only != [0, 0]:
                found[table] = only
    return found


CELLS = ("created_month", "specialty_group", "referring_location_id", "payer_id", "priority")


def test_the_marts_kept_incrementally_are_named_with_their_scope_or_watermark():
    deltas = mart_deltas(ensure_manifest(dbt_project))
    scoped = Delta(scope="intermediate.int_referral_scope", key="referral_id")
    assert deltas == {"fct_referrals": scoped, "fct_referral_outreach": scoped, "fct_engagements": scoped,
                      "fct_appointments": Delta(scope="intermediate.int_care_evidence_scope_keys", key="patient_key"),
                      # not marts: the tables the views marts.referral_queue and
                      # marts.referral_queue_history read, published with them
                      "int_referral_queue_rows": Delta(scope="intermediate.int_referral_queue_scope", key="referral_id"),
                      "int_referral_queue_log": Delta(watermark="built_at"),
                      # the aggregates kept by cell, by the cells of the scope's referrals
                      **{table: Delta(scope="intermediate.int_referral_scope_cells", cells=cells) for table, cells in (
                          ("agg_referrals_cube", CELLS), ("agg_referrals_by_practice", CELLS[:3]),
                          ("agg_outreach_by_channel", CELLS[:4]), ("agg_outreach_sequences", CELLS[:4]),
                          ("agg_outreach_touch_curve", CELLS[:4]), ("agg_reminder_effect", CELLS[:4]))}}


def test_an_incremental_build_is_published_as_its_changes(copies):
    warehouse, serving = copies
    deltas = mart_deltas(ensure_manifest(dbt_project))
    again = publish(warehouse, serving, "again", deltas)
    assert (again.mode, again.reason) == ("full", "the serving copy already holds the latest build: written again whole")

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        inside, outside = [r for (r,) in conn.execute(
            "select referral_id from marts.referral_queue order by referral_id limit 2").fetchall()]
        snapshot = conn.execute("select count(*) from marts.referral_queue_history where built_at = "
                                "(select max(built_at) from marts.referral_queue_history)").fetchone()[0]
        builds = conn.execute("select count(distinct built_at) from marts.referral_queue_history").fetchone()[0]
        appointments = conn.execute("select count(*) from marts.fct_appointments where patient_key = "
                                    "(select patient_key from marts.fct_referrals where referral_id = ?)",
                                    [inside]).fetchone()[0]
    next_build(warehouse, "next", [inside])
    with duckdb.connect(str(warehouse)) as conn:
        # the build changed the referral in its scope; the other, changed by hand,
        # shows that only the scope's rows are taken from the warehouse
        conn.execute("update marts.fct_referrals set outcome = 'changed' where referral_id in (?, ?)", [inside, outside])
        # and the queue row of the one in scope, which the serving copy's view shows
        conn.execute("update intermediate.int_referral_queue_rows set reason = 'changed' where referral_id = ?", [inside])
        conn.execute("delete from marts.agg_referrals_monthly where created_month = "
                     "(select min(created_month) from marts.agg_referrals_monthly)")
        # the cube's row of the referral's cell, and one of another cell: only the first is taken
        same_cell = " and ".join(f"cube.{c} is not distinct from referral.{c}" for c in CELLS)
        cell_of = f"(select * from marts.fct_referrals where referral_id = '{inside}') as referral"
        conn.execute(f"update marts.agg_referrals_cube as cube set referrals = referrals + 1000 from {cell_of} "
                     f"where {same_cell}")
        conn.execute(f"update marts.agg_referrals_cube set referrals = referrals + 1000 where rowid = (select min(rowid) "
                     f"from marts.agg_referrals_cube as cube where not exists (select 1 from {cell_of} where {same_cell}))")
        cells = {table: conn.execute(f"select count(*) from marts.{table} as cube where exists "
                                     f"(select 1 from {cell_of} where "
                                     + " and ".join(f"cube.{c} is not distinct from referral.{c}" for c in columns)
                                     + ")").fetchone()[0]
                 for table, columns in (("agg_referrals_cube", CELLS), ("agg_referrals_by_practice", CELLS[:3]),
                                        ("agg_outreach_by_channel", CELLS[:4]), ("agg_outreach_sequences", CELLS[:4]),
                                        ("agg_outreach_touch_curve", CELLS[:4]), ("agg_reminder_effect", CELLS[:4]))}

    published = publish(warehouse, serving, "next", deltas)
    assert (published.mode, published.reason) == ("changes", "the previous build's copy takes this build's changes")
    assert published.changed == {"marts.fct_referrals": 1, "marts.fct_referral_outreach": 1,
                                 "marts.fct_engagements": published.changed["marts.fct_engagements"],
                                 "marts.fct_appointments": appointments,    # the patient's, by patient_key
                                 "intermediate.int_referral_queue_log": 2,    # the build's row, the change
                                 "intermediate.int_referral_queue_rows": 1,
                                 **{f"marts.{table}": rows for table, rows in cells.items()}}
    assert cells["agg_referrals_cube"] == 1
    assert outcomes(serving, [inside, outside])[inside] == "changed"
    assert outcomes(serving, [inside, outside])[outside] != "changed"
    with duckdb.connect(str(serving), read_only=True) as conn:
        assert conn.execute("select referral_id from marts.referral_queue where reason = 'changed'").fetchall() == \
            [(inside,)]
        # the serving copy's history view lists the new build, with the one change the log took
        latest = "(select max(built_at) from marts.referral_queue_history)"
        assert conn.execute("select count(distinct built_at) from marts.referral_queue_history").fetchone()[0] == builds + 1
        assert conn.execute(f"select count(*) from marts.referral_queue_history where built_at = {latest}").fetchone()[0] \
            == snapshot
        assert conn.execute(f"select referral_id from marts.referral_queue_history where built_at = {latest} "
                            "and action = 'changed'").fetchall() == [(inside,)]
    # the rows changed outside the scope
    assert set(differences(warehouse, serving)) == {"fct_referrals", "agg_referrals_cube"}
    with duckdb.connect(str(serving), read_only=True) as conn:
        assert conn.execute("select count(*) from marts.agg_referrals_cube where referrals >= 1000").fetchone() == (1,)
    with duckdb.connect(str(serving), read_only=True) as conn:
        assert conn.execute("select run_id, build_run_id, publish_mode from meta.publication").fetchone() == (
            "next", "next", "changes")

    # rows the copy lost: the changes leave it unequal to the warehouse, so it is written whole
    next_build(warehouse, "after", [inside])
    with duckdb.connect(str(serving)) as conn:
        conn.execute("delete from marts.fct_referrals where referral_id = ?", [outside])
    mended = publish(warehouse, serving, "after", deltas)
    assert mended.mode == "full"
    assert mended.reason.startswith("the changes did not apply (marts.fct_referrals has ")
    assert differences(warehouse, serving) == {}

    # a copy two builds behind is written whole
    next_build(warehouse, "skipped", [inside])
    next_build(warehouse, "latest", [inside])
    behind = publish(warehouse, serving, "latest", deltas)
    assert (behind.mode, behind.reason) == ("full", "the serving copy is not the previous build's")
    assert differences(warehouse, serving) == {}


def test_a_full_build_is_published_whole(copies):
    warehouse, serving = copies
    deltas = mart_deltas(ensure_manifest(dbt_project))
    next_build(warehouse, "full", [])
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update raw._builds set full_refresh = true where run_id = 'full'")
    published = publish(warehouse, serving, "full", deltas)
    assert (published.mode, published.reason) == ("full", "the latest build was full")
    assert published.changed == {}
    assert differences(warehouse, serving) == {}


def delete_share(path, table: str, share: float) -> None:
    """Delete `share` of a table's rows, scattered, leaving them stored (no vacuum)."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("set max_vacuum_tasks = 0")
        conn.execute(f"delete from {table} where hash(referral_id) % 100 < ?", [int(share * 100)])


def stored_and_live(path, table: str) -> tuple[int, int]:
    schema, name = table.split(".")
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("select estimated_size from duckdb_tables() where schema_name = ? and table_name = ?",
                            [schema, name]).fetchone()[0], conn.execute(f"select count(*) from {table}").fetchone()[0]


def test_rows_deleted_without_a_vacuum_stay_stored_until_one_compacts(tmp_path):
    """The premise of leaving deleted rows in place (on this DuckDB): a
    checkpoint without vacuum keeps them stored, one with it removes them."""
    path = tmp_path / "rows.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.t as select range as referral_id, range * 2 as other from range(1000000)")
    delete_share(path, "marts.t", 0.3)
    stored, live = stored_and_live(path, "marts.t")
    assert stored == 1_000_000 and 650_000 < live < 750_000
    with duckdb.connect(str(path)) as conn:
        conn.execute("set max_vacuum_tasks = 100")
        conn.execute("delete from marts.t where referral_id = 1")     # something to checkpoint
        conn.execute("checkpoint")
    assert stored_and_live(path, "marts.t")[0] < stored


def test_a_build_compacts_only_when_a_table_is_half_deleted_rows(copies, monkeypatch):
    warehouse, _ = copies
    monkeypatch.setattr(storage, "ROW_GROUP_ROWS", 1)     # the sample's tables are smaller than a row group
    with duckdb.connect(str(warehouse)) as conn:
        assert plan_vacuum(conn, full_refresh=True) == (True, "full build")
        vacuum, reason = plan_vacuum(conn, full_refresh=False)
    assert not vacuum and reason.startswith("rows this build deletes stay stored until the weekly compaction")
    delete_share(warehouse, "intermediate.int_referral_outcomes_assigned", 0.3)     # the compaction job's work
    with duckdb.connect(str(warehouse)) as conn:
        assert not plan_vacuum(conn, full_refresh=False)[0]
    delete_share(warehouse, "intermediate.int_referral_outcomes_assigned", 0.6)
    with duckdb.connect(str(warehouse)) as conn:
        vacuum, reason = plan_vacuum(conn, full_refresh=False)
    assert vacuum
    assert reason.endswith("of intermediate.int_referral_outcomes_assigned's stored rows are deleted ones "
                           "(is the compaction job running?): this build compacts the tables")


def deleted_by_builds(warehouse, serving, shares: dict[str, float]) -> None:
    """Rows deleted from both files, as builds and the changes they publish would leave them."""
    for path in (warehouse, serving):
        for table, share in shares.items():
            delete_share(path, table, share)


def published_as_changes(warehouse, serving, monkeypatch) -> dict[str, Delta]:
    """A next build published as its changes, with every table counted in
    deleted shares (the sample's are smaller than a row group)."""
    monkeypatch.setattr(storage, "ROW_GROUP_ROWS", 1)
    deltas = mart_deltas(ensure_manifest(dbt_project))
    next_build(warehouse, "next", [])
    assert publish(warehouse, serving, "next", deltas).mode == "changes"
    return deltas


def test_the_compaction_job_rewrites_the_tables_a_fifth_deleted_rows(copies, monkeypatch):
    warehouse, serving = copies
    deltas = published_as_changes(warehouse, serving, monkeypatch)
    deleted_by_builds(warehouse, serving, {"marts.fct_referrals": 0.3, "marts.fct_referral_outreach": 0.1})
    delete_share(serving, "marts.fct_engagements", 0.3)     # and one the serving copy alone has lost
    live = {table: stored_and_live(warehouse, table)[1] for table in ("marts.fct_referrals", "marts.fct_referral_outreach")}
    with duckdb.connect(str(serving), read_only=True) as conn:
        kept = conn.execute("select * from marts.fct_engagements order by all").fetchall()
    definition = "select sql from duckdb_tables() where schema_name = 'marts' and table_name = 'fct_referrals'"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        defined = conn.execute(definition).fetchone()[0]

    result = compact_files(warehouse, serving)
    assert set(result.warehouse) == {"marts.fct_referrals"}
    assert set(result.serving) == {"marts.fct_referrals", "marts.fct_engagements"}
    assert stored_and_live(warehouse, "marts.fct_referrals") == (live["marts.fct_referrals"],) * 2
    stored, still = stored_and_live(warehouse, "marts.fct_referral_outreach")     # under a fifth: left as it was
    assert still == live["marts.fct_referral_outreach"] and stored > still
    assert len(set(stored_and_live(serving, "marts.fct_engagements"))) == 1
    with duckdb.connect(str(serving), read_only=True) as conn:
        assert conn.execute("select * from marts.fct_engagements order by all").fetchall() == kept
    with duckdb.connect(str(warehouse), read_only=True) as conn:     # the table keeps its definition
        assert conn.execute(definition).fetchone()[0] == defined
    # the compacted copy still names the build it holds: the next build applies its changes, and
    # finds the rows the copy alone lost
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        engagements = conn.execute("select count(*) from marts.fct_engagements").fetchone()[0]
    next_build(warehouse, "after", [])
    after = publish(warehouse, serving, "after", deltas)
    assert (after.mode, after.reason) == ("full", "the changes did not apply (marts.fct_engagements has "
                                              f"{len(kept):,} rows, the warehouse {engagements:,}): written whole")
    assert compact_files(warehouse, serving).summary() == "nothing to do: no table is more than 20% deleted rows"


def test_a_table_of_the_copy_a_fifth_deleted_rows_is_copied_whole(copies, monkeypatch):
    """Instead of taking the build's change: it is written without them."""
    warehouse, serving = copies
    deltas = published_as_changes(warehouse, serving, monkeypatch)
    deleted_by_builds(warehouse, serving, {"marts.fct_referrals": 0.3, "marts.fct_engagements": 0.1})
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        inside = conn.execute("select min(referral_id) from marts.fct_referrals").fetchone()[0]
    next_build(warehouse, "after", [inside])
    published = publish(warehouse, serving, "after", deltas)
    assert published.mode == "changes"
    assert "marts.fct_referrals" not in published.changed and "marts.fct_referral_outreach" in published.changed
    assert stored_and_live(serving, "marts.fct_referrals")[0] == stored_and_live(serving, "marts.fct_referrals")[1]
    stored, live = stored_and_live(serving, "marts.fct_engagements")     # under a fifth: took the change
    assert "marts.fct_engagements" in published.changed and stored > live
    assert differences(warehouse, serving) == {}


def test_a_serving_copy_half_deleted_rows_is_written_whole(copies, monkeypatch):
    warehouse, serving = copies
    deltas = published_as_changes(warehouse, serving, monkeypatch)
    delete_share(serving, "marts.fct_engagements", 0.6)
    next_build(warehouse, "after", [])
    published = publish(warehouse, serving, "after", deltas)
    assert published.mode == "full"
    assert published.reason.endswith("of the serving copy's marts.fct_engagements are deleted rows: written whole")
    assert differences(warehouse, serving) == {}
    stored, live = stored_and_live(serving, "marts.fct_engagements")
    assert stored == live
