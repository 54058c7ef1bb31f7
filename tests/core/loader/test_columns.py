"""The fast path's column checks agree with the per-item ones they stand in for (``core.loader_columns``)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.core.loader_columns import (
    _MAX_DISPLAY,
    Recorded,
    _all_domains,
    _desired_tenants,
    _dicts,
    _Doubt,
    record_all,
)
from controller.core.model import DesiredTenant, JSONValue
from controller.core.problems import LoadLimits, _Problems
from controller.core.schema import _WHITESPACE, _is_domain, _Validator

_DOMAINS = [
    *("acme.com", "ACME.COM", "Acme.Example.Co.Uk", "a.b", "a-b.c-d.io", "xn--bcher-kva.example", "1password.com"),
    *("acme.com.", ".acme.com", "acme..com", "acme", "", " acme.com", "acme.com ", "ac me.com", "acme.com\n"),
    *("-acme.com", "acme-.com", "acme.-com", "acme.com-", "a_b.com", "acme.c_m", "acme.123", "1.2.3.4", "acme.1a"),
    *("acme.a1", "acme.0", "bücher.de", "acme.cöm", "acme.com\u200b", "acme.\u0661\u0662", "a@b.com"),
    "\uff46\uff55\uff4c\uff4c.com",  # full-width letters
    *("a" * 62 + "-.com", "a" + "-" * 62 + ".com", "a.-.com", "a." + "b" * 64 + ".com", "1.2.com", "a.1-2"),
    *("a.123-", "a.b-1", "a.b.c.d.e.f", "a..", "..", ".", "-", "a.b.", "A.B"),
    *("x" * 63 + ".com", "x" * 64 + ".com", "acme." + "y" * 63, "acme." + "y" * 64, "a" + "-" * 61 + "a.com"),
    *(".".join(["abcdefgh"] * 28) + ".io", ".".join(["abcdefgh"] * 28) + ".iox", "a.b\nc.d", "\n", "a.b\n"),
    *("a" * 249 + ".com", "a" * 250 + ".com", "%s.com" % ("é" * 3), "acme.com\r", "acme.com\t"),
]


@pytest.mark.parametrize("domain", _DOMAINS)
def test_one_search_over_a_column_agrees_with_is_domain(domain: str) -> None:
    assert _all_domains([domain]) is _is_domain(domain)
    assert _all_domains(["ok.example.com", domain, "other.example.org"]) is _is_domain(domain)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.text(alphabet="aZ09-.\n\u00e9_ ", max_size=12) | st.sampled_from(_DOMAINS), max_size=4))
@example(["a" * 63 + ".b" + "c" * 63])
@example(["1.b0", "a.0-"])
def test_a_column_of_any_strings_is_valid_exactly_when_each_is_a_domain(items: list[str]) -> None:
    assert _all_domains(items) is all(map(_is_domain, items))


def test_a_column_is_valid_only_when_every_domain_is() -> None:
    valid = [d for d in _DOMAINS if _is_domain(d)]
    invalid = [d for d in _DOMAINS if not _is_domain(d)]
    assert valid and invalid
    assert _all_domains(valid)
    assert _all_domains([])
    for bad in invalid:
        for at in (0, len(valid) // 2, len(valid)):
            assert not _all_domains([*valid[:at], bad, *valid[at:]]), bad


_TENANTS: list[tuple[str, dict[str, JSONValue]]] = [
    ("acme", {"name": "Acme", "parent": "root"}),
    ("root", {"name": "Root Ltd", "parent": ""}),
    ("müller", {"name": "Müller GmbH"}),
    ("t-1", {"name": "東京", "disabled": True}),
    ("t-2", {"name": "ß", "parent": "acme"}),
]


def _validator() -> _Validator:
    validator = _Validator(_Problems(10, ["a.yaml"]), LoadLimits())
    validator.file_name = "a.yaml"
    return validator


def _state(validator: _Validator) -> dict[str, Any]:
    names = ("tenants", "ids", "names", "unusual_ids", "unusual_names", "parents", "all_ids")
    return {name: getattr(validator, name) for name in names}


def test_record_all_keeps_what_record_keeps() -> None:
    one_by_one, together = _validator(), _validator()
    lines = [2 + 3 * i for i in range(len(_TENANTS))]
    for (tenant_id, fields), line in zip(_TENANTS, lines, strict=True):
        one_by_one.record(tenant_id, fields, line, {"id": 0, "name": 0, "parent": 0}, True)
    recorded = Recorded()
    record_all(together, recorded, [t for t, _ in _TENANTS[:2]], [f for _, f in _TENANTS[:2]], lines[:2])
    record_all(together, recorded, [t for t, _ in _TENANTS[2:]], [f for _, f in _TENANTS[2:]], lines[2:])
    recorded.into(together)
    assert _state(together) == _state(one_by_one)
    assert together.unusual_ids == ["müller"] and len(together.unusual_names) == 3


def test_ids_and_names_are_left_unmapped_when_the_lookalike_checks_will_not_read_them() -> None:
    """All ASCII: ``finish`` reads ``all_ids`` and ``parents`` only, and passes as with the maps filled."""
    validator, recorded = _validator(), Recorded()
    record_all(validator, recorded, ["a", "b"], [{"name": "A", "parent": "b"}, {"name": "B"}], [1, 5])
    recorded.into(validator)
    assert validator.ids == {} and validator.names == {}
    assert validator.all_ids == {"a", "b"} and recorded.names == {"a", "b"}
    validator.finish()
    assert validator.problems.items == []


@pytest.mark.parametrize(
    ("ids", "names"),
    [
        (["a", "b", "a"], ["A", "B", "C"]),  # a duplicate id in the slice
        (["a", "b", "c"], ["Acme", "B", "ACME"]),  # names equal whatever the case
        (["a", "b", "c"], ["Straße", "B", "STRASSE"]),  # ... as casefold() sees it
    ],
)
def test_record_all_doubts_a_duplicate(ids: list[str], names: list[str]) -> None:
    with pytest.raises(_Doubt):
        record_all(_validator(), Recorded(), ids, [{"name": n} for n in names], [1, 2, 3])


@pytest.mark.parametrize(("tenant_id", "name"), [("b", "C"), ("c", "b")])
def test_record_all_doubts_a_duplicate_of_an_earlier_slice(tenant_id: str, name: str) -> None:
    validator, recorded = _validator(), Recorded()
    record_all(validator, recorded, ["a", "b"], [{"name": "A"}, {"name": "B"}], [1, 2])
    with pytest.raises(_Doubt):
        record_all(validator, recorded, ["z", tenant_id], [{"name": "Z"}, {"name": name}], [3, 4])


def test_desired_tenants_are_the_dataclass_built_as_usual() -> None:
    ids, lines = ["a", "b"], [3, 9]
    fields: list[dict[str, Any]] = [{"name": "A"}, {"name": "B", "disabled": True}]
    built = _desired_tenants(ids, fields, "x.yaml", lines)
    usual = [DesiredTenant(id=i, fields=f, file="x.yaml", line=n) for i, f, n in zip(ids, fields, lines, strict=True)]
    assert built == usual
    assert all(type(tenant) is DesiredTenant for tenant in built)
    with pytest.raises(AttributeError):
        built[0].id = "c"  # still frozen


@pytest.mark.parametrize("size", [1, 2, 3, 17, _MAX_DISPLAY, _MAX_DISPLAY + 1, 60])
def test_mappings_made_a_row_at_a_time_are_those_of_dict_zip(size: int) -> None:
    keys = [f"k{i}" if i % 3 else f"v{i}" for i in range(size)]  # the display's own argument names too
    columns = [[(row, column) for row in range(5)] for column in range(size)]
    made = _dicts(keys, columns)
    assert made == [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    assert [list(mapping) for mapping in made] == [keys] * 5  # the keys in their order


def test_mappings_need_columns_of_one_length() -> None:
    with pytest.raises(ValueError, match="lengths"):
        _dicts(["a", "b"], [[1, 2], [3]])


def test_the_only_printable_whitespace_is_the_space() -> None:
    """``_ids`` checks printable ids for a space only: every other character ``\\s`` matches is not printable."""
    printable_spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable() and _WHITESPACE.match(c)]
    assert printable_spaces == [" "]
