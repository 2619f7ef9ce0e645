"""A corpus of malformed extract files, each with the exact outcome expected.

Every case lands its file next to a good file in a real DuckDB warehouse: the
bad file is rejected whole (with the reason), or its bad rows are rejected
(with line and reason), and the good file still loads. For every file,
rows read = rows loaded + rows rejected. The Hypothesis test feeds the reader
random valid and invalid rows: it never crashes and always reconciles."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from dataclasses import dataclass, field

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.ingest.loader import LOADED, REJECTED, SKIPPED, load_directory
from pipelines.defs.ingest.reader import MAX_FIELD_CHARS

H = "referral_id,patient_id,created_at,requested_specialty_code,status,updated_at"
ROW = "R{n},P{n},2026-03-01,207RC0000X,active,2026-03-02"
CLAIMS_H = "claim_id,line_number,patient_id,rendering_npi,service_date,allowed_amount,claim_status,updated_at"


MSH = "MSH|^~\\&|EPIC|CLINIC|REFLOOP|HOSP|20260302101500||REF^I12|M{n}|P|2.5.1"
RF1 = "RF1|A|R|207RC0000X^^NUCC|||R{n}|{created}"
PID = "PID|1||P{n}^^^HOSP^MR"


def ref_message(n: int, created: str = "20260301090000", rf1: bool = True, sep: str = "\r") -> str:
    segments = [MSH.format(n=n), *([RF1.format(n=n, created=created)] if rf1 else []), PID.format(n=n)]
    return sep.join(segments) + sep


def service_request(n: int, **changes) -> str:
    resource = {"resourceType": "ServiceRequest", "id": f"R{n}", "status": "active", "intent": "order",
                "subject": {"reference": f"Patient/P{n}"}, "authoredOn": "2026-03-01T09:00:00-05:00",
                "performerType": {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RC0000X"}]},
                "meta": {"lastUpdated": "2026-03-02T10:00:00-05:00"}}
    resource.update(changes)
    return json.dumps(resource)


def rows(*numbers: int, sep: str = "\n") -> str:
    return sep.join(ROW.format(n=n) for n in numbers)


def junk(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Case:
    name: str                       # the file's name
    content: bytes
    status: str                     # loaded | rejected | skipped
    message: str = ""               # rejected/skipped: the start of the reason
    loaded: int = 0                 # loaded: rows loaded
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, start of reason)


CASES = [
    # files that cannot be read as the contract: rejected whole
    Case("referrals_empty.csv", b"", REJECTED, "empty file: no header row"),
    Case("referrals_blank_lines.csv", b"\n\r\n\n", REJECTED, "empty file: no header row"),
    Case("referrals_truncated.csv.gz", gzip.compress(f"{H}\n{rows(*range(400))}\n".encode())[:150], REJECTED,
         "not a readable gzip file"),
    Case("referrals_not_gzip.csv.gz", f"{H}\n{rows(1)}\n".encode(), REJECTED, "not a readable gzip file"),
    Case("referrals_junk.csv", junk(4096), REJECTED, "not UTF-8 text"),
    Case("referrals_junk.csv.gz", gzip.compress(junk(4096)), REJECTED, "not UTF-8 text"),
    Case("referrals_zip.csv", b"PK\x03\x04" + junk(600), REJECTED, "a ZIP archive or Excel workbook, not CSV text"),
    Case("referrals_old_excel.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + junk(600), REJECTED,
         "an Excel 97-2003 workbook, not CSV text"),
    Case("referrals_utf16.csv", f"{H}\n{rows(1)}\n".encode("utf-16"), REJECTED,
         "UTF-16 text, not UTF-8; save the extract as UTF-8"),
    Case("referrals_utf16_no_bom.csv", f"{H}\n{rows(1)}\n".encode("utf-16-le"), REJECTED,
         "the header holds NUL bytes: UTF-16 or binary data, not UTF-8 text"),
    Case("referrals_latin1.csv", f"{H}\n{rows(1)}\nR2,Jos\xe9,2026-03-01,207RC0000X,active,2026-03-02\n".encode("latin-1"),
         REJECTED, "not UTF-8 text (invalid byte 0xe9 on line 3)"),
    Case("referrals_semicolon.csv", f"{H}\n{rows(1)}\n".replace(",", ";").encode(), REJECTED,
         "missing required column(s) for referrals"),
    Case("referrals_tab.csv", f"{H}\n{rows(1)}\n".replace(",", "\t").encode(), REJECTED,
         "missing required column(s) for referrals: referral_id, patient_id, created_at, requested_specialty_code, "
         "status, updated_at (the header has one column: is the file comma-separated?)"),
    Case("referrals_dup_header.csv", f"{H},Status\n{rows(1)},active\n".encode(), REJECTED,
         "duplicate column(s) in header: status"),
    Case("referrals_missing_header.csv", b"referral_id,patient_id,status\nR1,P1,active\n", REJECTED,
         "missing required column(s) for referrals: created_at, requested_specialty_code, updated_at"),
    Case("referrals_no_header.csv", f"{rows(1, 2)}\n".encode(), REJECTED, "missing required column(s) for referrals"),
    Case("referrals_claims_misnamed.csv", f"{CLAIMS_H}\nC1,1,P1,1234567893,2026-03-01,10,paid,2026-03-02\n".encode(),
         REJECTED, "missing required column(s) for referrals: referral_id, created_at, requested_specialty_code, status"),
    Case("referrals_html.csv", b"<html><body>502 Bad Gateway</body></html>\n", REJECTED,
         "missing required column(s) for referrals"),
    # files that load, with their bad rows rejected (line and reason)
    Case("referrals_header_only.csv", f"{H}\n".encode(), LOADED, loaded=0),
    Case("referrals_mixed_line_ends.csv", f"{H}\r\n{rows(1)}\n{rows(2)}\r\n{rows(3)}".encode(), LOADED, loaded=3),
    Case("referrals_bom_crlf.csv", f"\ufeff{H}\r\n{rows(1, 2, sep=chr(13) + chr(10))}\r\n".encode(), LOADED, loaded=2),
    Case("referrals_trailing_blank_lines.csv", f"{H}\n{rows(1)}\n\n\n\n".encode(), LOADED, loaded=1),
    Case("referrals_multi_member.csv.gz",
         gzip.compress(f"{H}\n{rows(1)}\n".encode()) + gzip.compress(f"{rows(2)}\n".encode()), LOADED, loaded=2),
    Case("referrals_unbalanced_quote.csv", f'{H}\n{rows(1)}\nR2,"P2,2026-03-01,207RC0000X,active,2026-03-02\n{rows(3)}\n{rows(4)}\n'.encode(),
         LOADED, loaded=1, rejects=[(3, "unbalanced quotes: a quoted field opened on line 3 runs to line 5")]),
    Case("referrals_short_and_long_rows.csv", f"{H}\nR1,P1,2026-03-01\n{rows(2)}\n{rows(3)},extra\n".encode(), LOADED,
         loaded=1, rejects=[(2, "expected 6 fields, found 3"), (4, "expected 6 fields, found 7")]),
    Case("referrals_ten_megabyte_field.csv", f"{H}\n{rows(1)}\nR2,P{'9' * 10_000_000},2026-03-01,207RC0000X,active,2026-03-02\n".encode(),
         LOADED, loaded=1, rejects=[(3, f"patient_id: value of 10000001 characters is longer than the limit of {MAX_FIELD_CHARS}")]),
    Case("referrals_nul_byte.csv", f"{H}\n{rows(1)}\nR2,P\x002,2026-03-01,207RC0000X,active,2026-03-02\n".encode(), LOADED,
         loaded=1, rejects=[(3, "patient_id: contains a NUL byte")]),
    Case("referrals_other_date_formats.csv",
         f"{H}\nR1,P1,03/01/2026,207RC0000X,active,2026-03-02\nR2,P2,01-Mar-2026,207RC0000X,active,2026-03-02\n"
         f"R3,P3,2026-02-30,207RC0000X,active,2026-03-02\nR4,P4,20260301,207RC0000X,active,2026-03-02\n{rows(5)}\n".encode(),
         LOADED, loaded=1, rejects=[(2, "created_at: not an ISO 8601 timestamp: '03/01/2026'"),
                                    (3, "created_at: not an ISO 8601 timestamp: '01-Mar-2026'"),
                                    (4, "created_at: not an ISO 8601 timestamp: '2026-02-30'"),
                                    (5, "created_at: not an ISO 8601 timestamp: '20260301'")]),
    Case("claims_thousands_separators.csv",
         f"{CLAIMS_H}\nC1,1,P1,1234567893,2026-03-01,\"1,250.00\",paid,2026-03-02\nC1,2,P1,1234567893,2026-03-01,$40,paid,2026-03-02\n"
         f"C1,3,P1,1234567893,2026-03-01,1 250,paid,2026-03-02\nC1,4,P1,1234567893,2026-03-01,40.10,paid,2026-03-02\n".encode(),
         LOADED, loaded=1, rejects=[(2, "allowed_amount: not a decimal number: '1,250.00'"),
                                    (3, "allowed_amount: not a decimal number: '$40'"),
                                    (4, "allowed_amount: not a decimal number: '1 250'")]),
    Case("referrals_bad_codes.csv", f"{H},priority\n{rows(1)},urgent\nR2,P2,2026-03-01,207RC0000X,lost,2026-03-02,\n"
         f"R3,P3,2026-03-01,207RC0000X,active,2026-03-02,whenever\n".encode(), LOADED, loaded=1,
         rejects=[(3, "status: 'lost' is not one of"), (4, "priority: 'whenever' is not one of")]),
    Case("referrals_required_empty.csv", f'{H}\n{rows(1)}\n,P2,2026-03-01,207RC0000X,active,2026-03-02\nR3,"",2026-03-01,,active,2026-03-02\n'.encode(),
         LOADED, loaded=1, rejects=[(3, "referral_id: required value missing"),
                                    (4, "patient_id: required value missing; requested_specialty_code: required value missing")]),
    Case("referrals_all_empty_row.csv", f"{H}\n,,,,,\n{rows(2)}\n".encode(), LOADED, loaded=1,
         rejects=[(2, "referral_id: required value missing")]),
    Case("referrals_same_version_twice.csv", f"{H}\n{rows(1)}\n{rows(1)}\n{rows(2)}\n".encode(), LOADED, loaded=1,
         rejects=[(2, "duplicate referral_id with the same updated_at in this file (lines 2, 3)"),
                  (3, "duplicate referral_id with the same updated_at in this file (lines 2, 3)")]),
    Case("referrals_repeated_header.csv", f"{H}\n{rows(1)}\n{H}\n{rows(2)}\n".encode(), LOADED, loaded=2,
         rejects=[(3, "created_at: not an ISO 8601 timestamp: 'created_at'")]),
    Case("referrals_quoted_newlines.csv", f'{H},note\n{rows(1)},"two\nlines"\n{rows(2)},"x"\nR3,P3,bad,207RC0000X,active,2026-03-02,\n'.encode(),
         LOADED, loaded=2, rejects=[(5, "created_at: not an ISO 8601 timestamp: 'bad'")]),
    Case("referrals_extra_columns.csv", f"{H},Favorite Color,\n{rows(1)},blue,x\n".encode(), LOADED, loaded=1),
    # FHIR that is not JSON, or not FHIR: rejected whole
    Case("ServiceRequest_xml.ndjson", b"<ServiceRequest xmlns='http://hl7.org/fhir'><id value='R1'/></ServiceRequest>\n",
         REJECTED, "line 1 is not JSON (column 1: Expecting value)"),
    Case("bundle_xml.json", b"<?xml version='1.0'?>\n<Bundle xmlns='http://hl7.org/fhir'/>", REJECTED,
         "not JSON (line 1, column 1: Expecting value)"),
    Case("ServiceRequest_truncated.ndjson", f"{service_request(1)}\n{service_request(2)[:60]}\n".encode(), REJECTED,
         "line 2 is not JSON"),
    Case("export_not_fhir.json", b'{"data": [{"id": 1}]}', REJECTED, "JSON but not a FHIR resource"),
    Case("ServiceRequest_junk.ndjson.gz", gzip.compress(junk(2048)), REJECTED, "FHIR file is not UTF-8 text"),
    # FHIR resources that cannot be rows: rejected one by one, with the resource named
    Case("ServiceRequest_bad_values.ndjson",
         "\n".join([service_request(1), service_request(2, status="lost"),
                     service_request(3, performerType=[{"coding": []}]), service_request(4, subject={})]).encode(),
         LOADED, loaded=1, rejects=[(2, "ServiceRequest/R2: status: 'lost' is not one of"),
                                    (3, "ServiceRequest/R3: not a valid ServiceRequest resource (AttributeError"),
                                    (4, "ServiceRequest/R4: patient_id: required value missing")]),
    # HL7 v2: no MSH is no message; broken segments reject their message only
    Case("ref_no_msh.hl7", b"RF1|A|R\rPID|1||P1\r", REJECTED, "no MSH segment: not an HL7 v2 message file"),
    Case("ref_broken_segments.hl7",
         (ref_message(1) + MSH.format(n=2) + "\r>>> truncated by the interface engine\r" + RF1.format(n=2, created="20260301")
          + "\r" + ref_message(3, sep="\n")).encode(),
         LOADED, loaded=2, rejects=[(4, "REF^I12 (line 4): line 5: '>>> truncated by the' is not an HL7 segment")]),
    Case("ref_missing_rf1.hl7", (ref_message(1) + ref_message(2, rf1=False)).encode(), LOADED, loaded=1,
         rejects=[(4, "REF^I12 (line 4): no RF1 segment in the message")]),
    Case("ref_bad_timestamp.hl7", (ref_message(1) + ref_message(2, created="03/01/2026")).encode(), LOADED, loaded=1,
         rejects=[(4, "REF^I12 (line 4): created_at: not an ISO 8601 timestamp: '03/01/2026'")]),
    # not an extract at all
    Case("notes_from_the_vendor.txt", b"call me", SKIPPED, "no known entity in the name"),
]


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def load(folder, warehouse):
    with duckdb.connect(str(warehouse)) as conn:
        results = {r.file_name: r for r in load_directory(conn, folder, "test-run")}
        rejects = conn.execute("select file_name, line_number, reason from raw._rejects order by 1, 2").fetchall()
        landed = conn.execute("select _file_name, count(*) from raw.referrals group by 1").fetchall()
    return results, rejects, dict(landed)


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_file_gets_its_exact_outcome_and_others_still_load(case, landing, tmp_path):
    (landing / "referrals_0_good.csv").write_text(f"{H}\n{rows(900, 901)}\n")
    (landing / case.name).write_bytes(case.content)
    results, rejects, landed = load(landing, tmp_path / "w.duckdb")

    good = results["referrals_0_good.csv"]
    assert (good.status, good.rows_loaded, good.rows_rejected) == (LOADED, 2, 0)
    result = results[case.name]
    assert result.status == case.status, result.message
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    if case.status in (REJECTED, SKIPPED):
        assert result.message.startswith(case.message), result.message
        assert result.rows_loaded == 0
        assert case.name not in landed
        return
    assert result.rows_loaded == case.loaded
    got = [(line, reason) for file_name, line, reason in rejects if file_name == case.name]
    assert len(got) == len(case.rejects) == result.rows_rejected, got
    for (line, reason), (want_line, want_reason) in zip(got, case.rejects, strict=True):
        assert line == want_line and reason.startswith(want_reason), (line, reason)


def test_a_rejected_file_is_named_with_its_reason_in_the_run_summary(landing, tmp_path):
    """The manifest keeps the reason, so `refloop run` and the quality page show it."""
    (landing / "referrals_junk.csv").write_bytes(junk(100))
    load(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        status, error = conn.execute("select status, error from raw._manifest").fetchone()
    assert status == "rejected" and error.startswith("not UTF-8 text")


# --- property-based: random valid and invalid rows -------------------------

VALID = {
    "referral_id": st.text("ABCDEFGHRX0123456789-", min_size=1, max_size=8),
    "patient_id": st.text("P0123456789", min_size=1, max_size=6),
    "created_at": st.sampled_from(["2026-03-01", "2026-03-01T10:00:00", "2026-03-01 10:00", "2026-03-01T10:00:00-05:00"]),
    "requested_specialty_code": st.sampled_from(["207RC0000X", "207N00000X", "xyz"]),
    "status": st.sampled_from(["active", "COMPLETED", "revoked", "draft", "on-hold"]),
    "updated_at": st.sampled_from(["2026-03-02", "2026-03-03T00:00:00Z"]),
}
INVALID = st.one_of(
    st.just(""), st.text(max_size=12),
    st.sampled_from(["03/01/2026", "1,000", "\"", "a\nb", "\r", "'; drop table raw.referrals; --", "\x00", "é", "🙂"]),
)
ROW_STRATEGY = st.fixed_dictionaries({k: st.one_of(v, INVALID) for k, v in VALID.items()})
EXTRA_OR_MISSING_FIELDS = st.integers(min_value=-2, max_value=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(ROW_STRATEGY, EXTRA_OR_MISSING_FIELDS, st.booleans()), max_size=25),
       crlf=st.booleans(), compress=st.booleans())
def test_reader_never_crashes_and_always_reconciles(tmp_path_factory, records, crlf, compress):
    folder = tmp_path_factory.mktemp("prop")
    landing = folder / "landing"
    landing.mkdir()
    end = "\r\n" if crlf else "\n"

    def line(fields: list[str]) -> str:
        # quote as RFC 4180 requires (a field with a comma, quote, CR or LF), then end the line our way
        one = io.StringIO()
        csv.writer(one, lineterminator="\r\n").writerow(fields)
        return one.getvalue()[:-2] + end

    buffer = io.StringIO()
    buffer.write(line(list(VALID)))
    written = 0
    for row, width_change, quote_all in records:
        fields = [row[name] for name in VALID]
        fields = fields + ["x"] * width_change if width_change > 0 else fields[:len(fields) + width_change]
        if quote_all:
            buffer.write(",".join('"' + f.replace('"', '""') + '"' for f in fields) + end)
        else:
            buffer.write(line(fields))
        written += 1
    data = buffer.getvalue().encode()
    name = "referrals_prop.csv.gz" if compress else "referrals_prop.csv"
    (landing / name).write_bytes(gzip.compress(data) if compress else data)

    results, rejects, landed = load(landing, folder / "w.duckdb")
    result = results[name]
    if result.status == REJECTED:           # e.g. a lone "\r" or NUL made the file unreadable as a whole
        assert result.message and result.rows_loaded == 0
        return
    assert result.status == LOADED
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert landed.get(name, 0) == result.rows_loaded
    assert len([r for r in rejects if r[0] == name]) == result.rows_rejected
    # a record is never invented: at most one per row written (blank rows are skipped)
    assert result.rows_read <= written
