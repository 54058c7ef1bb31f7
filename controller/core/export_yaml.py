"""YAML text for ``export``: one value on one line, read back by the loader as exactly the value written.

Why not ``yaml.safe_dump`` of the whole document: the export must put comments beside tenants and fields,
and must know which line holds which field, so that a problem the loader reports on the output can be
traced back to the tenant or field that caused it (``controller.core.export``). So the document is laid
out here line by line, and only values are turned into YAML text.

The rules for a value, chosen so a reviewer can read it and the loader (YAML 1.1, PyYAML's resolver) reads
it back unchanged:

- a string is written plain only when it is unmistakably a string: made of letters, digits and a few
  harmless marks, and not something YAML 1.1 resolves to another type (``yes``, ``on``, ``010``,
  ``2024-01-01``, ``~``, ``.inf``); anything else is double-quoted;
- in a double-quoted string every character that is not printable (controls, line breaks including
  U+0085/U+2028/U+2029, zero-width and other format characters, non-breaking and other odd spaces) is
  written as an escape (``\\u200b``), so an invisible character is visible in review and no value can
  break out of its line;
- numbers, booleans and null are PyYAML's own text for them; lists and maps are flow collections of
  such values, on one line whatever their length;
- comment text goes through the same escaping, so a hostile id or name in a comment cannot end it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

_IMPLICIT: Final[dict[Any, list[tuple[str, re.Pattern[str]]]]] = yaml.SafeLoader.yaml_implicit_resolvers
_SPEC_BOOLEANS: Final = frozenset({"y", "Y", "n", "N"})  # booleans in the YAML 1.1 spec, strings to PyYAML: quoted
_PLAIN_ASCII: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ ./+()$;=^-]*")
_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"}


def scalar_text(value: Any) -> str:
    """``value`` (a string, number, boolean or None) as YAML text on one line."""
    if isinstance(value, str):
        return string_text(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        text: str = yaml.safe_dump(value).split("\n", 1)[0]
        return text
    raise TypeError(f"not a YAML scalar: {type(value).__name__}")


def value_text(value: Any) -> str:
    """A scalar, or a flow list/map of values, as YAML text on one line."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{string_text(str(k))}: {value_text(v)}" for k, v in value.items()) + "}"
    return scalar_text(value)


def string_text(text: str) -> str:
    """A string, plain when that reads back as the same string, else double-quoted with escapes."""
    if _plain_ok(text):
        return text
    return '"' + escape(text) + '"'


def escape(text: str) -> str:
    """``text`` with backslash, double quote and every non-printable character escaped YAML's way."""
    out: list[str] = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def comment_text(text: str) -> str:
    """Text safe to put after ``#``: one line, every non-printable character escaped."""
    return "".join(ch if ch.isprintable() else escape(ch) for ch in text)


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip() or "  " in text or text in _SPEC_BOOLEANS:
        return False
    if text.isascii():
        if not _PLAIN_ASCII.fullmatch(text):
            return False
    elif not text[0].isalnum() or not all(ch.isprintable() and (ch.isalnum() or ch in " -_.") for ch in text):
        return False  # other scripts: letters, digits and a few separators, nothing invisible or odd
    # YAML 1.1 must read it as a string, not yes, 010, a date...: PyYAML's own implicit resolvers, as its
    # Resolver.resolve applies them to a plain scalar (safe_load of each string was 20x slower)
    resolvers = _IMPLICIT.get(text[0], []) + _IMPLICIT.get(None, [])
    return not any(regexp.match(text) for _tag, regexp in resolvers)
