"""The light tree ``yaml_events`` composes and ``schema`` reads: mappings and lists with line numbers, and markers.

A scalar is a plain Python value (str, int, float, bool, None); a mapping is a ``_Map``, a list a
``_Seq``; the ``_Sentinel`` markers stand for what is not a value (a reported problem, an empty or
failed file, a tenant already validated).
"""

from __future__ import annotations

from typing import Any, Final

from controller.core.problems import _q


class _Map:
    """A YAML mapping: key -> (value, key line, value line, raw scalar text or None)."""

    __slots__ = ("anchor", "bad", "entries", "key", "key_line", "line", "merges", "start")

    def __init__(self, line: int, anchor: str | None, start: int) -> None:
        self.entries: dict[str, tuple[Any, int, int, str | None]] = {}
        self.line = line
        self.anchor = anchor
        self.start = start
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.merges: list[tuple[Any, int]] | None = None
        self.bad = False


class _Seq:
    """A YAML sequence, with the line of every item."""

    __slots__ = ("anchor", "bad", "items", "line", "lines", "start")

    def __init__(self, line: int, anchor: str | None, start: int) -> None:
        self.items: list[Any] = []
        self.lines: list[int] = []
        self.line = line
        self.anchor = anchor
        self.start = start
        self.bad = False


class _Sentinel:
    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


_NO_KEY: Final = _Sentinel("<no key>")  # a mapping waiting for its next key
_SKIP_KEY: Final = _Sentinel("<skipped key>")  # the key was reported; drop its value
_MERGE: Final = _Sentinel("<<")  # the merge key
_BAD: Final = _Sentinel("<invalid>")  # a value already reported as a problem
_EMPTY: Final = _Sentinel("<empty>")  # a file with no document at all
_FAILED: Final = _Sentinel("<failed>")  # a file that could not be composed
_DONE: Final = _Sentinel("<validated>")  # a tenant validated while its file was being composed


def _kind_of(value: Any) -> str:
    """How a value reads to a user, for messages."""
    if isinstance(value, _Map):
        return "a mapping"
    if isinstance(value, _Seq):
        return "a list"
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_q(value)}"
    return "an unsupported value"  # pragma: no cover
