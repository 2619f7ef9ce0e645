"""Every relative link of the README and the docs points at a file that exists."""

from __future__ import annotations

import re

from pipelines.paths import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_resolve():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert len(pages) > 10
    assert broken == []


def test_every_format_page_is_linked_from_the_formats_index():
    index = (ROOT / "docs/formats/README.md").read_text()
    pages = [p.name for p in (ROOT / "docs/formats").glob("*.md") if p.name != "README.md"]
    assert sorted(pages) == ["cms-rif.md", "fhir.md", "hl7v2.md"]
    assert all(f"]({name})" in index for name in pages)
