"""Turn the bytes of tenants.yaml file(s) into a validated DesiredState, or every problem with file:line.

The loader is pure (bytes in, data out) and treats its input as hostile:

- sizes are checked before any parsing (``LoadLimits``);
- the document is built from the parser's *event stream* by an iterative composer of our own, so
  no object is ever constructed from a tag, nesting depth is bounded without Python recursion, and
  alias expansion is counted as it happens (an alias bomb is refused after a handful of events);
- scalars are resolved like PyYAML's SafeLoader (YAML 1.1: ``yes`` is a boolean, ``0x1f`` an int),
  except that timestamps stay strings, so every value is plain JSON data;
- duplicate keys, which PyYAML silently accepts, are reported;
- merge keys (``<<: *defaults``) work as in PyYAML: explicit keys win over merged ones;
- ids and names a reviewer could not tell apart are refused (Unicode TR39, ``controller.core.confusables``):
  one that mixes scripts (an id as a whole, a name word by word, at TR39's Highly Restrictive level, so
  Japanese, Chinese and Korean written beside Latin pass, and so does a name in one other script), and
  two ids, or two names ignoring case, with the same skeleton of their NFKC form (a Cyrillic or Greek
  letter for a Latin one, full-width letters, an invisible zero-width character): the later line is
  reported, naming the earlier.
  Two all-ASCII strings are never compared: TR39 would refuse ``tenant-1`` beside ``tenant-l`` or
  ``team-0`` beside ``team-O``, but such ids are legitimate, tell apart in a diff's monospace font, and
  an all-ASCII file (nearly every one) then costs one ``isascii()`` per id and name, no Unicode data.
  A string with any non-ASCII character is compared against every other, ASCII ones included
  (``p\\u0430ypa1`` against ``paypal``), by looking up its few ASCII spellings, not by keying all.

libyaml's C parser is used when PyYAML was built with it, the pure-Python parser otherwise; both
feed the same composer, so messages and line numbers agree. Each tenant is validated as soon as
its mapping ends, so a large file is never held as a whole tree; the cyclic garbage collector is
paused during a load (it only slows down building millions of small acyclic objects).

A file that fails is rejected whole: ``parse_tenant_files`` either returns the complete state or
raises ``TenantsFileInvalid`` with all the problems found (up to ``LoadLimits.max_problems``),
sorted by file and line. Cross-file rules (unique ids, unique names whatever their case, declared parents, no parent
cycles) run over all files together.
"""

from __future__ import annotations

import difflib
import gc
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
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

from controller.core.confusables import (
    ascii_sources,
    character,
    confusable_characters,
    lookalike_key,
    mixed_script_words,
    mixed_scripts,
)
from controller.core.model import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    SETTINGS_FIELDS,
    TENANT_FIELDS,
    DesiredState,
    DesiredTenant,
    JSONValue,
    Kind,
)
from controller.descope_api import AttributeDefinition, attribute_value_problem
from controller.errors import Problem, TenantsFileInvalid

__all__ = [
    "TENANT_KEYS",
    "TOP_LEVEL_KEYS",
    "LoadLimits",
    "parse_tenant_files",
    "source_digest",
    "suggest",
]


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what the loader accepts, so a hostile or runaway file cannot exhaust the process."""

    max_file_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 128 * 1024 * 1024
    max_depth: int = 32  # nesting of mappings/sequences
    max_nodes: int = 5_000_000  # nodes after alias expansion (alias-bomb guard)
    max_tenants: int = 200_000
    max_problems: int = 100  # stop collecting after this many


TOP_LEVEL_KEYS: Final[tuple[str, ...]] = ("tenants",)
"""The keys a tenants file may have at its top level."""

TENANT_KEYS: Final[tuple[str, ...]] = ("id", *TENANT_FIELDS)
"""The keys a tenant mapping may have: ``id`` plus every managed field."""

_EMPTY_HINT: Final = "write `tenants: []` to declare that there are no tenants"

# --------------------------------------------------------------------------------------------
# Public helpers


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """The choice ``name`` was most likely meant to be (case slips first, then spelling), or None."""
    options = list(choices)
    if len(name) > 100:  # nobody mistypes that much; spare difflib the work
        return None
    lowered = name.lower()
    for option in options:
        if option.lower() == lowered:
            return option
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def source_digest(files: Mapping[str, bytes]) -> str:
    """A sha256 over the sorted file names and contents: the revision id of a local source."""
    digest = hashlib.sha256()
    for name in sorted(files):
        encoded = name.encode("utf-8")
        content = files[name]
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def parse_tenant_files(
    files: Mapping[str, bytes],
    *,
    limits: LoadLimits = LoadLimits(),
    attributes: Mapping[str, AttributeDefinition] | None = None,
) -> DesiredState:
    """Parse and validate every tenants file (in sorted name order) into one DesiredState.

    ``attributes``, the project's custom attribute definitions when known, makes an undefined key or a
    value of the wrong type a problem here, as Descope would refuse it at apply time.
    Raises ``TenantsFileInvalid`` listing every problem found; never returns a partial state.
    """
    names = sorted(files)
    problems = _Problems(limits.max_problems, names)
    tenants: list[DesiredTenant] = []
    try:
        with _gc_paused(), suppress(_Stop):
            tenants = _load(files, names, limits, problems, attributes)
    except Exception as exc:  # whatever breaks, this revision is refused, never half-loaded
        # An input no check foresaw must make the revision invalid (the last good one stays enforced),
        # not crash a cycle or a command with a traceback.
        where = problems.current or (names[0] if names else "<no file>")
        problems.items.append(
            Problem(where, None, f"could not be loaded ({type(exc).__name__}: {_clip(str(exc), 200)})")
        )
    if problems.items:
        raise TenantsFileInvalid(problems.sorted())
    return DesiredState(tenants=tuple(tenants), files=tuple(names))


def _load(
    files: Mapping[str, bytes],
    names: list[str],
    limits: LoadLimits,
    problems: _Problems,
    attributes: Mapping[str, AttributeDefinition] | None,
) -> list[DesiredTenant]:
    """The tenants of every file; problems are collected (``_Stop`` ends collection early)."""
    total = 0
    for name in names:
        total += len(files[name])
        if total > limits.max_total_bytes:
            problems.add(
                name,
                None,
                f"the tenants files add up to more than the limit of {limits.max_total_bytes:,} bytes "
                "(reached at this file); nothing was parsed",
            )
            raise _Stop
    validator = _Validator(problems, limits, attributes)
    for name in names:
        problems.current = name
        validator.file_name = name
        validator.held = []
        root = _compose_file(name, files[name], limits, problems, validator.tenant)
        held, validator.held = validator.held, None
        if root is _FAILED:
            validator.incomplete = True  # its tenants' problems would only be noise beside the real one
        else:
            for problem in held or ():  # None when they were already passed on at the problem limit
                problems.add(problem.file, problem.line, problem.message)
            validator.file(name, root)
    validator.finish()
    return validator.tenants


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a load builds millions of small containers.

    The composed tree has no reference cycles (recursive aliases are refused), so reference
    counting frees it; pausing only spares the collector repeated scans of a growing heap
    (about a third of the load time for 100k tenants). It is restored even on error.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------
# Problems


class _Stop(Exception):
    """Collection ends now: too many problems, or a limit makes going on pointless."""


class _Problems:
    """Collects problems and stops the load once ``limit`` of them are known."""

    def __init__(self, limit: int, names: list[str]) -> None:
        self.limit = max(1, limit)
        self.items: list[Problem] = []
        self.order = {name: i for i, name in enumerate(names)}
        self.truncated = False
        self.current: str | None = None  # the file being read, for a problem nothing else located

    def add(self, file: str, line: int | None, message: str) -> None:
        if len(self.items) >= self.limit:
            self.truncated = True
            raise _Stop
        self.items.append(Problem(file, line, message))

    def sorted(self) -> list[Problem]:
        out = sorted(self.items, key=lambda p: (self.order.get(p.file, -1), p.line or 0))
        if self.truncated:
            out.append(
                Problem(out[-1].file, None, f"stopped after {self.limit} problems; fix these and validate again")
            )
        return out


# --------------------------------------------------------------------------------------------
# Composition: parser events -> a light tree of _Map / _Seq / plain scalars, with line numbers


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


# --------------------------------------------------------------------------------------------
# Validation: the composed tree -> DesiredTenant, against the field catalogue


_HOSTNAME_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DOMAIN: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_WHITESPACE: Final = re.compile(r"\s")

_Check = Callable[["_Validator", str, Any, int], Any]


class _Validator:
    """Checks composed files against the catalogue and collects the tenants of all files."""

    def __init__(
        self, problems: _Problems, limits: LoadLimits, attributes: Mapping[str, AttributeDefinition] | None = None
    ) -> None:
        self.problems = problems
        self.limits = limits
        self.attributes = attributes  # the project's definitions, when known
        self.tenants: list[DesiredTenant] = []
        self.ids: dict[str, tuple[str, int, int]] = {}  # id -> (file, line of its tenant, line of the id)
        # casefolded name -> (file, line of its tenant, name as written, line of the name): Descope's names are
        # unique whatever the case
        self.names: dict[str, tuple[str, int, str, int]] = {}
        # the ids, and the keys of self.names, that are not all ASCII: the only ones the TR39 checks start from
        self.unusual_ids: list[str] = []
        self.unusual_names: list[str] = []
        self.parents: list[tuple[str, str, str, int]] = []  # (id, parent, file, line)
        self.all_ids: set[str] = set()
        self.incomplete = False  # some file failed to compose: undeclared parents may be declared there
        self.count = 0
        self.file_name = ""
        self.held: list[Problem] | None = None  # problems found while the file is still being parsed

    def add(self, line: int | None, message: str) -> None:
        """Report a problem; while the file is being parsed it is held until the parse succeeds."""
        held = self.held
        if held is None:
            self.problems.add(self.file_name, line, message)
            return
        held.append(Problem(self.file_name, line, message))
        if len(held) >= self.problems.limit:  # enough to fix already, whatever follows
            self.held = None
            for problem in held:
                self.problems.add(problem.file, problem.line, problem.message)

    # -- files -------------------------------------------------------------------------------

    def file(self, name: str, root: Any) -> None:
        self.file_name = name
        if root is _EMPTY or root is None:
            self.add(None, f"file is empty (no tenants list); {_EMPTY_HINT}")
            return
        if root is _BAD:
            return
        if not isinstance(root, _Map):
            hint = "; did you forget `tenants:` above the list?" if isinstance(root, _Seq) else ""
            self.add(
                getattr(root, "line", 1),
                f"the top level must be a mapping with the key `tenants:`, found {_kind_of(root)}{hint}",
            )
            return
        for key, (_value, key_line, _vl, _raw) in root.entries.items():
            if key not in TOP_LEVEL_KEYS:
                self.add(key_line, _unknown_key("top-level key", key, TOP_LEVEL_KEYS))
        entry = root.entries.get("tenants")
        if entry is None:
            self.add(root.line, f"missing the top-level key `tenants:`; {_EMPTY_HINT}")
            return
        tenants, key_line, value_line, _raw = entry
        if tenants is _BAD:
            return
        if tenants is None:
            self.add(key_line, f"`tenants:` has no value; list the tenants under it, or {_EMPTY_HINT}")
            return
        if not isinstance(tenants, _Seq):
            self.add(value_line, f"`tenants:` must be a list of tenants (`- id: ...`), found {_kind_of(tenants)}")
            return
        for item, line in zip(tenants.items, tenants.lines, strict=True):
            if item is _DONE:
                continue
            if isinstance(item, _Map):
                self.tenant(item, line)
            elif item is not _BAD:
                self.add(line, f"each tenant must be a mapping (`- id: ...` then `name: ...`), found {_kind_of(item)}")

    def tenant(self, tenant: _Map, item_line: int) -> None:
        """Validate one tenant mapping; ``item_line`` is where the list names it (an alias may reuse one)."""
        self.count += 1
        if self.count > self.limits.max_tenants:
            message = f"more than {self.limits.max_tenants:,} tenants in the tenants files; refusing to load them"
            self.problems.add(self.file_name, item_line, message)  # not held: loading stops here
            raise _Stop
        entries = tenant.entries
        aliased = item_line != tenant.line
        fields: dict[str, JSONValue] = {}
        ok = True
        tenant_id: str | None = None
        for key, (value, key_line, value_line, raw) in entries.items():
            if value is _BAD:
                ok = False
                continue
            if key == "id":
                tenant_id = self.tenant_id(value, value_line, raw)
                continue
            check = _CHECKS.get(key)
            if check is None:
                self.add(key_line, _unknown_key("tenant key", key, TENANT_KEYS))
                ok = False
                continue
            if value is None:
                self.add(key_line, f"{key} has no value; give it one or remove the key")
                ok = False
                continue
            out = check(self, key, value, value_line)
            if out is _BAD:
                ok = False
            else:
                fields[key] = out
        if "id" not in entries:
            self.add(tenant.line, "tenant has no `id:` (the stable Descope tenant id, e.g. `id: acme-corp`)")
            ok = False
        if "name" not in entries:
            shown = f" {_q(tenant_id)}" if tenant_id else ""
            self.add(tenant.line, f"tenant{shown} has no `name:` (required, unique per project)")
            ok = False
        where = (self.file_name, tenant.line)
        if tenant_id is not None:
            self.all_ids.add(tenant_id)
            first = self.ids.get(tenant_id)
            if first is not None:
                self.add(
                    item_line if aliased else entries["id"][2],
                    f"duplicate tenant id {_q(tenant_id)}: also declared at {first[0]}:{first[1]}",
                )
                ok = False
            else:
                self.ids[tenant_id] = (*where, item_line if aliased else entries["id"][2])
                if not tenant_id.isascii():
                    self.unusual_ids.append(tenant_id)
        name = fields.get("name")
        if isinstance(name, str):
            folded = name.casefold()
            first_name = self.names.get(folded)
            if first_name is not None:
                case = "" if first_name[2] == name else f" as {_q(first_name[2])}"
                self.add(
                    item_line if aliased else entries["name"][2],
                    f"duplicate tenant name {_q(name)}: also used at {first_name[0]}:{first_name[1]}{case} "
                    f"(names are unique per project{', whatever the case' if case else ''})",
                )
                ok = False
            else:
                self.names[folded] = (*where, name, item_line if aliased else entries["name"][2])
                if not name.isascii():
                    self.unusual_names.append(folded)
        parent = fields.get("parent")
        if tenant_id is not None and isinstance(parent, str) and parent:
            self.parents.append((tenant_id, parent, self.file_name, entries["parent"][2]))
        if ok and tenant_id is not None:
            self.tenants.append(DesiredTenant(id=tenant_id, fields=fields, file=self.file_name, line=tenant.line))

    def tenant_id(self, value: Any, line: int, raw: str | None) -> str | None:
        if isinstance(value, bool | int | float) or value is None:
            shown = _clip(raw) if raw else "..."
            self.add(
                line,
                f'id must be a string, but YAML reads {shown!r} as {_kind_of(value)}; quote it: id: "{shown}"'
                if value is not None
                else "id is empty; give the tenant a stable id, e.g. `id: acme-corp`",
            )
            return None
        if not isinstance(value, str):
            self.add(line, f"id must be a string, found {_kind_of(value)}")
            return None
        if not value:
            self.add(line, "id is empty; give the tenant a stable id, e.g. `id: acme-corp`")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.add(line, f"id is {len(value)} characters long, over the limit of {MAX_ID_LENGTH}")
            return None
        if not value.isprintable() or _WHITESPACE.search(value):
            self.add(
                line, f"id {_q(value)} contains whitespace or control characters; use e.g. letters, digits and '-'"
            )
            return None
        return value

    # -- field checks (return the plain value, or _BAD after reporting) -------------------------

    def string(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, str):
            self.add(line, f"{key} must be a string, found {_kind_of(value)}; quote it if it is meant as text")
            return _BAD
        return value

    def check_name(self, key: str, value: Any, line: int) -> Any:
        if self.string(key, value, line) is _BAD:
            return _BAD
        if not value.strip():
            self.add(line, "name is empty; every tenant needs a name (unique per project)")
            return _BAD
        if len(value) > MAX_NAME_LENGTH:
            self.add(line, f"name is {len(value)} characters long, over the limit of {MAX_NAME_LENGTH}")
            return _BAD
        return value

    def check_choice(self, key: str, value: Any, line: int) -> Any:
        choices = TENANT_FIELDS[key].choices
        if not isinstance(value, str) or value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            guess = suggest(value, choices) if isinstance(value, str) and value else None
            hint = f"; did you mean {guess!r}?" if guess else ""
            self.add(line, f"{key} must be one of {allowed}, found {_kind_of(value)}{hint}")
            return _BAD
        return value

    def check_parent(self, key: str, value: Any, line: int) -> Any:
        if isinstance(value, bool | int | float):
            self.add(line, f"parent must be a tenant id (a string), found {_kind_of(value)}; quote it")
            return _BAD
        return self.string(key, value, line)

    def check_bool(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, bool):
            self.add(line, f"{key} must be true or false, found {_kind_of(value)}")
            return _BAD
        return value

    def seq(self, key: str, value: Any, line: int, example: str) -> _Seq | None:
        if isinstance(value, _Seq):
            return value
        self.add(line, f"{key} must be a list, e.g. `{key}: [{example}]`, found {_kind_of(value)}")
        return None

    def check_strings(self, key: str, value: Any, line: int) -> Any:
        items = self.seq(key, value, line, "a, b")
        if items is None:
            return _BAD
        out: list[str] = []
        for item, item_line in zip(items.items, items.lines, strict=True):
            if isinstance(item, str) and item:
                out.append(item)
            elif item is not _BAD:
                self.add(item_line, f"{key} items must be non-empty strings, found {_kind_of(item)}")
        return out if len(out) == len(items.items) else _BAD

    def check_domains(self, key: str, value: Any, line: int) -> Any:
        items = self.seq(key, value, line, "acme.com")
        if items is None:
            return _BAD
        out: list[str] = []
        seen: dict[str, int] = {}
        for item, item_line in zip(items.items, items.lines, strict=True):
            if item is _BAD:
                continue
            if not (
                type(item) is str
                and len(item) <= 253
                and _DOMAIN.fullmatch(item)
                and not item.rpartition(".")[2].isdigit()
            ):
                reason = _domain_problem(item) or f"{_q(item)} is not a valid domain name"
                self.add(item_line, f"{key}: {reason}")
                continue
            folded = item.lower()
            if folded in seen:
                self.add(
                    item_line,
                    f"{key}: duplicate domain {_q(item)} (already listed at line {seen[folded]}; domains ignore case)",
                )
                continue
            seen[folded] = item_line
            out.append(item)
        return out if len(out) == len(items.items) else _BAD

    def check_attributes(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(line, f"{key} must be a mapping of attribute name to value, found {_kind_of(value)}")
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (attr, key_line, value_line, _raw) in value.entries.items():
            if attr is _BAD:
                ok = False
            elif not name:
                self.add(key_line, f"{key}: an attribute name cannot be empty")
                ok = False
            elif isinstance(attr, _Seq):
                bad = [(i, ln) for i, ln in zip(attr.items, attr.lines, strict=True) if not isinstance(i, str)]
                for item, item_line in bad:
                    if item is not _BAD:
                        self.add(
                            item_line,
                            f"{key}.{_clip(name)}: list values must be strings (a multi-select), "
                            f"found {_kind_of(item)}",
                        )
                ok = ok and not bad
                out[name] = list(attr.items)
                if not bad:
                    ok = self.defined_attribute(key, name, out[name], key_line, value_line) and ok
            elif isinstance(attr, _Map):
                self.add(
                    value_line,
                    f"{key}.{_clip(name)} must be a string, number, boolean, null or list of strings, not a mapping",
                )
                ok = False
            elif isinstance(attr, float) and not math.isfinite(attr):
                self.add(value_line, f"{key}.{_clip(name)} must be a finite number, found {attr!r}")
                ok = False
            else:
                out[name] = attr
                ok = self.defined_attribute(key, name, attr, key_line, value_line) and ok
        return out if ok else _BAD

    def defined_attribute(self, key: str, name: str, value: Any, key_line: int, value_line: int) -> bool:
        """With the project's definitions known: is ``name`` defined, and does its type take ``value``?"""
        if self.attributes is None:
            return True
        definition = self.attributes.get(name)
        if definition is None:
            guess = suggest(name, self.attributes)
            known = f"did you mean {guess!r}?" if guess else "defined: " + (", ".join(self.attributes) or "none")
            self.add(
                key_line,
                f"{key}.{_clip(name)} is not a custom attribute of the Descope project ({known}); "
                "define it in the console (Project → Tenants → Custom attributes) and in [descope] "
                "attributes_file (or attributes), or remove it",
            )
            return False
        problem = attribute_value_problem(definition, value)
        if problem is not None:
            guess = suggest(value, definition.values) if isinstance(value, str) and definition.values else None
            hint = f"; did you mean {guess!r}?" if guess else ""
            self.add(value_line, f"{key}.{_clip(name)} ({definition.type}) {problem}{hint}")
            return False
        return True

    def check_settings(self, key: str, value: Any, line: int) -> Any:
        if not isinstance(value, _Map):
            self.add(line, f"{key} must be a mapping of session settings, found {_kind_of(value)}")
            return _BAD
        out: dict[str, JSONValue] = {}
        ok = True
        for name, (setting, key_line, value_line, _raw) in value.entries.items():
            expected = SETTINGS_FIELDS.get(name)
            if setting is _BAD:
                ok = False
            elif expected is None:
                self.add(key_line, _unknown_key("settings key", name, SETTINGS_FIELDS))
                ok = False
            elif expected is bool:
                if isinstance(setting, bool):
                    out[name] = setting
                else:
                    self.add(value_line, f"settings.{name} must be true or false, found {_kind_of(setting)}")
                    ok = False
            elif expected is int:
                if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
                    out[name] = setting
                else:
                    self.add(value_line, f"settings.{name} must be a positive whole number, found {_kind_of(setting)}")
                    ok = False
            elif isinstance(expected, tuple):
                if isinstance(setting, str) and setting in expected:
                    out[name] = setting
                else:
                    guess = suggest(setting, expected) if isinstance(setting, str) and setting else None
                    hint = f"; did you mean {guess!r}?" if guess else ""
                    self.add(
                        value_line,
                        f"settings.{name} must be one of {', '.join(expected)}, found {_kind_of(setting)}{hint}",
                    )
                    ok = False
            else:  # pragma: no cover - the catalogue has only these types
                raise AssertionError(f"unhandled settings type for {name}: {expected!r}")
        return out if ok else _BAD

    # -- across all files -----------------------------------------------------------------------

    def finish(self) -> None:
        """Rules that need every tenant of every file: parents (declared, not self, no cycles) and lookalikes."""
        self.lookalikes()
        parent_of: dict[str, tuple[str, str, int]] = {}
        for tenant_id, parent, file, line in self.parents:
            self.file_name = file
            if parent == tenant_id:
                self.add(line, f"tenant {_q(tenant_id)} cannot be its own parent")
            elif parent not in self.all_ids:
                if not self.incomplete:
                    self.add(
                        line,
                        f"parent {_q(parent)} is not declared in the tenants files; declare that tenant too "
                        "(parents must be managed here) or remove `parent:`",
                    )
            else:
                parent_of[tenant_id] = (parent, file, line)
        state: dict[str, int] = {}  # 1 on the current walk, 2 finished
        for start in parent_of:
            if start in state:
                continue
            path: list[str] = []
            current: str | None = start
            while current is not None and current not in state:
                state[current] = 1
                path.append(current)
                link = parent_of.get(current)
                current = link[0] if link else None
            if current is not None and state[current] == 1:
                cycle = path[path.index(current) :]
                _parent, file, line = parent_of[cycle[0]]
                chain = " → ".join(_q(t) for t in [*cycle, cycle[0]])
                others = ", ".join(f"{_q(t)} at {parent_of[t][1]}:{parent_of[t][2]}" for t in cycle[1:])
                self.file_name = file
                self.add(line, f"parent cycle {chain}" + (f" (see {others})" if others else ""))
            for member in path:
                state[member] = 2

    def lookalikes(self) -> None:
        """Unicode TR39: an id or name that mixes scripts, or that looks the same as another one.

        See the module docstring for what counts. The work starts from the non-ASCII ids and names
        only: the ASCII strings that could look like one of them are found by spelling its lookalike
        key back in ASCII (``ascii_sources``) and looking those up, so an ASCII id or name costs
        nothing here even when a few non-ASCII ones sit among 100k of them.
        """
        ids = [(i, *self.ids[i]) for i in self.unusual_ids]
        names = [(name, file, line, at) for file, line, name, at in map(self.names.__getitem__, self.unusual_names)]
        for kind, unusual in (("id", ids), ("name", names)):
            if unusual:
                self.lookalikes_of(kind, unusual)

    def lookalikes_of(self, kind: str, unusual: list[tuple[str, str, int, int]]) -> None:
        """The TR39 checks for the non-ASCII ids (or names) ``unusual``, each (text, file, line, place)."""
        ignore_case = kind == "name"
        groups: dict[str, list[tuple[str, str, int, int]]] = {}
        for entry in unusual:
            groups.setdefault(lookalike_key(entry[0], ignore_case=ignore_case), []).append(entry)
        every_ascii: dict[str, list[tuple[str, str, int, int]]] | None = None
        order = self.problems.order
        reported: set[str] = set()
        for key, members in groups.items():
            sources = ascii_sources(key, ignore_case=ignore_case)
            if sources is None:  # too many ASCII spellings to try: key every ASCII string instead (rare)
                if every_ascii is None:
                    every_ascii = self.ascii_by_key(kind)
                members = members + every_ascii.get(key, [])
            else:
                members = members + [found for source in sources if (found := self.entry(kind, source))]
            # a non-ASCII name can be its own ASCII spelling once case-folded ("ß" is keyed "ss"): once each
            members = sorted(dict.fromkeys(members), key=lambda m: (order.get(m[1], -1), m[2], m[3]))
            first = members[0]
            for text, file, _line, at in members[1:]:
                if text.isascii() and first[0].isascii():
                    continue  # two ASCII strings are never compared (module docstring)
                chars = _characters(confusable_characters(text, first[0], ignore_case=ignore_case))
                self.file_name = file
                self.add(
                    at,
                    f"{kind} {_q(text)} looks the same as {kind} {_q(first[0])} at {first[1]}:{first[2]} "
                    f"(confusable characters: {chars}); reviewers cannot tell them apart, so rename one",
                )
                reported.add(text)
        for text, file, _line, at in unusual:
            if text in reported:
                continue  # one problem per string: looking like another says it all
            mixed = mixed_script_words(text) if ignore_case else mixed_scripts(text)
            if mixed is not None:
                self.file_name = file
                self.add(
                    at,
                    f"{kind} {_q(text)} mixes scripts{' within a word' if ignore_case else ''}: "
                    f"{_characters(mixed.odd)} ({', '.join(mixed.odd_scripts)}) among {mixed.main}; "
                    "reviewers cannot see the difference, so write it in one script",
                )

    def entry(self, kind: str, text: str) -> tuple[str, str, int, int] | None:
        """(text as written, file, line, place) of the tenant with this id, or this name in any case."""
        if kind == "id":
            place = self.ids.get(text)
            return (text, *place) if place is not None else None
        found = self.names.get(text)
        return (found[2], found[0], found[1], found[3]) if found is not None else None

    def ascii_by_key(self, kind: str) -> dict[str, list[tuple[str, str, int, int]]]:
        """Every ASCII id (or name) by its lookalike key: the slow way, when spelling a key back explodes."""
        keyed: dict[str, list[tuple[str, str, int, int]]] = {}
        texts = self.ids if kind == "id" else self.names
        for text in texts:
            if text.isascii():
                found = self.entry(kind, text)
                if found is not None:
                    keyed.setdefault(lookalike_key(found[0], ignore_case=kind == "name"), []).append(found)
        return keyed


_CHECK_BY_KIND: Final[dict[Kind, _Check]] = {
    Kind.STRING: _Validator.string,
    Kind.BOOL: _Validator.check_bool,
    Kind.STRING_SET: _Validator.check_strings,
    Kind.DOMAIN_SET: _Validator.check_domains,
    Kind.ATTRIBUTES: _Validator.check_attributes,
    Kind.SETTINGS: _Validator.check_settings,
}


def _check_for(name: str) -> _Check:
    if name == "name":
        return _Validator.check_name
    if name == "parent":
        return _Validator.check_parent
    if TENANT_FIELDS[name].choices:
        return _Validator.check_choice
    return _CHECK_BY_KIND[TENANT_FIELDS[name].kind]


_CHECKS: Final[dict[str, _Check]] = {name: _check_for(name) for name in TENANT_FIELDS}


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


def _characters(chars: tuple[str, ...], limit: int = 4) -> str:
    """Characters as a reviewer can look them up (``U+0430 CYRILLIC SMALL LETTER A``), the first few."""
    shown = ", ".join(character(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


def _clip(text: str, limit: int = 60) -> str:
    """User text shortened for a message, so a hostile 1 MB key cannot flood the output."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _q(text: str) -> str:
    """User text quoted (and clipped) for a message."""
    return repr(_clip(text))


def _unknown_key(what: str, key: str, choices: Iterable[str]) -> str:
    guess = suggest(key, choices)
    if guess is not None:
        return f"unknown {what} {_q(key)}; did you mean {guess!r}?"
    return f"unknown {what} {_q(key)}; expected one of: {', '.join(choices)}"


def _domain_problem(value: Any) -> str | None:
    """Why ``value`` is not a domain name (as used in e-mail addresses), or None."""
    if not isinstance(value, str):
        return f"a domain must be a string, found {_kind_of(value)}"
    if not value:
        return "a domain cannot be empty"
    if not value.isascii():
        return f"{_q(value)} is not an ASCII domain name; write internationalised domains in punycode (xn--...)"
    if "@" in value:
        return f"{_q(value)} looks like an e-mail address; write only the domain after '@'"
    if len(value) > 253:
        return f"{_q(value)} is longer than 253 characters"
    labels = value.lower().split(".")
    if len(labels) < 2 or not all(_HOSTNAME_LABEL.fullmatch(label) for label in labels):
        return (
            f"{_q(value)} is not a valid domain name (dot-separated labels of letters, digits and '-', e.g. acme.com)"
        )
    if labels[-1].isdigit():
        return f"{_q(value)} is not a domain name (the last label is all digits)"
    return None
