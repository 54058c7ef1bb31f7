"""The fast path's text guard sends every doubtful construct to the line-numbered load, wherever it stands.

``loader_fast._guard`` looks first at the file's byte classes and runs its exact patterns only where that
look saw something; a file doubted before must still be doubted. Each doubtful construct is tried in
every place a node can start (a block value, a block key, a sequence item, after ``[``, ``{``, ``,`` and
a flow ``:``), and a property shows the first look flags whatever the exact patterns flag.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.core import loader_fast
from controller.core.loader import LoadLimits
from controller.core.loader_columns import _Doubt

_PLACES = {
    "block value": "    name: {}\n",
    "block key": "    name: A\n    customAttributes:\n      {}: v\n",
    "after '- '": "    name: A\n    defaultRoles:\n      - {}\n",
    "after '['": "    name: A\n    defaultRoles: [{}]\n",
    "after '{'": "    name: A\n    customAttributes: {{{}: v}}\n",
    "after ','": "    name: A\n    defaultRoles: [a, {}]\n",
    "after ':'": "    name: A\n    customAttributes: {{k: {}}}\n",
}
_CONSTRUCTS = {
    "anchor": "&a x",
    "alias": "*a",
    "tag": "!t x",
    "standard tag": "!!str x",
    "literal block scalar": "|",
    "folded block scalar": ">",
    "directive-like": "%x",
    "reserved @": "@x",
    "reserved backtick": "`x",
    "explicit key": "? x",
    "colon": ":x",
    "octal": "012",
    "signed octal": "-012",
    "0o octal": "0o12",
    "hex": "0x1F",
    "underscore number": "_1",
    "signed underscore": "+_1",
    "tab": "a\tb",
    "carriage return": "a\rb",
    "byte order mark": "\ufeffx",
    "next line (NEL)": "a\x85b",
    "line separator": "a\u2028b",
    "paragraph separator": "a\u2029b",
    "C1 control": "a\x9bb",
    "DEL": "a\x7fb",
    "backslash": '"a\\tb"',
    "merge key": "<<",
}


def _file(body: str) -> str:
    return "tenants:\n  - id: t0\n" + body + "  - id: t1\n    name: B\n"


def _doubted(text: str) -> bool:
    try:
        loader_fast._guard(text, text.encode())
    except _Doubt:
        return True
    return False


@pytest.mark.parametrize("place", list(_PLACES))
def test_a_plain_word_in_each_place_takes_the_fast_path(place: str) -> None:
    text = _file(_PLACES[place].format("word"))
    assert not _doubted(text)
    assert loader_fast.fast_state({"tenants.yaml": text.encode()}, LoadLimits(), None) is not None


@pytest.mark.parametrize("place", list(_PLACES))
@pytest.mark.parametrize("construct", list(_CONSTRUCTS))
def test_each_doubtful_construct_in_each_place_goes_to_the_slow_path(construct: str, place: str) -> None:
    text = _file(_PLACES[place].format(_CONSTRUCTS[construct]))
    assert _doubted(text)
    assert loader_fast.fast_state({"tenants.yaml": text.encode()}, LoadLimits(), None) is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("    name: A\n" + " " * 64 + "# deep\n", id="a line indented 64 spaces"),
        pytest.param("    name: A\n    defaultRoles:\n      - - - - x\n", id="four '- ' on one line"),
        pytest.param("    name: A\n    defaultRoles:\n      -  -   -  - x\n", id="four dashes, spaced"),
        pytest.param("    name: A\n---\n", id="document start"),
        pytest.param("    name: A\n...\n", id="document end"),
        pytest.param("    name: A\n---x: 1\n", id="document start before text"),
        pytest.param("    name: A\n    customAttributes: {k: [  :x]}\n", id="':' after spaces"),
        pytest.param("    name: A\n    customAttributes: {k: ,_1}\n", id="'_' after a flow comma"),
    ],
)
def test_deep_nesting_and_document_markers_go_to_the_slow_path(body: str) -> None:
    text = _file(body)
    assert _doubted(text)
    assert loader_fast.fast_state({"tenants.yaml": text.encode()}, LoadLimits(), None) is None


_CHARACTERS = " \n\t\r-+:,[]{}0_1aZ&*!|>%@`?#.'\"\\<\x7f\x85\xa0ü\u2028\u2029\ufeff\uff10東\U0001f600"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=_CHARACTERS, max_size=24))
@example("\n" + " " * 64 + "x")
@example("\n - - - - x")
@example("a: -_1")
@example("\n  - -012")
@example("[ \u2028")
def test_the_first_look_flags_whatever_the_exact_patterns_flag(text: str) -> None:
    data = text.encode()
    classes = data.translate(loader_fast._BYTE_CLASSES, b" ")
    if loader_fast._doubtful_nodes(text):
        assert loader_fast._maybe_doubtful_nodes(data, classes)
    # the characters refused: PyYAML's refusals, line breaks other than LF, and the BOM (as before the first look)
    refused = loader_fast._DOUBTFUL_CHARACTERS.search(text) is not None
    assert (b"\0" in classes or (b"\1" in classes and refused)) == refused
