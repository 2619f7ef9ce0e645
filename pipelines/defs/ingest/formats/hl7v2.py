"""HL7 v2 referral and scheduling messages -> the contract (docs/formats/hl7v2.md).

REF^I12/I13/I14 (RF1, PRD, PID, DG1, IN1) become referral versions; SIU
S12/S13/S14/S15/S26 (SCH, AIP/AIG, AIS, AIL, PID) become appointment
versions. A file holds one or many messages; segments end with `\\r`, `\\n`
or `\\r\\n`. Each message is one row, at the line (segment number) of its MSH.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.defs.ingest.formats.common import Mapped, Tally
from pipelines.defs.ingest.reader import FileRejected, open_bytes

SEGMENT_RE = re.compile(r"^[A-Z][A-Z0-9]{2}$")
NOT_UTF8_RE = re.compile("[\udc80-\udcff]")   # bytes surrogate-escaped by the UTF-8 decoder
NUCC_RE = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
TS_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(\.\d{1,4})?)?)?([+-]\d{4})?$")

REFERRAL_STATUS = {"A": "active", "P": "active", "R": "revoked", "E": "revoked"}   # HL7 table 0283
REFERRAL_PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "U": "urgent"}       # HL7 table 0280
FILLER_STATUS = {                                                                    # HL7 table 0278
    "booked": "booked", "pending": "pending", "waitlist": "waitlist", "started": "arrived",
    "complete": "fulfilled", "cancelled": "cancelled", "dc": "cancelled", "deleted": "cancelled",
    "noshow": "noshow", "overbook": "booked",
}
TRIGGER_STATUS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled", "S26": "noshow"}


@dataclass
class Message:
    line: int                                    # line / segment number of MSH
    segments: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    component: str = "^"
    repetition: str = "~"

    def all(self, name: str) -> list[list[str]]:
        return [fields for _, fields in self.segments if fields[0] == name]

    def seg(self, name: str) -> list[str] | None:
        return next((fields for _, fields in self.segments if fields[0] == name), None)


def _field(segment: list[str] | None, number: int) -> str:
    """Field `number` of a segment (MSH counts its separator as field 1)."""
    if not segment:
        return ""
    index = number - 1 if segment[0] == "MSH" else number
    return segment[index] if 0 <= index < len(segment) else ""


def _component(value: str, message: Message, number: int = 1, repetition: int = 0) -> str:
    reps = value.split(message.repetition)
    if repetition >= len(reps):
        return ""
    parts = reps[repetition].split(message.component)
    return _unescape(parts[number - 1]) if number - 1 < len(parts) else ""


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return (value.replace("\\F\\", "|").replace("\\S\\", "^").replace("\\T\\", "&")
            .replace("\\R\\", "~").replace("\\E\\", "\\"))


def hl7_timestamp(value: str) -> str | None:
    """HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]) as ISO 8601; anything else is
    passed through so the contract's timestamp rule rejects it with its value."""
    if not value:
        return None
    match = TS_RE.match(value)
    if not match:
        return value
    y, mo, d, h, mi, s, frac, offset = match.groups()
    if h is None:
        return f"{y}-{mo}-{d}"
    out = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{frac or ''}"
    return out + (f"{offset[:3]}:{offset[3:]}" if offset else "")


def _lines(path: Path) -> Iterator[str]:
    """Segments of the file, split on `\r`, `\n` or `\r\n`, streamed. Bytes that
    are not UTF-8 are read as ISO 8859-1, line by line (v2 feeds often are)."""
    try:
        with open_bytes(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline=None)
            for line in text:
                line = line.rstrip("\n")
                if NOT_UTF8_RE.search(line):
                    line = line.encode("utf-8", "surrogateescape").decode("latin-1")
                yield line
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRejected(f"not a readable gzip file ({exc}); re-send the file") from None


def iter_messages(path: Path) -> Iterator[Message]:
    message: Message | None = None
    orphans = 0
    for number, line in enumerate(_lines(path), start=1):
        line = line.strip("\x0b\x1c")   # MLLP framing characters, when a capture kept them
        if not line.strip():
            continue
        if line.startswith("MSH"):
            if message:
                yield message
            if len(line) < 8:
                message = Message(number, problems=[f"line {number}: MSH segment too short to hold its separators"])
                continue
            separator = line[3]
            encoding = line[4:8]
            message = Message(number, component=encoding[0], repetition=encoding[1])
            message.segments.append((number, ["MSH", *line[4:].split(separator)]))
            continue
        if message is None:
            orphans += 1
            continue
        fields = line.split("|")
        if not SEGMENT_RE.match(fields[0]):
            message.problems.append(f"line {number}: '{line[:20]}' is not an HL7 segment (expected a 3-character segment id)")
            continue
        message.segments.append((number, fields))
    if message:
        yield message
    elif orphans:
        raise FileRejected("no MSH segment: not an HL7 v2 message file")
    else:
        raise FileRejected("empty file: no HL7 v2 messages")


def _provider_npi(prd_or_aip: str, message: Message) -> str | None:
    """The NPI among a provider field's repetitions: the one typed NPI, else the first id."""
    reps = prd_or_aip.split(message.repetition) if prd_or_aip else []
    for index in range(len(reps)):
        if _component(prd_or_aip, message, 5, index).upper() == "NPI" or \
                _component(prd_or_aip, message, 2, index).upper() == "NPI":
            return _component(prd_or_aip, message, 1, index) or None
    return _component(prd_or_aip, message, 1) or None


def _specialty(value: str, message: Message) -> str | None:
    """A NUCC taxonomy code given as a coded element (code^text^NUCC)."""
    first_code = _component(value, message, 1)
    system = _component(value, message, 3).upper()
    if first_code and (system in ("NUCC", "HCPTNUCC") or NUCC_RE.match(first_code)):
        return first_code
    return None


def map_message(message: Message, tally: Tally) -> Mapped | None:
    msh = message.seg("MSH")
    kind = _component(_field(msh, 9), message, 1)
    trigger = _component(_field(msh, 9), message, 2)
    label = f"{kind}^{trigger} (line {message.line})" if kind else f"message at line {message.line}"
    if not kind:   # an unreadable MSH: judge the message by what it carries
        kind = "REF" if message.seg("RF1") else "SIU" if message.seg("SCH") else ""
    if kind == "REF":
        return _referral(message, trigger, label)
    if kind == "SIU":
        return _appointment(message, trigger, label, tally)
    tally.ignored[f"HL7 v2 {kind or 'unknown'}^{trigger} message (not a referral or scheduling message)"] += 1
    return None


def _broken(message: Message, needed: str) -> str | None:
    problems = list(message.problems)
    if message.seg(needed) is None:
        problems.append(f"no {needed} segment in the message")
    return "; ".join(problems) or None


def _patient_id(message: Message) -> str | None:
    return _component(_field(message.seg("PID"), 3), message, 1) or None


def _referral(message: Message, trigger: str, label: str) -> Mapped:
    rf1 = message.seg("RF1")
    msh = message.seg("MSH")
    providers = {_component(_field(prd, 1), message, 1).upper(): prd for prd in message.all("PRD")}
    referring, referred_to = providers.get("RP"), providers.get("RT")
    status_code = _component(_field(rf1, 1), message, 1)
    status = "revoked" if trigger == "I14" else REFERRAL_STATUS.get(status_code.upper(), status_code.lower() or None)
    priority = _component(_field(rf1, 2), message, 1)
    message_time = hl7_timestamp(_field(msh, 7))
    values = {
        "referral_id": _component(_field(rf1, 6), message, 1) or _component(_field(rf1, 11), message, 1) or None,
        "patient_id": _patient_id(message),
        "created_at": hl7_timestamp(_field(rf1, 7)) or hl7_timestamp(_field(rf1, 9)) or message_time,
        "requested_specialty_code": _specialty(_field(rf1, 3), message) or _specialty(_field(rf1, 5), message),
        "status": status,
        "updated_at": message_time,
        "referring_npi": _provider_npi(_field(referring, 7), message) if referring else None,
        "referring_location_id": _component(_field(referring, 4), message, 1) or None if referring else None,
        "referred_to_npi": _provider_npi(_field(referred_to, 7), message) if referred_to else None,
        "priority": REFERRAL_PRIORITY.get(priority.upper(), priority.lower() or None),
        "payer_id": _component(_field(message.seg("IN1"), 3), message, 1) or None,
        "reason_code": _component(_field(message.seg("DG1"), 3), message, 1)
        or _component(_field(rf1, 10), message, 1) or None,
        "expires_on": (hl7_timestamp(_field(rf1, 8)) or "")[:10] or None,
    }
    return Mapped("referrals", message.line, label, values, _broken(message, "RF1"))


def _appointment(message: Message, trigger: str, label: str, tally: Tally) -> Mapped:
    sch = message.seg("SCH")
    msh = message.seg("MSH")
    aip, aig, ais, ail = (message.seg(name) for name in ("AIP", "AIG", "AIS", "AIL"))
    filler = _component(_field(sch, 25), message, 1).lower()
    status = FILLER_STATUS.get(filler) or TRIGGER_STATUS.get(trigger)
    if status is None:
        tally.ignored[f"SIU^{trigger} without a filler status"] += 1
    message_time = hl7_timestamp(_field(msh, 7))
    start = (_field(ais, 4) or _field(aip, 6) or _field(aig, 8)
             or _component(_field(sch, 11), message, 4))
    provider = _field(aip, 3) or _field(aig, 3)
    event_time = hl7_timestamp(_field(message.seg("EVN"), 6))
    values = {
        "appointment_id": _component(_field(sch, 2), message, 1) or _component(_field(sch, 1), message, 1) or None,
        "patient_id": _patient_id(message),
        "provider_npi": _provider_npi(provider, message),
        "start_at": hl7_timestamp(_component(start, message, 1)) if start else None,
        "status": status,
        # A booking time is sent only as the S12's event time; a later message
        # whose S12 is not in the same file carries its own (docs/formats/hl7v2.md).
        "booked_at": event_time or message_time,
        "updated_at": message_time,
        "referral_id": _component(_field(sch, 26), message, 1) or None,
        "specialty_code": _specialty(_field(aip, 4), message),
        "location_id": _component(_field(ail, 3), message, 1) or None,
        "cancel_reason": _component(_field(sch, 6), message, 1) or None if trigger == "S15" else None,
    }
    return Mapped("appointments", message.line, label, values, _broken(message, "SCH"))


def read(path: Path, tally: Tally) -> Iterator[Mapped]:
    booked: dict[str, str] = {}       # appointment id -> when its S12 booked it
    latest: dict[str, dict] = {}      # appointment id -> its previous version in this file
    for message in iter_messages(path):
        mapped = map_message(message, tally)
        if mapped is None:
            continue
        key = mapped.values.get("appointment_id") if mapped.entity == "appointments" else None
        if key:
            values = mapped.values
            # Later messages (S14 change, S15 cancel, S26 no-show) keep the
            # booking time of the S12 that made the appointment, and what they
            # leave out (a cancel without its start time) is the previous
            # version's, when the file has them.
            if mapped.label.startswith("SIU^S12") and key not in booked and values["booked_at"]:
                booked[key] = values["booked_at"]
            elif key in booked:
                values["booked_at"] = booked[key]
            for column, previous in latest.get(key, {}).items():
                if values.get(column) is None and column != "cancel_reason":
                    values[column] = previous
            if mapped.error is None:
                latest[key] = dict(values)
        yield mapped
