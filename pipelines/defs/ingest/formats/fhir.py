"""FHIR R4 -> the contract's entities (docs/formats/fhir.md).

Reads Bulk Data NDJSON (one resource per line, `.ndjson` or `.ndjson.gz`),
JSON Bundles (collection, transaction, searchset, batch, ...) and single
resources. References are resolved through an index of every Practitioner,
PractitionerRole, Organization, Patient, Coverage and Claim seen in this or
any earlier load (`raw._fhir_references`), so an Appointment may name a
Practitioner that arrives in another file, or on another day.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources as package_files
from pathlib import Path

import duckdb

from pipelines.defs.ingest.formats.common import Mapped, Tally, first
from pipelines.defs.ingest.reader import FileRejected, open_bytes

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEMS = ("http://nucc.org/provider-taxonomy", "urn:oid:2.16.840.1.113883.6.101")
SNOMED = "http://snomed.info/sct"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
NETWORK_STATUS_SYSTEM = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBPayerAdjudicationStatus"
PLAN_NET_NETWORK = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/network-reference"
# SNOMED "patient referral" categories: a ServiceRequest with one of them is a referral.
REFERRAL_CATEGORIES = {"3457005", "103696004", "103697008", "306206005"}
ENTITY_OF_TYPE = {
    "ServiceRequest": "referrals", "Task": "referral_events", "Appointment": "appointments",
    "Encounter": "appointments", "Claim": "claims", "ExplanationOfBenefit": "claims",
    "PractitionerRole": "providers", "Practitioner": "providers", "Organization": "providers",
    "Patient": "patients",
}
INDEXED_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Patient", "Coverage", "Claim",
                 "ExplanationOfBenefit", "ServiceRequest")

INDEX_DDL = """
create table if not exists raw._fhir_references (
    reference varchar primary key,   -- 'Practitioner/123', a fullUrl such as 'urn:uuid:...'
    resource_type varchar not null,
    resource_id varchar,
    npi varchar,
    via varchar,                     -- PractitionerRole -> its Practitioner's reference
    specialty_code varchar,
    location_id varchar,
    organization_id varchar,
    payer_id varchar,
    superseded_by varchar,           -- Claim -> the ExplanationOfBenefit that adjudicated it
    file_name varchar not null
)
"""
INDEX_COLUMNS = ("resource_type", "resource_id", "npi", "via", "specialty_code", "location_id",
                 "organization_id", "payer_id", "superseded_by", "file_name")


def _snomed_referral_map() -> dict[str, str]:
    text = package_files.files("pipelines.reference").joinpath("snomed_referral_specialties.csv").read_text()
    return {row["snomed_code"]: row["specialty_code"] for row in csv.DictReader(text.splitlines())}


SNOMED_REFERRALS = _snomed_referral_map()


# ---------------------------------------------------------------- reading

def iter_resources(path: Path) -> Iterator[tuple[int, dict, str | None]]:
    """(position, resource, fullUrl) of every top-level resource in the file.

    Position is the line for NDJSON and the entry number (1-based) for a
    Bundle; a single resource is position 1. NDJSON is streamed line by line;
    a Bundle or single resource is one JSON document, read whole.
    """
    base = path.name.lower().removesuffix(".gz")
    if base.endswith(".ndjson"):
        yield from _ndjson(path)
        return
    try:
        with open_bytes(path) as handle:
            raw = handle.read()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(f"FHIR file is not UTF-8 text (invalid byte at offset {exc.start})") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRejected(f"not a readable gzip file ({exc}); re-send the file") from None
    if not text.strip():
        raise FileRejected("empty file: no FHIR resources")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":   # several JSON objects, one per line: NDJSON without the name
            del text, raw
            yield from _ndjson(path)
            return
        raise FileRejected(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); a FHIR file "
                           "must be a JSON resource, a Bundle, or NDJSON") from None
    if not isinstance(data, dict) or "resourceType" not in data:
        raise FileRejected("JSON but not a FHIR resource: the top level has no resourceType")
    if data["resourceType"] == "Bundle":
        for number, entry in enumerate(data.get("entry") or [], start=1):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and "resourceType" in resource:
                yield number, resource, entry.get("fullUrl")
    else:
        yield 1, data, None


def _ndjson(path: Path) -> Iterator[tuple[int, dict, None]]:
    seen = False
    try:
        with open_bytes(path) as handle:
            for number, raw_line in enumerate(handle, start=1):
                try:
                    line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise FileRejected(f"FHIR file is not UTF-8 text (line {number}, invalid byte at column "
                                       f"{exc.start + 1})") from None
                if not line.strip():
                    continue
                try:
                    resource = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise FileRejected(f"line {number} is not JSON (column {exc.colno}: {exc.msg}); "
                                       "NDJSON holds one FHIR resource per line") from None
                if not isinstance(resource, dict) or "resourceType" not in resource:
                    raise FileRejected(f"line {number} is JSON but not a FHIR resource (no resourceType)")
                seen = True
                yield number, resource, None
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRejected(f"not a readable gzip file ({exc}); re-send the file") from None
    if not seen:
        raise FileRejected("empty file: no FHIR resources")


# ---------------------------------------------------------------- small helpers

def codes(concept: dict | None, systems: tuple[str, ...] | str | None = None) -> list[str]:
    if isinstance(systems, str):
        systems = (systems,)
    return [c["code"] for c in (concept or {}).get("coding") or []
            if c.get("code") and (systems is None or c.get("system") in systems)]


def code(concept: dict | None, systems=None) -> str | None:
    return next(iter(codes(concept, systems)), None)


def concepts_code(concepts: list | None, systems=None) -> str | None:
    return next((c for concept in concepts or [] for c in codes(concept, systems)), None)


def ref_key(reference: str) -> str:
    """'https://x/fhir/Practitioner/1/_history/2' -> 'Practitioner/1'; urn:uuid and '#' kept."""
    if reference.startswith(("urn:", "#")) or "?" in reference:
        return reference
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def _date(value: str | None) -> str | None:
    return value[:10] if value else None


def _amount(money: dict | None) -> str | None:
    value = (money or {}).get("value")
    return None if value is None else str(value)


def _npi_identifier(identifiers: list | None) -> str | None:
    found = first(identifiers or [], lambda i: isinstance(i, dict) and i.get("system") == NPI_SYSTEM)
    return found.get("value") if found else None


# ---------------------------------------------------------------- the reference index

@dataclass
class FhirIndex:
    """What references point at, across every FHIR file ever loaded."""

    entries: dict[str, dict] = field(default_factory=dict)
    new: dict[str, dict] = field(default_factory=dict)
    # NPIs and Practitioner references that have a PractitionerRole: the role
    # is then the directory row, not the Practitioner
    with_roles: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for entry in self.entries.values():
            self._note_role(entry)

    def _note_role(self, entry: dict) -> None:
        if entry.get("resource_type") == "PractitionerRole":
            self.with_roles.update(v for v in (entry.get("npi"), entry.get("via")) if v)

    @classmethod
    def load(cls, conn: duckdb.DuckDBPyConnection) -> FhirIndex:
        conn.execute(INDEX_DDL)
        rows = conn.execute(f"select reference, {', '.join(INDEX_COLUMNS)} from raw._fhir_references").fetchall()
        return cls({row[0]: dict(zip(INDEX_COLUMNS, row[1:], strict=True)) for row in rows})

    def save(self, conn: duckdb.DuckDBPyConnection) -> None:
        if not self.new:
            return
        rows = [(key, *(entry.get(c) for c in INDEX_COLUMNS)) for key, entry in self.new.items()]
        conn.execute("begin transaction")
        conn.executemany(
            f"insert or replace into raw._fhir_references values ({', '.join('?' * (len(INDEX_COLUMNS) + 1))})",
            rows,
        )
        conn.execute("commit")
        self.new = {}

    def _put(self, keys: list[str], entry: dict) -> None:
        for key in keys:
            merged = {**self.entries.get(key, {}), **{k: v for k, v in entry.items() if v is not None}}
            self.entries[key] = merged
            self.new[key] = merged
            self._note_role(merged)

    def add_file(self, path: Path) -> None:
        """Index the resources of one file; a file that cannot be read is left
        for the load to report."""
        try:
            for _, resource, full_url in iter_resources(path):
                self.add(resource, full_url, path.name)
        except FileRejected:
            return

    def add(self, resource: dict, full_url: str | None, file_name: str) -> None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if kind not in INDEXED_TYPES or not rid:
            return
        keys = [f"{kind}/{rid}"] + ([full_url] if full_url else [])
        entry: dict = {"resource_type": kind, "resource_id": rid, "file_name": file_name}
        if kind in ("Practitioner", "Organization"):
            entry["npi"] = _npi_identifier(resource.get("identifier"))
        elif kind == "PractitionerRole":
            practitioner = resource.get("practitioner") or {}
            entry["npi"] = _npi_identifier([practitioner.get("identifier")]) or self._contained_npi(resource, practitioner)
            if practitioner.get("reference") and not practitioner["reference"].startswith("#"):
                entry["via"] = ref_key(practitioner["reference"])
            entry["specialty_code"] = concepts_code(resource.get("specialty"), NUCC_SYSTEMS) or concepts_code(
                resource.get("code"), NUCC_SYSTEMS)
            entry["location_id"] = _reference_id(first(resource.get("location") or []))
            entry["organization_id"] = _reference_id(resource.get("organization"))
        elif kind == "Coverage":
            entry["payer_id"] = _reference_id(first(resource.get("payor") or []))
        elif kind == "ExplanationOfBenefit":
            claim = (resource.get("claim") or {}).get("reference")
            if claim and not claim.startswith("#"):
                claim_id = claim.removeprefix("urn:uuid:") if claim.startswith("urn:") else ref_key(claim).split("/")[-1]
                self._put([f"Claim/{claim_id}"], {"resource_type": "Claim", "resource_id": claim_id,
                                                  "superseded_by": f"{kind}/{rid}", "file_name": file_name})
            return
        self._put(keys, entry)

    @staticmethod
    def _contained_npi(resource: dict, refobj: dict) -> str | None:
        ref = refobj.get("reference") or ""
        if ref.startswith("#"):
            contained = _contained(resource, ref)
            if contained:
                return _npi_identifier(contained.get("identifier"))
        return None

    def lookup(self, reference: str) -> dict | None:
        entry = self.entries.get(reference) or self.entries.get(ref_key(reference))
        if entry and not entry.get("npi") and entry.get("via"):
            target = self.entries.get(entry["via"])
            if target and target.get("npi"):
                entry = {**entry, "npi": target["npi"]}
        return entry


def _shown_reference(reference: str | None) -> str:
    """A reference as told in notes and logs: never a display text (it may be
    a name) and never a Patient's id."""
    if not reference:
        return "no reference (display text only)"
    key = ref_key(reference)
    return "Patient/..." if key.startswith("Patient/") or "Patient?" in reference else reference


def _contained(resource: dict, reference: str) -> dict | None:
    wanted = reference.lstrip("#")
    return first(resource.get("contained") or [], lambda r: isinstance(r, dict) and r.get("id") == wanted)


def _reference_id(refobj: dict | None) -> str | None:
    """An id for a reference: the referenced resource's id, else its identifier."""
    if not refobj:
        return None
    ref = refobj.get("reference")
    if ref:
        if "?identifier=" in ref:
            return ref.split("|")[-1]
        if ref.startswith("urn:uuid:"):
            return ref.removeprefix("urn:uuid:")
        return ref_key(ref).split("/")[-1].lstrip("#")
    identifier = refobj.get("identifier")
    return identifier.get("value") if isinstance(identifier, dict) else None


# ---------------------------------------------------------------- mapping

class FhirMapper:
    """Maps the resources of one file; shares the index with the whole load."""

    def __init__(self, index: FhirIndex, tally: Tally):
        self.index = index
        self.tally = tally

    # ---- references
    def npi(self, refobj: dict | None, container: dict, where: str) -> str | None:
        if not refobj:
            return None
        direct = _npi_identifier([refobj.get("identifier")])
        if direct:
            return direct
        ref = refobj.get("reference")
        if ref and "?identifier=" in ref:
            system, _, value = ref.split("?identifier=", 1)[1].partition("|")
            if system == NPI_SYSTEM and value:
                return value
        elif ref and ref.startswith("#"):
            contained = _contained(container, ref)
            if contained is not None:
                if contained.get("resourceType") == "PractitionerRole":
                    return self.npi(contained.get("practitioner"), container, where)
                found = _npi_identifier(contained.get("identifier"))
                if found:
                    return found
        elif ref:
            entry = self.index.lookup(ref)
            if entry and entry.get("npi"):
                return entry["npi"]
        self.tally.unresolved_reference(f"{where} -> {_shown_reference(ref)}")
        return None

    def entry(self, refobj: dict | None) -> dict:
        ref = (refobj or {}).get("reference")
        return (self.index.lookup(ref) or {}) if ref and not ref.startswith("#") else {}

    def resource_id(self, refobj: dict | None, where: str) -> str | None:
        """The id of a referenced Patient/ServiceRequest/...; a urn:uuid fullUrl
        is resolved to the resource's own id when the index knows it."""
        if not refobj:
            return None
        ref = refobj.get("reference") or ""
        if ref.startswith("urn:"):
            entry = self.index.lookup(ref)
            return entry["resource_id"] if entry else ref.removeprefix("urn:uuid:")
        found = _reference_id(refobj)
        if not found:
            self.tally.unresolved_reference(f"{where} -> {_shown_reference(ref)}")
        return found

    # ---- resources
    def map(self, position: int, resource: dict) -> list[Mapped]:
        kind = resource.get("resourceType")
        # a Patient's id is PHI: its rows are told by position, never by id
        label = f"Patient (entry {position})" if kind == "Patient" else f"{kind}/{resource.get('id')}"
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            if kind != "Coverage":
                self.tally.ignored[f"{kind} (not mapped)"] += 1
            return []
        try:
            return [Mapped(entity, position, label, values) for entity, values in handler(resource, label)]
        except (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError) as exc:
            # A resource shaped against the specification (a list where one value
            # belongs, a number as text...) is rejected alone, never the file.
            return [Mapped(ENTITY_OF_TYPE[kind], position, label, {},
                           f"not a valid {kind} resource ({type(exc).__name__}: {str(exc)[:80]})")]

    def _ServiceRequest(self, sr: dict, label: str):
        specialty = code(sr.get("performerType"), NUCC_SYSTEMS)
        if specialty is None:
            specialty = next((SNOMED_REFERRALS[c] for c in codes(sr.get("code"), SNOMED) if c in SNOMED_REFERRALS), None)
        categories = {c for concept in sr.get("category") or [] for c in codes(concept, SNOMED)}
        if specialty is None and not categories & REFERRAL_CATEGORIES and not sr.get("performerType"):
            self.tally.ignored["ServiceRequest that is not a referral (no referral category, specialty or referral code)"] += 1
            return []
        requester = self.npi(sr.get("requester"), sr, f"{label}.requester")
        performer = self.npi(first(sr.get("performer") or []), sr, f"{label}.performer")
        if requester and requester == performer:
            self.tally.ignored["ServiceRequest placeholder (requester and performer the same clinician)"] += 1
            return []
        requester_entry = self.entry(sr.get("requester"))
        coverage = first(sr.get("insurance") or [])
        payer = None
        if coverage:
            ref = coverage.get("reference") or ""
            contained = _contained(sr, ref) if ref.startswith("#") else None
            payer = _reference_id(first(contained.get("payor") or [])) if contained else self.entry(coverage).get("payer_id")
        meta = sr.get("meta") or {}
        yield "referrals", {
            "referral_id": sr.get("id"),
            "patient_id": self.resource_id(sr.get("subject"), f"{label}.subject"),
            "created_at": sr.get("authoredOn"),
            "requested_specialty_code": specialty,
            "status": sr.get("status"),
            "updated_at": meta.get("lastUpdated") or sr.get("authoredOn"),
            "referring_npi": requester,
            "referring_location_id": requester_entry.get("location_id"),
            "referred_to_npi": performer,
            "priority": sr.get("priority"),
            "payer_id": payer,
            "reason_code": concepts_code(sr.get("reasonCode"), ICD10_SYSTEMS),
            "expires_on": _date((sr.get("occurrencePeriod") or {}).get("end")),
        }

    TASK_EVENTS = {"requested": "sent", "received": "received", "accepted": "accepted",
                   "rejected": "declined", "in-progress": "accepted"}

    def _is_service_request(self, refobj: dict | None) -> bool:
        ref = (refobj or {}).get("reference") or ""
        if ref.startswith("urn:"):
            return (self.index.lookup(ref) or {}).get("resource_type") == "ServiceRequest"
        return bool(ref) and ref_key(ref).split("/")[0] == "ServiceRequest"

    def _Task(self, task: dict, label: str):
        # A referral's workflow Task is about its ServiceRequest; other Tasks
        # (claim processing, lab fulfilment without a request) are not events here.
        focus = first([task.get("focus"), *(task.get("basedOn") or [])], self._is_service_request)
        if focus is None:
            self.tally.ignored["Task not about a ServiceRequest"] += 1
            return []
        referral = self.resource_id(focus, f"{label}.focus")
        business = (task.get("businessStatus") or {})
        business_words = [w.lower().replace(" ", "_") for w in [business.get("text"), *codes(business)] if w]
        event = next((w for w in business_words if w in (*self.TASK_EVENTS.values(), "consult_report_received")), None)
        if event is None:
            if task.get("status") == "completed":
                event = "consult_report_received" if task.get("output") else None
            else:
                event = self.TASK_EVENTS.get(task.get("status"))
        if event is None:
            self.tally.ignored[f"Task with status {task.get('status')!r} (no referral event)"] += 1
            return []
        actor = task.get("requester") if event == "sent" else task.get("owner")
        yield "referral_events", {
            "event_id": f"{task.get('id')}-{event}",
            "referral_id": referral,
            "event_type": event,
            "occurred_at": task.get("lastModified") or (task.get("meta") or {}).get("lastUpdated") or task.get("authoredOn"),
            "actor_npi": self.npi(actor, task, f"{label}.{'requester' if event == 'sent' else 'owner'}") if actor else None,
        }

    def _Appointment(self, appt: dict, label: str):
        patient = provider = location = None
        specialty = code(first(appt.get("specialty") or []), NUCC_SYSTEMS)
        for participant in appt.get("participant") or []:
            actor = participant.get("actor") or {}
            ref = actor.get("reference") or ""
            kind = ref_key(ref).split("/")[0] if ref and not ref.startswith("urn:") else (
                (self.index.lookup(ref) or {}).get("resource_type") if ref else actor.get("type"))
            if kind == "Patient" and patient is None:
                patient = self.resource_id(actor, f"{label}.participant")
            elif kind in ("Practitioner", "PractitionerRole") and provider is None:
                provider = self.npi(actor, appt, f"{label}.participant")
                specialty = specialty or self.entry(actor).get("specialty_code")
            elif kind == "Location" and location is None:
                location = _reference_id(actor)
        based_on = first(appt.get("basedOn") or [])
        reason = appt.get("cancelationReason")
        meta = appt.get("meta") or {}
        yield "appointments", {
            "appointment_id": appt.get("id"),
            "patient_id": patient,
            "provider_npi": provider,
            "start_at": appt.get("start"),
            "status": appt.get("status"),
            "booked_at": appt.get("created"),
            "updated_at": meta.get("lastUpdated") or appt.get("created"),
            "referral_id": self.resource_id(based_on, f"{label}.basedOn") if based_on else None,
            "specialty_code": specialty,
            "location_id": location,
            "cancel_reason": (code(reason) or (reason or {}).get("text")) if reason else None,
        }

    ENCOUNTER_STATUS = {"planned": "booked", "arrived": "arrived", "triaged": "arrived", "in-progress": "arrived",
                        "onleave": "arrived", "finished": "fulfilled", "cancelled": "cancelled",
                        "entered-in-error": "entered-in-error"}

    def _Encounter(self, enc: dict, label: str):
        if enc.get("appointment"):
            self.tally.ignored["Encounter with an Appointment (the Appointment is the visit)"] += 1
            return []
        status = self.ENCOUNTER_STATUS.get(enc.get("status"))
        if status is None:
            self.tally.ignored[f"Encounter with status {enc.get('status')!r}"] += 1
            return []
        participant = first(enc.get("participant") or [], lambda p: p.get("individual"))
        provider = self.npi(participant["individual"], enc, f"{label}.participant") if participant else None
        period = enc.get("period") or {}
        based_on = first(enc.get("basedOn") or [])
        meta = enc.get("meta") or {}
        yield "appointments", {
            "appointment_id": f"encounter-{enc.get('id')}",
            "patient_id": self.resource_id(enc.get("subject"), f"{label}.subject"),
            "provider_npi": provider,
            "start_at": period.get("start"),
            "status": status,
            "booked_at": period.get("start"),
            "updated_at": meta.get("lastUpdated") or period.get("end") or period.get("start"),
            "referral_id": self.resource_id(based_on, f"{label}.basedOn") if based_on else None,
            "specialty_code": self.entry(participant["individual"]).get("specialty_code") if participant else None,
            "location_id": _reference_id((first(enc.get("location") or []) or {}).get("location")),
            "cancel_reason": None,
        }

    RENDERING_ROLES = ("rendering", "performing", "primary", "attending", "supervisor")

    def _Claim(self, claim: dict, label: str):
        superseded = (self.index.lookup(f"Claim/{claim.get('id')}") or {}).get("superseded_by")
        if superseded:
            self.tally.ignored["Claim adjudicated by an ExplanationOfBenefit (the EOB is read)"] += 1
            return []
        yield from self._claim_lines(claim, label, claim.get("id"))

    def _ExplanationOfBenefit(self, eob: dict, label: str):
        claim_ref = (eob.get("claim") or {}).get("reference") or ""
        claim_id = None
        if claim_ref and not claim_ref.startswith("#"):
            claim_id = self.resource_id(eob.get("claim"), f"{label}.claim")
        yield from self._claim_lines(eob, label, claim_id or eob.get("id"))

    def _claim_lines(self, claim: dict, label: str, claim_id: str | None):
        care_team = {ct.get("sequence"): ct for ct in claim.get("careTeam") or []}

        def role(ct: dict) -> str | None:
            return code(ct.get("role"))

        def by_roles(members, roles):
            return next((ct for r in roles for ct in members if role(ct) == r), None)

        header_rendering = by_roles(care_team.values(), self.RENDERING_ROLES)
        referring_ct = by_roles(care_team.values(), ("referring",))
        referring = self.npi(referring_ct["provider"], claim, f"{label}.careTeam(referring)") if referring_ct else None
        referral_id = None
        referral = claim.get("referral")
        if referral and (referral.get("reference") or "").startswith("#"):
            contained = _contained(claim, referral["reference"]) or {}
            requester = self.npi(contained.get("requester"), claim, f"{label}.referral.requester")
            performer = self.npi(first(contained.get("performer") or []), claim, f"{label}.referral.performer")
            if requester and requester != performer:
                referring = referring or requester   # a real referral held inside the claim
            else:
                self.tally.ignored["placeholder referral inside a claim (requester and performer the same clinician)"] += 1
        elif referral:
            referral_id = self.resource_id(referral, f"{label}.referral")
        status = claim.get("status")
        header_network = _network_status(claim.get("adjudication"))
        meta = claim.get("meta") or {}
        items = claim.get("item") or []
        allowed = _line_allowed(claim, items)
        for item, (allowed_amount, allowed_basis) in zip(items, allowed, strict=True):
            members = [care_team[s] for s in item.get("careTeamSequence") or [] if s in care_team]
            rendering_ct = by_roles(members, self.RENDERING_ROLES) or first(members) or header_rendering
            rendering_ref = rendering_ct["provider"] if rendering_ct else claim.get("provider")
            amounts = _adjudication_amounts(item.get("adjudication"))
            denied = any(code(a.get("category")) == "denialreason" for a in item.get("adjudication") or [])
            line_status = ("reversed" if status in ("cancelled", "entered-in-error")
                           else "denied" if denied or claim.get("outcome") == "error" else "paid")
            period = item.get("servicedPeriod") or {}
            billable = claim.get("billablePeriod") or {}
            specialty = (code(rendering_ct.get("qualification"), NUCC_SYSTEMS) if rendering_ct else None) or \
                self.entry(rendering_ref).get("specialty_code")
            yield "claims", {
                "claim_id": claim_id,
                "line_number": str(item.get("sequence")) if item.get("sequence") is not None else None,
                "patient_id": self.resource_id(claim.get("patient"), f"{label}.patient"),
                "rendering_npi": self.npi(rendering_ref, claim, f"{label}.item[{item.get('sequence')}] rendering"),
                "service_date": _date(item.get("servicedDate") or period.get("start") or billable.get("start")
                                      or claim.get("created")),
                "allowed_amount": allowed_amount,
                "claim_status": line_status,
                "updated_at": meta.get("lastUpdated") or claim.get("created"),
                "rendering_specialty_code": specialty,
                "referring_npi": referring,
                "referral_id": referral_id,
                "procedure_code": code(item.get("productOrService")),
                "place_of_service": code(item.get("locationCodeableConcept")),
                "paid_amount": amounts.get("benefit") or amounts.get("paidtoprovider") or amounts.get("line_prvdr_pmt_amt"),
                "network_status": _network_status(item.get("adjudication")) or header_network,
                "allowed_basis": allowed_basis,
                "source_resource": label,
            }

    def _Practitioner(self, practitioner: dict, label: str):
        """A directory row from a Practitioner with an NPI and a NUCC
        qualification, when no PractitionerRole describes the same clinician."""
        npi = _npi_identifier(practitioner.get("identifier"))
        qualification = first(practitioner.get("qualification") or [],
                              lambda q: code(q.get("code"), NUCC_SYSTEMS) is not None)
        if npi in self.index.with_roles or f"Practitioner/{practitioner.get('id')}" in self.index.with_roles:
            self.tally.ignored["Practitioner described by a PractitionerRole (the role is the directory row)"] += 1
            return
        if not npi or qualification is None:
            self.tally.ignored["Practitioner without an NPI and a NUCC qualification (used for references only)"] += 1
            return
        period = qualification.get("period") or {}
        yield "providers", {
            "npi": npi,
            "specialty_code": code(qualification.get("code"), NUCC_SYSTEMS),
            "in_network": "false" if practitioner.get("active") is False else "true",
            "effective_from": _date(period.get("start")) or "1900-01-01",
            "effective_to": _date(period.get("end")),
            "organization_id": None,
            "accepting_new_patients": None,
            "zip3": None,
        }

    def _Organization(self, org: dict, label: str):
        """A directory row for a group or facility billed under its own NPI,
        when its `type` carries a NUCC code; otherwise it only resolves references."""
        npi = _npi_identifier(org.get("identifier"))
        specialty = concepts_code(org.get("type"), NUCC_SYSTEMS)
        if not npi or not specialty:
            return
        yield "providers", {
            "npi": npi,
            "specialty_code": specialty,
            "in_network": "false" if org.get("active") is False else "true",
            "effective_from": "1900-01-01",
            "effective_to": None,
            "organization_id": org.get("id"),
            "accepting_new_patients": None,
            "zip3": None,
        }

    def _PractitionerRole(self, role: dict, label: str):
        entry = self.index.lookup(f"PractitionerRole/{role.get('id')}") or {}
        npi = entry.get("npi") or self.npi(role.get("practitioner"), role, f"{label}.practitioner")
        period = role.get("period") or {}
        networks = [e for e in role.get("extension") or [] if e.get("url") == PLAN_NET_NETWORK]
        yield "providers", {
            "npi": npi,
            "specialty_code": entry.get("specialty_code") or concepts_code(role.get("specialty"), NUCC_SYSTEMS),
            # A role in the health system's own directory export is in network
            # unless it is inactive; a Plan-Net network reference says so too.
            "in_network": "true" if networks or role.get("active", True) else "false",
            "effective_from": _date(period.get("start")) or "1900-01-01",
            "effective_to": _date(period.get("end")),
            "organization_id": _reference_id(role.get("organization")),
            "accepting_new_patients": None,
            "zip3": None,
        }

    def _Patient(self, patient: dict, label: str):
        address = first(patient.get("address") or [], lambda a: a.get("use") in (None, "home")) or {}
        postal = address.get("postalCode") or ""
        yield "patients", {
            "patient_id": patient.get("id"),
            "birth_year": (patient.get("birthDate") or "")[:4] or None,
            "sex": patient.get("gender"),
            "zip3": postal[:3] if len(postal) >= 3 and postal[:3].isdigit() else None,
            "payer_id": None,
        }


def _adjudication_amounts(adjudication: list | None) -> dict[str, str]:
    """Adjudication amounts by category code; Blue Button's URL codes
    (`.../variables/line_alowd_chrg_amt`) are keyed by their last part."""
    amounts: dict[str, str] = {}
    for item in adjudication or []:
        value = _amount(item.get("amount"))
        for category in codes(item.get("category")):
            if value is not None:
                amounts.setdefault(category.rsplit("/", 1)[-1], value)
    return amounts


ALLOWED_CATEGORIES = ("eligible", "line_alowd_chrg_amt", "submitted", "line_sbmtd_chrg_amt")


def _item_allowed(item: dict) -> tuple[str | None, str | None]:
    amounts = _adjudication_amounts(item.get("adjudication"))
    for category in ALLOWED_CATEGORIES:
        if amounts.get(category) is not None:
            return amounts[category], category
    net = _amount(item.get("net"))
    return (net, "net") if net is not None else (None, None)


def _line_allowed(claim: dict, items: list) -> list[tuple[str | None, str | None]]:
    """(allowed amount, where it came from) per item.

    An item's own allowed amount (`eligible`, Blue Button's allowed charge), else
    its submitted charge, else its `net`. Institutional claims are often
    adjudicated on the header only: then the header total (eligible, else
    submitted) less the items' amounts goes on the first item without an
    amount and 0 on the others, so the lines add up to the claim.
    """
    found = [_item_allowed(item) for item in items]
    total = claim.get("total")
    if isinstance(total, dict):        # Claim.total is one Money: the amount claimed
        header_total = _amount(total)
    else:                              # ExplanationOfBenefit.total: amounts by category
        header = _adjudication_amounts(total)
        header_total = next((header[c] for c in ALLOWED_CATEGORIES if header.get(c) is not None), None)
    if header_total is None:
        return found
    rest = Decimal(header_total) - sum((Decimal(v) for v, _ in found if v is not None), Decimal(0))
    out, placed = [], False
    for value, basis in found:
        if value is None:
            value, basis = (str(max(rest, Decimal(0))), "header total") if not placed else ("0", "header total (on another line)")
            placed = True
        out.append((value, basis))
    return out


def _network_status(adjudication: list | None) -> str | None:
    for item in adjudication or []:
        if code(item.get("category")) == "benefitpaymentstatus":
            return code(item.get("reason"), NETWORK_STATUS_SYSTEM)
    return None


def read(path: Path, index: FhirIndex, tally: Tally) -> Iterator[Mapped]:
    mapper = FhirMapper(index, tally)
    for position, resource, _ in iter_resources(path):
        yield from mapper.map(position, resource)
