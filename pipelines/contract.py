"""The CSV extract contract (`docs/extracts.md`), as data.

One place says which entities exist, their columns, types, required columns,
value sets and keys. The reader validates against it, the generator writes it,
and the landed `raw.*` tables and dbt sources are shaped by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STR, INT, DECIMAL, BOOL, DATE, TIMESTAMP = "str", "int", "decimal", "bool", "date", "timestamp"

# DuckDB types of the landed columns.
DUCKDB_TYPES = {
    STR: "varchar",
    INT: "bigint",
    DECIMAL: "decimal(18, 4)",
    BOOL: "boolean",
    DATE: "date",
    TIMESTAMP: "timestamp",
}

REFERRAL_STATUSES = (
    "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
)
APPOINTMENT_STATUSES = (
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
)
PRIORITIES = ("routine", "urgent", "asap", "stat")
EVENT_TYPES = ("sent", "received", "accepted", "declined", "consult_report_received")
CLAIM_STATUSES = ("paid", "denied", "reversed")
SEXES = ("female", "male", "other", "unknown")
CHANNELS = ("sms", "email", "ivr", "phone", "portal")
PURPOSES = ("intake", "eligibility", "scheduling", "reminder", "concierge")
ENGAGEMENT_OUTCOMES = ("delivered", "responded", "scheduled", "no_answer", "failed")
SLOT_STATUSES = ("free", "busy")


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STR
    required: bool = False
    # A code column is matched case-insensitively and stored lower-case.
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]
    # Natural key; empty for entities that are never de-duplicated (slots).
    key: tuple[str, ...] = ()
    # True when the entity has `updated_at` (latest version wins).
    versioned: bool = False
    description: str = ""
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == TIMESTAMP)


def _c(name: str, type_: str = STR, required: bool = False, values=None) -> Column:
    return Column(name, type_, required, values)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "referrals",
            (
                _c("referral_id", required=True),
                _c("patient_id", required=True),
                _c("created_at", TIMESTAMP, True),
                _c("requested_specialty_code", required=True),
                _c("status", required=True, values=REFERRAL_STATUSES),
                _c("updated_at", TIMESTAMP, True),
                _c("referring_npi"),
                _c("referring_location_id"),
                _c("referred_to_npi"),
                _c("priority", values=PRIORITIES),
                _c("payer_id"),
                _c("reason_code"),
                _c("expires_on", DATE),
            ),
            key=("referral_id",),
            versioned=True,
            description="one referral order (FHIR ServiceRequest, HL7 v2 RF1)",
        ),
        Entity(
            "referral_events",
            (
                _c("event_id", required=True),
                _c("referral_id", required=True),
                _c("event_type", required=True, values=EVENT_TYPES),
                _c("occurred_at", TIMESTAMP, True),
                _c("actor_npi"),
            ),
            key=("event_id",),
            description="workflow events on a referral (FHIR Task, 360X)",
        ),
        Entity(
            "appointments",
            (
                _c("appointment_id", required=True),
                _c("patient_id", required=True),
                _c("provider_npi", required=True),
                _c("start_at", TIMESTAMP, True),
                _c("status", required=True, values=APPOINTMENT_STATUSES),
                _c("booked_at", TIMESTAMP, True),
                _c("updated_at", TIMESTAMP, True),
                _c("referral_id"),
                _c("specialty_code"),
                _c("location_id"),
                _c("cancel_reason"),
            ),
            key=("appointment_id",),
            versioned=True,
            description="scheduling extract (FHIR Appointment, HL7 v2 SIU)",
        ),
        Entity(
            "claims",
            (
                _c("claim_id", required=True),
                _c("line_number", INT, True),
                _c("patient_id", required=True),
                _c("rendering_npi", required=True),
                _c("service_date", DATE, True),
                _c("allowed_amount", DECIMAL, True),
                _c("claim_status", required=True, values=CLAIM_STATUSES),
                _c("updated_at", TIMESTAMP, True),
                _c("rendering_specialty_code"),
                _c("referring_npi"),
                _c("referral_id"),
                _c("procedure_code"),
                _c("place_of_service"),
                _c("paid_amount", DECIMAL),
            ),
            key=("claim_id", "line_number"),
            versioned=True,
            description="one claim line (837P / CCLF5 / EOB item)",
        ),
        Entity(
            "providers",
            (
                _c("npi", required=True),
                _c("specialty_code", required=True),
                _c("in_network", BOOL, True),
                _c("effective_from", DATE, True),
                _c("effective_to", DATE),
                _c("organization_id"),
                _c("accepting_new_patients", BOOL),
                _c("zip3"),
            ),
            key=("npi", "effective_from"),
            description="provider directory and network roster, one row per NPI and period",
        ),
        Entity(
            "patients",
            (
                _c("patient_id", required=True),
                _c("birth_year", INT),
                _c("sex", values=SEXES),
                _c("zip3"),
                _c("payer_id"),
            ),
            key=("patient_id",),
            description="patients",
        ),
        Entity(
            "engagements",
            (
                _c("engagement_id", required=True),
                _c("referral_id", required=True),
                _c("occurred_at", TIMESTAMP, True),
                _c("channel", required=True, values=CHANNELS),
                _c("purpose", values=PURPOSES),
                _c("outcome", values=ENGAGEMENT_OUTCOMES),
                _c("cost_amount", DECIMAL),
            ),
            key=("engagement_id",),
            description="outreach touches by the referral program",
        ),
        Entity(
            "slots",
            (
                _c("provider_npi", required=True),
                _c("start_at", TIMESTAMP, True),
                _c("status", required=True, values=SLOT_STATUSES),
            ),
            description="open capacity (FHIR Slot)",
        ),
    )
}

# Longest names first, so `referral_events_...` is not taken for `referrals`.
_BY_LENGTH = sorted(ENTITIES, key=len, reverse=True)
_SEPARATORS = ("_", "-", ".")


def entity_of(file_name: str) -> str | None:
    """The entity a file holds: the longest entity name its lower-cased name
    starts with, followed by `_`, `-`, `.` or the end of the name."""
    lowered = file_name.lower()
    for name in _BY_LENGTH:
        if lowered.startswith(name):
            rest = lowered[len(name):]
            if rest == "" or rest[0] in _SEPARATORS:
                return name
    return None


# Landed-table bookkeeping columns, after the contract columns.
OFFSET_SUFFIX = "_utc_offset"
LINEAGE_COLUMNS = (
    ("_extra", "json"),          # unknown columns of the row, by name
    ("_file_name", "varchar"),   # the extract file the row came from
    ("_line_number", "bigint"),  # physical line where the record starts
    ("_run_id", "varchar"),
    ("_loaded_at", "timestamp"),
)


def landed_columns(entity: Entity) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a landed `raw.<entity>` table, in order."""
    cols = [(c.name, DUCKDB_TYPES[c.type]) for c in entity.columns]
    cols += [(f"{name}{OFFSET_SUFFIX}", "varchar") for name in entity.timestamp_columns]
    return cols + list(LINEAGE_COLUMNS)


NPI_RE = re.compile(r"^\d{10}$")


def npi_check_digit_ok(npi: str) -> bool:
    """Luhn check of a 10-digit NPI with the 80840 card-issuer prefix."""
    if not NPI_RE.match(npi):
        return False
    digits = [int(d) for d in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
