"""The same dbt project on Spark (a local session) builds the same marts as
on DuckDB, row for row, from the same landed data (docs/deploy.md): Spark
builds a history in full, then the next day's files with late corrections
incrementally (insert_overwrite of the key buckets of the changed records),
and its marts equal a full DuckDB build of all the files."""

from __future__ import annotations

import shutil

import duckdb
import pytest

import tests.pipelines.test_reliability as reliability
from pipelines.cli import run_pipeline
from pipelines.defs.transform.spark import spark_dir
from pipelines.generate.generator import GenerateOptions, generate_to
from tests.conftest import late_corrections

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    landing = root / "landing"
    generate_to(GenerateOptions(referrals=2_000, seed=23), landing, next_day=root / "day")
    late_corrections(landing, root / "day", "2026-11-30")
    first = run_pipeline(landing, root / "spark.duckdb", quiet=True, target="spark")
    assert first.success, first.failures
    # the same landed rows and patient_key secret, for the DuckDB reference below
    shutil.copy(root / "spark.duckdb", root / "duckdb.duckdb")
    # the next day, with corrections to year-old records: an incremental build on Spark...
    for path in (root / "day").iterdir():
        shutil.copy(path, landing)
    spark = run_pipeline(landing, root / "spark.duckdb", quiet=True, target="spark")
    assert spark.success, spark.failures
    # ...against a full build on DuckDB (its first build) of the same files
    duck = run_pipeline(landing, root / "duckdb.duckdb", quiet=True)
    assert duck.success, duck.failures
    return root, spark


def test_fct_referrals_on_spark_equals_duckdb_row_for_row(builds):
    root, _ = builds
    with duckdb.connect() as conn:
        conn.execute("attach ? as d (read_only)", [str(root / "duckdb.duckdb")])
        conn.execute("attach ? as s (read_only)", [str(root / "spark.duckdb")])
        columns = conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'd' "
            "and schema_name = 'marts' and table_name = 'fct_referrals' order by column_index").fetchall()
        assert conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 's' "
            "and schema_name = 'marts' and table_name = 'fct_referrals' order by column_index").fetchall() == columns
        total = conn.execute("select count(*) from d.marts.fct_referrals").fetchone()[0]
        # patient_key is the same: the warehouse key is landed data, and SHA-256 is SHA-256 on both engines
        only = [conn.execute(f"select count(*) from (select * from {x}.marts.fct_referrals "
                             f"except all select * from {y}.marts.fct_referrals)").fetchone()[0]
                for x, y in (("d", "s"), ("s", "d"))]
    assert total > 1_500 and only == [0, 0]


def test_every_mart_on_spark_equals_duckdb(builds):
    root, _ = builds
    assert reliability.mart_differences(root / "duckdb.duckdb", root / "spark.duckdb") == {}


def test_spark_was_incremental_and_duckdb_full(builds):
    root, _ = builds
    with duckdb.connect(str(root / "spark.duckdb"), read_only=True) as conn:
        assert conn.execute("select target, full_refresh from raw._builds order by started_at").fetchall() == [
            ("spark", True), ("spark", False)]
    with duckdb.connect(str(root / "duckdb.duckdb"), read_only=True) as conn:
        assert conn.execute("select target, full_refresh from raw._builds order by started_at").fetchall() == [
            ("spark", True), ("duckdb", True)]
    table = spark_dir(root / "spark.duckdb") / "warehouse" / "intermediate.db" / "int_claims_deduplicated"
    assert len(list(table.glob("_version_bucket=*"))) == 64


def test_spark_tables_live_beside_the_warehouse_and_the_serving_copy_is_published(builds):
    root, summary = builds
    tables = spark_dir(root / "spark.duckdb") / "warehouse"
    assert (tables / "marts.db" / "fct_referrals").is_dir()
    assert any((tables / "marts.db" / "fct_referrals").glob("*.parquet"))
    assert (spark_dir(root / "spark.duckdb") / "raw" / "referrals" / "part-0.parquet").exists()
    assert summary.published and summary.tests_failed == 0 and summary.tests_passed > 100, summary
    with duckdb.connect(str(root / "spark.serving.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from marts.fct_referrals").fetchone()[0] > 1_500
