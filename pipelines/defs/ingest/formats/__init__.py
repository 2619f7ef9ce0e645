"""Which reader a file needs, by its name or, failing that, its content.

- `.ndjson`, `.json` (optionally `.gz`), or content that starts with `{`/`[`: FHIR R4;
- `.hl7`, or content that starts with `MSH`: HL7 v2;
- a pipe-delimited header with CMS RIF column names (CLM_ID, BENE_ID, ...): CMS RIF;
- otherwise the CSV contract, by the entity its name starts with.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.contract import entity_of
from pipelines.defs.ingest.formats import cms_rif
from pipelines.defs.ingest.formats.common import head_text

CSV, FHIR, HL7V2, CMS_RIF = "csv", "fhir", "hl7v2", "cms_rif"
FORMATS = (CSV, FHIR, HL7V2, CMS_RIF)


def detect(path: Path) -> str | None:
    base = path.name.lower().removesuffix(".gz")
    if base.endswith((".ndjson", ".json")):
        return FHIR
    if base.endswith((".hl7", ".hl7v2")):
        return HL7V2
    head = head_text(path)
    if head.startswith(("{", "[")) and not entity_of(path.name):
        return FHIR
    if head.startswith("MSH") and len(head) > 3 and not head[3].isalnum():
        return HL7V2
    first_line = head.splitlines()[0] if head else ""
    if "|" in first_line and cms_rif.kind_of(first_line):
        return CMS_RIF
    if entity_of(path.name):
        return CSV
    return None
