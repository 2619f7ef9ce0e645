"""Every relative link of the README and the docs points at a file that
exists, and a link to a section at a heading of that file."""

from __future__ import annotations

import re

from pipelines.paths import ROOT

LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(page) -> set[str]:
    """The section anchors GitHub makes of a Markdown page's headings: lower
    case, punctuation dropped, spaces as hyphens; a repeated one gets -1, -2."""
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def test_relative_links_resolve():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target, anchor in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target) or not (target or anchor):
                continue
            linked = page.parent / target if target else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)} -> {target}#{anchor}")
    assert len(pages) > 10
    assert broken == []


def test_a_link_to_a_missing_section_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Daily loads\n\n```\n# not a heading\n```\n\n## Daily loads\n")
    assert anchors(page) == {"title", "daily-loads", "daily-loads-1"}
    assert LINK.findall("[a](deploy.md#daily-loads) [b](#title) [c](x.md)") == [
        ("deploy.md", "daily-loads"), ("", "title"), ("x.md", "")]


def test_every_format_page_is_linked_from_the_formats_index():
    index = (ROOT / "docs/formats/README.md").read_text()
    pages = [p.name for p in (ROOT / "docs/formats").glob("*.md") if p.name != "README.md"]
    assert sorted(pages) == ["cms-rif.md", "fhir.md", "hl7v2.md"]
    assert all(f"]({name})" in index for name in pages)
