"""A list answer decoded as it arrives gives what json.loads gives, for any split into chunks, or refuses it too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.json_stream import NotJson, loads_chunks

_text = st.text(alphabet=st.sampled_from('ab},{]["\\ :é\u2028'), max_size=8)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=8
)
_records = st.dictionaries(_text, _values, max_size=4)


def chunked(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(body)) for c in cuts})
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


def outcome(body: bytes, cuts: list[int]) -> tuple[str, Any]:
    try:
        return "ok", loads_chunks(chunked(body, cuts))
    except NotJson:
        return "refused", None


def expected(body: bytes) -> tuple[str, Any]:
    if not body.strip():
        return "ok", None
    try:
        return "ok", json.loads(body)
    except ValueError:
        return "refused", None


@settings(max_examples=300)
@given(
    records=st.lists(_records, max_size=40),
    extra=st.dictionaries(st.sampled_from(["tenants", "next", "x"]), _values, max_size=2),
    indent=st.sampled_from([None, 2]),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
def test_a_list_answer_decodes_as_json_loads_does(
    records: list[dict[str, Any]], extra: dict[str, Any], indent: int | None, cuts: list[int]
) -> None:
    body = json.dumps({"tenants": records, **extra}, indent=indent, ensure_ascii=False).encode()
    got = outcome(body, cuts)
    assert got == expected(body)
    assert repr(got) == repr(expected(body))  # equal with equal types: sharing never turns 1 into True or 1.0


@settings(max_examples=300)
@given(
    records=st.lists(_records, min_size=1, max_size=30),
    damage=st.sampled_from([b",]", b"]]", b"}", b"", b"x", b'"', b"\xff", b",", b"  ", b"}}", b"{", b"\\"]),
    at=st.integers(min_value=0, max_value=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_a_damaged_answer_is_refused_where_json_loads_refuses_it(
    records: list[dict[str, Any]], damage: bytes, at: int, cuts: list[int]
) -> None:
    body = json.dumps({"tenants": records}, separators=(",", ":"), ensure_ascii=False).encode()
    at = min(at, len(body))
    for damaged in (body[:at] + damage + body[at:], body[:at] + damage, body[:at] + body[at + 1 :]):
        assert outcome(damaged, cuts) == expected(damaged)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n",
        b"{}",
        b"[]",
        b'{"ok": true}',
        b'{"tenants": []}',
        b'{"tenants": [],}',
        b'{"tenants": [{"a": 1},]}',
        b'{"tenants": [{"a": 1}], "tenants": [{"b": 2}]}',
        '\ufeff{"tenants": []}'.encode(),
        '{"tenants": [{"a": "\u00e9"}]}'.encode("utf-16"),
        b'{"tenants": [{"a": 1}]} x',
        b"not json",
        json.dumps({"x": "\u00e9" * 300, "tenants": ["\u00e9"]}, ensure_ascii=False).encode(),  # decoded whole
    ],
)
def test_edge_answers_decode_as_json_loads_does(body: bytes) -> None:
    for size in (1, 2, 3, 7, 1000):
        assert outcome(body, list(range(size, len(body), size))) == expected(body)


def test_a_large_list_is_decoded_in_batches_sharing_keys_and_repeated_values() -> None:
    records = [
        {"id": f"t{i:06d}", "customAttributes": {"plan": ("pro", "free")[i % 2]}, "authType": "none", "createdTime": i}
        for i in range(5000)
    ]
    body = json.dumps({"tenants": records}, separators=(",", ":")).encode()
    data = loads_chunks(body[k : k + 65536] for k in range(0, len(body), 65536))
    assert data == {"tenants": records}
    keys = {id(next(iter(r))) for r in data["tenants"]}
    assert len(keys) <= len(body) // 65536 + 2  # one "id" string per batch, not one per record
    assert len({id(r["customAttributes"]["plan"]) for r in data["tenants"]}) == 2  # a 100k list's 10 MB less
    assert len({id(r["authType"]) for r in data["tenants"]}) == 1


def test_repeated_values_are_shared_across_records_of_any_shape() -> None:
    records: list[dict[str, Any]] = [
        {"id": f"t{i:06d}", "authType": ["none", "saml", 7, None, ["x"]][i % 5], "customAttributes": {"plan": "pro"}}
        for i in range(3000)
    ]
    records[1] = {"id": "t-odd"}  # keys missing: never added
    records[2]["customAttributes"] = ["not", "a", "map"]
    body = json.dumps({"tenants": records}, separators=(",", ":")).encode()
    data = loads_chunks(body[k : k + 4096] for k in range(0, len(body), 4096))
    assert repr(data) == repr({"tenants": records})
    kinds = {
        r["authType"]: {id(x["authType"]) for x in data["tenants"] if x.get("authType") == r["authType"]}
        for r in data["tenants"]
        if isinstance(r.get("authType"), str)
    }
    assert {k: len(v) for k, v in kinds.items()} == {"none": 1, "saml": 1}
    plans = {id(r["customAttributes"]["plan"]) for r in data["tenants"] if isinstance(r.get("customAttributes"), dict)}
    assert len(plans) == 1
