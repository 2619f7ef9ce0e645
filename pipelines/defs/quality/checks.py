"""The data-quality checks, as data: what is checked, on which table, and
how bad a result must be to warn or to stop the build.

Three families, as in OHDSI's Data Quality Dashboard and Tuva's tiers:
conformance (shape, types, value sets, code formats, keys), completeness
(null rates of optional-but-important fields) and plausibility (dates and
amounts that cannot be right, volumes that swing). Freshness says whether
each feed arrives on its cadence. `docs/data-quality.md` lists them all.

A check measures a failing share (failing rows / rows checked) or, for
table-level checks, a failing count. The result's severity follows the
thresholds: above `error_above` it is an error (blocks the build, unless
the check is not `blocking`), above `warn_above` a warning, else a pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from pipelines.contract import ENTITIES, LINEAGE_COLUMNS, OFFSET_SUFFIX, Entity
from pipelines.paths import DBT_PROJECT_DIR

CONFORMANCE, COMPLETENESS, PLAUSIBILITY, FRESHNESS = "conformance", "completeness", "plausibility", "freshness"
ERROR, WARN = "error", "warn"

# NPI columns of each entity (10 digits with a Luhn check digit, prefix 80840).
NPI_COLUMNS = {
    "referrals": ("referring_npi", "referred_to_npi"),
    "referral_events": ("actor_npi",),
    "appointments": ("provider_npi",),
    "claims": ("rendering_npi", "referring_npi"),
    "providers": ("npi",),
    "slots": ("provider_npi",),
}
# NUCC Health Care Provider Taxonomy codes: 3 digits, 6 letters/digits, then X.
NUCC_COLUMNS = {
    "referrals": ("requested_specialty_code",),
    "appointments": ("specialty_code",),
    "claims": ("rendering_specialty_code",),
    "providers": ("specialty_code",),
}
NUCC_PATTERN = "[0-9]{3}[0-9A-Z]{6}X"

# Optional fields that metrics lean on: (entity, column, warn above). The
# contract makes them optional, so an empty one warns and never stops a build.
COMPLETENESS_RULES = (
    ("referrals", "referring_npi", 0.10),
    ("referrals", "priority", 0.20),
    ("referrals", "payer_id", 0.20),
    ("appointments", "referral_id", 0.50),
    ("appointments", "specialty_code", 0.50),
    ("claims", "rendering_specialty_code", 0.20),
    ("engagements", "outcome", 0.20),
)

# Visits further out than this from the referral are implausible for follow-through.
FAR_VISIT_DAYS = 365
EXTREME_AMOUNT = 100_000
VOLUME_SWING = 0.5          # share change of a file's rows versus the median of the last loads
VOLUME_MIN_ROWS = 50        # volumes below this are too small to judge


@dataclass(frozen=True)
class Check:
    """One check. `expectation` names a Great Expectations expectation and
    its arguments; `sql` is an unexpected-rows query (`{batch}` is the table)."""

    name: str
    table: str                       # schema.table
    family: str
    description: str
    column: str | None = None
    warn_above: float | None = 0.0   # failing share (or count when `per_row` is false)
    error_above: float | None = None
    blocking: bool = True
    per_row: bool = True             # thresholds are shares of rows, else counts
    expectation: tuple[str, dict] | None = None
    sql: str | None = None
    # Columns that identify a failing row in the stored sample (never patient ids).
    sample_keys: tuple[str, ...] = field(default_factory=tuple)

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".")[1]

    @property
    def threshold_text(self) -> str:
        unit = "of rows" if self.per_row else "rows"
        parts = []
        if self.warn_above is not None:
            parts.append(f"warn > {_fmt(self.warn_above, self.per_row)} {unit}")
        if self.error_above is not None:
            parts.append(f"error > {_fmt(self.error_above, self.per_row)} {unit}")
        return "; ".join(parts)

    def severity_of(self, observed: float) -> str | None:
        """The severity a measured failing share/count earns, or None (passes)."""
        if self.error_above is not None and observed > self.error_above:
            return ERROR
        if self.warn_above is not None and observed > self.warn_above:
            return WARN
        return None


def _gx_literal(sql: str) -> str:
    """GX formats unexpected-rows queries with `{batch}`: other braces are doubled."""
    return sql.replace("{", "{{").replace("}", "}}")


def _fmt(value: float, share: bool) -> str:
    return f"{value:.0%}" if share else f"{value:g}"


def _row_keys(entity: Entity) -> tuple[str, ...]:
    """A failing row is named by its key (without patient ids) and its file and line."""
    keys = tuple(k for k in entity.key if k != "patient_id")
    return (*keys, "_file_name", "_line_number")


def _unique_on(entity: Entity) -> list[str]:
    """What one landed row is: the key, and the version of a versioned entity."""
    return [*entity.key, "updated_at"] if entity.versioned else list(entity.key)


def _luhn_sql(column: str) -> str:
    """True when `column` is 10 digits whose Luhn check (prefix 80840) holds."""
    digits = f"('80840' || {column})"
    terms = []
    for i in range(15):                      # i-th digit from the right; odd ones are doubled
        d = f"try_cast(substr({digits}, {15 - i}, 1) as int)"
        terms.append(f"((2 * {d}) % 9 + case when {d} = 9 then 9 else 0 end)" if i % 2 else d)
    doubled = " + ".join(terms)
    return f"coalesce(regexp_full_match({column}, '{_gx_literal('[0-9]{10}')}') and ({doubled}) % 10 = 0, false)"


def conformance_checks(entity: Entity) -> list[Check]:
    table = f"raw.{entity.name}"
    keys = _row_keys(entity)
    columns = [c.name for c in entity.columns]
    columns += [f"{name}{OFFSET_SUFFIX}" for name in entity.timestamp_columns]
    columns += [name for name, _ in LINEAGE_COLUMNS]
    checks = [
        Check(
            f"{entity.name}__columns_match_contract", table, CONFORMANCE,
            "The landed table has exactly the contract's columns.",
            per_row=False, warn_above=0, error_above=0,
            expectation=("ExpectTableColumnsToMatchSet", {"column_set": columns, "exact_match": True}),
        ),
    ]
    for column in entity.columns:
        if column.required:
            checks.append(Check(
                f"{entity.name}__{column.name}__not_null", table, CONFORMANCE,
                f"Required column `{column.name}` is filled.", column=column.name,
                warn_above=0, error_above=0, sample_keys=keys,
                expectation=("ExpectColumnValuesToNotBeNull", {"column": column.name}),
            ))
        if column.values:
            checks.append(Check(
                f"{entity.name}__{column.name}__in_value_set", table, CONFORMANCE,
                f"`{column.name}` is one of the contract's values.", column=column.name,
                warn_above=0, error_above=0, sample_keys=keys,
                expectation=("ExpectColumnValuesToBeInSet", {"column": column.name, "value_set": list(column.values)}),
            ))
    if entity.key:
        unique_on = _unique_on(entity)
        checks.append(Check(
            f"{entity.name}__key_unique", table, CONFORMANCE,
            f"One row per {' + '.join(unique_on)} (a record re-sent in two files is a warning; "
            "the latest-version rule still picks one).",
            warn_above=0, error_above=None, sample_keys=keys,
            expectation=("ExpectCompoundColumnsToBeUnique", {"column_list": unique_on}) if len(unique_on) > 1
            else ("ExpectColumnValuesToBeUnique", {"column": unique_on[0]}),
        ))
    for column in NPI_COLUMNS.get(entity.name, ()):
        checks.append(Check(
            f"{entity.name}__{column}__npi_valid", table, CONFORMANCE,
            f"`{column}` is an NPI: 10 digits with a valid Luhn check digit.", column=column,
            warn_above=0, error_above=0.05, sample_keys=(*keys, column),
            sql=f"select * from {{batch}} where {column} is not null and not {_luhn_sql(column)}",
        ))
    for column in NUCC_COLUMNS.get(entity.name, ()):
        checks.append(Check(
            f"{entity.name}__{column}__nucc_shape", table, CONFORMANCE,
            f"`{column}` has the shape of a NUCC taxonomy code (e.g. 207RC0000X).", column=column,
            warn_above=0, error_above=0.05, sample_keys=(*keys, column),
            sql=f"select * from {{batch}} where {column} is not null "
                f"and not regexp_full_match(upper({column}), '{_gx_literal(NUCC_PATTERN)}')",
        ))
    return checks


def completeness_checks() -> list[Check]:
    return [
        Check(
            f"{entity}__{column}__completeness", f"raw.{entity}", COMPLETENESS,
            f"Share of rows with `{column}` empty.", column=column,
            warn_above=warn, error_above=None, sample_keys=_row_keys(ENTITIES[entity]),
            expectation=("ExpectColumnValuesToNotBeNull", {"column": column}),
        )
        for entity, column, warn in COMPLETENESS_RULES
    ]


# Latest version of each referral the batch names, for cross-table plausibility
# rules (only those: a daily batch then ranks a day's referrals, not the history).
_REFERRALS = ("(select referral_id, created_at from raw.referrals "
              "where referral_id in (select referral_id from {batch}) "
              "qualify row_number() over (partition by referral_id order by updated_at desc) = 1)")


def plausibility_checks() -> list[Check]:
    appt_keys = _row_keys(ENTITIES["appointments"])
    claim_keys = _row_keys(ENTITIES["claims"])
    return [
        Check(
            "referrals__updated_before_created", "raw.referrals", PLAUSIBILITY,
            "A referral version cannot be updated before it was created.",
            warn_above=0, error_above=0.01, sample_keys=_row_keys(ENTITIES["referrals"]),
            sql="select * from {batch} where updated_at < created_at",
        ),
        Check(
            "referrals__created_in_future", "raw.referrals", PLAUSIBILITY,
            "Referrals created after the load are impossible.",
            warn_above=0, error_above=0.01, sample_keys=_row_keys(ENTITIES["referrals"]),
            sql="select * from {batch} where created_at > _loaded_at + interval 1 day",
        ),
        Check(
            "appointments__booked_before_referral", "raw.appointments", PLAUSIBILITY,
            "Appointments for a referral booked before the referral existed.",
            column="booked_at", warn_above=0, error_above=None, sample_keys=appt_keys,
            sql=f"select appointments.* from {{batch}} as appointments join {_REFERRALS} as referrals "
                "using (referral_id) where appointments.booked_at < referrals.created_at - interval 1 day",
        ),
        Check(
            "appointments__visit_far_out", "raw.appointments", PLAUSIBILITY,
            f"Visits more than {FAR_VISIT_DAYS} days after the referral.",
            column="start_at", warn_above=0.01, error_above=None, sample_keys=appt_keys,
            sql=f"select appointments.* from {{batch}} as appointments join {_REFERRALS} as referrals "
                f"using (referral_id) where appointments.start_at > referrals.created_at + interval {FAR_VISIT_DAYS} day",
        ),
        Check(
            "appointments__booked_after_start", "raw.appointments", PLAUSIBILITY,
            "Appointments booked after they started.", column="booked_at",
            warn_above=0, error_above=None, sample_keys=appt_keys,
            sql="select * from {batch} where booked_at > start_at + interval 1 day",
        ),
        Check(
            "claims__amount_plausible", "raw.claims", PLAUSIBILITY,
            f"Allowed amounts are neither negative nor above {EXTREME_AMOUNT:,}.", column="allowed_amount",
            warn_above=0, error_above=0.01, sample_keys=(*claim_keys, "allowed_amount"),
            expectation=("ExpectColumnValuesToBeBetween",
                         {"column": "allowed_amount", "min_value": 0, "max_value": EXTREME_AMOUNT}),
        ),
        Check(
            "claims__service_date_not_future", "raw.claims", PLAUSIBILITY,
            "Claim lines for services after the file was loaded.", column="service_date",
            warn_above=0, error_above=0.01, sample_keys=(*claim_keys, "service_date"),
            sql="select * from {batch} where service_date > _loaded_at::date",
        ),
        Check(
            "referral_events__report_before_referral", "raw.referral_events", PLAUSIBILITY,
            "Consult reports received before the referral was created.", column="occurred_at",
            warn_above=0, error_above=None, sample_keys=_row_keys(ENTITIES["referral_events"]),
            sql=f"select events.* from {{batch}} as events join {_REFERRALS} as referrals using (referral_id) "
                "where events.event_type = 'consult_report_received' "
                "and events.occurred_at < referrals.created_at - interval 1 day",
        ),
    ] + [volume_check(name) for name in ENTITIES]


def volume_check(entity: str) -> Check:
    return Check(
        f"{entity}__volume_swing", "raw._manifest", PLAUSIBILITY,
        f"The newest {entity} file's row count is within {VOLUME_SWING:.0%} of the median of the "
        f"previous six (judged when both are at least {VOLUME_MIN_ROWS} rows).",
        per_row=False, warn_above=0, error_above=None, blocking=False,
        sample_keys=("file_name", "rows_loaded", "previous_median"),
        sql=(
            "with loads as (select file_name, rows_loaded, row_number() over (order by loaded_at desc, file_name desc) as n "
            f"from {{batch}} where entity = '{entity}' and status = 'loaded'), "
            "newest as (select * from loads where n = 1), "
            "previous as (select median(rows_loaded) as previous_median from loads where n between 2 and 7) "
            "select newest.file_name, newest.rows_loaded, previous.previous_median from newest, previous "
            f"where previous.previous_median >= {VOLUME_MIN_ROWS} and newest.rows_loaded >= 0 "
            f"and abs(newest.rows_loaded - previous.previous_median) > {VOLUME_SWING} * previous.previous_median"
        ),
    )


def source_freshness(sources_yml: Path = DBT_PROJECT_DIR / "models/staging/extracts/_extracts__sources.yml") -> dict[str, dict]:
    """Each entity's expected cadence, from the dbt sources (the one place it is set),
    so `dbt source freshness` and these checks agree: {entity: {"warn_hours", "error_hours"}}."""
    hours = {"minute": 1 / 60, "hour": 1, "day": 24}
    doc = yaml.safe_load(sources_yml.read_text())
    out = {}
    for table in doc["sources"][0]["tables"]:
        freshness = table.get("freshness")
        if table["name"] in ENTITIES and freshness:
            out[table["name"]] = {
                f"{level.split('_')[0]}_hours": freshness[level]["count"] * hours[freshness[level]["period"]]
                for level in ("warn_after", "error_after") if level in freshness
            }
    return out


def freshness_checks() -> list[Check]:
    checks = []
    for entity, cadence in source_freshness().items():
        warn, error = cadence.get("warn_hours"), cadence.get("error_hours")
        checks.append(Check(
            f"{entity}__freshness", f"raw.{entity}", FRESHNESS,
            f"Hours since a {entity} file last arrived (cadence from the dbt source's freshness). "
            "Reported, never blocking: stale data is still the newest there is.",
            column="_loaded_at", per_row=False, warn_above=warn, error_above=error, blocking=False,
            # The lower bound (now - warn hours) is set when the check runs.
            expectation=("ExpectColumnMaxToBeBetween", {"column": "_loaded_at"}),
        ))
    return checks


def checks_fingerprint(checks: Sequence[Check]) -> str:
    """Changes when any check's definition changes (new code, other thresholds)."""
    return hashlib.sha256(repr(sorted(checks, key=lambda c: c.name)).encode()).hexdigest()


def judges_new_rows(check: Check) -> bool:
    """Row checks on a landed table judge a row once, in the run that lands it
    (the batch then also has `_landed_row`, the row's rowid). Table checks
    (columns, freshness, file volumes) look at the whole table every run."""
    return check.schema == "raw" and check.per_row and check.family != FRESHNESS


def on_new_rows(check: Check) -> Check:
    """The check as it runs on the rows landed since the last build. Key
    uniqueness still looks across the whole table: a new row that repeats a
    key and version landed earlier fails."""
    if not check.name.endswith("__key_unique"):
        return check
    same = " and ".join(f"earlier.{c} is not distinct from new.{c}" for c in _unique_on(ENTITIES[check.table_name]))
    return replace(check, expectation=None, sql=(
        f"with new as (select * from {{batch}}) "
        f"select new.* from new where exists (select 1 from {check.table} as earlier where {same} "
        "and earlier.rowid <> new._landed_row)"))


def landed_checks() -> list[Check]:
    """Every check on the landed `raw.*` tables, run before dbt builds on them."""
    checks: list[Check] = []
    for entity in ENTITIES.values():
        checks += conformance_checks(entity)
    return checks + completeness_checks() + plausibility_checks() + freshness_checks()


OUTCOMES = ("completed_in_network", "completed_out_of_network", "scheduled_upcoming", "referral_cancelled",
            "no_show", "appointment_cancelled", "appointment_unresolved", "unscheduled_open", "unscheduled_expired")


def mart_checks() -> list[Check]:
    """Checks on the key marts, run after dbt and before they are published."""
    return [
        Check(
            "fct_referrals__referral_id_unique", "marts.fct_referrals", CONFORMANCE,
            "One row per referral.", column="referral_id", warn_above=0, error_above=0,
            sample_keys=("referral_id",),
            expectation=("ExpectColumnValuesToBeUnique", {"column": "referral_id"}),
        ),
        Check(
            "fct_referrals__days_to_visit_not_negative", "marts.fct_referrals", PLAUSIBILITY,
            "No referral is seen before it was made.", column="days_to_visit", warn_above=0, error_above=0,
            sample_keys=("referral_id", "days_to_visit"),
            expectation=("ExpectColumnValuesToBeBetween", {"column": "days_to_visit", "min_value": 0}),
        ),
        Check(
            "fct_referrals__revenue_not_negative", "marts.fct_referrals", PLAUSIBILITY,
            "Attributed revenue is never negative.", column="out_of_network_revenue", warn_above=0, error_above=0,
            sample_keys=("referral_id", "in_network_revenue", "out_of_network_revenue"),
            sql="select * from {batch} where in_network_revenue < 0 or out_of_network_revenue < 0",
        ),
        Check(
            "agg_referrals_monthly__outcomes_add_up", "marts.agg_referrals_monthly", PLAUSIBILITY,
            "Each month's outcome counts add up to its referrals.", warn_above=0, error_above=0,
            sample_keys=("created_month", "specialty_group"),
            sql="select * from {batch} where referrals <> " + " + ".join(OUTCOMES),
        ),
        Check(
            "fct_referrals__volume", "marts.fct_referrals", COMPLETENESS,
            "The fact table is not empty.", per_row=False, warn_above=0, error_above=0,
            expectation=("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        ),
    ]
