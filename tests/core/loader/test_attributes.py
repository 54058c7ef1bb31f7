"""With the project's custom attribute definitions known, the loader refuses what Descope would, with file:line."""

from __future__ import annotations

import pytest

from controller.core.loader import parse_tenant_files
from controller.descope_api import parse_attribute_definitions
from controller.errors import TenantsFileInvalid
from tests.core.loader.support import assert_problems

CATALOGUE = parse_attribute_definitions(
    [
        {"name": "plan", "type": "singleselect", "options": [{"label": "Free", "value": "free"}, "pro"]},
        {"name": "seats", "type": "number"},
        {"name": "vip", "type": "boolean"},
        {"name": "regions", "type": "multiselect", "options": ["eu", "us"]},
        {"name": "renewal", "type": "date"},
        {"name": "note", "type": "string"},
    ]
)


def tenant(attributes: str) -> str:
    return f"tenants:\n  - id: acme\n    name: Acme\n    customAttributes:\n{attributes}"


def check(text: str) -> None:
    parse_tenant_files({"tenants.yaml": text.encode()}, attributes=CATALOGUE)


def test_values_their_types_take_load_and_null_clears_only_a_defined_key() -> None:
    text = tenant(
        "      plan: pro\n      seats: 2.5\n      vip: false\n      regions: [us, eu]\n"
        "      renewal: 1735689600000\n      note: '42'\n      seats2: null\n"
    )
    with pytest.raises(TenantsFileInvalid) as caught:  # seats2 is not defined, even to clear it
        check(text)
    assert_problems(caught.value.problems, [(11, "customAttributes.seats2 is not a custom attribute")])
    check(text.replace("      seats2: null\n", "      seats: null\n").replace("      seats: 2.5\n", ""))


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            "      tier: gold\n",
            [(5, "customAttributes.tier is not a custom attribute of the Descope project (defined: plan, seats,")],
        ),
        (
            "      seat: 3\n",
            [(5, "customAttributes.seat is not a custom attribute of the Descope project (did you mean 'seats'?)")],
        ),
        (
            "      plan: Pro\n",
            [
                (
                    5,
                    "customAttributes.plan (singleselect) must be one of 'free', 'pro', not the string 'Pro'; "
                    "did you mean 'pro'?",
                )
            ],
        ),
        ("      plan: Free\n", [(5, "must be one of 'free', 'pro'")]),  # the label is not the value
        ("      seats: '50'\n", [(5, "customAttributes.seats (number) must be a number, not the string '50'")]),
        ("      seats: yes\n", [(5, "must be a number, not true")]),  # YAML 1.1: yes is a boolean
        ("      vip: 1\n", [(5, "customAttributes.vip (boolean) must be true or false, not the number 1")]),
        ("      regions: eu\n", [(5, "must be a list of 'eu', 'us' (each at most once)")]),
        ("      regions: [eu, asia]\n", [(5, "must be a list of 'eu', 'us'")]),
        ("      regions: [eu, eu]\n", [(5, "with an item listed twice")]),
        ("      renewal: 2025-01-01\n", [(5, "(date) must be a date as whole epoch milliseconds")]),
        ("      note: 42\n", [(5, "customAttributes.note (string) must be a string, not the number 42")]),
        ("      tier: gold\n      seats: many\n", [(5, "customAttributes.tier"), (6, "customAttributes.seats")]),
        ("      tier:\n        - gold\n", [(5, "customAttributes.tier is not a custom attribute")]),  # the key's line
    ],
)
def test_undefined_keys_and_wrong_types_are_problems_at_their_line(
    attributes: str, expected: list[tuple[int, str]]
) -> None:
    with pytest.raises(TenantsFileInvalid) as caught:
        check(tenant(attributes))
    assert_problems(caught.value.problems, expected)


def test_without_a_catalogue_any_key_is_accepted() -> None:
    state = parse_tenant_files({"tenants.yaml": tenant("      tier: gold\n      seats: many\n").encode()})
    assert state.tenants[0].fields["customAttributes"] == {"tier": "gold", "seats": "many"}


def test_an_empty_catalogue_defines_nothing() -> None:
    with pytest.raises(TenantsFileInvalid) as caught:
        parse_tenant_files({"tenants.yaml": tenant("      plan: pro\n").encode()}, attributes={})
    assert_problems(caught.value.problems, [(5, "(defined: none)")])
