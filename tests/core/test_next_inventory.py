"""The inventory a cycle leaves behind (``core.prune.next_inventory``): what prune may delete later."""

from __future__ import annotations

import pytest

from controller.core.prune import next_inventory

CASES = [
    # (id, inventory, claimed, deleted, desired, live, expected)
    ("idle", {"a", "b"}, {"a", "b"}, set(), {"a", "b"}, {"a", "b"}, {"a", "b"}),
    ("claims-a-new-tenant", {"a"}, {"a", "b"}, set(), {"a", "b"}, {"a"}, {"a", "b"}),
    ("deleted-is-forgotten", {"a", "gone"}, {"a"}, {"gone"}, {"a"}, {"a", "gone"}, {"a"}),
    ("removed-from-yaml-but-live-is-kept", {"a", "old"}, {"a"}, set(), {"a"}, {"a", "old"}, {"a", "old"}),
    ("neither-desired-nor-live-is-forgotten", {"a", "lost"}, {"a"}, set(), {"a"}, {"a"}, {"a"}),
    ("created-not-yet-live-is-kept", set(), {"new"}, set(), {"new"}, set(), {"new"}),
    ("nothing-claimed", {"a"}, set(), set(), {"a", "b"}, {"a", "b"}, {"a"}),
]


@pytest.mark.parametrize(
    ("inventory", "claimed", "deleted", "desired", "live", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_next_inventory(
    inventory: set[str],
    claimed: set[str],
    deleted: set[str],
    desired: set[str],
    live: set[str],
    expected: set[str],
) -> None:
    before = set(inventory)
    got = next_inventory(inventory, claimed, deleted, dict.fromkeys(desired), live)
    assert got == expected
    # the old rule, as the reconciler wrote it: it must agree
    managed = (before | claimed) - deleted
    assert got == managed - {t for t in managed - desired if t not in live}


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        ({"a", "b"}, {"a", "b"}),
        ({"a", "b", "lost"}, {"a", "b"}),
        ({"a", "b", "old"}, {"a", "b", "old"}),
        ({"a"}, {"a", "b"}),
    ],
)
def test_next_inventory_when_every_desired_tenant_is_claimed(inventory: set[str], expected: set[str]) -> None:
    """As under adopt: what is claimed is the desired ids themselves (the reconciler passes the same mapping)."""
    desired = dict.fromkeys(["a", "b"])
    assert next_inventory(inventory, desired, set(), desired, {"a", "b", "old"}) == expected
