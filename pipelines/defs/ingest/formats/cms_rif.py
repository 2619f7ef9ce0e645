"""CMS CCW RIF files -> the contract (docs/formats/cms-rif.md).

Carrier (Part B) claim files become claim lines; beneficiary files become
patients (birth year, sex, ZIP3 only). RIF files are pipe-delimited with a
header row, as CMS's Beneficiary FHIR Data samples and CCW extracts are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pipelines.defs.ingest.formats.common import Mapped, Tally
from pipelines.defs.ingest.reader import MAX_FIELD_BYTES, FileRejected, open_bytes
from pipelines.paths import SEEDS_DIR

CARRIER_COLUMNS = {"CLM_ID", "BENE_ID", "LINE_NUM", "PRF_PHYSN_NPI", "LINE_ALOWD_CHRG_AMT"}
BENEFICIARY_COLUMNS = {"BENE_ID", "BENE_BIRTH_DT", "BENE_SEX_IDENT_CD"}
RIF_SEX = {"1": "male", "2": "female", "0": "unknown"}
# LINE_PRCSG_IND_CD: A allowed, S secondary payer (allowed) -> paid; the rest are not paid.
PAID_PROCESSING = {"A", "S"}


def cms_to_nucc() -> dict[str, str]:
    """CMS provider specialty code -> NUCC, from specialty_groups.csv (the first
    NUCC code listed for a CMS code wins)."""
    mapping: dict[str, str] = {}
    with open(SEEDS_DIR / "specialty_groups.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("cms_specialty_code"):
                mapping.setdefault(row["cms_specialty_code"].zfill(2), row["specialty_code"])
    return mapping


def rif_date(value: str) -> str | None:
    """RIF dates come as 27-OCT-1999 (BFD samples), 19991027 (CCW) or ISO."""
    if not value:
        return None
    for pattern in ("%d-%b-%Y", "%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    return value   # left as sent: the date rule rejects it with its value


def kind_of(header_line: str) -> str | None:
    names = {n.strip().upper() for n in header_line.split("|")}
    if CARRIER_COLUMNS <= names:
        return "carrier"
    if BENEFICIARY_COLUMNS <= names:
        return "beneficiary"
    if {"CLM_ID", "BENE_ID"} <= names:
        return "other claims"
    return None


def read(path: Path, tally: Tally) -> Iterator[Mapped]:
    with open_bytes(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter="|", quoting=csv.QUOTE_NONE, strict=False)
        try:
            header = [h.strip().upper() for h in next(reader)]
        except StopIteration:
            raise FileRejected("empty file: no RIF header row") from None
        kind = kind_of("|".join(header))
        if kind not in ("carrier", "beneficiary"):
            raise FileRejected("a CMS RIF file of a kind refloop does not read (only carrier claim and "
                               "beneficiary files are read; inpatient, outpatient and other claim types are not)")
        specialties = cms_to_nucc()
        last = 1
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                entity = "claims" if kind == "carrier" else "patients"
                yield Mapped(entity, start, f"RIF line {start}", {}, f"expected {len(header)} fields, found {len(fields)}")
                continue
            row = dict(zip(header, fields, strict=True))
            if kind == "carrier":
                yield _claim_line(row, start, specialties, tally)
            else:
                yield _beneficiary(row, start)


def _claim_line(row: dict[str, str], line: int, specialties: dict[str, str], tally: Tally) -> Mapped:
    cms_specialty = row.get("PRVDR_SPCLTY", "").strip()
    nucc = specialties.get(cms_specialty.zfill(2)) if cms_specialty else None
    if cms_specialty and nucc is None:
        tally.ignored[f"CMS provider specialty {cms_specialty} (no NUCC code for it in specialty_groups.csv; "
                      "rendering_specialty_code left null)"] += 1
    processing = row.get("LINE_PRCSG_IND_CD", "").strip().upper()
    denied = row.get("CARR_CLM_PMT_DNL_CD", "").strip() == "0" or (processing and processing not in PAID_PROCESSING)
    values = {
        "claim_id": row.get("CLM_ID") or None,
        "line_number": row.get("LINE_NUM") or None,
        "patient_id": row.get("BENE_ID") or None,
        "rendering_npi": row.get("PRF_PHYSN_NPI") or None,
        "service_date": rif_date(row.get("LINE_1ST_EXPNS_DT") or row.get("CLM_FROM_DT", "")),
        "allowed_amount": row.get("LINE_ALOWD_CHRG_AMT") or None,
        "claim_status": "denied" if denied else "paid",
        # The weekly processing date orders versions (DML_IND INSERT, then UPDATEs).
        "updated_at": rif_date(row.get("NCH_WKLY_PROC_DT", "")) or rif_date(row.get("CLM_THRU_DT", "")),
        "rendering_specialty_code": nucc,
        "referring_npi": row.get("RFR_PHYSN_NPI") or None,
        "referral_id": None,
        "procedure_code": row.get("HCPCS_CD") or None,
        "place_of_service": row.get("LINE_PLACE_OF_SRVC_CD") or None,
        "paid_amount": row.get("LINE_NCH_PMT_AMT") or None,
        "cms_provider_specialty": cms_specialty or None,
    }
    return Mapped("claims", line, f"RIF line {line}", values)


def _beneficiary(row: dict[str, str], line: int) -> Mapped:
    birth = rif_date(row.get("BENE_BIRTH_DT", "")) or ""
    zip_code = re.sub(r"\D", "", row.get("BENE_ZIP_CD", ""))
    values = {
        "patient_id": row.get("BENE_ID") or None,
        "birth_year": birth[:4] if re.match(r"^\d{4}-", birth) else None,
        "sex": RIF_SEX.get(row.get("BENE_SEX_IDENT_CD", "").strip(), None),
        "zip3": zip_code[:3] if len(zip_code) >= 3 else None,
        "payer_id": None,
    }
    return Mapped("patients", line, f"RIF line {line}", values)


csv.field_size_limit(MAX_FIELD_BYTES)
