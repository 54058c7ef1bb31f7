"""Parser events to a light tree with line numbers, so a hostile tenants file is bounded and builds no objects.

How ``controller.core.loader`` reads a file (it checks the sizes first):

- the document is built from the parser's *event stream* by an iterative composer of our own, so
  no object is ever constructed from a tag, nesting depth is bounded without Python recursion, and
  alias expansion is counted as it happens (an alias bomb is refused after a handful of events);
- scalars are resolved like PyYAML's SafeLoader (YAML 1.1: ``yes`` is a boolean, ``0x1f`` an int),
  except that timestamps stay strings, so every value is plain JSON data;
- duplicate keys, which PyYAML silently accepts, are reported;
- merge keys (``<<: *defaults``) work as in PyYAML: explicit keys win over merged ones.

libyaml's C parser is used when PyYAML was built with it, the pure-Python parser otherwise; both
feed the same composer, so messages and line numbers agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from controller.core.problems import LoadLimits, _clip, _Problems, _q
from controller.core.yaml_tree import (
    _BAD,
    _DONE,
    _EMPTY,
    _FAILED,
    _MERGE,
    _NO_KEY,
    _SKIP_KEY,
    _kind_of,
    _Map,
    _Seq,
)

_TAG_PREFIX: Final = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null"))
_MAP_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "map"})
_SEQ_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "seq"})
_SCALAR_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

# first character -> [(tag, regexp)], exactly PyYAML's SafeLoader implicit resolvers
_RESOLVERS: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
    ch: list(pairs) for ch, pairs in yaml.SafeLoader.yaml_implicit_resolvers.items() if ch is not None
}
_NEEDS_RESOLVING: Final = frozenset(_RESOLVERS)
_BOOL_VALUES: Final[dict[str, bool]] = dict(SafeConstructor.bool_values)
_CONSTRUCTOR: Final = SafeConstructor()

_LOADER: type[Any] = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader
"""The event source: libyaml's parser when available (tests may swap in the pure-Python one)."""


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


def _convert(tag: str, text: str) -> Any:
    """A scalar's value for one of the standard scalar tags; ValueError/KeyError when it does not fit."""
    if tag == _STR:
        return text
    if tag == _NULL:
        if text not in ("", "~", "null", "Null", "NULL"):
            raise ValueError(text)
        return None
    if tag == _BOOL:
        return _BOOL_VALUES[text.lower()]
    if tag == _INT:
        return _bounded(_CONSTRUCTOR.construct_yaml_int(ScalarNode(tag, text)))
    if tag == _FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(ScalarNode(tag, text))
    # implicit timestamps, the '=' value key and the like stay plain strings
    return text


_PLAIN_CONSTANTS: Final[dict[str, Any]] = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL")),
    "<<": _MERGE,
}
"""Every plain scalar that YAML 1.1 resolves to a boolean or null (and the merge key)."""

_ONLY_CONSTANTS: Final = frozenset(
    ch
    for ch, pairs in _RESOLVERS.items()
    if ch and all(tag in (_BOOL, _NULL, _TAG_PREFIX + "yaml") for tag, _ in pairs)
)
"""First characters whose resolvers can only yield one of ``_PLAIN_CONSTANTS``."""


def _resolve_plain(text: str) -> Any:
    """The value of an untagged plain scalar, as PyYAML's SafeLoader would resolve it."""
    value = _PLAIN_CONSTANTS.get(text, _BAD)
    if value is not _BAD:
        return value
    if text[:1] in _ONLY_CONSTANTS:
        return text
    if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1):
        return int(text) if len(text) < 19 else _bounded(int(text))
    for tag, regexp in _RESOLVERS.get(text[:1], ()):
        if regexp.match(text):
            if tag == _TAG_PREFIX + "merge":
                return _MERGE
            return _convert(tag, text)
    return text


def _compose_file(
    name: str, data: bytes, limits: LoadLimits, problems: _Problems, on_tenant: Callable[[_Map, int], None]
) -> Any:
    """The root value of one file, ``_EMPTY`` when it holds no document, or ``_FAILED`` (reported).

    Each mapping in the top-level ``tenants:`` list is handed to ``on_tenant`` (with the line of its
    list item) as soon as it is complete and replaced by ``_DONE``, so a large file is never held
    as a whole tree.
    """
    if len(data) > limits.max_file_bytes:
        problems.add(
            name, None, f"file is {len(data):,} bytes, over the limit of {limits.max_file_bytes:,} bytes; not parsed"
        )
        return _FAILED
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.add(
            name,
            line,
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8",
        )
        return _FAILED
    pure = _LOADER is yaml.SafeLoader  # positions in its errors count characters, libyaml's count bytes
    loader: Any = None
    try:
        loader = _LOADER(text if pure else data)
        return _Composer(name, loader, limits, problems, on_tenant).root()
    except _FileFailed:
        return _FAILED
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if _DEPTH_REFUSED in str(exc.problem):
            # PyYAML 6.0.4's bundled libyaml bounds nesting itself, before our own check sees the
            # events: give the same message whichever of the two refuses first.
            message = _depth_message(limits.max_depth)
        else:
            message = f"YAML syntax error: {exc.problem or exc.context}"
            if exc.context and exc.problem and exc.context_mark is not None:
                message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        problems.add(name, mark.line + 1 if mark is not None else None, message)
        return _FAILED
    except yaml.reader.ReaderError as exc:
        position = int(exc.position)
        line = (text.count("\n", 0, position) if pure else data.count(b"\n", 0, position)) + 1
        problems.add(name, line, f"character #x{exc.character:04x} is not allowed in YAML ({exc.reason})")
        return _FAILED
    except yaml.YAMLError as exc:  # pragma: no cover - every parser error above is marked
        problems.add(name, None, f"YAML error: {exc}")
        return _FAILED
    finally:
        if loader is not None:
            loader.dispose()


_DEPTH_REFUSED = "maximum nesting depth"
"""What libyaml says when it refuses deep nesting (``exceeded maximum nesting depth``, libyaml >= 0.2.5)."""


def _depth_message(max_depth: int) -> str:
    return f"nesting is deeper than {max_depth} levels; a tenants file needs only a few"


class _FileFailed(Exception):
    """This file cannot be composed further (already reported)."""


class _Composer:
    """Builds one document from parser events iteratively, enforcing depth and alias-expansion bounds."""

    def __init__(
        self, name: str, loader: Any, limits: LoadLimits, problems: _Problems, on_tenant: Callable[[_Map, int], None]
    ) -> None:
        self.on_tenant = on_tenant
        self.name = name
        self.loader = loader
        self.limits = limits
        self.problems = problems

    def fail(self, line: int | None, message: str) -> NoReturn:
        self.problems.add(self.name, line, message)
        raise _FileFailed

    def root(self) -> Any:
        get = self.loader.get_event
        get()  # StreamStartEvent
        event = get()
        if type(event) is StreamEndEvent:
            return _EMPTY
        value = self.document()
        get()  # DocumentEndEvent
        event = get()
        if type(event) is DocumentStartEvent:
            self.fail(
                event.start_mark.line + 1 if event.start_mark is not None else None,
                "a second YAML document ('---') starts here; a tenants file holds one document: "
                "put all tenants under one `tenants:` list or use one file per document",
            )
        return value

    def scalar_value(self, event: ScalarEvent, line: int) -> Any:
        """The value of a scalar with an explicit (or non-specific) tag."""
        tag = event.tag
        if tag is None or tag == "!":
            return event.value
        if tag not in _SCALAR_TAGS:
            self.problems.add(self.name, line, _tag_problem(tag))
            return _BAD
        try:
            return _convert(tag, event.value)
        except (ValueError, KeyError):
            if tag == _INT and (len(event.value) > _MAX_NUMBER_CHARS or _looks_numeric(event.value)):
                self.problems.add(self.name, line, _huge_number(event.value))
            else:
                self.problems.add(self.name, line, f"{_q(event.value)} is not a valid {_short_tag(tag)}")
            return _BAD

    def document(self) -> Any:
        """The root value of the current document.

        One flat event loop, kept together for speed: the open collections live on an explicit
        stack (no recursion), and the innermost one's state is held in local variables.
        """
        problems = self.problems
        name = self.name
        get = self.loader.get_event
        max_depth = self.limits.max_depth
        max_nodes = self.limits.max_nodes
        needs_resolving = _NEEDS_RESOLVING
        on_tenant = self.on_tenant
        tenants_seq: Any = None  # the top-level `tenants:` list, whose mappings are validated as they end
        anchors: dict[str, tuple[Any, int]] = {}
        stack: list[Any] = []
        top: Any = None  # the innermost open collection, stack[-1]
        in_map = False  # top is a _Map
        entries: dict[str, tuple[Any, int, int, str | None]] = {}  # top.entries when in_map
        items: list[Any] = []  # top.items when a _Seq
        item_lines: list[int] = []  # top.lines when a _Seq
        key: Any = _NO_KEY  # the pending key of top when in_map
        key_line = 0
        total = 0  # nodes so far, aliases counted at their full expanded size
        value: Any
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                total += 1
                raw = event.value
                line = event.start_mark.line + 1
                if event.implicit[0]:
                    try:
                        value = _resolve_plain(raw) if not raw or raw[0] in needs_resolving else raw
                    except ValueError:  # Python refuses int(str) of more than 4,300 digits
                        problems.add(name, line, _huge_number(raw))
                        value = _BAD
                else:
                    value = self.scalar_value(event, line)
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
                if total > max_nodes:
                    self.fail(line, f"the document has more than {max_nodes:,} nodes")
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                total += 1
                line = event.start_mark.line + 1
                if len(stack) >= max_depth:
                    self.fail(line, _depth_message(max_depth))
                if total > max_nodes:
                    self.fail(line, f"the document has more than {max_nodes:,} nodes")
                parent_is_root_tenants = in_map and len(stack) == 1 and key == "tenants"
                if in_map:
                    top.key = key
                    top.key_line = key_line
                if kind is MappingStartEvent:
                    top = _Map(line, event.anchor, total)
                    in_map = True
                    entries = top.entries
                    key = _NO_KEY
                    allowed = _MAP_TAGS
                else:
                    top = _Seq(line, event.anchor, total)
                    in_map = False
                    items = top.items
                    item_lines = top.lines
                    allowed = _SEQ_TAGS
                    if parent_is_root_tenants:
                        tenants_seq = top
                if event.tag not in allowed:
                    problems.add(name, line, _tag_problem(event.tag))
                    top.bad = True
                stack.append(top)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                done = stack.pop()
                raw = None
                line = done.line
                if in_map and done.merges is not None:
                    self.merge(done)
                value = _BAD if done.bad else done
                if done.anchor is not None:
                    anchors[done.anchor] = (value, total - done.start + 1)
                if stack:
                    top = stack[-1]
                    in_map = type(top) is _Map
                    if in_map:
                        entries = top.entries
                        key = top.key
                        key_line = top.key_line
                    else:
                        items = top.items
                        item_lines = top.lines
            elif kind is AliasEvent:
                raw = None
                line = event.start_mark.line + 1
                found = anchors.get(event.anchor)
                if found is None:
                    recursive = any(c.anchor == event.anchor for c in stack)
                    self.fail(
                        line,
                        f"alias *{event.anchor} refers to its own enclosing node (recursive alias)"
                        if recursive
                        else f"alias *{event.anchor} is not defined (no &{event.anchor} before it)",
                    )
                value, size = found
                total += size
                if total > max_nodes:
                    self.fail(
                        line,
                        f"alias *{event.anchor} expands the document beyond {max_nodes:,} nodes; "
                        "aliases that multiply content (an 'alias bomb') are refused",
                    )
            else:  # pragma: no cover - the parser emits nothing else inside a document
                self.fail(None, f"unexpected YAML event {kind.__name__}")

            # attach the finished value to the innermost open collection
            if not stack:
                return value
            if not in_map:
                if top is tenants_seq and type(value) is _Map:
                    on_tenant(value, line)
                    value = _DONE
                items.append(value)
                item_lines.append(line)
            elif key is _NO_KEY:
                if type(value) is str:
                    key = value
                    key_line = line
                elif value is _MERGE:
                    key = _MERGE
                    key_line = line
                else:
                    key = _SKIP_KEY
                    if value is not _BAD:
                        problems.add(name, line, _key_problem(value, raw))
            else:
                if type(key) is str:
                    first = entries.get(key)
                    if first is None:
                        entries[key] = (value, key_line, line, raw)
                    else:
                        problems.add(
                            name,
                            key_line,
                            f"duplicate key {_q(key)} (first written at line {first[1]}); "
                            "YAML keeps only one of them, so remove one",
                        )
                elif key is _MERGE:
                    if top.merges is None:
                        top.merges = []
                    top.merges.append((value, line))
                key = _NO_KEY

    def merge(self, target: _Map) -> None:
        """Apply ``<<`` merge keys: keys written in the mapping win, then earlier sources win."""
        merged: dict[str, tuple[Any, int, int, str | None]] = {}
        for source, line in target.merges or ():
            if source is _BAD:
                continue
            if isinstance(source, _Map):
                sources = [source]
            elif isinstance(source, _Seq) and all(isinstance(s, _Map) for s in source.items):
                sources = source.items
            else:
                self.problems.add(
                    self.name,
                    line,
                    f"the merge key '<<' needs a mapping (like *defaults) or a list of mappings, "
                    f"not {_kind_of(source)}",
                )
                continue
            for src in sources:
                for key, entry in src.entries.items():
                    if key not in merged:
                        merged[key] = entry
        if merged:
            explicit = target.entries
            target.entries = {k: e for k, e in merged.items() if k not in explicit}
            target.entries.update(explicit)


def _tag_problem(tag: str | None) -> str:
    return (
        f"the YAML tag {_short_tag(str(tag))} is not allowed; tenants files hold only plain strings, numbers, "
        "booleans, lists and mappings (no objects are ever constructed)"
    )


def _key_problem(value: Any, raw: str | None) -> str:
    if isinstance(value, _Map | _Seq):
        return f"a mapping key must be a plain string, not {_kind_of(value)}"
    shown = _clip(raw) if raw is not None else repr(value)
    return f'the key {shown!r} is read by YAML as {_kind_of(value)}, not a string; quote it: "{shown}":'


_MAX_NUMBER_CHARS: Final = 4300  # CPython's default limit on int(str) digits
_INT64: Final = 2**63  # Descope's numbers are 64-bit at most; a larger one cannot be sent or stored


def _bounded(value: int) -> int:
    """``value`` when it fits in 64 bits; ValueError otherwise (hex and octal dodge int()'s digit limit)."""
    if -_INT64 <= value < _INT64:
        return value
    raise ValueError("integer out of the 64-bit range")


def _looks_numeric(text: str) -> bool:
    return bool(text) and text.lstrip("+-")[:1].isdigit()


def _huge_number(text: str) -> str:
    return (
        f"{_q(text)} is a number of {len(text):,} characters, too large to read "
        "(the limit is 64 bits); no tenants.yaml field takes a number that large"
    )
