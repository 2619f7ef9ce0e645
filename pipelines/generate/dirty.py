"""Seeded data defects for `refloop generate --dirty`: what real extracts get
wrong, one defect per data-quality check family, so the checks can be seen
(and tested) catching them.

`warn` seeds defects that stay under every check's error threshold: the build
completes and publishes, with warnings. `error` adds one defect that must stop
the build: a provider roster whose NPIs went through a spreadsheet and came
back as decimals (`1234567893.0`).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

WARN, ERROR = "warn", "error"

# defect -> (entity, the check that must catch it)
DEFECTS = {
    "bad_npi_check_digit": ("referrals", "referrals__referring_npi__npi_valid"),
    "bad_specialty_code": ("referrals", "referrals__requested_specialty_code__nucc_shape"),
    "missing_referring_npi": ("referrals", "referrals__referring_npi__completeness"),
    "booked_before_referral": ("appointments", "appointments__booked_before_referral"),
    "visit_far_out": ("appointments", "appointments__visit_far_out"),
    "negative_amount": ("claims", "claims__amount_plausible"),
    "future_service_date": ("claims", "claims__service_date_not_future"),
    "report_before_referral": ("referral_events", "referral_events__report_before_referral"),
    "duplicate_engagements": ("engagements", "engagements__key_unique"),
    "volume_drop": ("engagements", "engagements__volume_swing"),
}
ERROR_DEFECTS = {
    "npi_as_decimal": ("providers", "providers__npi__npi_valid"),
}


def _pick(rng: np.random.Generator, n: int, share: float) -> pl.Expr:
    return pl.lit(pl.Series(rng.random(n) < share))


def _ts(column: str) -> pl.Expr:
    """An ISO timestamp text column (`T` or space, any offset dropped) as a datetime."""
    return pl.col(column).str.replace("T", " ").str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S")


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%dT%H:%M:%S")


def _shift(column: str, days: int) -> pl.Expr:
    return _text(_ts(column) + pl.duration(days=days))


def _wrong_check_digit(npi: pl.Expr) -> pl.Expr:
    last = npi.str.slice(9, 1).cast(pl.Int32)
    return npi.str.slice(0, 9) + ((last + 1) % 10).cast(pl.String)


def make_dirty(frames: dict[str, pl.DataFrame], level: str, end_date: date, seed: int) -> dict[str, pl.DataFrame]:
    """Return `frames` with the defects of `level` seeded (deterministic for a seed)."""
    rng = np.random.default_rng(seed + 991)
    out = dict(frames)

    referrals = out["referrals"]
    n = referrals.height
    bad_digit, bad_code, blank = _pick(rng, n, 0.02), _pick(rng, n, 0.01), _pick(rng, n, 0.14)
    referrals = referrals.with_columns(
        pl.when(bad_digit & pl.col("referring_npi").is_not_null())
        .then(_wrong_check_digit(pl.col("referring_npi"))).otherwise(pl.col("referring_npi")).alias("referring_npi"),
        pl.when(bad_code).then(pl.lit("cardio")).otherwise(pl.col("requested_specialty_code"))
        .alias("requested_specialty_code"),
    ).with_columns(
        pl.when(blank & ~bad_digit).then(None).otherwise(pl.col("referring_npi")).alias("referring_npi"),
    )
    out["referrals"] = referrals

    created = referrals.group_by("referral_id").agg(pl.col("created_at").min().alias("_created"))
    appointments = out["appointments"].join(created, on="referral_id", how="left")
    m = appointments.height
    early, far = _pick(rng, m, 0.02), _pick(rng, m, 0.02)
    has_referral = pl.col("_created").is_not_null()
    appointments = appointments.with_columns(
        pl.when(early & has_referral).then(
            _shift("_created", -20)
        ).otherwise(pl.col("booked_at")).alias("booked_at"),
        pl.when(far & ~early & has_referral).then(_shift("start_at", 400)).otherwise(pl.col("start_at")).alias("start_at"),
    ).drop("_created")
    out["appointments"] = appointments

    claims = out["claims"]
    k = claims.height
    negative, future = _pick(rng, k, 0.005), _pick(rng, k, 0.005)
    claims = claims.with_columns(
        pl.when(negative).then("-" + pl.col("allowed_amount")).otherwise(pl.col("allowed_amount")).alias("allowed_amount"),
        pl.when(future & ~negative).then(pl.lit((end_date + timedelta(days=3650)).isoformat()))
        .otherwise(pl.col("service_date")).alias("service_date"),
    )
    out["claims"] = claims

    events = out["referral_events"].join(created, on="referral_id", how="left")
    early_report = _pick(rng, events.height, 0.03) & (pl.col("event_type") == "consult_report_received")
    events = events.with_columns(
        pl.when(early_report & pl.col("_created").is_not_null()).then(
            _shift("_created", -5)
        ).otherwise(pl.col("occurred_at")).alias("occurred_at"),
    ).drop("_created")
    out["referral_events"] = events

    engagements = out["engagements"]
    duplicates = engagements.filter(_pick(rng, engagements.height, 0.01))
    engagements = pl.concat([engagements, duplicates])
    # The newest month's file arrives with a fifth of its usual rows.
    newest = engagements["occurred_at"].str.slice(0, 7).max()
    in_newest = pl.col("occurred_at").str.slice(0, 7) == newest
    keep = ~in_newest | _pick(rng, engagements.height, 0.2)
    out["engagements"] = engagements.filter(keep)

    if level == ERROR:
        providers = out["providers"]
        mangled = _pick(rng, providers.height, 0.10)
        out["providers"] = providers.with_columns(
            pl.when(mangled).then(pl.col("npi") + ".0").otherwise(pl.col("npi")).alias("npi"),
        )
    return out
