"""A revision read with the items of the previous one (``parse_revision``) is the revision read afresh.

Only the items whose text changed reach yaml-rs; ids, names and parents are checked across all tenants
again, lines are counted again, and a changed head, limits or attribute catalogue reads everything anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.loader import LoadLimits, parse_revision, parse_tenant_files
from controller.core.loader_fast import fast_state, fast_state_reusing
from controller.core.model import DesiredState
from controller.descope_api import AttributeDefinition
from controller.errors import Problem, TenantsFileInvalid
from tests.core.loader.test_fast_path import documents, pooled_tenants


def item(i: int, *, name: str | None = None, extra: str = "") -> str:
    return f"  - id: t{i}\n    name: {name or f'Tenant {i}'}\n    selfProvisioningDomains: [t{i}.example.com]\n{extra}"


BASE = "# tenants\ntenants:\n" + "".join(item(i) for i in range(8))


def without(text: str, i: int) -> str:
    return text.replace(item(i), "")


EDITS: dict[str, Callable[[str], str]] = {
    "one name": lambda t: t.replace("name: Tenant 3\n", "name: Tenant three\n"),
    "insert": lambda t: t.replace(item(4), item(99) + item(4)),
    "append": lambda t: t + item(99),
    "append without a final line break": lambda t: t + item(99).rstrip("\n"),
    "delete": lambda t: without(t, 5),
    "delete the first": lambda t: without(t, 0),
    "reorder": lambda t: without(t, 1) + item(1),
    "a new item with an old id": lambda t: t + "  - id: t2\n    name: Other\n",
    "a new item with an old name": lambda t: t + "  - id: t99\n    name: tenant 2\n",
    "an old item twice": lambda t: t + item(6),
    "rename an id, keep the name": lambda t: t.replace("id: t7\n", "id: t77\n"),
    "a parent": lambda t: t.replace(item(2), item(2, extra="    parent: t1\n")),
    "an undeclared parent": lambda t: t.replace(item(2), item(2, extra="    parent: t404\n")),
    "a parent cycle": lambda t: t.replace(item(1), item(1, extra="    parent: t2\n")).replace(
        item(2), item(2, extra="    parent: t1\n")
    ),
    "a comment between items": lambda t: t.replace(item(3), "  # the next one\n" + item(3)),
    "head: another comment": lambda t: t.replace("# tenants\n", "# all tenants\n"),
    "head: indentation": lambda t: t.replace("\n  ", "\n    "),
    "a YAML 1.1 boolean": lambda t: t.replace("name: Tenant 3\n", "name: yes\n"),
    "an anchor": lambda t: t.replace("name: Tenant 3\n", "name: &a Tenant 3\n"),
    "a top-level key after the list": lambda t: t + "other: 1\n",
    "a tab": lambda t: t.replace("name: Tenant 3\n", "name:\tTenant 3\n"),
    "an item our scan cannot see": lambda t: t + "  -\n    id: t99\n    name: Late\n",
    "empty": lambda t: "tenants: []\n",
}


def outcome(read: Callable[[], DesiredState]) -> DesiredState | list[Problem]:
    try:
        return read()
    except TenantsFileInvalid as exc:
        return exc.problems


def tightest_node_limit() -> LoadLimits:
    """The smallest ``max_nodes`` the fast path reads BASE under: a revision one node larger it must doubt."""
    low, high = 1, 1000
    while low < high:
        middle = (low + high) // 2
        if fast_state({"tenants.yaml": BASE.encode()}, LoadLimits(max_nodes=middle), None) is None:
            low = middle + 1
        else:
            high = middle
    return LoadLimits(max_nodes=low)


@pytest.mark.parametrize(
    "limits",
    [LoadLimits(), tightest_node_limit(), LoadLimits(max_tenants=8)],
    ids=["default limits", "as few nodes as BASE has", "as few tenants as BASE has"],
)
@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_revision_read_with_the_previous_ones_items_is_that_revision(
    edit: Callable[[str], str], limits: LoadLimits
) -> None:
    first, cache = parse_revision({"tenants.yaml": BASE.encode()}, None, limits=limits)
    assert cache is not None
    assert first == parse_tenant_files({"tenants.yaml": BASE.encode()}, limits=limits, fast=False)
    files = {"tenants.yaml": edit(BASE).encode()}
    reused = outcome(lambda: parse_revision(files, cache, limits=limits)[0])
    assert reused == outcome(lambda: parse_tenant_files(files, limits=limits, fast=False))
    # and the fast path vouches for it exactly when it would afresh (the node limit counts every item)
    fresh = fast_state(files, limits, None)
    assert (fast_state_reusing(files, limits, None, cache) is None) is (fresh is None)


def test_only_the_edited_item_is_parsed_and_every_line_is_counted_again(yaml_rs_texts: list[str]) -> None:
    _, cache = parse_revision({"tenants.yaml": BASE.encode()}, None)
    yaml_rs_texts.clear()
    edited = BASE.replace(item(3), item(3, name="Tenant three")).replace(item(5), "")
    state, _ = parse_revision({"tenants.yaml": edited.encode()}, cache)
    assert yaml_rs_texts == ["# tenants\ntenants:\n" + item(3, name="Tenant three")]
    assert state == parse_tenant_files({"tenants.yaml": edited.encode()}, fast=False)
    assert [t.line for t in state.tenants] == [3, 6, 9, 12, 15, 18, 21]  # t6 and t7 moved up with t5 gone


def test_a_chain_of_revisions_keeps_reusing(yaml_rs_texts: list[str]) -> None:
    text, cache = BASE, None
    for step in range(4):
        text = text.replace(f"name: Tenant {step}\n", f"name: Renamed {step}\n")
        state, cache = parse_revision({"tenants.yaml": text.encode()}, cache)
        assert state == parse_tenant_files({"tenants.yaml": text.encode()}, fast=False)
    assert len(yaml_rs_texts) == 4 and all(body.count("- id:") == 1 for body in yaml_rs_texts[1:])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"limits": LoadLimits(max_tenants=7)}, id="fewer tenants allowed"),
        pytest.param({"limits": LoadLimits(max_nodes=20)}, id="fewer nodes allowed"),
        pytest.param({"attributes": {"seats": AttributeDefinition("seats", "number")}}, id="a catalogue"),
    ],
)
def test_other_limits_or_attributes_read_everything_again(change: dict[str, Any], yaml_rs_texts: list[str]) -> None:
    text = BASE.replace(item(1), item(1, extra="    customAttributes: {seats: 3}\n"))
    _, cache = parse_revision({"tenants.yaml": text.encode()}, None)
    yaml_rs_texts.clear()
    state = outcome(lambda: parse_revision({"tenants.yaml": text.encode()}, cache, **change)[0])
    assert state == outcome(lambda: parse_tenant_files({"tenants.yaml": text.encode()}, fast=False, **change))
    assert all(body.count("- id:") == 8 for body in yaml_rs_texts)  # nothing reused


def test_items_are_reused_per_file_and_a_moved_tenant_is_read_in_its_new_file() -> None:
    files = {"a.yaml": BASE.encode(), "b.yaml": b"tenants:\n" + item(50).encode()}
    _, cache = parse_revision(files, None)
    moved = {"a.yaml": without(BASE, 4).encode(), "b.yaml": b"tenants:\n" + (item(50) + item(4)).encode()}
    state, _ = parse_revision(moved, cache)
    assert state == parse_tenant_files(moved, fast=False)
    assert next(t for t in state.tenants if t.id == "t4").where == "b.yaml:5"


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few lines deleted, repeated, moved or changed: most items stay byte-identical."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["delete", "repeat", "move", "change"]))
        if operation == "delete" and len(lines) > 1:
            del lines[at]
        elif operation == "repeat":
            lines.insert(draw(st.integers(0, len(lines))), lines[at])
        elif operation == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(at))
        else:
            old, new = draw(st.sampled_from(["t", "a", "1", " "])), draw(st.sampled_from(["x", "A", "7"]))
            lines[at] = lines[at].replace(old, new)
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.one_of(documents(), pooled_tenants()))
def test_any_edit_read_with_the_previous_items_gives_what_the_line_numbered_load_gives(
    data: st.DataObject, text: str
) -> None:
    try:
        _, cache = parse_revision({"tenants.yaml": text.encode()}, None)
    except TenantsFileInvalid:
        cache = None  # an invalid revision leaves nothing to reuse
    files = {"tenants.yaml": data.draw(edited(text)).encode()}
    assert outcome(lambda: parse_revision(files, cache)[0]) == outcome(lambda: parse_tenant_files(files, fast=False))


def test_a_command_that_parses_once_keeps_no_items() -> None:
    """``keep=False`` (one-shot commands): the same state as a plain load, nothing kept to hold in memory."""
    files = {"tenants.yaml": BASE.encode()}
    state, kept = parse_revision(files, None, keep=False)
    assert kept is None
    assert state == parse_tenant_files(files)
    assert parse_revision(files, None)[1] is not None  # the daemon's default keeps them
