"""Sample extracts that look like a real health system's.

Everything is vectorized with numpy and deterministic for a seed. The model
(documented in docs/generator.md):

- ~40 referring practices with their primary-care clinicians refer patients
  to the specialties of `specialty_groups.csv` over M months ending on
  `end_date`, with volume growing slowly and dipping in December.
- Each eligible referral follows one path: booked in network (probability by
  specialty, higher for urgent referrals and for those the program
  navigates), care taken out of network (visible only in claims), or never
  scheduled. A first appointment is attended, a no-show (fewer with a
  reminder), cancelled, or left `booked` and never marked; no-shows and
  cancellations are re-booked or leak.
- Booking lag and wait for a slot depend on the specialty; appointments after
  `end_date` stay booked (future). Some in-network providers leave the
  network mid-period.
- Claims follow visits: 1-3 lines, some denied (half later paid on
  correction), some reversed in a later extract.
- Referral status moves active -> completed/revoked in later files (and some
  completed referrals are never closed in the work queue); events (sent,
  received, accepted/declined, consult report) and outreach touches follow.
- Extracts are change files: each month's file holds the versions updated in
  that month, so one record appears in several files.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.paths import SEEDS_DIR

DEFAULT_END_DATE = date(2026, 11, 30)
PAYERS = np.array(["MCARE", "MCAID", "BCBS", "AETNA", "UHC", "CIGNA", "SELF"])
PAYER_WEIGHTS = np.array([0.30, 0.17, 0.22, 0.10, 0.11, 0.07, 0.03])
ZIP3S = np.array(["021", "022", "024", "017", "018", "019", "015", "016", "020", "023"])
ZIP3_WEIGHTS = np.array([0.22, 0.16, 0.12, 0.10, 0.09, 0.08, 0.07, 0.06, 0.05, 0.05])

# group: (share of referrals, median days to book, median wait for a slot,
#         probability of booking in network, of leaking out of network,
#         mean allowed amount per claim line, ICD-10 reason codes)
SPECIALTY_PROFILE = {
    "cardiology": (0.12, 4, 18, 0.64, 0.08, 210.0, ("I25.10", "I48.91", "R07.9")),
    "orthopedics": (0.12, 3, 12, 0.60, 0.13, 260.0, ("M17.11", "M25.561", "M54.50")),
    "gastroenterology": (0.09, 5, 28, 0.62, 0.10, 480.0, ("K21.9", "Z12.11", "K58.9")),
    "endocrinology": (0.05, 6, 35, 0.60, 0.07, 180.0, ("E11.9", "E03.9", "E05.90")),
    "nephrology": (0.03, 5, 30, 0.63, 0.06, 190.0, ("N18.3", "N18.4")),
    "pulmonology": (0.04, 5, 25, 0.62, 0.08, 200.0, ("J44.9", "J45.909", "R06.02")),
    "oncology": (0.04, 2, 8, 0.72, 0.14, 650.0, ("C50.911", "D64.9", "R59.0")),
    "neurology": (0.06, 7, 45, 0.56, 0.11, 230.0, ("G43.909", "G40.909", "R51.9")),
    "dermatology": (0.08, 5, 40, 0.58, 0.16, 150.0, ("L70.0", "D48.5", "L40.0")),
    "ophthalmology": (0.05, 4, 30, 0.62, 0.12, 170.0, ("H25.9", "H40.9")),
    "otolaryngology": (0.04, 4, 21, 0.60, 0.10, 190.0, ("J32.9", "H91.90")),
    "urology": (0.04, 4, 24, 0.60, 0.09, 220.0, ("N40.0", "R31.9")),
    "obstetrics_gynecology": (0.05, 3, 14, 0.66, 0.08, 200.0, ("N92.0", "Z01.419")),
    "behavioral_health": (0.06, 8, 38, 0.46, 0.20, 140.0, ("F32.9", "F41.1", "F90.0")),
    "rheumatology": (0.03, 6, 42, 0.58, 0.09, 190.0, ("M06.9", "M32.9")),
    "vascular_surgery": (0.02, 4, 16, 0.62, 0.12, 320.0, ("I70.209", "I83.90")),
    "general_surgery": (0.03, 3, 14, 0.64, 0.11, 380.0, ("K40.90", "K80.20")),
    "physical_therapy": (0.03, 3, 9, 0.66, 0.18, 110.0, ("M54.50", "M25.511")),
    "allergy_immunology": (0.01, 6, 30, 0.58, 0.12, 160.0, ("J30.9", "T78.40XA")),
    "infectious_disease": (0.005, 3, 14, 0.66, 0.07, 210.0, ("B20", "A49.9")),
    "sleep_medicine": (0.005, 6, 40, 0.55, 0.15, 250.0, ("G47.33",)),
}
NAVIGATION_UPLIFT = 0.10      # added booking probability for navigated referrals, on average:
PHONE_REACHED = 0.5           #   navigated referrals an advisor reaches by phone...
PHONE_UPLIFT = 0.16           #   ...gain this much (advisors convert hard cases),
DIGITAL_UPLIFT = 0.04         #   the others only this much (0.5 x 0.16 + 0.5 x 0.04 = 0.10)
NO_SHOW = 0.21                # first-appointment no-show without a reminder
NO_SHOW_WITH_REMINDER = 0.12
CANCELLED = 0.08
NEVER_MARKED = 0.02           # past appointments left `booked`
REBOOK_AFTER_MISS = 0.45
LEAK_AFTER_MISS = 0.12
CONSULT_REPORT = 0.68         # in-network visits that send a report back
CHANNEL_WEIGHTS = {"sms": 0.34, "email": 0.18, "ivr": 0.12, "portal": 0.14, "phone": 0.22}


@dataclass(frozen=True)
class GenerateOptions:
    referrals: int = 20_000
    months: int = 24
    seed: int = 7
    end_date: date = DEFAULT_END_DATE
    dirty: str | None = None      # None, "warn" or "error": seed defects (pipelines/generate/dirty.py)


def _specialties() -> pl.DataFrame:
    return pl.read_csv(SEEDS_DIR / "specialty_groups.csv", infer_schema=False)


def npis_with_check_digit(base9: np.ndarray) -> np.ndarray:
    """10-digit NPIs (as strings) from 9-digit bases, with the Luhn check digit
    computed over the 80840 prefix."""
    digits = np.stack([(base9 // 10 ** (8 - i)) % 10 for i in range(9)], axis=1)
    # Positions doubled are every other digit starting from the rightmost of
    # the 9 (the check digit goes to its right); 80840 contributes 24.
    doubled = digits[:, ::-1][:, ::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = 24 + doubled.sum(axis=1) + digits[:, ::-1][:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return np.char.add(base9.astype(str), check.astype(str))


def _dt(days: np.ndarray, epoch: date) -> np.ndarray:
    """Fractional day offsets from `epoch` as numpy datetime64[s]."""
    return np.datetime64(epoch, "s") + (days * 86400).astype("timedelta64[s]")


class _World:
    """Practices, clinicians, providers and patients."""

    def __init__(self, rng: np.random.Generator, n_referrals: int, start: date, end: date):
        specialties = _specialties()
        self.groups = list(SPECIALTY_PROFILE)
        codes_by_group = {
            g: specialties.filter(pl.col("specialty_group") == g)["specialty_code"].to_list()
            for g in self.groups
        }
        self.codes_by_group = codes_by_group

        # Referring practices and their primary-care clinicians.
        n_practices = 40
        self.practice_ids = np.array([f"LOC-{i:03d}" for i in range(1, n_practices + 1)])
        practice_size = rng.integers(3, 13, n_practices)
        self.pcp_practice = np.repeat(np.arange(n_practices), practice_size)
        n_pcp = len(self.pcp_practice)
        self.practice_weight = rng.gamma(2.0, 1.0, n_practices)
        self.practice_weight /= self.practice_weight.sum()
        self.practice_zip = rng.choice(ZIP3S, n_practices, p=ZIP3_WEIGHTS)
        npi_bases = rng.choice(np.arange(100_000_000, 199_999_999), 5000, replace=False)
        all_npis = npis_with_check_digit(npi_bases)
        self.pcp_npi = all_npis[:n_pcp]
        pc_codes = specialties.filter(pl.col("specialty_group") == "primary_care")["specialty_code"]
        self.pcp_code = rng.choice(pc_codes.to_numpy(), n_pcp)

        # Specialists: in network (some leave mid-period) and out of network.
        rows = []
        next_npi = n_pcp
        self.in_net: dict[str, np.ndarray] = {}
        self.out_net: dict[str, np.ndarray] = {}
        scale = max(1.0, (n_referrals / 20_000) ** 0.5)
        for g in self.groups:
            share = SPECIALTY_PROFILE[g][0]
            n_in = max(3, int(round(60 * share * scale)) + 2)
            n_out = max(2, int(round(n_in * 0.6)))
            ins = all_npis[next_npi: next_npi + n_in]
            outs = all_npis[next_npi + n_in: next_npi + n_in + n_out]
            next_npi += n_in + n_out
            self.in_net[g], self.out_net[g] = ins, outs
            codes = np.array(codes_by_group[g])
            for npi in ins:
                rows.append((npi, g, str(rng.choice(codes)), True, f"ORG-{g[:4].upper()}-IN"))
            for k, npi in enumerate(outs):
                rows.append((npi, g, str(rng.choice(codes)), False, f"ORG-{g[:4].upper()}-X{k % 3}"))
        self.provider_rows = rows
        self.rng = rng
        self.start, self.end = start, end

        n_patients = max(10, int(n_referrals * 0.78))
        self.n_patients = n_patients
        self.patient_zip = rng.choice(ZIP3S, n_patients, p=ZIP3_WEIGHTS)
        self.patient_payer = rng.choice(PAYERS, n_patients, p=PAYER_WEIGHTS)
        self.patient_birth = rng.integers(1935, 2020, n_patients)
        self.patient_sex = rng.choice(
            np.array(["female", "male", "other", "unknown"]), n_patients, p=[0.53, 0.45, 0.01, 0.01]
        )

    def providers_frame(self) -> pl.DataFrame:
        rng = self.rng
        n = len(self.provider_rows)
        npi, group, code, in_network, org = (np.array(c) for c in zip(*self.provider_rows, strict=True))
        accepting = np.where(rng.random(n) < 0.12, "false", np.where(rng.random(n) < 0.5, "true", ""))
        zips = rng.choice(ZIP3S, n, p=ZIP3_WEIGHTS)
        start = np.datetime64(self.start - timedelta(days=365 * 3), "D")
        span = (np.datetime64(self.end, "D") - np.datetime64(self.start, "D")).astype(int)
        # 8% of in-network providers leave the network mid-period (never the
        # busiest of a group, which would swing that group's leakage alone).
        busiest = {pool[0] for pool in self.in_net.values()}
        leaves = in_network.astype(bool) & (rng.random(n) < 0.08) & ~np.isin(npi, list(busiest))
        leave_day = np.datetime64(self.start, "D") + rng.integers(60, max(61, span - 30), n)
        base = pl.DataFrame({
            "npi": npi, "specialty_code": code,
            "in_network": np.where(in_network.astype(bool), "true", "false"),
            "effective_from": np.repeat(start, n).astype(str),
            "effective_to": np.where(leaves, (leave_day - 1).astype(str), ""),
            "organization_id": org, "accepting_new_patients": accepting, "zip3": zips,
        })
        after = base.filter(pl.Series(leaves)).with_columns(
            pl.lit("false").alias("in_network"),
            pl.Series(leave_day[leaves].astype(str)).alias("effective_from"),
            pl.lit("").alias("effective_to"),
            pl.lit("ORG-INDEPENDENT").alias("organization_id"),
        )
        pcps = pl.DataFrame({
            "npi": self.pcp_npi, "specialty_code": self.pcp_code, "in_network": "true",
            "effective_from": str(start), "effective_to": "",
            "organization_id": [f"ORG-PC-{p:03d}" for p in self.pcp_practice],
            "accepting_new_patients": "", "zip3": self.practice_zip[self.pcp_practice],
        })
        return pl.concat([pcps, base, after]).with_columns(
            pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
            for c in ("effective_to", "accepting_new_patients")
        )


def generate(options: GenerateOptions) -> dict[str, pl.DataFrame]:
    """All entities as frames of strings (as they are written)."""
    rng = np.random.default_rng(options.seed)
    end = options.end_date
    start = _months_before(end, options.months)
    world = _World(rng, options.referrals, start, end)
    n = options.referrals
    span_days = (end - start).days

    # --- referrals --------------------------------------------------------
    # created: growth over the period, fewer on weekends and in late December
    u = rng.random(n)
    day = np.floor(span_days * np.sqrt(0.6 * u + 0.4 * u * u) / 1.0).astype(int)
    day = np.clip(day, 0, span_days)
    created_day = np.datetime64(start, "D") + day
    weekday = (created_day.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    created_day = np.where(weekday >= 5, created_day - (weekday - 4), created_day)
    created_day = np.maximum(created_day, np.datetime64(start, "D"))
    created_off = (created_day - np.datetime64(start, "D")).astype(int) + rng.uniform(8 / 24, 17 / 24, n)

    groups = np.array(world.groups)
    shares = np.array([SPECIALTY_PROFILE[g][0] for g in world.groups])
    gi = rng.choice(len(groups), n, p=shares / shares.sum())
    group = groups[gi]
    code = np.empty(n, dtype=object)
    for k, g in enumerate(world.groups):
        mask = gi == k
        code[mask] = rng.choice(np.array(world.codes_by_group[g]), mask.sum())

    practice = rng.choice(len(world.practice_ids), n, p=world.practice_weight)
    pcp_idx = _pick_within(rng, world.pcp_practice, practice)
    patient = rng.integers(0, world.n_patients, n)
    priority = rng.choice(np.array(["routine", "urgent", "asap", "stat"]), n, p=[0.80, 0.15, 0.04, 0.01])
    urgent = priority != "routine"
    navigated = rng.random(n) < 0.42

    status_kind = rng.random(n)
    ineligible = np.where(status_kind < 0.008, "draft", np.where(status_kind < 0.015, "entered-in-error", ""))
    eligible = ineligible == ""

    prof = {k: np.array([SPECIALTY_PROFILE[g][i] for g in world.groups])[gi] for k, i in
            (("book_lag", 1), ("wait", 2), ("p_book", 3), ("p_leak", 4), ("amount", 5))}
    # Drawn from a stream of its own, so the rest of the data set stays as it was.
    phone_reached = navigated & (np.random.default_rng(options.seed + 17).random(n) < PHONE_REACHED)
    uplift = np.where(phone_reached, PHONE_UPLIFT, np.where(navigated, DIGITAL_UPLIFT, 0))
    p_book = np.clip(prof["p_book"] - 0.05 + uplift + np.where(urgent, 0.06, 0), 0, 0.95)
    path = rng.random(n)
    books = eligible & (path < p_book)
    leaks = eligible & ~books & (path < p_book + 0.8 * prof["p_leak"])
    revoked = eligible & ~books & ~leaks & (rng.random(n) < 0.12)

    # the clinician the referral was sent to: mostly an in-network specialist
    sent_to = np.empty(n, dtype=object)
    sent_to[:] = None
    for k, g in enumerate(world.groups):
        mask = (gi == k) & (rng.random(n) < 0.62)
        pool = np.concatenate([world.in_net[g], world.out_net[g][:1]])
        sent_to[mask] = rng.choice(pool, mask.sum(), p=_tilt(len(pool)))
    expires = np.where(rng.random(n) < 0.45, created_day + rng.choice([90, 180, 365], n), np.datetime64("NaT"))

    # --- appointments (first, and a re-booking after a miss) ---------------
    book_lag = rng.lognormal(np.log(prof["book_lag"]), 0.9) * np.where(urgent, 0.4, 1.0)
    wait = rng.lognormal(np.log(prof["wait"]), 0.6) * np.where(urgent, 0.35, 1.0)
    booked_off = created_off + book_lag
    start_off = np.floor(booked_off + wait) + rng.choice(np.arange(8, 17) / 24, n)
    end_off = span_days + 1 - 1e-6
    has_first = books & (booked_off < end_off)
    reminded = navigated & (rng.random(n) < 0.75)
    outcome_u = rng.random(n)
    p_noshow = np.where(reminded, NO_SHOW_WITH_REMINDER, NO_SHOW)
    first_status = np.select(
        [outcome_u < p_noshow, outcome_u < p_noshow + CANCELLED, outcome_u < p_noshow + CANCELLED + NEVER_MARKED],
        ["noshow", "cancelled", "booked"], "fulfilled",
    )
    future = start_off >= span_days + 1
    first_status = np.where(future, "booked", first_status)
    missed = has_first & np.isin(first_status, ["noshow", "cancelled"])
    miss_u = rng.random(n)
    rebooks = missed & (miss_u < REBOOK_AFTER_MISS)
    leaks_after_miss = missed & ~rebooks & (miss_u < REBOOK_AFTER_MISS + LEAK_AFTER_MISS)
    re_booked_off = start_off + rng.uniform(1, 10, n)
    re_start_off = np.floor(re_booked_off + wait * 0.7) + rng.choice(np.arange(8, 17) / 24, n)
    re_u = rng.random(n)
    re_status = np.select([re_u < 0.14, re_u < 0.20, re_u < 0.22], ["noshow", "cancelled", "booked"], "fulfilled")
    re_status = np.where(re_start_off >= span_days + 1, "booked", re_status)
    has_second = rebooks & (re_booked_off < end_off)

    provider_first = _pick_provider(rng, world, gi, sent_to, in_network=True)
    provider_second = _pick_provider(rng, world, gi, sent_to, in_network=True)
    link_first = rng.random(n) < 0.72
    code_on_visit = rng.random(n) < 0.7

    appt = []
    for mask, booked, start_at, status, prov, suffix in (
        (has_first, booked_off, start_off, first_status, provider_first, "1"),
        (has_second, re_booked_off, re_start_off, re_status, provider_second, "2"),
    ):
        idx = np.flatnonzero(mask)
        appt.append(pl.DataFrame({
            "ref": idx, "seq": int(suffix), "booked_off": booked[idx], "start_off": start_at[idx],
            "status": status[idx], "provider_npi": prov[idx],
        }))
    appts = pl.concat(appt)
    m = appts.height
    a_ref = appts["ref"].to_numpy()
    a_status = appts["status"].to_numpy()
    a_start = appts["start_off"].to_numpy()
    a_booked = appts["booked_off"].to_numpy()
    cancel_before = rng.uniform(1, 5, m)
    final_at = np.where(a_status == "cancelled", np.maximum(a_booked + 0.01, a_start - cancel_before),
                        a_start + rng.uniform(0.05, 1.5, m))
    has_final = (a_status != "booked") & (final_at < end_off)
    # an appointment whose final status falls after the end is still booked
    a_status_now = np.where(has_final | (a_status == "booked"), a_status, "booked")
    appointment_id = np.char.add("APT", np.char.zfill(np.arange(1, m + 1).astype(str), 8))
    cancel_reason = np.where(a_status_now == "cancelled",
                             rng.choice(np.array(["patient", "provider", "weather", "insurance"]), m), "")
    base_appt = {
        "appointment_id": appointment_id,
        "patient_id": _patient_ids(patient[a_ref]),
        "provider_npi": appts["provider_npi"].to_numpy(),
        "start_at": _fmt(_dt(a_start, start), " "),
        "booked_at": _fmt(_dt(a_booked, start), " "),
        "referral_id": np.where(link_first[a_ref], _referral_ids(a_ref), ""),
        "specialty_code": np.where(code_on_visit[a_ref], code[a_ref].astype(str), ""),
        "location_id": np.char.add("SPC-", group[a_ref].astype(str)),
        "cancel_reason": "",
    }
    v1 = pl.DataFrame({**base_appt, "status": "booked", "updated_at": _fmt(_dt(a_booked, start), " ")})
    v2_idx = np.flatnonzero(has_final)
    v2 = pl.DataFrame({k: (v[v2_idx] if isinstance(v, np.ndarray) else v) for k, v in base_appt.items()}).with_columns(
        pl.Series("status", a_status_now[v2_idx]),
        pl.Series("cancel_reason", cancel_reason[v2_idx]),
        pl.Series("updated_at", _fmt(_dt(final_at[v2_idx], start), " ")),
    )
    appointments = pl.concat([v1, v2.select(v1.columns)])

    # --- visits that produce claims ---------------------------------------
    attended_in = (a_status_now == "fulfilled")
    visit_ref = a_ref[attended_in]
    visit_day = np.floor(a_start[attended_in])
    visit_npi = appts["provider_npi"].to_numpy()[attended_in]
    # out-of-network care: never scheduled here, or left after a miss
    oon = leaks | leaks_after_miss
    oon_idx = np.flatnonzero(oon)
    oon_day = np.floor(np.where(leaks_after_miss[oon_idx], start_off[oon_idx] + rng.uniform(7, 40, oon_idx.size),
                                created_off[oon_idx] + book_lag[oon_idx] + wait[oon_idx] * rng.uniform(0.6, 1.2, oon_idx.size)))
    oon_npi = _pick_provider(rng, world, gi, sent_to, in_network=False)[oon_idx]
    keep_oon = oon_day <= span_days
    claims = _claims(
        rng, start, span_days,
        np.concatenate([visit_ref, oon_idx[keep_oon]]),
        np.concatenate([visit_day, oon_day[keep_oon]]),
        np.concatenate([visit_npi, oon_npi[keep_oon]]),
        patient, code, prof["amount"], world, practice, pcp_idx,
    )
    # The payer feed holds all of the patients' care, not only referred care:
    # primary-care visits with their labs, about 5 lines per referral in all.
    # A stream of its own, so the rest of the data set stays as it was.
    claims = pl.concat([claims, _primary_care_claims(np.random.default_rng(options.seed + 29), start, span_days,
                                                     world, claims.columns)])

    # --- referral versions ------------------------------------------------
    completed_day = np.full(n, np.nan)
    first_visit = pl.DataFrame({"ref": visit_ref, "d": visit_day}).group_by("ref").agg(pl.col("d").min())
    completed_day[first_visit["ref"].to_numpy()] = first_visit["d"].to_numpy()
    closes = ~np.isnan(completed_day) & (rng.random(n) < 0.8)  # 20% never closed in the queue
    close_off = completed_day + rng.uniform(1, 20, n)
    closes &= close_off < end_off
    revoke_off = created_off + rng.uniform(5, 120, n)
    revoked &= revoke_off < end_off
    status_now = np.where(eligible, "active", ineligible)
    status_now = np.where(eligible & (rng.random(n) < 0.03), "on-hold", status_now)
    ref_ids = _referral_ids(np.arange(n))
    created_txt = _fmt(_dt(created_off, start), "T")
    base_ref = {
        "referral_id": ref_ids,
        "patient_id": _patient_ids(patient),
        "created_at": created_txt,
        "requested_specialty_code": code.astype(str),
        "referring_npi": np.where(rng.random(n) < 0.96, world.pcp_npi[pcp_idx], ""),
        "referring_location_id": world.practice_ids[practice],
        "referred_to_npi": np.where(sent_to == None, "", sent_to).astype(str),  # noqa: E711
        "priority": np.where(rng.random(n) < 0.97, priority, ""),
        "payer_id": world.patient_payer[patient],
        "reason_code": _reason_codes(rng, world, gi),
        "expires_on": np.where(np.isnat(expires), "", expires.astype("datetime64[D]").astype(str)),
    }
    r1 = pl.DataFrame({**base_ref, "status": status_now, "updated_at": created_txt})
    later = np.flatnonzero(closes | revoked)
    r2 = pl.DataFrame({k: v[later] for k, v in base_ref.items()}).with_columns(
        pl.Series("status", np.where(closes[later], "completed", "revoked")),
        pl.Series("updated_at", _fmt(_dt(np.where(closes[later], close_off[later], revoke_off[later]), start), "T")),
    )
    referrals = pl.concat([r1, r2.select(r1.columns)])

    # --- events -----------------------------------------------------------
    events = _events(rng, start, span_days, created_off, eligible, sent_to, completed_day, declined_p=0.05)

    # --- engagements ------------------------------------------------------
    engagements = _engagements(rng, start, span_days, created_off, navigated & eligible, has_first,
                               booked_off, start_off, reminded, phone_reached)

    patients = pl.DataFrame({
        "patient_id": _patient_ids(np.arange(world.n_patients)),
        "birth_year": world.patient_birth.astype(str),
        "sex": world.patient_sex,
        "zip3": world.patient_zip,
        "payer_id": world.patient_payer,
    })
    slots = _slots(rng, world, end)
    frames = {
        "referrals": referrals,
        "referral_events": events,
        "appointments": appointments,
        "claims": claims,
        "providers": world.providers_frame(),
        "patients": patients,
        "engagements": engagements,
        "slots": slots,
    }
    return {name: _nulls_for_empty(frame) for name, frame in frames.items()}


def _nulls_for_empty(frame: pl.DataFrame) -> pl.DataFrame:
    """An empty field is null (as the contract reads it)."""
    return frame.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
        for c, t in frame.schema.items() if t == pl.String
    )


def _months_before(end: date, months: int) -> date:
    """First day of the month `months - 1` months before `end`'s month."""
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _tilt(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 0.6
    return w / w.sum()


def _pick_within(rng: np.random.Generator, owner: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each wanted owner, a random index among the rows of that owner."""
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=wanted.max() + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order[starts[wanted] + (rng.random(wanted.size) * counts[wanted]).astype(int)]


def _pick_provider(rng, world: _World, gi: np.ndarray, sent_to: np.ndarray, in_network: bool) -> np.ndarray:
    out = np.empty(gi.size, dtype=object)
    for k, g in enumerate(world.groups):
        mask = gi == k
        pool = world.in_net[g] if in_network else world.out_net[g]
        out[mask] = rng.choice(pool, mask.sum(), p=_tilt(len(pool)))
    if in_network:  # usually the clinician the referral named, when in network
        named = np.array([s is not None for s in sent_to]) & (rng.random(gi.size) < 0.8)
        innet = set(np.concatenate(list(world.in_net.values())))
        named &= np.array([s in innet for s in sent_to])
        out[named] = sent_to[named]
    return out.astype(str)


def _referral_ids(idx: np.ndarray) -> np.ndarray:
    return np.char.add("REF", np.char.zfill((np.asarray(idx) + 1).astype(str), 8))


def _patient_numbers(idx: np.ndarray) -> np.ndarray:
    """The number in a patient's MRN (`MRN` and 9 digits)."""
    return np.asarray(idx) * 7 + 100_003


def _patient_ids(idx: np.ndarray) -> np.ndarray:
    return np.char.add("MRN", np.char.zfill(_patient_numbers(idx).astype(str), 9))


def _fmt(values: np.ndarray, sep: str) -> np.ndarray:
    text = np.datetime_as_string(values, unit="s")
    return text if sep == "T" else np.char.replace(text, "T", sep)


def _reason_codes(rng, world: _World, gi: np.ndarray) -> np.ndarray:
    out = np.empty(gi.size, dtype=object)
    for k, g in enumerate(world.groups):
        mask = gi == k
        out[mask] = rng.choice(np.array(SPECIALTY_PROFILE[g][6]), mask.sum())
    return out.astype(str)


def _claims(rng, start, span_days, ref, day, npi, patient, code, amount, world, practice, pcp_idx) -> pl.DataFrame:
    v = ref.size
    lines = rng.choice([1, 2, 3], v, p=[0.55, 0.3, 0.15])
    claim_no = np.arange(1, v + 1)
    rep = np.repeat(np.arange(v), lines)
    line_number = np.concatenate([np.arange(1, k + 1) for k in lines]) if v else np.array([], int)
    r = ref[rep]
    m = rep.size
    allowed = np.round(rng.gamma(4.0, amount[r] / 4.0) * np.where(line_number > 1, 0.45, 1.0), 2)
    u = rng.random(m)
    denied = u < 0.06
    adjudicated = day[rep] + rng.uniform(12, 45, m)
    status = np.where(denied, "denied", "paid")
    claim_ids = np.char.add("CLM", np.char.zfill(claim_no[rep].astype(str), 9))
    base = {
        "claim_id": claim_ids,
        "line_number": line_number.astype(str),
        "patient_id": _patient_ids(patient[r]),
        "rendering_npi": npi[rep].astype(str),
        "service_date": (np.datetime64(start, "D") + day[rep].astype(int)).astype(str),
        "rendering_specialty_code": np.where(rng.random(m) < 0.8, code[r].astype(str), ""),
        "referring_npi": np.where(rng.random(m) < 0.55, world.pcp_npi[pcp_idx[r]], ""),
        "referral_id": np.where(rng.random(m) < 0.3, _referral_ids(r), ""),
        "procedure_code": np.where(line_number == 1, rng.choice(np.array(["99203", "99204", "99243", "99244"]), m),
                                   rng.choice(np.array(["93000", "71046", "80053", "36415", "20610"]), m)),
        "place_of_service": rng.choice(np.array(["11", "22", "19"]), m, p=[0.7, 0.2, 0.1]),
    }
    paid_amount = np.round(allowed * rng.uniform(0.7, 0.95, m), 2)
    v1 = pl.DataFrame({**base, "allowed_amount": np.where(denied, 0.0, allowed).astype(str),
                       "paid_amount": np.where(denied, 0.0, paid_amount).astype(str),
                       "claim_status": status, "updated_at": _fmt(_dt(adjudicated, start), "T")})
    # half of denials are paid on correction; 3% of paid lines are reversed later
    corrected = denied & (rng.random(m) < 0.5)
    reversed_ = ~denied & (rng.random(m) < 0.03)
    later = adjudicated + rng.uniform(20, 90, m)
    change = (corrected | reversed_) & (later < span_days + 1)
    idx = np.flatnonzero(change)
    v2 = pl.DataFrame({k: val[idx] for k, val in base.items()}).with_columns(
        pl.Series("allowed_amount", np.where(corrected[idx], allowed[idx], 0.0).astype(str)),
        pl.Series("paid_amount", np.where(corrected[idx], paid_amount[idx], 0.0).astype(str)),
        pl.Series("claim_status", np.where(corrected[idx], "paid", "reversed")),
        pl.Series("updated_at", _fmt(_dt(later[idx], start), "T")),
    )
    keep = adjudicated < span_days + 1
    return pl.concat([v1.filter(pl.Series(keep)), v2.select(v1.columns)])


PRIMARY_CARE_VISITS_PER_YEAR = 1.0    # per patient, each 1-4 claim lines (visit, then labs)


def _primary_care_claims(rng, start, span_days, world: _World, columns: list[str]) -> pl.DataFrame:
    """Office visits to the patients' own clinicians: evidence no referral
    matches (primary care is never a referral's specialty), volume the
    attribution must sift through, as in a real payer feed."""
    n_patients = world.n_patients
    visits = rng.poisson(PRIMARY_CARE_VISITS_PER_YEAR * (span_days + 1) / 365.25, n_patients)
    patient = np.repeat(np.arange(n_patients), visits)
    v = patient.size
    clinician = rng.integers(0, len(world.pcp_npi), n_patients)[patient]
    day = rng.integers(0, span_days + 1, v)
    adjudicated = day + rng.uniform(12, 45, v)
    keep = adjudicated < span_days + 1
    patient, clinician, day, adjudicated = patient[keep], clinician[keep], day[keep], adjudicated[keep]
    v = patient.size
    lines = rng.choice([1, 2, 3, 4], v, p=[0.2, 0.25, 0.3, 0.25])
    rep = np.repeat(np.arange(v), lines)
    line_number = np.arange(rep.size) - np.repeat(np.cumsum(lines) - lines, lines) + 1
    m = rep.size
    allowed = np.where(line_number == 1, np.round(rng.gamma(6.0, 20.0, m), 2), np.round(rng.gamma(3.0, 8.0, m), 2))
    denied = rng.random(m) < 0.04
    epoch = np.datetime64(start, "s")
    # Strings built by polars: numpy's char functions are slow on millions of rows.
    return pl.DataFrame({
        "claim_no": rep + 1,
        "line_number": line_number,
        "patient": _patient_numbers(patient[rep]),
        "rendering_npi": world.pcp_npi[clinician[rep]].astype(str),
        "service_date": np.datetime64(start, "D") + day[rep],
        "rendering_specialty_code": world.pcp_code[clinician[rep]].astype(str),
        "procedure_code": np.where(line_number == 1, rng.choice(np.array(["99213", "99214", "99396", "99397"]), m),
                                   rng.choice(np.array(["36415", "80053", "85025", "83036", "81002"]), m)),
        "allowed_amount": np.where(denied, 0.0, allowed),
        "paid_amount": np.where(denied, 0.0, np.round(allowed * rng.uniform(0.7, 0.95, m), 2)),
        "claim_status": np.where(denied, "denied", "paid"),
        "updated_at": (epoch + (adjudicated[rep] * 86400).astype("timedelta64[s]")).astype("datetime64[ms]"),
    }).with_columns(
        ("CLP" + pl.col("claim_no").cast(pl.String).str.zfill(9)).alias("claim_id"),
        ("MRN" + pl.col("patient").cast(pl.String).str.zfill(9)).alias("patient_id"),
        pl.col("line_number").cast(pl.String),
        pl.col("service_date").cast(pl.String),
        pl.col("allowed_amount").cast(pl.String),
        pl.col("paid_amount").cast(pl.String),
        pl.col("updated_at").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        pl.lit("").alias("referring_npi"),
        pl.lit("").alias("referral_id"),
        pl.lit("11").alias("place_of_service"),
    ).select(columns)


def _events(rng, start, span_days, created_off, eligible, sent_to, completed_day, declined_p) -> pl.DataFrame:
    n = created_off.size
    received = created_off + rng.uniform(0.01, 2.0, n)
    decided = received + rng.uniform(0.1, 4.0, n)
    declined = rng.random(n) < declined_p
    report = ~np.isnan(completed_day) & (rng.random(n) < CONSULT_REPORT)
    report_off = np.where(report, completed_day + rng.uniform(0.5, 21, n), np.nan)
    parts = []
    for kind, when, mask in (
        ("sent", created_off + 0.001, eligible),
        ("received", received, eligible & (rng.random(n) < 0.9)),
        ("declined", decided, eligible & declined),
        ("accepted", decided, eligible & ~declined & (rng.random(n) < 0.85)),
        ("consult_report_received", report_off, eligible & report),
    ):
        sel = np.flatnonzero(mask & (np.nan_to_num(when, nan=1e9) < span_days + 1))
        parts.append(pl.DataFrame({"ref": sel, "event_type": kind, "off": when[sel]}))
    events = pl.concat(parts).sort("ref", "off")
    ref = events["ref"].to_numpy()
    actor = np.where(np.array([s is not None for s in sent_to])[ref], sent_to[ref], "").astype(str)
    return pl.DataFrame({
        "event_id": np.char.add("EVT", np.char.zfill(np.arange(1, ref.size + 1).astype(str), 9)),
        "referral_id": _referral_ids(ref),
        "event_type": events["event_type"].to_numpy(),
        "occurred_at": _fmt(_dt(events["off"].to_numpy(), start), "T"),
        "actor_npi": actor,
    })


def _engagements(rng, start, span_days, created_off, navigated, has_first, booked_off, start_off, reminded,
                 phone_reached) -> pl.DataFrame:
    n = created_off.size
    touches = np.where(navigated, rng.choice([1, 2, 3, 4, 5], n, p=[0.3, 0.28, 0.2, 0.14, 0.08]), 0)
    rep = np.repeat(np.arange(n), touches)
    k = np.concatenate([np.arange(t) for t in touches if t]) if rep.size else np.array([], int)
    first = created_off[rep] + rng.uniform(0.05, 4.0, rep.size)
    when = first + k * rng.uniform(1.0, 6.0, rep.size)
    channels = np.array(list(CHANNEL_WEIGHTS))
    channel = rng.choice(channels, rep.size, p=np.array(list(CHANNEL_WEIGHTS.values())))
    # escalation: later touches move to the phone
    channel = np.where((k >= 2) & (rng.random(rep.size) < 0.5), "phone", channel)
    # Only the referrals an advisor reached have phone touches, and each has one:
    # the last touch when no earlier one was by phone.
    reached = phone_reached[rep]
    channel = np.where(~reached & (channel == "phone"), "ivr", channel)
    last = np.r_[rep[1:] != rep[:-1], True] if rep.size else np.array([], bool)
    had_phone = np.zeros(created_off.size, bool)
    np.logical_or.at(had_phone, rep, channel == "phone")
    channel = np.where(last & reached & ~had_phone[rep], "phone", channel)
    purpose = np.where(k == 0, rng.choice(np.array(["intake", "eligibility"]), rep.size), "scheduling")
    outcome = rng.choice(np.array(["delivered", "responded", "scheduled", "no_answer", "failed"]), rep.size,
                         p=[0.45, 0.2, 0.12, 0.18, 0.05])
    # reminders 1-3 days before the first appointment
    rem = np.flatnonzero(reminded & has_first)
    rem_when = start_off[rem] - rng.uniform(1.0, 3.0, rem.size)
    rem = rem[rem_when > booked_off[rem]]
    rem_when = start_off[rem] - rng.uniform(1.0, 3.0, rem.size)
    all_ref = np.concatenate([rep, rem])
    all_when = np.concatenate([when, rem_when])
    all_channel = np.concatenate([channel, rng.choice(np.array(["sms", "ivr", "email"]), rem.size, p=[0.6, 0.25, 0.15])])
    all_purpose = np.concatenate([purpose, np.repeat("reminder", rem.size)])
    all_outcome = np.concatenate([outcome, np.repeat("delivered", rem.size)])
    keep = all_when < span_days + 1
    order = np.lexsort((all_when[keep], all_ref[keep]))
    m = order.size
    return pl.DataFrame({
        "engagement_id": np.char.add("ENG", np.char.zfill(np.arange(1, m + 1).astype(str), 9)),
        "referral_id": _referral_ids(all_ref[keep][order]),
        "occurred_at": _fmt(_dt(all_when[keep][order], start), "T"),
        "channel": all_channel[keep][order],
        "purpose": all_purpose[keep][order],
        "outcome": all_outcome[keep][order],
        "cost_amount": "",
    })


def _slots(rng, world: _World, end: date) -> pl.DataFrame:
    npis = np.concatenate(list(world.in_net.values()))
    per = rng.integers(0, 12, npis.size)
    rep = np.repeat(np.arange(npis.size), per)
    when = _dt(rng.integers(1, 60, rep.size) + rng.choice(np.arange(8, 17) / 24, rep.size), end)
    return pl.DataFrame({
        "provider_npi": npis[rep],
        "start_at": _fmt(when, "T"),
        "status": np.where(rng.random(rep.size) < 0.7, "free", "busy"),
    })


# --- writing --------------------------------------------------------------

GZIPPED = {"appointments", "claims"}
VERSIONED = {"referrals": "updated_at", "appointments": "updated_at", "claims": "updated_at"}
DATED_BY = {"referral_events": "occurred_at", "engagements": "occurred_at"}


def write_extracts(frames: dict[str, pl.DataFrame], out: Path, end_date: date,
                   next_day: Path | None = None) -> list[Path]:
    """Write monthly change files (`<entity>_<month end>.csv[.gz]`) for the
    dated entities and one snapshot file for the others.

    With `next_day`, the versions dated `end_date` go there instead, as one
    day's change files (`<entity>_<end_date>.csv[.gz]`): the history in `out`
    ends the day before, and `next_day` is the daily extract that follows it
    (new records, status changes and late claim corrections of that day)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for entity, frame in frames.items():
        column = VERSIONED.get(entity) or DATED_BY.get(entity)
        if column is None:
            written.append(_write(frame, out / f"{entity}_{end_date.isoformat()}.csv", entity))
            continue
        if next_day is not None:
            next_day.mkdir(parents=True, exist_ok=True)
            on_last_day = frame[column].str.slice(0, 10) == end_date.isoformat()
            written.append(_write(frame.filter(on_last_day), next_day / f"{entity}_{end_date.isoformat()}.csv", entity))
            frame = frame.filter(~on_last_day)
        month = frame[column].str.slice(0, 7)
        for (label,), part in frame.with_columns(month.alias("_m")).group_by("_m", maintain_order=False):
            last_day = _month_end(label)
            if next_day is not None:   # the history's last file ends the day before the daily one
                last_day = min(last_day, (end_date - timedelta(days=1)).isoformat())
            written.append(_write(part.drop("_m"), out / f"{entity}_{last_day}.csv", entity))
    return sorted(written)


def _month_end(label: str) -> str:
    y, m = int(label[:4]), int(label[5:7])
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return (nxt - timedelta(days=1)).isoformat()


def _write(frame: pl.DataFrame, path: Path, entity: str) -> Path:
    if entity in GZIPPED:
        path = path.with_name(path.name + ".gz")
        # mtime=0 keeps the bytes identical for the same seed
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0, filename="") as handle:
            frame.write_csv(handle)
    else:
        frame.write_csv(path)
    return path


def generate_to(options: GenerateOptions, out: Path, next_day: Path | None = None) -> dict[str, int]:
    frames = generate(options)
    if options.dirty:
        from pipelines.generate.dirty import make_dirty

        frames = make_dirty(frames, options.dirty, options.end_date, options.seed)
    write_extracts(frames, out, options.end_date, next_day)
    return {entity: frame.height for entity, frame in frames.items()}

