"""The public marts are a stable interface: contracts are enforced, and no
column is renamed, dropped or retyped without a note in CHANGELOG.md."""

from __future__ import annotations

import json

import yaml

from pipelines.defs.transform.dbt import ensure_manifest
from pipelines.paths import DBT_PROJECT_DIR, ROOT

SNAPSHOT = DBT_PROJECT_DIR / "public_interface.yml"
CHANGELOG = ROOT / "CHANGELOG.md"


def current_interface() -> dict[str, dict[str, str]]:
    manifest = json.loads(ensure_manifest().read_text())
    return {
        node["name"]: {name: column.get("data_type") for name, column in node["columns"].items()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


# Names of one type: `string` is what both engines accept (Spark has no bare varchar).
SAME_TYPE = {"varchar": "string", "text": "string"}


def same_type(a: str | None, b: str | None) -> bool:
    return SAME_TYPE.get(a, a) == SAME_TYPE.get(b, b)


def breaking_changes(before: dict, now: dict, changelog: str) -> list[str]:
    """Columns of `before` that are gone or retyped in `now` and not named in the changelog."""
    problems = []
    for model, columns in before.items():
        for column, data_type in columns.items():
            name = f"marts.{model}.{column}"
            if model not in now or column not in now[model]:
                change = "dropped or renamed"
            elif not same_type(now[model][column], data_type):
                change = f"retyped {data_type} -> {now[model][column]}"
            else:
                continue
            if name not in changelog:
                problems.append(f"{name} {change} without a note in CHANGELOG.md")
    return problems


def test_every_public_mart_enforces_its_contract():
    manifest = json.loads(ensure_manifest().read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert len(marts) >= 15
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        assert all(c.get("data_type") for c in node["columns"].values()), node["name"]
        assert node["description"], node["name"]


def test_no_public_column_changes_without_a_changelog_note():
    before = yaml.safe_load(SNAPSHOT.read_text())
    now = current_interface()
    assert breaking_changes(before, now, CHANGELOG.read_text()) == []
    unlisted = [f"{m}.{c}" for m, cols in now.items() for c in cols if c not in (before.get(m) or {})]
    assert unlisted == [], f"new public columns: list them in {SNAPSHOT.name} (and under Added in CHANGELOG.md)"


def test_the_check_catches_a_rename_and_accepts_a_noted_one():
    before = {"fct_referrals": {"referral_id": "string", "outcome": "string"}}
    renamed = {"fct_referrals": {"referral_id": "string", "referral_outcome": "string"}}
    assert breaking_changes(before, renamed, "") == [
        "marts.fct_referrals.outcome dropped or renamed without a note in CHANGELOG.md"]
    assert breaking_changes(before, renamed, "### Breaking\n- marts.fct_referrals.outcome is now referral_outcome") == []
    retyped = {"fct_referrals": {"referral_id": "bigint", "outcome": "string"}}
    assert "retyped string -> bigint" in breaking_changes(before, retyped, "")[0]
    # varchar and string are one type (the engine-neutral spelling is string)
    assert breaking_changes({"m": {"c": "varchar"}}, {"m": {"c": "string"}}, "") == []
