"""Every ingestion rule of docs/extracts.md, on small hand-made files landed
into a real DuckDB file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.defs.ingest.loader import LOADED, REJECTED, SKIPPED, UNCHANGED, load_directory
from tests.conftest import write

HEADER = "referral_id,patient_id,created_at,requested_specialty_code,status,updated_at"


class Landing:
    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "landing"
        self.dir.mkdir()
        self.db = tmp_path / "warehouse.duckdb"

    def file(self, name: str, text: str | bytes) -> Path:
        return write(self.dir, name, text)

    def load(self, log=lambda _: None):
        with duckdb.connect(str(self.db)) as conn:
            return {r.file_name: r for r in load_directory(conn, self.dir, "test-run", log)}

    def rows(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db)) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def landing(tmp_path) -> Landing:
    return Landing(tmp_path)


def assert_reconciles(results):
    for result in results.values():
        assert result.rows_read == result.rows_loaded + result.rows_rejected, result


def test_gzip_bom_crlf_headers_in_any_case_and_order(landing):
    text = (
        "\ufeffSTATUS, Referral_ID ,patient_id,UPDATED_AT,created_at,Requested_Specialty_Code\r\n"
        "Active,R1,P1,2026-03-02T10:00:00,2026-03-01T09:00:00,207RC0000X\r\n"
    )
    landing.file("referrals_2026-03-02.csv.gz", text)
    results = landing.load()
    assert results["referrals_2026-03-02.csv.gz"].status == LOADED
    assert landing.rows("select referral_id, status, patient_id from raw.referrals") == [("R1", "active", "P1")]


def test_unknown_columns_are_kept_as_json(landing):
    landing.file("referrals.csv", f"{HEADER},department,Source System\nR1,P1,2026-03-01,207X00000X,active,2026-03-01,Ortho East,epic\n")
    landing.load()
    (extra,) = landing.rows("select _extra from raw.referrals")[0]
    assert '"department":"Ortho East"' in extra.replace(" ", "").replace("OrthoEast", "Ortho East")
    assert "source system" in extra


def test_types_value_sets_and_nulls(landing):
    landing.file(
        "providers.csv",
        "npi,specialty_code,in_network,effective_from,effective_to,accepting_new_patients\n"
        "1234567893,207RC0000X,TRUE,2025-01-01,,y\n"
        "1234567893,207RC0000X,f,2026-01-01,\"\",No\n"
        "1234567893,207RC0000X,maybe,2026-02-01,,\n",
    )
    results = landing.load()
    assert landing.rows("select in_network, effective_to, accepting_new_patients from raw.providers order by effective_from") == [
        (True, None, True),
        (False, None, False),
    ]
    (reject,) = landing.rows("select line_number, reason from raw._rejects")
    assert reject == (4, "in_network: not a boolean (true/false, t/f, 1/0, y/n, yes/no): 'maybe'")
    assert_reconciles(results)


def test_timestamps_with_offsets_compare_as_written(landing):
    landing.file(
        "referrals.csv",
        f"{HEADER}\n"
        "R1,P1,2026-03-01T23:30:00-05:00,207RC0000X,active,2026-03-01 23:30:00Z\n"
        "R2,P2,2026-03-01,207RC0000X,active,2026-03-01T08:15\n",
    )
    landing.load()
    rows = landing.rows(
        "select referral_id, created_at::varchar, created_at_utc_offset, updated_at_utc_offset, cast(created_at as date)::varchar "
        "from raw.referrals order by 1"
    )
    assert rows == [
        ("R1", "2026-03-01 23:30:00", "-05:00", "Z", "2026-03-01"),
        ("R2", "2026-03-01 00:00:00", None, None, "2026-03-01"),
    ]


def test_invalid_rows_are_rejected_with_file_line_and_reason(landing):
    landing.file(
        "referrals_a.csv",
        f"{HEADER},priority,expires_on\n"
        "R1,P1,2026-03-01,207RC0000X,active,2026-03-01,routine,2026-09-01\n"
        "\n"
        "R2,,2026-03-01,207RC0000X,active,2026-03-01,,\n"
        "R3,P3,03/01/2026,207RC0000X,open,2026-03-01,,\n"
        "R4,P4,2026-03-01,207RC0000X,active,2026-03-01,whenever,2026-02-30\n"
        "R5,P5,2026-03-01,207RC0000X,active\n"
        'R6,P6,2026-03-01,207RC0000X,active,2026-03-01,"routine",""\n',
    )
    results = landing.load()
    result = results["referrals_a.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 2, 4)
    rejects = landing.rows("select file_name, line_number, reason from raw._rejects order by line_number")
    assert rejects == [
        ("referrals_a.csv", 4, "patient_id: required value missing"),
        ("referrals_a.csv", 5, "created_at: not an ISO 8601 timestamp: '03/01/2026'; "
                               "status: 'open' is not one of draft, active, on-hold, revoked, completed, entered-in-error, unknown"),
        ("referrals_a.csv", 6, "priority: 'whenever' is not one of routine, urgent, asap, stat; "
                               "expires_on: not a date (YYYY-MM-DD): '2026-02-30'"),
        ("referrals_a.csv", 7, "expected 8 fields, found 5"),
    ]
    assert landing.rows("select referral_id, expires_on from raw.referrals order by 1") == [
        ("R1", __import__("datetime").date(2026, 9, 1)),
        ("R6", None),
    ]


def test_quoted_fields_keep_commas_and_newlines_and_line_numbers_follow(landing):
    landing.file(
        "referral_events.csv",
        "event_id,referral_id,event_type,occurred_at,note\n"
        'E1,R1,sent,2026-03-01,"two\nlines, with comma"\n'
        "E2,R1,bogus,2026-03-01,x\n",
    )
    landing.load()
    assert landing.rows("select line_number from raw._rejects") == [(4,)]
    assert landing.rows("select _line_number from raw.referral_events") == [(2,)]


def test_same_key_and_version_twice_in_one_file_rejects_the_whole_group(landing):
    landing.file(
        "referrals.csv",
        f"{HEADER}\n"
        "R1,P1,2026-03-01,207RC0000X,active,2026-03-01\n"
        "R1,P1,2026-03-01,207RC0000X,revoked,2026-03-01\n"
        "R1,P1,2026-03-01,207RC0000X,completed,2026-03-05\n"
        "R2,P2,2026-03-01,207RC0000X,active,2026-03-01\n",
    )
    results = landing.load()
    assert landing.rows("select referral_id, status from raw.referrals order by 1") == [("R1", "completed"), ("R2", "active")]
    assert landing.rows("select line_number, reason from raw._rejects order by 1") == [
        (2, "duplicate referral_id with the same updated_at in this file (lines 2, 3)"),
        (3, "duplicate referral_id with the same updated_at in this file (lines 2, 3)"),
    ]
    assert_reconciles(results)


def test_loading_the_same_file_twice_changes_nothing(landing):
    landing.file("referrals.csv", f"{HEADER}\nR1,P1,2026-03-01,207RC0000X,active,2026-03-01\n")
    landing.load()
    before = landing.rows("select * exclude (_loaded_at, _run_id) from raw.referrals")
    again = landing.load()
    assert again["referrals.csv"].status == UNCHANGED
    assert landing.rows("select * exclude (_loaded_at, _run_id) from raw.referrals") == before
    assert landing.rows("select count(*) from raw._manifest") == [(1,)]


def test_same_content_under_another_name_is_not_loaded_twice(landing):
    landing.file("slots_a.csv", "provider_npi,start_at,status\n1234567893,2026-03-01T09:00,free\n")
    landing.file("slots_b.csv", "provider_npi,start_at,status\n1234567893,2026-03-01T09:00,free\n")
    results = landing.load()
    assert results["slots_b.csv"].status == UNCHANGED
    assert "same content as slots_a.csv" in results["slots_b.csv"].message
    assert landing.rows("select count(*) from raw.slots") == [(1,)]


def test_a_changed_file_replaces_what_its_name_loaded(landing):
    landing.file("referrals.csv", f"{HEADER}\nR1,P1,2026-03-01,207RC0000X,active,2026-03-01\nR2,P2,2026-03-01,207RC0000X,active,2026-03-01\n")
    landing.load()
    landing.file("referrals.csv", f"{HEADER}\nR1,P1,2026-03-01,207RC0000X,revoked,2026-03-02\n")
    results = landing.load()
    assert results["referrals.csv"].status == LOADED
    assert landing.rows("select referral_id, status from raw.referrals") == [("R1", "revoked")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("referrals_empty.csv", b"", "empty file: no header row"),
        ("referrals_blank.csv", b"\n\n", "empty file: no header row"),
        ("referrals_missing.csv", b"referral_id,patient_id\nR1,P1\n",
         "missing required column(s) for referrals: created_at, requested_specialty_code, status, updated_at"),
        ("referrals_semicolon.csv", HEADER.replace(",", ";").encode() + b"\nR1;P1\n",
         "missing required column(s) for referrals: referral_id, patient_id, created_at, requested_specialty_code, "
         "status, updated_at (the header has one column: is the file comma-separated?)"),
        ("referrals_dupe.csv", (HEADER + ",STATUS\n").encode(), "duplicate column(s) in header: status"),
        ("referrals_latin1.csv", (HEADER + "\nR1,P1,2026-03-01,207RC0000X,active,2026-03-01\nR2,Jos\xe9,x,y,z,w\n").encode("latin-1"),
         "not UTF-8 text (invalid byte 0xe9 on line 3); save the extract as UTF-8"),
        ("referrals_junk.csv.gz", None, "not a readable gzip file"),
        ("referrals_notgzip.csv.gz", "plain", "not a readable gzip file"),
    ],
)
def test_unreadable_files_are_rejected_whole_and_others_still_load(landing, name, content, reason):
    landing.file("referrals_good.csv", f"{HEADER}\nR9,P9,2026-03-01,207RC0000X,active,2026-03-01\n")
    path = landing.dir / name
    if content is None:  # a truncated gzip stream
        path.write_bytes(gzip.compress((HEADER + "\n" + "R1,P1,2026-03-01,207RC0000X,active,2026-03-01\n" * 500).encode())[:200])
    elif content == "plain":
        path.write_bytes(HEADER.encode() + b"\n")
    else:
        path.write_bytes(content)
    results = landing.load()
    assert results[name].status == REJECTED
    assert results[name].message.startswith(reason)
    assert results["referrals_good.csv"].status == LOADED
    (status, error) = landing.rows(f"select status, error from raw._manifest where file_name = '{name}'")[0]
    assert status == "rejected" and error.startswith(reason)
    assert landing.rows("select referral_id from raw.referrals") == [("R9",)]
    assert_reconciles(results)


def test_header_only_file_is_accepted_and_makes_the_entity_present(landing):
    landing.file("claims_2026-03.csv", "claim_id,line_number,patient_id,rendering_npi,service_date,allowed_amount,claim_status,updated_at\n")
    results = landing.load()
    assert results["claims_2026-03.csv"].status == LOADED
    assert landing.rows("select entity, status, rows_read from raw._manifest") == [("claims", "loaded", 0)]


def test_files_of_no_known_entity_are_reported_and_skipped(landing):
    landing.file("notes.txt", "hello")
    landing.file(".DS_Store", "x")
    results = landing.load()
    assert results["notes.txt"].status == SKIPPED
    assert "no known entity" in results["notes.txt"].message
    assert ".DS_Store" not in results


def test_files_are_taken_in_code_point_order(landing):
    for name in ("referrals_b.csv", "referrals_B.csv", "referrals_a.csv"):
        landing.file(name, f"{HEADER}\nR-{name},P1,2026-03-01,207RC0000X,active,2026-03-01\n")
    assert list(landing.load()) == ["referrals_B.csv", "referrals_a.csv", "referrals_b.csv"]


def test_decimals_and_integers_are_strict(landing):
    landing.file(
        "claims.csv",
        "claim_id,line_number,patient_id,rendering_npi,service_date,allowed_amount,claim_status,updated_at,paid_amount\n"
        "C1,1,P1,1234567893,2026-03-01,125.50,paid,2026-03-10,100\n"
        "C1,2,P1,1234567893,2026-03-01,\"1,250.00\",paid,2026-03-10,\n"
        "C1,x,P1,1234567893,2026-03-01,1e3,PAID,2026-03-10,\n",
    )
    landing.load()
    assert landing.rows("select line_number, allowed_amount::varchar, paid_amount::varchar from raw.claims") == [(1, "125.5000", "100.0000")]
    assert [r[0] for r in landing.rows("select reason from raw._rejects order by line_number")] == [
        "allowed_amount: not a decimal number: '1,250.00'",
        "line_number: not an integer: 'x'; allowed_amount: not a decimal number: '1e3'",
    ]


UNQUOTED_CASES = {
    "crlf, blank lines, no final newline": (
        "\ufeffReferral_ID,patient_id,created_at,requested_specialty_code,status,updated_at,Extra Col\r\n"
        "R1,P1,2026-03-01,207RC0000X,active,2026-03-01,x\r\n\r\n"
        "R2,P2,2026-03-01,207RC0000X,closed,2026-03-01T10:00Z,\r\n"
        "R3,P3,not-a-date,207RC0000X,ACTIVE,2026-03-01,\r\n"
        "\n   \n"
        "R4,P4,2026-03-01,207RC0000X,active\r\n"
        "R5,P5,2026-03-01,207RC0000X,active,2026-03-01,y,z\r\n"
        "R6,,2026-03-01,207RC0000X,active,2026-03-01,"
    ),
    "many rows": HEADER + "\n" + "".join(
        f"R{i},P{i % 7},2026-03-{1 + i % 28:02d},207RC0000X,{'active' if i % 5 else 'bogus'},2026-03-01{',x' * (i % 11 == 0)}\n"
        for i in range(1000)
    ),
    "header only, no newline": HEADER,
    "blank lines before the header": "\n\r\n" + HEADER + "\nR1,P1,2026-03-01,207RC0000X,active,2026-03-01\n",
    "non-ascii text": HEADER + "\nR1,José,2026-03-01,207RC0000X,active,2026-03-01\n" + "R2,Zoë,2026-03-01,,active,2026-03-01\n",
}


@pytest.mark.parametrize("case", list(UNQUOTED_CASES))
@pytest.mark.parametrize("block_bytes", [61, 1 << 20])
def test_unquoted_files_read_as_the_csv_module_reads_them(tmp_path, monkeypatch, case, block_bytes):
    """The fast path for files without quotes gives the same rows, rejects
    (with lines and reasons) and counts as Python's csv module, including
    when a block boundary falls inside a line or between CR and LF (61-byte
    blocks: about one line each)."""
    from pipelines.contract import ENTITIES
    from pipelines.defs.ingest import reader

    path = write(tmp_path, "referrals_x.csv.gz", UNQUOTED_CASES[case])
    monkeypatch.setattr(reader, "BLOCK_BYTES", block_bytes)
    assert reader._unquoted_blocks(path) is not None
    entity = ENTITIES["referrals"]

    def read(chunks):
        chunks = list(chunks)
        rows = pl.concat([c.rows for c in chunks]).sort("_line_number")
        rejects = pl.concat([c.rejects for c in chunks]).sort("_line_number")
        return rows, rejects, sum(c.rows_read for c in chunks), chunks[0].header

    fast = read(reader.read_extract(path, entity, chunk_rows=500))
    slow = read(reader._read_csv_module(path, entity, chunk_rows=500))
    assert fast[0].equals(slow[0]) and fast[1].equals(slow[1]), (fast, slow)
    assert fast[2:] == slow[2:]
    assert fast[2] == fast[0].height + fast[1].height


@pytest.mark.parametrize("content", [
    HEADER + '\nR1,"P1",2026-03-01,207RC0000X,active,2026-03-01\n',
    HEADER + "\nR1,P\r1,2026-03-01,207RC0000X,active,2026-03-01\n",
    HEADER + "\nR1,P\x001,2026-03-01,207RC0000X,active,2026-03-01\n",
])
def test_files_with_quotes_lone_carriage_returns_or_nul_bytes_go_through_the_csv_module(tmp_path, content):
    from pipelines.defs.ingest import reader

    assert reader._unquoted_blocks(write(tmp_path, "referrals_x.csv", content)) is None


def test_a_run_reads_only_the_files_whose_size_or_time_changed(landing, monkeypatch):
    """Checksums of files unchanged since the last run (size and modification
    time, older than that run) are not taken again; a rewritten file is read,
    and a file touched with the same content is read and stays unchanged."""
    from pipelines.defs.ingest import loader

    old = 1_700_000_000_000_000_000        # modification times well before the run
    for name, row in (("referrals_a.csv", "R1,P1"), ("referrals_b.csv", "R2,P2"), ("referrals_c.csv", "R3,P3")):
        path = landing.file(name, f"{HEADER}\n{row},2026-03-01,207RC0000X,active,2026-03-01\n")
        os.utime(path, ns=(old, old))
    landing.load()
    read = []
    monkeypatch.setattr(loader, "sha256_of", lambda path, real=loader.sha256_of: read.append(path.name) or real(path))
    assert {r.status for r in landing.load().values()} == {UNCHANGED}
    assert read == []
    landing.file("referrals_b.csv", f"{HEADER}\nR2,P2,2026-03-01,207RC0000X,revoked,2026-03-02\n")
    os.utime(landing.dir / "referrals_c.csv", ns=(old + 10**9, old + 10**9))
    lines = []
    results = landing.load(lines.append)
    assert sorted(read) == ["referrals_b.csv", "referrals_c.csv"]
    assert (results["referrals_b.csv"].status, results["referrals_c.csv"].status) == (LOADED, UNCHANGED)
    # the log names each file loaded, and the unchanged ones once, together
    assert len(lines) == 2 and lines[0].startswith("referrals_b.csv")
    assert lines[1] == "2 files unchanged since they were loaded (referrals_a.csv ... referrals_c.csv)"
    assert landing.rows("select status from raw.referrals where referral_id = 'R2'") == [("revoked",)]
    # a file modified just before the run that recorded it is read again next time (racy)
    read.clear()
    landing.load()
    assert read == ["referrals_b.csv"]
