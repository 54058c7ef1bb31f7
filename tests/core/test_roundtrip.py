"""Table-driven tests of the drill's comparison: what counts as restored equal, and what is reported lost."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.roundtrip import FieldDifference, round_trip_differences

ACME = {"id": "acme", "name": "ACME"}

EQUAL = [
    pytest.param(
        {**ACME, "createdTime": 1, "authType": "saml", "domains": ["sso.acme.com"], "successors": ["kid"]},
        {**ACME, "createdTime": 2},
        id="server-only-fields",
    ),
    pytest.param(
        {**ACME, "selfProvisioningDomains": ["ACME.com", "b.io"]},
        {**ACME, "selfProvisioningDomains": ["b.io", "acme.com"]},
        id="domains-case-and-order",
    ),
    pytest.param({**ACME, "disabled": False, "parent": "", "defaultRoles": []}, {**ACME}, id="omitted-defaults"),
    pytest.param(
        {**ACME, "customAttributes": {"seats": 50, "tags": ["b", "a"]}},
        {**ACME, "customAttributes": {"seats": 50.0, "tags": ["a", "b"]}},
        id="attribute-number-and-multiselect-order",
    ),
    pytest.param({**ACME, "futureField": ""}, {**ACME}, id="unknown-but-empty"),
]


@pytest.mark.parametrize(("recorded", "restored"), EQUAL)
def test_equal_after_normalising(recorded: dict[str, Any], restored: dict[str, Any]) -> None:
    assert round_trip_differences(recorded, restored) == ()


DIFFERENT = [
    pytest.param({**ACME}, {"id": "acme", "name": "Acme"}, FieldDifference("name", "ACME", "Acme"), id="name"),
    pytest.param({**ACME, "parent": "holding"}, {**ACME}, FieldDifference("parent", "holding", ""), id="parent-lost"),
    pytest.param(
        {**ACME, "customAttributes": {"plan": "x", "seats": 5}},
        {**ACME, "customAttributes": {"plan": "x"}},
        FieldDifference("customAttributes", {"plan": "x", "seats": 5}, {"plan": "x"}),
        id="attribute-lost",
    ),
    pytest.param({**ACME, "enforceSSO": True}, {**ACME}, FieldDifference("enforceSSO", True, False), id="omitted-true"),
    pytest.param(
        {**ACME, "futureField": {"on": True}},
        {**ACME},
        FieldDifference("futureField", {"on": True}, None, settable=False),
        id="unknown-field-cannot-be-restored",
    ),
]


@pytest.mark.parametrize(("recorded", "restored", "difference"), DIFFERENT)
def test_each_lost_field_is_named(recorded: dict[str, Any], restored: dict[str, Any], difference: Any) -> None:
    assert round_trip_differences(recorded, restored) == (difference,)


def test_recorded_session_settings_are_compared_key_by_key() -> None:
    recorded = {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes", "domains": ["x.com"]}
    same = {"sessionTokenExpiration": 10.0, "sessionTokenExpirationUnit": "minutes", "enabled": False}
    assert round_trip_differences(ACME, ACME, recorded_settings=recorded, restored_settings=same) == ()
    changed = {**same, "sessionTokenExpiration": 60}
    assert round_trip_differences(ACME, ACME, recorded_settings=recorded, restored_settings=changed) == (
        FieldDifference("settings.sessionTokenExpiration", 10, 60),
    )
    assert [d.field for d in round_trip_differences(ACME, ACME, recorded_settings=recorded)] == [
        "settings.sessionTokenExpiration",
        "settings.sessionTokenExpirationUnit",
    ], "settings recorded but none restored: every recorded session key is lost"
