"""The dbt sources describe exactly the landed tables the loader creates."""

import yaml

from pipelines.contract import ENTITIES, landed_columns
from pipelines.paths import DBT_PROJECT_DIR


def test_sources_list_every_landed_column_in_order():
    doc = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/extracts/_extracts__sources.yml").read_text())
    (source,) = doc["sources"]
    tables = {t["name"]: t for t in source["tables"]}
    assert set(ENTITIES) | {"_manifest", "_rejects", "_warehouse_key", "_fhir_references"} == set(tables)
    for entity in ENTITIES.values():
        assert [c["name"] for c in tables[entity.name]["columns"]] == [n for n, _ in landed_columns(entity)]
        assert "freshness" in tables[entity.name]


def test_seeds_are_the_spec_reference_files():
    groups = (DBT_PROJECT_DIR / "seeds/specialty_groups.csv").read_text().splitlines()
    assert groups[0] == "specialty_code,specialty_name,specialty_group,cms_specialty_code"
    assert len(groups) > 30
