"""A JSON answer decoded as it arrives, so a 100k-tenant list is never held as one 17 MB text beside its records.

``json.loads`` needs the whole text: at 100k tenants that text (17 MB) is alive at the peak of an unchanged
``plan``, beside the decoded records (~85 MB). An answer shaped like Descope's lists, ``{"<key>": [...] ...}``,
is decoded here a batch of whole items at a time as the chunks arrive; anything else is decoded whole.

The result is what ``json.loads`` gives for the same bytes, or the same ``ValueError``: a batch ends at a
``}`` followed by ``,`` only when ``[`` + the batch + ``]`` decodes, which it cannot if that ``},`` is inside a
string or a nested value; the end of the answer (its last items, the ``]`` and any keys after it) is decoded
as ``json.loads`` would, a later duplicate of the key replacing the list as there. Each batch shares its
keys' strings (the decoder's memo lasts one call), as one whole decode would, and equal short values are
shared between records (``_share``): equal, so the result still compares equal to ``json.loads``'s.

A wrapper around the standard library's decoder, not a second JSON parser (a streaming library such as
ijson): every byte is still decoded by ``json``, so what is accepted, refused and produced stays ``json.loads``'s.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from operator import is_not, setitem
from typing import Any, Final

_HEAD: Final = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*"([A-Za-z_]+)"[ \t\n\r]*:[ \t\n\r]*\[')
"""The start of an answer decoded item by item: an object whose first key is a plain word, holding a list."""

_HEAD_CHARS: Final = 256
"""Text read before deciding: more than any head of that shape needs, once blanks are counted."""

_TRIES: Final = 4
"""``},`` tried per chunk, last first: a record's nested mapping also ends in one (``"customAttributes": {...},``)."""

_SHARED_CHARS: Final = 16
"""Strings this short are shared between records (an enumeration's values are; names and ids rarely repeat)."""

_SHARED_MAX: Final = 4096
"""Distinct short strings remembered at most."""

_ABSENT: Final = object()
"""What a map that lacks a key holds for ``_share``: never written back."""

_SAMPLE: Final = 16
"""Records of a batch looked at to tell whether a key's values repeat (an enumeration) or not (ids, names)."""

_SHOWN_BYTES: Final = 1000
"""The beginning of an answer kept to show when it is not JSON (errors show less)."""

_DECODER: Final = json.JSONDecoder()


class NotJson(ValueError):
    """The answer is not JSON; ``start`` is its beginning, to show."""

    def __init__(self, start: str) -> None:
        super().__init__("the body is not JSON")
        self.start = start


def loads_chunks(chunks: Iterable[bytes]) -> Any:
    """``json.loads`` of the bytes ``chunks`` joined (None if blank), holding at most a batch of text at a time.

    ``NotJson`` (with the answer's first bytes) where ``json.loads`` would raise ``ValueError``.
    """
    seen = bytearray()

    def recording() -> Iterator[bytes]:
        for chunk in chunks:
            if len(seen) < _SHOWN_BYTES:
                seen.extend(chunk[: _SHOWN_BYTES - len(seen)])
            yield chunk

    try:
        return _loads(recording())
    except ValueError as exc:
        raise NotJson(seen.decode("utf-8", "replace")) from exc


def _loads(chunks: Iterator[bytes]) -> Any:
    start = b""
    for chunk in chunks:
        start += chunk
        if len(start) >= 4:
            break
    if json.detect_encoding(start) != "utf-8":  # UTF-16 or 32, or a BOM: rare enough to decode whole
        return _loads_bytes(start + b"".join(chunks))
    text = codecs.getincrementaldecoder("utf-8")("surrogatepass")
    pending = text.decode(start)
    items: list[Any] | None = None  # the list's items decoded so far, once the head is recognised
    key, taken = "", False
    shared: dict[str, str] = {}  # the short strings met so far, each kept once (see _share)
    for chunk in chunks:
        pending += text.decode(chunk)
        if items is None:
            if len(pending) < _HEAD_CHARS:
                continue
            head = _HEAD.match(pending)
            if head is None:
                held = text.getstate()[0]  # the start of a character split between chunks
                return _loads_bytes(pending.encode("utf-8", "surrogatepass") + held + b"".join(chunks))
            key, items, pending = head.group(1), [], pending[head.end() :]
        pending, took = _take_batch(pending, items, shared)
        taken = taken or took
    pending += text.decode(b"", final=True)
    if items is None:
        head = _HEAD.match(pending)
        if head is None:
            return _loads_bytes(pending.encode("utf-8", "surrogatepass"))
        key, items, pending = head.group(1), [], pending[head.end() :]
    return _finish(key, items, pending, taken, shared)


def _loads_bytes(body: bytes) -> Any:
    """Any other answer, decoded whole as before: None when blank."""
    return json.loads(body) if body.strip() else None


def _take_batch(pending: str, items: list[Any], shared: dict[str, str]) -> tuple[str, bool]:
    """Decode the whole items at the start of ``pending`` into ``items``; what is left, and whether any were."""
    end = len(pending)
    # first the last '},{': in a compact list of records it is between two of them, where a record's inner
    # mapping ends in '},"' (a cut there would decode the batch only to fail; a quarter of them did)
    between = pending.rfind("},{")
    for attempt in range(_TRIES + 1):
        cut = between if attempt == 0 else pending.rfind("},", 0, end)
        if cut < 0:
            if attempt == 0:
                continue
            break
        try:
            batch = json.loads("[" + pending[: cut + 1] + "]")
        except ValueError:  # this '},' is inside a string or a nested value: try an earlier one
            end = cut
            continue
        _share(batch, shared)
        items.extend(batch)
        return pending[cut + 2 :], True
    return pending, False


def _share(records: list[Any], shared: dict[str, str]) -> None:
    """Let equal short strings in ``records`` (and their mappings) be one object: Descope repeats a few values.

    A tenant's ``authType`` and its attributes' choices (``"pro"``, ``"free"``) come once per tenant: 100k
    copies of 53 bytes each, 5 MB a key at 100k tenants. Only the first ``_SHARED_MAX`` distinct strings
    are kept, so a list of unique short values costs no more than a small table.

    Done a key at a time over the whole batch (C-level ``map``s, 3x cheaper than a loop over each record's
    items, which cost a daemon's idle cycle 0.1 s at 100k): the keys are those holding a short string in
    the batch's first ``_SAMPLE`` records (of them, and of their mappings), and a key is shared only when its values
    repeat in the batch's first ``_SAMPLE`` records (a ``set`` of them is at most half as long) or were met
    before, so unique ids and names cost no lookups.
    """
    if not records or not all(map(dict.__instancecheck__, records)):
        return  # not a list of objects: nothing Descope repeats
    _share_columns(records, shared)
    for name in {name for record in records[:_SAMPLE] for name, value in record.items() if type(value) is dict}:
        held: list[Any] = list(map(dict.get, records, repeat(name)))
        _share_columns(list(compress(held, map(dict.__instancecheck__, held))), shared)


def _share_columns(maps: list[dict[str, Any]], shared: dict[str, str]) -> None:
    """``_share`` of the keys that hold a short string in the first ``_SAMPLE`` of ``maps`` (plain dicts)."""
    candidates = {
        name: None
        for held in maps[:_SAMPLE]
        for name, value in held.items()
        if type(value) is str and len(value) <= _SHARED_CHARS
    }
    for name in candidates:
        sample = [m.get(name) for m in maps[:_SAMPLE]]
        try:
            if len(set(sample)) * 2 > len(sample) and shared.keys().isdisjoint(sample):
                continue  # values that rarely repeat (ids, names), none met before: sharing would save nothing
            column: list[Any] = list(map(dict.get, maps, repeat(name), repeat(_ABSENT)))
            distinct = set(column)
        except TypeError:  # a list or a mapping in some record: one record at a time
            _share_each(maps, name, shared)
            continue
        if len(shared) < _SHARED_MAX:
            for item in distinct - shared.keys():
                if type(item) is str and len(item) <= _SHARED_CHARS and len(shared) < _SHARED_MAX:
                    shared[item] = item
        table: dict[Any, Any] = shared
        kept = list(map(table.get, column, column))  # the table holds strings only: other values map to themselves
        if _ABSENT in distinct:  # only where the key is: written back, a missing key would be added
            changed = list(map(is_not, kept, column))
            deque(map(setitem, compress(maps, changed), repeat(name), compress(kept, changed)), maxlen=0)
        else:  # every map holds the key: writing back what did not change is a no-op, and cheaper than finding it
            deque(map(setitem, maps, repeat(name), kept), maxlen=0)


def _share_each(maps: list[dict[str, Any]], name: str, shared: dict[str, str]) -> None:
    """``_share_columns`` of one key whose values are not all hashable, a record at a time."""
    for held in maps:
        value = held.get(name)
        if type(value) is str and len(value) <= _SHARED_CHARS:
            kept = shared.get(value)
            if kept is None and len(shared) < _SHARED_MAX:
                shared[value] = kept = value
            if kept is not None:
                held[name] = kept


def _finish(key: str, items: list[Any], rest: str, taken: bool, shared: dict[str, str]) -> dict[str, Any]:
    """The last items, the list's ``]`` and what follows it, as ``json.loads`` reads ``{"key": [items + rest``."""
    last, end = _DECODER.raw_decode("[" + rest)  # the list's remaining items and its ']'
    if taken and not last:
        raise ValueError("a list ends with ',]'")  # as json.loads refuses it: a value is expected
    _share(last, shared)
    items.extend(last)
    data: dict[str, Any] = {key: items}
    tail = rest[end - 1 :].lstrip(" \t\n\r")
    if tail.startswith(","):
        later = json.loads("{" + tail[1:])  # later keys; a second ``key`` replaces the list
        if not later:
            raise ValueError("an object ends with ',}'")  # as json.loads refuses it: a key is expected
        data.update(later)
    else:
        json.loads("{" + tail)  # only '}' and blanks may follow: anything else raises as json.loads does
    return data
