"""What every non-CSV reader hands the loader.

A format reader maps the records of one file (FHIR resources, HL7 v2
messages, CMS RIF lines) to rows of the CSV contract's entities, as the
strings the contract would carry. The loader then validates them with the
very rules that apply to CSV extracts, so a value means the same whatever
format it came in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.defs.ingest.reader import open_bytes


@dataclass
class Mapped:
    """One contract row made from one source record."""

    entity: str
    position: int                  # line (NDJSON, HL7 v2, RIF) or bundle entry where the record starts
    label: str                     # what the record is, e.g. "ServiceRequest/sr-1", "REF^I12 (line 4)"
    values: dict[str, str | None]  # contract column -> value as text; extra names are kept in `_extra`
    error: str | None = None       # set when the record cannot be mapped at all: the row is rejected


@dataclass
class Tally:
    """What a reader saw but did not turn into rows, reported per file."""

    unresolved: int = 0                                     # references that resolved to nothing
    unresolved_examples: list[str] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)       # what was skipped, and why

    def unresolved_reference(self, where: str) -> None:
        self.unresolved += 1
        if len(self.unresolved_examples) < 3:
            self.unresolved_examples.append(where)

    def note(self) -> str | None:
        parts = []
        if self.unresolved:
            parts.append(
                f"{self.unresolved:,} reference(s) resolved to nothing (field left null), e.g. "
                + "; ".join(self.unresolved_examples)
            )
        if self.ignored:
            parts.append("not mapped: " + ", ".join(f"{n:,} {what}" for what, n in sorted(self.ignored.items())))
        return " | ".join(parts) or None


def head_text(path: Path, size: int = 4096) -> str:
    """The first bytes of a file as text (for sniffing its format)."""
    try:
        with open_bytes(path) as handle:
            head = handle.read(size)
    except (OSError, EOFError):
        return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def first(items, predicate: Callable = bool):
    return next((item for item in items or () if predicate(item)), None)
