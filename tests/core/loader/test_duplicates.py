"""Duplicates are refused, naming both places: keys in a mapping, tenant ids, and names whatever their case."""

from __future__ import annotations

import pytest

from tests.core.loader.support import assert_problems, problems, problems_of, tenant

PROBLEM_CASES = [
    # duplicate keys, which PyYAML would silently accept
    pytest.param(
        "tenants:\n  - id: a\n    name: A\n    name: B\n",
        [(4, "duplicate key 'name' (first written at line 3)")],
        id="duplicate-tenant-key",
    ),
    pytest.param(
        "tenants: []\ntenants: []\n", [(2, "duplicate key 'tenants' (first written at line 1)")], id="duplicate-top"
    ),
    pytest.param(
        tenant("    settings:\n      enabled: true\n      enabled: false\n"),
        [(6, "duplicate key 'enabled' (first written at line 5)")],
        id="duplicate-settings-key",
    ),
    pytest.param(
        tenant("    customAttributes: {plan: a, plan: b}\n"),
        [(4, "duplicate key 'plan' (first written at line 4)")],
        id="duplicate-attribute-key",
    ),
    # duplicates within a file
    pytest.param(
        "tenants:\n  - {id: a, name: A}\n  - {id: a, name: B}\n",
        [(3, "duplicate tenant id 'a': also declared at tenants.yaml:2")],
        id="duplicate-id",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: Same}\n  - {id: b, name: Same}\n",
        [(3, "duplicate tenant name 'Same': also used at tenants.yaml:2 (names are unique per project)")],
        id="duplicate-name",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: ACME Corp}\n  - {id: b, name: Acme corp}\n",
        [
            (
                3,
                "duplicate tenant name 'Acme corp': also used at tenants.yaml:2 as 'ACME Corp' "
                "(names are unique per project, whatever the case)",
            )
        ],
        id="duplicate-name-ignores-case",
    ),
    pytest.param(
        "tenants:\n  - &t {id: a, name: A}\n  - *t\n",
        [(3, "duplicate tenant id 'a': also declared at tenants.yaml:2"), (3, "duplicate tenant name 'A'")],
        id="aliased-tenant-is-a-duplicate",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEM_CASES)
def test_problem_cases(backend: str, text: str | bytes, expected: list[tuple[int | None, str]]) -> None:
    assert_problems(problems(text), expected)


def test_duplicate_id_and_name_across_files_name_both_locations() -> None:
    found = problems_of(
        {
            "tenants/a.yaml": "tenants:\n  - id: acme\n    name: ACME\n",
            "tenants/b.yaml": "tenants:\n  - id: other\n    name: ACME\n  - id: acme\n    name: Acme again\n",
        }
    )
    assert [str(p) for p in found] == [
        "tenants/b.yaml:3: duplicate tenant name 'ACME': also used at tenants/a.yaml:2 (names are unique per project)",
        "tenants/b.yaml:4: duplicate tenant id 'acme': also declared at tenants/a.yaml:2",
    ]
