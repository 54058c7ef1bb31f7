"""Every value the export writes reads back, through the project's own loader, as exactly that value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.export_yaml import comment_text, string_text, value_text
from controller.core.loader import parse_tenant_files


def read_back(value: Any) -> Any:
    text = f"tenants:\n  - id: t\n    name: T\n    customAttributes:\n      k: {value_text(value)}\n"
    (tenant,) = parse_tenant_files({"t.yaml": text.encode()}).tenants
    return tenant.fields["customAttributes"]["k"]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("acme", "acme"),
        ("ACME Corp", "ACME Corp"),
        ("yes", '"yes"'),
        ("Off", '"Off"'),
        ("y", '"y"'),
        ("010", '"010"'),
        ("0x1F", '"0x1F"'),
        ("1_000", '"1_000"'),
        ("2024-01-01", '"2024-01-01"'),
        ("~", '"~"'),
        ("null", '"null"'),
        (".inf", '".inf"'),
        ("12:30", '"12:30"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        ("-lead", '"-lead"'),
        ("[x]", '"[x]"'),
        (" pad", '" pad"'),
        ("", '""'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("zero\u200bwidth", '"zero\\u200bwidth"'),
        ("sep\u2028line", '"sep\\u2028line"'),
        ("nel\x85", '"nel\\x85"'),
        ("株式会社", "株式会社"),
    ],
)
def test_strings(text: str, written: str) -> None:
    assert string_text(text) == written
    assert read_back(text) == text


@pytest.mark.parametrize("value", [0, -5, 1735689600000, 1.5, 1e20, True, False, ["b", "a,b", "yes"]])
def test_other_values(value: Any) -> None:
    back = read_back(value)
    assert back == value and type(back) is type(value)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_string_reads_back_and_stays_on_one_line(text: str) -> None:
    written = string_text(text)
    assert "\n" not in written and all(ch.isprintable() for ch in written)
    assert read_back(text) == text


def test_comments_cannot_be_broken_out_of() -> None:
    assert comment_text("x\n  - id: evil\u2028y") == "x\\n  - id: evil\\u2028y"
