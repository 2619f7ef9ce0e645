"""FHIR R4, HL7 v2 and CMS RIF files land as the CSV contract's entities.

The fixtures under tests/fixtures/external/ were written by others (HL7's
FHIR R4 examples, CARIN Blue Button, CMS BFD, a Synthea run; see SOURCES.md):
expected values below are what those files say, read by hand.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import tests.pipelines.test_reliability as reliability
from pipelines.contract import ENTITIES, landed_columns
from pipelines.defs.ingest.formats import CMS_RIF, CSV, FHIR, HL7V2, detect
from pipelines.defs.ingest.loader import LOADED, REJECTED, load_directory
from pipelines.generate.formats import convert_directory
from pipelines.generate.generator import GenerateOptions, generate_to
from tests.conftest import build, write

ENTITY_COLUMNS = {name: [c for c, _ in landed_columns(entity) if not c.startswith("_")]
                  for name, entity in ENTITIES.items()}

FIXTURES = Path(__file__).parents[1] / "fixtures"
EXTERNAL = FIXTURES / "external"
SYNTHEA = EXTERNAL / "synthea"


class Landed:
    """A folder of fixtures loaded into a fresh warehouse."""

    def __init__(self, folder: Path, workdir: Path):
        self.landing = workdir / "landing"
        shutil.copytree(folder, self.landing, dirs_exist_ok=True)
        for nested in [p for p in self.landing.iterdir() if p.is_dir()]:
            for path in nested.iterdir():
                path.rename(self.landing / path.name)
            nested.rmdir()
        self.path = workdir / "warehouse.duckdb"
        with duckdb.connect(str(self.path)) as conn:
            self.results = load_directory(conn, self.landing, "test-run")

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()

    def dicts(self, sql: str) -> list[dict]:
        with duckdb.connect(str(self.path), read_only=True) as conn:
            cursor = conn.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> dict[str, Landed]:
    folders = {"fhir": EXTERNAL / "fhir-r4-examples", "carin": EXTERNAL / "carin-bb", "rif": EXTERNAL / "cms-rif",
               "synthea": SYNTHEA, "hl7v2": FIXTURES / "hl7v2"}
    return {name: Landed(folder, tmp_path_factory.mktemp(name)) for name, folder in folders.items()}


# ---------------------------------------------------------------- every file reads

@pytest.mark.parametrize("name", ["fhir", "carin", "rif", "synthea", "hl7v2"])
def test_every_fixture_file_reads_and_reconciles(landed, name):
    load = landed[name]
    files = [p.name for p in load.landing.iterdir() if p.name not in ("csv-claims.csv", "csv-patients.csv")]
    results = [r for r in load.results if r.file_name in files]
    assert {r.file_name for r in results} == set(files)
    assert [r.line() for r in results if r.status != LOADED] == []
    # rows read = loaded + rejected, per file and entity, and every reject says which record and why
    assert load.rows("select count(*) from raw._manifest where rows_read != rows_loaded + rows_rejected") == [(0,)]
    for file_name, reason in load.rows("select file_name, reason from raw._rejects"):
        assert reason.split(":")[0].strip() and ": " in reason, (file_name, reason)


def test_formats_are_told_by_name_then_content():
    assert detect(EXTERNAL / "carin-bb/ExplanationOfBenefit-EOBInpatient1.json") == FHIR
    assert detect(SYNTHEA / "Jason347_Goyette777_27e4ad3f-fa03-7761-6e3f-650723ef8658.json.gz") == FHIR
    assert detect(FIXTURES / "hl7v2/siu_cr.hl7") == HL7V2
    assert detect(EXTERNAL / "cms-rif/sample-a-bcarrier.txt") == CMS_RIF
    assert detect(EXTERNAL / "cms-rif/synthea/carrier.csv") == CMS_RIF          # a .csv name, RIF content
    assert detect(EXTERNAL / "cms-rif/synthea/beneficiary_2021.csv") == CMS_RIF  # with a BOM
    assert detect(SYNTHEA / "csv-claims.csv") is None                             # Synthea's own CSV: not read


def test_files_by_content_without_a_telling_name(tmp_path):
    landing = tmp_path / "landing"
    message = (FIXTURES / "hl7v2/ref_i12_lf.hl7").read_text()
    write(landing, "feed_0301.txt", message)
    write(landing, "export_0301.dat", (EXTERNAL / "carin-bb/Patient-Patient1.json").read_text())
    assert detect(landing / "feed_0301.txt") == HL7V2
    assert detect(landing / "export_0301.dat") == FHIR
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        results = load_directory(conn, landing, "t")
    assert sorted((r.file_name, r.entity, r.source_format, r.rows_loaded) for r in results) == [
        ("export_0301.dat", "patients", FHIR, 1), ("feed_0301.txt", "referrals", HL7V2, 2)]


# ---------------------------------------------------------------- FHIR: official examples

def test_official_examples_land_what_they_hold_and_reject_what_the_contract_needs(landed):
    load = landed["fhir"]
    # Patient: birth year, sex and zip3 only; the 2 pets and the fetal record have what they have
    assert load.rows("select patient_id, birth_year, sex, zip3 from raw.patients where _file_name = 'Patient-example.json'") \
        == [("example", 1974, "male", "399")]
    assert load.rows("select count(*), count(distinct patient_id) from raw.patients") == [(22, 22)]
    # nothing of the patient beyond the contract: no names, no full birth dates
    assert load.rows("select count(*) from raw.patients where _extra is not null") == [(0,)]
    # Task: an event per Task about a ServiceRequest, from its status/businessStatus and outputs
    assert load.rows(
        "select _file_name, event_id, referral_id, event_type, occurred_at, occurred_at_utc_offset "
        "from raw.referral_events order by 1") == [
        ("Task-example1.json", "example1-accepted", "lipid", "accepted", datetime(2016, 10, 31, 9, 45, 5), "+10:00"),
        ("Task-example5.json", "example5-accepted", "lipid", "accepted", datetime(2016, 10, 31, 16, 45, 5), "+10:00"),
        ("Task-example6.json", "example6-consult_report_received", "lipid", "consult_report_received",
         datetime(2016, 10, 31, 18, 45, 5), "+10:00"),
    ]
    # the financial-management Tasks (claim cancel, poll, release...) focus on claims: not referral events
    notes = dict(load.rows("select file_name, note from raw._manifest where file_name like 'Task-fm-%'"))
    assert set(notes.values()) == {"not mapped: 1 Task not about a ServiceRequest"} and len(notes) == 6
    # These examples carry no NPIs: their claims and appointments are rejected, saying why
    reasons = dict(load.rows(
        "select file_name, min(reason) from raw._rejects where file_name in "
        "('Appointment-example.json', 'Claim-100151.json') group by file_name"))
    assert reasons == {
        "Appointment-example.json": "Appointment/example: provider_npi: required value missing",
        "Claim-100151.json": "Claim/100151: rendering_npi: required value missing",
    }
    # Claim 100150 was adjudicated by ExplanationOfBenefit EB3500: the EOB is its record
    assert load.rows("select entity, rows_read, note from raw._manifest where file_name = 'Claim-100150.json'") == [
        ("(none)", 0, "not mapped: 1 Claim adjudicated by an ExplanationOfBenefit (the EOB is read)")]
    assert load.rows("select count(*) from raw._rejects where file_name = 'ExplanationOfBenefit-EB3500.json' "
                     "and reason like 'ExplanationOfBenefit/EB3500: %'")[0][0] >= 1
    # ServiceRequests that are not referrals (lab orders, procedures) are counted, not landed
    assert load.rows("select count(*) from raw.referrals") == [(0,)]
    notes = dict(load.rows("select file_name, note from raw._manifest where file_name = 'ServiceRequest-lipid.json'"))
    assert "ServiceRequest that is not a referral" in notes["ServiceRequest-lipid.json"]


def test_unresolved_references_leave_nulls_and_are_counted(landed):
    load = landed["fhir"]
    unresolved = dict(load.rows("select file_name, sum(unresolved_references) from raw._manifest group by file_name"))
    # Task-example1's owner is Organization/1832473e-..., which has no NPI in the set
    assert unresolved["Task-example1.json"] == 1
    assert load.rows("select actor_npi from raw.referral_events where _file_name = 'Task-example1.json'") == [(None,)]
    note = load.rows("select note from raw._manifest where file_name = 'Task-example1.json'")[0][0]
    assert "Task/example1.owner -> Organization/1832473e-2fe0-452d-abe9-3cdb9879522f" in note
    assert sum(unresolved.values()) >= 20


def test_references_resolve_across_files_and_loads(tmp_path):
    landing = tmp_path / "landing"
    npi_system = "http://hl7.org/fhir/sid/us-npi"
    write(landing, "Practitioner.ndjson", "\n".join(json.dumps(r) for r in [
        {"resourceType": "Practitioner", "id": "p1", "identifier": [{"system": npi_system, "value": "1245319599"}]},
        {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": "Practitioner/p1"},
         "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RC0000X"}]}],
         "organization": {"reference": "Organization/o1"}, "period": {"start": "2025-01-01"}},
    ]) + "\n")
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        load_directory(conn, landing, "day-1")
    # the next day: an Appointment naming the role, a Bundle using urn:uuid and a contained resource
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:aaaa-1", "resource": {"resourceType": "Patient", "id": "pat-9", "gender": "female",
                                                   "birthDate": "1961-04-02", "address": [{"postalCode": "02118"}]}},
        {"fullUrl": "urn:uuid:bbbb-2", "resource": {
            "resourceType": "ServiceRequest", "id": "sr-9", "status": "active", "intent": "order",
            "subject": {"reference": "urn:uuid:aaaa-1"}, "authoredOn": "2026-03-01T10:00:00-05:00",
            "performerType": {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207RC0000X"}]},
            "requester": {"reference": "#req"},
            "contained": [{"resourceType": "Practitioner", "id": "req",
                           "identifier": [{"system": npi_system, "value": "1234567893"}]}],
            "performer": [{"reference": "PractitionerRole/r1"}]}},
        {"resource": {"resourceType": "Appointment", "id": "ap-9", "status": "booked",
                      "start": "2026-03-20T09:00:00-05:00", "created": "2026-03-02T08:00:00-05:00",
                      "basedOn": [{"reference": "urn:uuid:bbbb-2"}],
                      "participant": [{"actor": {"reference": "urn:uuid:aaaa-1"}},
                                      {"actor": {"reference": "PractitionerRole/r1"}},
                                      {"actor": {"reference": "Practitioner/nowhere"}}]}},
    ]}
    write(landing, "bundle_0302.json", json.dumps(bundle))
    with duckdb.connect(str(warehouse)) as conn:
        results = load_directory(conn, landing, "day-2")
        referral = conn.execute("select referral_id, patient_id, referring_npi, referred_to_npi, "
                                "requested_specialty_code from raw.referrals").fetchall()
        appointment = conn.execute("select appointment_id, patient_id, provider_npi, referral_id, specialty_code "
                                   "from raw.appointments").fetchall()
        providers = conn.execute("select npi, specialty_code, in_network, effective_from, organization_id "
                                 "from raw.providers").fetchall()
    assert referral == [("sr-9", "pat-9", "1234567893", "1245319599", "207RC0000X")]
    assert appointment == [("ap-9", "pat-9", "1245319599", "sr-9", "207RC0000X")]
    assert providers == [("1245319599", "207RC0000X", True, date(2025, 1, 1), "o1")]
    assert {r.status for r in results if r.file_name == "Practitioner.ndjson"} == {"unchanged"}


# ---------------------------------------------------------------- FHIR: CARIN Blue Button EOBs

# benefitpaymentstatus of each CARIN example EOB, as the files say it
CARIN_NETWORK = {
    "EOBInpatient1": "innetwork", "EOBInpatient2": "outofnetwork", "EOBOral1": "innetwork",
    "EOBOral2": "innetwork", "EOBOutpatient1": "innetwork", "EOBOutpatient2": "innetwork",
    "EOBPharmacy1": "innetwork", "EOBProfessional1": "other", "EOBProfessional2": "innetwork",
    "EOBProfessionalTransportation1": "innetwork",
}


def test_carin_lines_land_with_their_network_status(landed):
    load = landed["carin"]
    statuses = dict(load.rows(
        "select claim_id, string_agg(distinct _extra->>'network_status', ',') from raw.claims group by claim_id"))
    assert statuses == CARIN_NETWORK
    assert load.rows("select count(*) from raw.claims where claim_id = 'EOBInpatient2'") == [(13,)]


def test_carin_professional_eob_field_by_field(landed):
    rows = landed["carin"].dicts(
        "select * exclude (_extra, _run_id, _loaded_at) from raw.claims "
        "where claim_id = 'EOBProfessional2' order by line_number")
    first, second = rows[0], rows[1]
    assert first == {
        "claim_id": "EOBProfessional2", "line_number": 1, "patient_id": "Patient1",
        "rendering_npi": "1112223330",             # careTeam primary: Organization/ProviderOrganization1's NPI
        "service_date": date(2020, 8, 4), "allowed_amount": Decimal("34.8"), "claim_status": "paid",
        "updated_at": datetime(2020, 10, 20, 14, 46, 5), "rendering_specialty_code": None,
        "referring_npi": "6667778880",             # careTeam referring: Practitioner/Practitioner1's NPI
        "referral_id": None, "procedure_code": "75710", "place_of_service": "21",
        "paid_amount": Decimal("34.8"), "updated_at_utc_offset": "-04:00",
        "_file_name": "ExplanationOfBenefit-EOBProfessional2.json", "_line_number": 1,
    }
    assert (second["allowed_amount"], second["paid_amount"]) == (Decimal("-34.8"), Decimal("-34.8"))
    assert len(rows) == 6


def test_carin_header_adjudicated_claim_keeps_its_total(landed):
    load = landed["carin"]
    # EOBInpatient1: one item, no line amounts; header total submitted 2650, paid to provider 620
    assert load.rows("select line_number, allowed_amount, _extra->>'allowed_basis' from raw.claims "
                     "where claim_id = 'EOBInpatient1'") == [(1, Decimal("2650"), "header total")]
    assert load.rows("select patient_id, birth_year, sex, zip3 from raw.patients order by 1") == [
        ("Patient1", 1986, "male", "125"), ("Patient2", 1943, "male", "152")]


# ---------------------------------------------------------------- FHIR: Synthea

def test_synthea_placeholder_referrals_are_not_referrals(landed):
    load = landed["synthea"]
    assert load.rows("select count(*) from raw.referrals") == [(0,)]
    assert load.rows("select count(*) from raw.claims where referring_npi is not null or referral_id is not null") == [(0,)]
    # every Synthea EOB holds one (10 claims); each is counted in its file's note
    notes = [n for (n,) in load.rows("select note from raw._manifest where note is not null order by file_name")]
    assert ["1 placeholder referral inside a claim" in notes[0], "9 placeholder referral inside a claim" in notes[1]] \
        == [True, True]


def _synthea_csv(name: str) -> list[dict[str, str]]:
    with open(SYNTHEA / f"csv-{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_synthea_csv_and_fhir_exports_give_the_same_patients(landed):
    expected = sorted(
        (row["Id"], int(row["BIRTHDATE"][:4]), {"M": "male", "F": "female"}[row["GENDER"]], row["ZIP"][:3] or None)
        for row in _synthea_csv("patients"))
    assert len(expected) == 2
    assert landed["synthea"].rows("select patient_id, birth_year, sex, zip3 from raw.patients order by 1") == expected


def test_synthea_csv_and_fhir_exports_give_the_same_claims(landed):
    # Synthea's CSV provider ids are its Practitioner resource ids; their NPIs are in the practitioner bundle
    with gzip.open(SYNTHEA / "practitionerInformation1755855972025.json.gz") as handle:
        bundle = json.load(handle)
    npi_of = {e["resource"]["id"]: e["resource"]["identifier"][0]["value"]
              for e in bundle["entry"] if e["resource"]["resourceType"] == "Practitioner"}
    csv_claims = {row["Id"]: row for row in _synthea_csv("claims")}
    load = landed["synthea"]
    fhir_claims = {claim_id: (patient, npis, dates) for claim_id, patient, npis, dates in load.rows(
        "select claim_id, any_value(patient_id), list(distinct rendering_npi), list(distinct service_date) "
        "from raw.claims group by claim_id")}
    assert set(fhir_claims) == set(csv_claims) and len(csv_claims) == 10
    for claim_id, row in csv_claims.items():
        patient, npis, dates = fhir_claims[claim_id]
        assert patient == row["PATIENTID"]
        assert npis == [npi_of[row["PROVIDERID"]]]
        # the CSV's time is UTC; FHIR's carries the local offset: the same instant, the local date
        service = datetime.fromisoformat(row["SERVICEDATE"].replace("Z", "+00:00"))
        assert service.tzinfo == UTC
        offsets = load.rows("select distinct updated_at_utc_offset from raw.claims where claim_id = ?", [claim_id])
        (offset,), = offsets
        local = datetime.fromisoformat(service.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00")
        local = local.astimezone(datetime.strptime(offset.replace(":", ""), "%z").tzinfo)
        assert dates == [local.date()]
    # the Encounters (no Appointment in Synthea) are the attended visits
    assert load.rows("select count(*), count(distinct status) from raw.appointments") == [(9, 1)]
    assert load.rows("select distinct status from raw.appointments") == [("fulfilled",)]


def test_synthea_providers_from_the_practitioner_bundle(landed):
    assert landed["synthea"].rows("select npi, specialty_code, in_network from raw.providers order by 1") == [
        ("9999947291", "208D00000X", True), ("9999978395", "208D00000X", True),
        ("9999988592", "208D00000X", True)]


# ---------------------------------------------------------------- CMS RIF

def test_cms_carrier_line_field_by_field(landed):
    rows = landed["rif"].dicts(
        "select * exclude (_run_id, _loaded_at) from raw.claims where _file_name = 'sample-a-bcarrier.txt'")
    assert rows == [{
        "claim_id": "9991831999", "line_number": 6, "patient_id": "567834", "rendering_npi": "1923124",
        "service_date": date(1999, 10, 27), "allowed_amount": Decimal("47.84"), "claim_status": "paid",
        "updated_at": datetime(1999, 11, 6), "rendering_specialty_code": None, "referring_npi": "8765676",
        "referral_id": None, "procedure_code": "92999", "place_of_service": "11", "paid_amount": Decimal("37.5"),
        "updated_at_utc_offset": None, "_extra": '{"cms_provider_specialty":"41"}',
        "_file_name": "sample-a-bcarrier.txt", "_line_number": 2,
    }]
    note = landed["rif"].rows("select note from raw._manifest where file_name = 'sample-a-bcarrier.txt'")[0][0]
    assert "CMS provider specialty 41" in note


def test_cms_beneficiaries_and_synthea_carrier_file(landed):
    load = landed["rif"]
    assert load.rows("select patient_id, birth_year, sex, zip3 from raw.patients "
                     "where _file_name = 'sample-a-beneficiaries.txt'") == [("567834", 1981, "male", "123")]
    # the Synthea-made RIF carrier file (a .csv name): every line lands, specialties mapped to NUCC
    assert load.rows("select rows_read, rows_loaded from raw._manifest where file_name = 'carrier.csv'") == [(221, 221)]
    mapped = load.rows("select count(*) filter (where rendering_specialty_code is not null), count(*) "
                       "from raw.claims where _file_name = 'carrier.csv'")[0]
    assert mapped[0] > 0


# ---------------------------------------------------------------- HL7 v2

def test_hl7_referral_messages_field_by_field(landed):
    rows = landed["hl7v2"].dicts(
        "select * exclude (_extra, _run_id, _loaded_at) from raw.referrals where _file_name = 'ref_i12_lf.hl7' "
        "order by referral_id")
    assert rows[0] == {
        "referral_id": "R-1001", "patient_id": "MRN-7781", "created_at": datetime(2026, 3, 10, 9, 0),
        "requested_specialty_code": "207RC0000X", "status": "active", "updated_at": datetime(2026, 3, 10, 9, 15),
        "referring_npi": "1234567893", "referring_location_id": "LOC-NORTH", "referred_to_npi": "1245319599",
        "priority": "urgent", "payer_id": "BCBS", "reason_code": "I20.9", "expires_on": date(2026, 9, 8),
        "created_at_utc_offset": "-05:00", "updated_at_utc_offset": "-05:00",
        "_file_name": "ref_i12_lf.hl7", "_line_number": 1,
    }
    assert (rows[1]["referral_id"], rows[1]["status"], rows[1]["priority"], rows[1]["referred_to_npi"]) == \
        ("R-1002", "revoked", "routine", None)


def test_hl7_scheduling_messages_become_appointment_versions(landed):
    rows = landed["hl7v2"].rows(
        "select appointment_id, status, start_at, booked_at, updated_at, provider_npi, referral_id, "
        "specialty_code, location_id, cancel_reason from raw.appointments order by appointment_id, updated_at")
    assert rows == [
        ("APT-9001", "booked", datetime(2026, 4, 2, 9, 30), datetime(2026, 3, 15, 10, 15),
         datetime(2026, 3, 15, 10, 15), "1245319599", "R-1001", "207RC0000X", "CARDIO-MAIN", None),
        # S14 moves it; it keeps the S12's booking time
        ("APT-9001", "booked", datetime(2026, 4, 5, 11, 0), datetime(2026, 3, 15, 10, 15),
         datetime(2026, 3, 20, 8, 30), "1245319599", "R-1001", "207RC0000X", "CARDIO-MAIN", None),
        # S15 cancels it, without repeating the start: the previous version's is kept
        ("APT-9001", "cancelled", datetime(2026, 4, 5, 11, 0), datetime(2026, 3, 15, 10, 15),
         datetime(2026, 4, 4, 16, 0), "1245319599", "R-1001", "207RC0000X", "CARDIO-MAIN", "PATIENT"),
        # S26 no-show, provider from AIG
        ("APT-9002", "noshow", datetime(2026, 4, 12, 10, 0), datetime(2026, 4, 12, 17, 0),
         datetime(2026, 4, 12, 17, 0), "1588667638", "R-1002", None, None, None),
    ]


def test_hl7_broken_messages_are_rejected_one_by_one(landed):
    load = landed["hl7v2"]
    assert load.rows("select rows_read, rows_loaded, rows_rejected from raw._manifest "
                     "where file_name = 'ref_broken_crlf.hl7'") == [(3, 1, 2)]
    assert load.rows("select line_number, reason from raw._rejects where file_name = 'ref_broken_crlf.hl7' "
                     "order by 1") == [
        (1, "REF^I12 (line 1): line 4: 'this line is not a s' is not an HL7 segment (expected a 3-character segment id)"),
        (5, "REF^I12 (line 5): no RF1 segment in the message"),
    ]
    note = load.rows("select note from raw._manifest where file_name = 'ref_broken_crlf.hl7'")[0][0]
    assert "1 HL7 v2 ADT^A04 message" in note


# ---------------------------------------------------------------- whole files rejected

@pytest.mark.parametrize(("name", "content", "reason"), [
    ("export.ndjson", '{"resourceType": "Patient", "id": "a"}\n{"resourceType": "Patient", "id": \n',
     "line 2 is not JSON"),
    ("bundle.json", "<Bundle xmlns='http://hl7.org/fhir'></Bundle>", "not JSON (line 1, column 1"),
    ("things.json", '{"hello": "world"}', "JSON but not a FHIR resource"),
    ("feed.hl7", "PID|1||X\nRF1|A\n", "no MSH segment"),
])
def test_unreadable_files_are_rejected_whole_and_others_load(tmp_path, name, content, reason):
    landing = tmp_path / "landing"
    write(landing, name, content)
    write(landing, "patients_1.csv", "patient_id,birth_year\nP1,1970\n")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        results = {r.file_name: r for r in load_directory(conn, landing, "t")}
        manifest = conn.execute("select entity, status, error from raw._manifest where file_name = ?", [name]).fetchall()
    assert results[name].status == REJECTED and reason in results[name].message
    assert manifest == [("(none)", "rejected", results[name].message)]
    assert results["patients_1.csv"].rows_loaded == 1


# ---------------------------------------------------------------- mixed directory, same marts

def test_mixed_formats_build_the_same_marts_as_csv(tmp_path):
    csv_landing, landing = tmp_path / "csv", tmp_path / "mixed"
    generate_to(GenerateOptions(referrals=3_000, seed=5), csv_landing)
    shutil.copytree(csv_landing, landing)
    converted = convert_directory(landing)
    assert converted["hl7v2"] > 0 and converted["fhir"] > 0
    assert not list(landing.glob("referrals*.csv*")) and not list(landing.glob("appointments*.csv*"))
    reference = build(csv_landing, tmp_path / "csv.duckdb")
    mixed = build(landing, tmp_path / "mixed.duckdb")
    assert reference.summary.success and mixed.summary.success, mixed.summary.failures
    formats = dict(mixed.query("select source_format, count(distinct file_name) from raw._manifest group by 1"))
    assert formats == {CSV: len(list(landing.iterdir())) - converted["hl7v2"] - converted["fhir"],
                       HL7V2: converted["hl7v2"], FHIR: converted["fhir"]}
    # the same landed rows (lineage aside), and so the same marts
    for entity in ("referrals", "appointments"):
        columns = ", ".join(f'"{c}"' for c in ENTITY_COLUMNS[entity])
        same = f"select {columns} from raw.{entity}"
        assert sorted(reference.query(same)) == sorted(mixed.query(same))
    differences = reliability.mart_differences(reference.warehouse, mixed.warehouse,
                                               skip={"fct_extract_files", "agg_extract_rejects"})
    assert differences == {}


# ---------------------------------------------------------------- FHIR: specialty from a referral code, directory

def test_snomed_referral_codes_name_specialties_of_the_groups_table():
    groups = {row["specialty_code"] for row in csv.DictReader(
        (Path(__file__).parents[2] / "dbt_project/seeds/specialty_groups.csv").open())}
    mapping = list(csv.DictReader((Path(__file__).parents[2] / "pipelines/reference/snomed_referral_specialties.csv").open()))
    assert len(mapping) >= 40
    assert {row["specialty_code"] for row in mapping} <= groups
    assert all(row["snomed_display"].startswith(("Referral to", "Referral for")) for row in mapping)


def test_a_referral_known_by_its_snomed_code_and_a_directory_practitioner(tmp_path):
    landing = tmp_path / "landing"
    nucc, npi_system = "http://nucc.org/provider-taxonomy", "http://hl7.org/fhir/sid/us-npi"
    resources = [
        # no performerType: the specialty comes from "Referral to dermatologist"
        {"resourceType": "ServiceRequest", "id": "sr-derm", "status": "active", "intent": "order",
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "308472003"}]},
         "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-02-01", "priority": "asap",
         "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L40.0"}]}],
         "occurrencePeriod": {"end": "2026-08-01"}, "meta": {"lastUpdated": "2026-02-03T12:00:00Z"},
         "requester": {"reference": "Practitioner/doc"},
         "insurance": [{"reference": "Coverage/cov"}]},
        {"resourceType": "Coverage", "id": "cov", "payor": [{"reference": "Organization/AETNA"}]},
        # a lab order: not a referral
        {"resourceType": "ServiceRequest", "id": "sr-lab", "status": "active", "intent": "order",
         "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]}, "subject": {"reference": "Patient/p1"}},
        # a clinician with an NPI and a NUCC qualification, and no PractitionerRole
        {"resourceType": "Practitioner", "id": "doc", "active": True,
         "identifier": [{"system": npi_system, "value": "1234567893"}],
         "qualification": [{"code": {"coding": [{"system": nucc, "code": "207Q00000X"}]},
                            "period": {"start": "2024-07-01"}}]},
    ]
    write(landing, "export.ndjson", "\n".join(json.dumps(r) for r in resources))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        load_directory(conn, landing, "t")
        referral = conn.execute(
            "select referral_id, requested_specialty_code, referring_npi, priority, payer_id, reason_code, expires_on, "
            "created_at, updated_at, updated_at_utc_offset from raw.referrals").fetchall()
        providers = conn.execute("select npi, specialty_code, in_network, effective_from from raw.providers").fetchall()
        note = conn.execute("select note from raw._manifest where entity = 'providers'").fetchone()[0]
    assert referral == [("sr-derm", "207N00000X", "1234567893", "asap", "AETNA", "L40.0", date(2026, 8, 1),
                         datetime(2026, 2, 1), datetime(2026, 2, 3, 12), "Z")]
    assert providers == [("1234567893", "207Q00000X", True, date(2024, 7, 1))]
    assert "1 ServiceRequest that is not a referral" in note


def test_latin1_hl7_and_gzipped_ndjson_are_streamed(tmp_path):
    message = (FIXTURES / "hl7v2/ref_i12_lf.hl7").read_text().replace("LOC-NORTH", "CLÍNICA-NORTE")
    (landing := tmp_path / "landing").mkdir()
    (landing / "feed.hl7").write_bytes(message.encode("latin-1"))
    patients = "\n".join(json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "female",
                                     "birthDate": f"19{50 + i % 40}-01-01"}) for i in range(2500))
    write(landing, "Patient.ndjson.gz", patients + "\n")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        results = {(r.file_name, r.entity): r for r in load_directory(conn, landing, "t")}
        location = conn.execute("select referring_location_id from raw.referrals where referral_id = 'R-1001'").fetchone()
    assert location == ("CLÍNICA-NORTE",)
    assert results[("Patient.ndjson.gz", "patients")].rows_loaded == 2500


def test_an_organization_billed_under_its_own_npi_is_a_directory_row(tmp_path):
    nucc, npi_system = "http://nucc.org/provider-taxonomy", "http://hl7.org/fhir/sid/us-npi"
    orgs = [
        {"resourceType": "Organization", "id": "cardio-group", "active": True,
         "identifier": [{"system": npi_system, "value": "1112223330"}],
         "type": [{"coding": [{"system": nucc, "code": "207RC0000X"}]}]},
        # CARIN's provider organizations carry an NPI but no NUCC type: references only
        json.loads((EXTERNAL / "carin-bb/Organization-ProviderOrganization1.json").read_text()),
    ]
    write(tmp_path / "landing", "Organization.ndjson", "\n".join(json.dumps(o) for o in orgs))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        load_directory(conn, tmp_path / "landing", "t")
        rows = conn.execute("select npi, specialty_code, in_network, organization_id from raw.providers").fetchall()
    assert rows == [("1112223330", "207RC0000X", True, "cardio-group")]
