import pytest

from pipelines.contract import ENTITIES, entity_of, landed_columns, npi_check_digit_ok


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("referrals_2026-03-01.csv", "referrals"),
        ("referral_events_2026-03-01.csv", "referral_events"),
        ("appointments-2026-03-01.csv.gz", "appointments"),
        ("claims.csv", "claims"),
        ("Claims.CSV", "claims"),
        ("providers", "providers"),
        ("slots.2026.csv", "slots"),
        ("referralsX.csv", None),
        ("referral.csv", None),
        ("notes.txt", None),
        ("patients_extra_engagements.csv", "patients"),
    ],
)
def test_entity_is_the_longest_name_the_file_starts_with(name, entity):
    assert entity_of(name) == entity


def test_npi_check_digit_follows_luhn_with_80840_prefix():
    # 1234567893 is CMS's published example of a valid NPI.
    assert npi_check_digit_ok("1234567893")
    assert not npi_check_digit_ok("1234567890")
    assert not npi_check_digit_ok("123456789")
    assert not npi_check_digit_ok("12345678AB")


def test_every_entity_has_its_key_columns_and_lineage():
    for entity in ENTITIES.values():
        names = [name for name, _ in landed_columns(entity)]
        assert set(entity.key) <= set(names)
        assert names[-5:] == ["_extra", "_file_name", "_line_number", "_run_id", "_loaded_at"]
        assert ("updated_at" in entity.by_name) == entity.versioned
