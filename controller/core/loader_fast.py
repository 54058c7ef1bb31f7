"""The loader's fast path: a valid, plainly written tenants.yaml parsed by yaml-rs instead of libyaml's event stream.

Why: libyaml's events alone (one Python object and two marks per node) cost half of a load; yaml-rs
(Rust, PyPI ``yaml-rs``) returns plain data for the whole file in about a sixth of the time of today's
load. Measured on a 100k-tenant file (13.6 MB, one core, ``time.process_time`` min of 3): libyaml's events
only 1.3 s, PyYAML ``CSafeLoader`` to plain data 6.1 s (its constructor is Python), the line-numbered load
2.8-3.3 s; yaml-rs 0.44 s; rapidyaml 0.29 s for its tree only, but reading that tree back from Python
node by node costs more than it saves. yaml-rs has wheels for Linux (x86-64, ARM, musl) and macOS on
CPython 3.11-3.13 and no dependencies of its own.

Load + validate of that file (the benchmark harness's ``tenants_yaml``), min of 3 on a shared 2-core machine
(load average 3): 10k tenants 0.30 s -> 0.13 s, 100k tenants 3.2 s -> 1.4 s; peak RSS of a 100k load
225 -> 189 MiB. Tenants are then checked and recorded a slice (2,000) at a time, column by column
(``core.loader_columns``), with the validator's own rules.

A daemon reads revision after revision of the same file: ``fast_state_reusing`` keeps each item's text
with its checked id and fields (``ItemCache``) and, in the next revision, parses and checks only the
items whose text changed (the guards below run on those lines only: the others passed them before);
lines and every rule across tenants are computed again over all of them. A one-tenant edit of the
100k file: 0.33 s instead of a load (10k: 171M instructions instead of 925M, callgrind).

It is only a fast path, never a second source of truth:

- yaml-rs reads YAML 1.2 and keeps no line numbers, so a guard (``_guard``: a first look at the file's
  byte classes, the exact patterns only where it saw something) sends every file whose meaning could
  differ, or that it cannot place, to today's loader (``controller.core.loader`` with ``fast=False``):
  control characters, tabs, CR or BOM; backslash escapes; anchors, aliases, tags, merge keys, block
  scalars, directives, document markers, explicit keys; a plain scalar that starts like ``0``+digit or
  ``0o`` (YAML 1.1 octal), with ``_`` (a number to yaml-rs) or ``:`` (YAML 1.1 refuses it in a flow
  list); block nesting deeper than a tenants file needs (yaml-rs would overflow the stack); any float;
  any string that YAML 1.1 would read as something else when plain (``yes``, ``1_000``, ``12:30``,
  ``~``...); a non-string key; an integer beyond 64 bits;
- the tenants' line numbers (``DesiredTenant.line``) come from a scan for the items of the top-level
  ``tenants:`` list; a file whose items the scan does not find one for one (or with a ``-`` line it
  cannot place) goes to today's loader;
- the plain data is checked by today's validator's rules (``schema._Validator``: its key checks,
  ``tenant_id``, ``record`` and the cross-file rules; in columns by ``core.loader_columns``), stopping at
  the first problem; only the string lists and ``customAttributes`` are checked on the plain data here,
  accepting no more than those checks accept. Every problem, with its file:line, comes from today's loader.

``tests/core/loader/test_fast_path.py`` proves, on generated documents valid and hostile, that both paths
give the same DesiredState or the same problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import is_
from typing import Any, Final

from controller.core.loader_columns import Recorded, _Doubt, _text, check_slice, record_all
from controller.core.model import TENANT_FIELDS, DesiredState, JSONValue, Kind
from controller.core.problems import LoadLimits, _Problems
from controller.core.schema import _CHECKS, _is_domain, _Validator
from controller.core.yaml_events import _INT64
from controller.core.yaml_tree import _DONE, _Map, _Seq
from controller.descope_api import AttributeDefinition

_DOUBTFUL_CHARACTERS: Final = re.compile(
    # what PyYAML refuses or reads as a line break (tab, CR, NEL, LS, PS), and the BOM
    r"[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# Where a node can start: after a line's indentation, a flow indicator or ':', and after '- ' or '? '
# there. One starting with an indicator is an anchor, alias, tag, block scalar, directive, reserved or
# explicit key, or (':') not a plain scalar in a YAML 1.1 flow collection; one starting with 0 and a
# digit or letter is octal in YAML 1.1 but decimal (or 0o-octal) in yaml-rs, one starting with '_' a
# string in YAML 1.1 but a number in yaml-rs. A line indented 64 spaces or more, or opening four
# collections with '- ', is nested deeper than a tenants file needs: yaml-rs recurses over block
# nesting and would overflow the stack on a hostile file (100,000 levels), so such files never reach it.
# One pattern per leading character: a literal first character scans fastest.
_DOUBTFUL_NODE = r"(?:[&*!|>%@`?:]|[-+]?(?:0[0-9A-Za-z_]|_))"
_DOUBTFUL_NODES: Final = (
    re.compile(r"\n(?: {64}| *+(?:- +){4}| *+(?:- +)*+" + _DOUBTFUL_NODE + ")"),
    *(re.compile(re.escape(first) + " *+" + _DOUBTFUL_NODE) for first in ":[{,"),
)


def _byte_classes() -> bytes:
    """A ``bytes.translate`` table: each byte as the class the guard's first look needs (see ``_guard``)."""
    table = bytearray(b"a" * 256)  # letters, digits 1-9, and the bytes of non-ASCII characters but three
    table[:0x20] = b"\0" * 0x20  # control characters (tab, CR...) and DEL: always refused
    table[0x7F] = 0
    for byte in b"\xc2\xe2\xef":  # the lead bytes of every non-ASCII character refused (NEL, LS, PS, BOM...)
        table[byte] = 1
    for chars, cls in ((b"\"#$'()./;<=\\]^}~", b"."), (b"\n[{,", b","), (b"&*!|>%@`?_", b"!"), (b"-+", b"-")):
        for byte in chars:
            table[byte] = cls[0]
    table[ord(":")] = ord(":")
    table[ord("0")] = ord("0")
    return bytes(table)


_BYTE_CLASSES: Final = _byte_classes()
# In the classes with spaces deleted, what each of _DOUBTFUL_NODES (and '\n---', '\n...') needs there:
# a place (',': a line break or a flow indicator, or ':'), any dashes, then an indicator or ':', or 0
# and a digit, letter or '_'. Every match of those patterns, in any UTF-8 text, matches here (or has
# 64 spaces after a line break); most files match nowhere, and then the exact patterns need not run.
_MAYBE_DOUBTFUL_NODES: Final = (
    re.compile(rb",(?:-*+(?:[!:]|0[0a!])|---|\.\.\.)"),
    re.compile(rb":-?(?:[!:]|0[0a!])"),
)
_DEEP_INDENTATION: Final = b"\n" + b" " * 64

_TENANTS_HEAD: Final = re.compile(r"(?:[ ]*(?:#[^\n]*)?\n)*tenants:[ ]*(?:#[^\n]*)?\n(?:[ ]*(?:#[^\n]*)?\n)*( *)-[ ]")
"""``tenants:`` as the first key of the file, then its first item: the indentation of the list."""

_MAX_DEPTH: Final = 10
"""Nesting the fast path reads (a tenants file needs 9 at most: SSO role mappings); deeper goes to the slow path."""


_STRING_LISTS: Final = frozenset(
    name for name, spec in TENANT_FIELDS.items() if spec.kind in (Kind.STRING_SET, Kind.DOMAIN_SET)
)
"""The tenant keys that hold a list of strings (domains among them)."""

_DOMAIN_LISTS: Final = frozenset(name for name, spec in TENANT_FIELDS.items() if spec.kind is Kind.DOMAIN_SET)

_CHUNK: Final = 2000
"""Tenants parsed by one call of yaml-rs: big enough to cost nothing, small enough to hold no copy of a file."""


class _Strict(_Problems):
    """Problems for the fast path: the first one ends it (the slow path will report them all, located)."""

    def add(self, file: str, line: int | None, message: str) -> None:
        raise _Doubt


@dataclass(frozen=True, slots=True, eq=False)
class ItemCache:
    """What a fast load keeps to read the next revision faster: each file's head and its items, by their text.

    Opaque to callers: returned by ``fast_state_reusing`` and passed back to it. An item
    whose text is byte-identical under the same head, limits and attribute definitions means the same
    tenant (a tenants list item depends on nothing around it: anchors, tags and directives never reach
    the fast path), so its checked id and fields are taken as they are; its line is counted again and the
    rules across tenants (``record_all``: duplicate ids and names, parents; ``finish``) run over all of them.
    """

    limits: LoadLimits
    attributes: Mapping[str, AttributeDefinition] | None
    files: Mapping[str, tuple[str, dict[str, _Item]]]  # name -> (head, item text -> checked item)


_Item = tuple[str, dict[str, JSONValue], int]
"""One checked tenant item: its id, its fields and the nodes it counts toward ``LoadLimits.max_nodes``."""


def fast_state(
    files: Mapping[str, bytes], limits: LoadLimits, attributes: Mapping[str, AttributeDefinition] | None
) -> DesiredState | None:
    """The DesiredState of ``files`` when the fast path can vouch for it; None sends them to the slow path."""
    loaded = _fast_load(files, limits, attributes, None, keep=False)
    return loaded[0] if loaded is not None else None


def fast_state_reusing(
    files: Mapping[str, bytes],
    limits: LoadLimits,
    attributes: Mapping[str, AttributeDefinition] | None,
    reuse: ItemCache | None,
) -> tuple[DesiredState, ItemCache] | None:
    """``fast_state``, reusing the items of an earlier load (``reuse``) and returning this load's to reuse next.

    An unchanged item spares yaml-rs and its checks; the cache holds the items' text (14 MB at 100k)."""
    loaded = _fast_load(files, limits, attributes, reuse, keep=True)
    if loaded is None or loaded[1] is None:
        return None
    return loaded[0], loaded[1]


def _fast_load(
    files: Mapping[str, bytes],
    limits: LoadLimits,
    attributes: Mapping[str, AttributeDefinition] | None,
    reuse: ItemCache | None,
    *,
    keep: bool,
) -> tuple[DesiredState, ItemCache | None] | None:
    try:
        import yaml_rs  # here: only a load needs it, not the start-up of other commands
    except ImportError:  # pragma: no cover - a dependency; the slow path still works without it
        return None
    names = sorted(files)
    if sum(len(files[n]) for n in names) > limits.max_total_bytes or limits.max_depth < _MAX_DEPTH:
        return None
    if reuse is not None and (reuse.limits != limits or reuse.attributes != attributes):
        reuse = None
    validator = _Validator(_Strict(limits.max_problems, names), limits, attributes)
    recorded = Recorded()
    kept: dict[str, tuple[str, dict[str, _Item]]] | None = {} if keep else None
    try:
        for name in names:
            earlier = reuse.files.get(name) if reuse is not None else None
            _fast_file(yaml_rs, name, files[name], limits, (validator, recorded), earlier, kept)
        recorded.into(validator)
        validator.finish()
    except Exception:  # _Doubt, yaml-rs's errors, anything unforeseen: today's loader decides
        return None
    state = DesiredState(tenants=tuple(validator.tenants), files=tuple(names))
    return state, (ItemCache(limits, attributes, kept) if kept is not None else None)


def _guard(text: str, data: bytes) -> None:
    """``_Doubt`` unless yaml-rs reads ``text`` (``data`` encoded) as YAML 1.1 does, each line on its own.

    A first look over ``data``'s byte classes (one ``translate``, a few searches) lets nearly every file
    through; the exact patterns run only where it saw something doubtful."""
    if b"\\" in data or (b"<" in data and b"<<" in data):
        raise _Doubt  # escapes differ between YAML 1.1 and 1.2; merge keys
    classes = data.translate(_BYTE_CLASSES, b" ")
    if b"\0" in classes or (b"\1" in classes and _DOUBTFUL_CHARACTERS.search(text)):
        raise _Doubt
    if _maybe_doubtful_nodes(data, classes) and _doubtful_nodes(text):
        raise _Doubt


def _maybe_doubtful_nodes(data: bytes, classes: bytes) -> bool:
    """True wherever ``_doubtful_nodes`` is (``classes``: ``data`` translated by ``_BYTE_CLASSES``, spaces deleted)."""
    return _DEEP_INDENTATION in data or any(pattern.search(classes) for pattern in _MAYBE_DOUBTFUL_NODES)


def _doubtful_nodes(text: str) -> bool:
    """A document marker, or a node that yaml-rs could read otherwise or would nest too deeply."""
    return "\n---" in text or "\n..." in text or any(pattern.search(text) for pattern in _DOUBTFUL_NODES)


def _fast_file(
    yaml_rs: Any,
    name: str,
    data: bytes,
    limits: LoadLimits,
    into: tuple[_Validator, Recorded],
    earlier: tuple[str, dict[str, _Item]] | None,
    kept: dict[str, tuple[str, dict[str, _Item]]] | None,
) -> None:
    """Validate one file's tenants into ``validator``; ``_Doubt`` (or any error) when the slow path must.

    ``earlier``: the head and items of this file in an earlier load, to reuse; ``kept``: where to keep
    this file's."""
    validator, recorded = into
    if len(data) > limits.max_file_bytes:
        raise _Doubt
    text = data.decode("utf-8")
    head = _TENANTS_HEAD.match(text)
    if head is None:
        raise _Doubt
    indent = len(head.group(1))
    item = re.compile("\n" + " " * indent + r"- +[^ #\n]")  # a literal prefix: scanned fastest
    starts = [m.start() + 1 for m in item.finditer(text, head.start(1) - 1)]
    if not starts or text.count("\n" + " " * indent + "-") != len(starts):
        raise _Doubt  # no item, or one our scan would not see (`-` then a comment or a line break)
    head_text = text[: starts[0]]
    texts: list[str] = []  # each item's text, to reuse or keep
    if earlier is not None or kept is not None:
        texts = list(map(text.__getitem__, map(slice, starts, [*starts[1:], len(text)])))
    reused: list[_Item | None] = []
    todo: Sequence[int]
    if earlier is not None and earlier[0] == head_text:
        reused = list(map(earlier[1].get, texts))
        todo = list(compress(range(len(starts)), map(is_, reused, repeat(None))))
        body = head_text + "".join(map(texts.__getitem__, todo))
        _guard(body, body.encode())  # every line of the other items passed it in the earlier load
    else:
        todo = range(len(starts))  # not a list: 100k int objects would add 4 MB to a one-shot plan
        _guard(text, data)
    validator.file_name = name
    validator.held = None
    reader = _Reader(limits, validator.attributes is None)
    # each item's line: the line breaks before the first, then between each item and the next
    lines = list(accumulate(map(text.count, repeat("\n"), [0, *starts], starts), initial=1))[1:]
    ids: list[str] = []
    fields: list[dict[str, JSONValue]] = []
    nodes: list[int] = []
    for first in range(0, len(todo), _CHUNK):
        # a slice of whole items under the file's own head is a tenants file of its own: parsed apart,
        # only one slice of plain data is alive at a time (the whole file's would add 40 MB at 100k)
        chunk = todo[first : first + _CHUNK]
        if chunk[-1] - chunk[0] == len(chunk) - 1:  # consecutive items: one slice of the text
            end = starts[chunk[-1] + 1] if chunk[-1] + 1 < len(starts) else len(text)
            body = head_text + text[starts[chunk[0]] : end]
        else:
            body = head_text + "".join(map(texts.__getitem__, chunk))
        root = yaml_rs.loads(body, parse_datetime=False)
        del body
        if type(root) is not dict or len(root) != 1 or type(root.get("tenants")) is not list:
            raise _Doubt  # another top-level key: the slow path reports it
        plain_tenants: list[Any] = root.pop("tenants")
        if len(plain_tenants) != len(chunk):
            raise _Doubt  # an item start inside a multi-line scalar: lines could not be placed
        found = check_slice(reader, validator, plain_tenants)
        del plain_tenants
        if not reused:  # recorded a slice at a time: no list of the whole file's tenants but theirs
            record_all(validator, recorded, found[0], found[1], lines[chunk[0] : chunk[-1] + 1])
        if reused or kept is not None:
            ids += found[0]
            fields += found[1]
            nodes += found[2]
    if reused:  # the items kept from the earlier load, in their places among the ones just read
        ids, fields, nodes = _merged(reused, todo, (ids, fields, nodes), validator, reader)
        record_all(validator, recorded, ids, fields, lines)
    if kept is not None:
        kept[name] = (head_text, dict(zip(texts, zip(ids, fields, nodes, strict=True), strict=True)))
    tenants = _Seq(0, None, 0)
    tenants.items = [_DONE] * len(starts)
    tenants.lines = lines
    top = _Map(1, None, 0)
    top.entries["tenants"] = (tenants, 1, 1, None)
    validator.file(name, top)


def _merged(
    reused: list[_Item | None],
    todo: Sequence[int],
    read: tuple[list[str], list[dict[str, JSONValue]], list[int]],
    validator: _Validator,
    reader: _Reader,
) -> tuple[list[str], list[dict[str, JSONValue]], list[int]]:
    """All items in file order: the reused ones, and at the positions ``todo`` the ones just read."""
    count = len(reused) - len(todo)
    validator.count += count
    if validator.count > validator.limits.max_tenants:
        raise _Doubt
    for position, found in zip(todo, zip(*read, strict=True), strict=True):
        reused[position] = found
    items: list[_Item] = reused  # type: ignore[assignment]  # every None was filled
    ids, fields, nodes = (list(column) for column in zip(*items, strict=True))
    reader.nodes_left -= sum(nodes) - sum(read[2])
    if reader.nodes_left < 0:
        raise _Doubt
    return ids, fields, nodes


class _Reader:
    """yaml-rs's plain data as the tree the validator reads, refusing whatever YAML 1.1 could read otherwise."""

    def __init__(self, limits: LoadLimits, plain_attributes: bool) -> None:
        self.plain_attributes = plain_attributes  # no definitions: customAttributes checked on the plain data
        self.nodes_left = limits.max_nodes - 3  # the root mapping, its `tenants` key and list
        # each key already found to read the same in YAML 1.1, to itself: the tenants' mappings share one
        # copy of each key instead of a string per tenant (yaml-rs makes a new one each time)
        self.keys: dict[str, str] = {}
        # the same for customAttributes' string values, often a few choices ("pro", "free"): 5 MB at 100k
        self.values: dict[str, str] = {}

    def key(self, key: Any) -> str:
        known = self.keys.get(key)
        if known is None:
            if type(key) is not str:
                raise _Doubt
            known = self.keys[key] = _text(key)
        return known

    def tenant_fields(self, validator: _Validator, plain: dict[Any, Any]) -> tuple[str, dict[str, JSONValue]]:
        """Check one tenant as ``_Validator.tenant`` does, with its own checks of each key: its id and fields.

        ``loader_columns.check_slice`` counts it and ``record_all`` records it."""
        self.nodes_left -= 1 + 2 * len(plain)
        validator.role_references = []
        fields: dict[str, JSONValue] = {}
        tenant_id = None
        plain_attributes = self.plain_attributes
        keys = self.keys
        for plain_key, value in plain.items():
            key = keys.get(plain_key) or self.key(plain_key)
            kind = type(value)
            # the commonest list and mapping keys, checked on the plain data (the rest as trees, below)
            if kind is list and key in _STRING_LISTS:
                fields[key] = self.strings(value, key in _DOMAIN_LISTS)
                continue
            if kind is dict and key == "customAttributes" and plain_attributes:
                fields[key] = self.attributes(value)
                continue
            if kind is str:
                value = _text(value)
            elif kind is dict or kind is list:
                value = self.value(value, 4)
            elif value is None:
                raise _Doubt  # a key without a value is a problem
            else:
                value = self.value(value, 4)
            if key == "id":
                tenant_id = validator.tenant_id(value, 0, None)
            else:
                check = _CHECKS.get(key)
                if check is None:
                    raise _Doubt
                fields[key] = check(validator, key, value, 0)
        if tenant_id is None or "name" not in fields or not validator.check_role_references(fields):
            raise _Doubt
        return tenant_id, fields

    def strings(self, items: list[Any], domains: bool) -> list[str]:
        """``_Validator.check_strings`` (or ``check_domains``) of a list that passes them: the same list."""
        self.nodes_left -= 1 + len(items)
        seen = set()
        for item in items:
            if type(item) is not str or not item or _text(item) is not item:
                raise _Doubt
            if domains:
                folded = item.lower()
                if not _is_domain(item) or folded in seen:
                    raise _Doubt
                seen.add(folded)
        return list(items)

    def attributes(self, plain: dict[Any, Any]) -> dict[str, JSONValue]:
        """``_Validator.check_attributes`` (no definitions known) of a mapping that passes it: the same mapping."""
        self.nodes_left -= 1 + 2 * len(plain)
        out: dict[str, JSONValue] = {}
        keys = self.keys
        for plain_name, value in plain.items():
            name = keys.get(plain_name) or self.key(plain_name)
            kind = type(value)
            if kind is str:
                out[name] = self.values.setdefault(value, _text(value))
            elif kind is list:
                out[name] = self.strings(value, False) if value else []
            elif kind is int:
                out[name] = self.value(value, 0)
            elif kind is bool or value is None:
                out[name] = value
            else:
                raise _Doubt
        return out

    def value(self, value: Any, depth: int) -> Any:
        """The tree of one value; a collection is at nesting ``depth`` (the root mapping is 1)."""
        kind = type(value)
        if kind is str:
            return _text(value)
        if kind is dict:
            if depth > _MAX_DEPTH:
                raise _Doubt
            self.nodes_left -= 1 + 2 * len(value)
            mapping = _Map(0, None, 0)
            entries = mapping.entries
            for plain_key, item in value.items():
                key = self.key(plain_key)
                if type(item) is str:
                    entries[key] = (_text(item), 0, 0, None)
                else:
                    entries[key] = (self.value(item, depth + 1), 0, 0, None)
            if self.nodes_left < 0:
                raise _Doubt
            return mapping
        if kind is list:
            if depth > _MAX_DEPTH:
                raise _Doubt
            self.nodes_left -= 1 + len(value)
            seq = _Seq(0, None, 0)
            seq.items = [_text(item) if type(item) is str else self.value(item, depth + 1) for item in value]
            seq.lines = [0] * len(value)
            if self.nodes_left < 0:
                raise _Doubt
            return seq
        if kind is int:
            if not -_INT64 <= value < _INT64:
                raise _Doubt
            return value
        if kind is bool or value is None:
            return value
        raise _Doubt  # floats (YAML 1.1 and yaml-rs read exponents differently), dates, complex keys
