"""Write generated extracts in the formats health systems export.

`refloop generate --formats mixed` uses this to send referrals as HL7 v2
REF^I12 messages and appointments as FHIR R4 Appointment NDJSON, the rest as
CSV: the same records, so the warehouse built from them equals the one built
from the CSV set (a test holds the project to that).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from pipelines.contract import entity_of
from pipelines.defs.ingest.formats.fhir import NPI_SYSTEM, NUCC_SYSTEMS

NUCC_SYSTEM = NUCC_SYSTEMS[0]
HL7_PRIORITY = {"routine": "R", "urgent": "U", "asap": "A", "stat": "S"}
HL7_STATUS = {"active": "A", "revoked": "R"}   # other statuses are sent as their FHIR word


def _rows(path: Path) -> Iterator[dict[str, str]]:
    raw = gzip.open(path, "rt", newline="") if path.name.endswith(".gz") else open(path, newline="")
    with raw as handle:
        yield from csv.DictReader(handle)


def _escape(value: str) -> str:
    return (value.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
            .replace("&", "\\T\\").replace("~", "\\R\\"))


def hl7_ts(value: str) -> str:
    """ISO 8601 ('2026-03-10T09:00:00-05:00', '2026-03-10') as HL7 DTM."""
    if not value:
        return ""
    day, _, rest = value.replace(" ", "T").partition("T")
    out = day.replace("-", "")
    if not rest:
        return out
    offset = ""
    for sign in ("+", "-", "Z"):
        if sign in rest:
            rest, _, tail = rest.partition(sign)
            offset = "+0000" if sign == "Z" else sign + tail.replace(":", "")
            break
    clock, _, fraction = rest.partition(".")
    return out + clock.replace(":", "") + (f".{fraction[:4]}" if fraction else "") + offset


def referral_message(row: dict[str, str], number: int) -> str:
    e = {k: _escape(v or "") for k, v in row.items()}
    segments = [
        f"MSH|^~\\&|REFLOOP-GEN|CLINIC|REFLOOP|HEALTHSYS|{hl7_ts(row['updated_at'])}||REF^I12^REF_I12|"
        f"GEN{number:09d}|P|2.5.1",
        f"RF1|{HL7_STATUS.get(row['status'], e['status'])}|{HL7_PRIORITY.get(row['priority'], e['priority'])}|"
        f"{e['requested_specialty_code']}^^NUCC|||{e['referral_id']}|{hl7_ts(row['created_at'])}|"
        f"{hl7_ts(row['expires_on'])}",
        f"PRD|RP|||{e['referring_location_id']}|||{e['referring_npi'] + '^NPI' if row['referring_npi'] else ''}",
    ]
    if row["referred_to_npi"]:
        segments.append(f"PRD|RT||||||{e['referred_to_npi']}^NPI")
    segments.append(f"PID|1||{e['patient_id']}")
    if row["reason_code"]:
        segments.append(f"DG1|1||{e['reason_code']}")
    if row["payer_id"]:
        segments.append(f"IN1|1||{e['payer_id']}")
    return "\r".join(segments) + "\r"


def appointment_resource(row: dict[str, str]) -> dict:
    participants = [{"actor": {"reference": f"Patient/{row['patient_id']}"}, "status": "accepted"}]
    if row["provider_npi"]:
        participants.append({"actor": {"type": "Practitioner",
                                       "identifier": {"system": NPI_SYSTEM, "value": row["provider_npi"]}},
                             "status": "accepted"})
    if row["location_id"]:
        participants.append({"actor": {"reference": f"Location/{row['location_id']}"}, "status": "accepted"})
    resource = {
        "resourceType": "Appointment",
        "id": row["appointment_id"],
        "meta": {"lastUpdated": row["updated_at"]},
        "status": row["status"],
        "start": row["start_at"],
        "created": row["booked_at"],
        "participant": participants,
    }
    if row["referral_id"]:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{row['referral_id']}"}]
    if row["specialty_code"]:
        resource["specialty"] = [{"coding": [{"system": NUCC_SYSTEM, "code": row["specialty_code"]}]}]
    if row["cancel_reason"]:
        resource["cancelationReason"] = {"text": row["cancel_reason"]}
    return resource


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name


def convert_directory(directory: Path) -> dict[str, int]:
    """Rewrite, in place, referral extracts as HL7 v2 (`.hl7`) and appointment
    extracts as FHIR NDJSON (`.ndjson`); returns files converted per format."""
    converted = {"hl7v2": 0, "fhir": 0}
    for path in sorted(directory.iterdir()):
        entity = entity_of(path.name)
        if entity == "referrals":
            text = io.StringIO()
            for number, row in enumerate(_rows(path), start=1):
                text.write(referral_message(row, number))
                text.write("\n")
            (directory / f"{_stem(path)}.hl7").write_text(text.getvalue(), newline="")
            converted["hl7v2"] += 1
        elif entity == "appointments":
            lines = [json.dumps(appointment_resource(row), separators=(",", ":")) for row in _rows(path)]
            (directory / f"{_stem(path)}.ndjson").write_text("\n".join(lines) + "\n")
            converted["fhir"] += 1
        else:
            continue
        path.unlink()
    return converted
