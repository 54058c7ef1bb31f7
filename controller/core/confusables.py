"""Unicode TR39 checks on tenant ids and names, so two tenants a reviewer cannot tell apart are refused.

UTS #39 (Unicode Security Mechanisms, https://www.unicode.org/reports/tr39/; the § numbers below are its
sections) gives two tools, both implemented here from Unicode's own data:

- ``skeleton(s)`` (§4): ``NFD``, drop Default_Ignorable code points, replace each code point by its
  prototype from ``confusables.txt``, ``NFD`` again. Two strings are confusable when their skeletons
  are equal: ``"\\u0430cme"`` (Cyrillic a) and ``"acme"``; ``"acme-c\\u03bfrp"`` (Greek omicron) and
  ``"acme-corp"``; ``"ac\\u200bme"`` (a zero-width space) and ``"acme"``.
- ``mixed_scripts(s)`` (§5.1-5.2): the augmented Script_Extensions of every character are intersected;
  a string passes at the *Highly Restrictive* level: one script (Common and Inherited characters such
  as digits, punctuation and combining marks go with any), or Latin with Han and Japanese kana, Latin
  with Han and Bopomofo, or Latin with Han and Hangul. An all-Cyrillic name passes; ``"\\u0430cme"``
  (a Cyrillic a among Latin letters) does not, and the answer names the characters out of place.

Why vendored data and not a library (we looked): ``confusable-homoglyphs`` 3.3.1 ships a pairwise
homoglyph table and a one-script-per-character ``is_mixed_script`` (no Script_Extensions, so
``"東京タワー"`` counts as mixed), and no skeleton; ``confusables`` 1.2.0 (2021) ships Unicode 13.0
data with its own non-Unicode additions (``a`` → ``@``) and compares strings pairwise (quadratic at
100k tenants), also without a skeleton. ICU's SpoofChecker is the reference implementation, but its
Python bindings need ICU installed (no wheels). So ``unicode/`` holds Unicode 17.0.0's files verbatim,
under the Unicode License v3 (``unicode/LICENSE``): ``confusables.txt`` (UTS #39 data), and from the
UCD ``Scripts.txt``, ``ScriptExtensions.txt`` and ``PropertyValueAliases.txt`` (script names). The
Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt 17.0.0, a short, stable list) are
written out below. To update, replace the four files with a newer release's and run tests/core.

The files are read once, on the first non-ASCII string (an all-ASCII tenants file never loads them):
reading data shipped inside the package, like an import, keeps this module pure. NFD comes from the
running Python's ``unicodedata`` (Unicode 14.0 to 15.1 on Python 3.11 to 3.13); characters newer than
that are left as they are, which only matters for scripts encoded since.
"""

from __future__ import annotations

import functools
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = [
    "UNICODE_VERSION",
    "MixedScripts",
    "ascii_sources",
    "character",
    "confusable_characters",
    "lookalike_key",
    "mixed_script_words",
    "mixed_scripts",
    "skeleton",
]

UNICODE_VERSION: Final = "17.0.0"
"""The Unicode release of the vendored data files."""

# Default_Ignorable_Code_Point, from DerivedCoreProperties.txt 17.0.0 (TR39 §4 removes these)
_DEFAULT_IGNORABLE: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

_ANY: Final = "*"  # the augmented script set of Common and Inherited characters: every script
# TR39 §5.1: Han goes with Bopomofo (Hanb), with kana (Jpan) and with Hangul (Kore)
_AUGMENT: Final[dict[str, tuple[str, ...]]] = {
    "Hani": ("Hanb", "Jpan", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Bopo": ("Hanb",),
    "Hang": ("Kore",),
}
_HIGHLY_RESTRICTIVE: Final = frozenset({"Hanb", "Jpan", "Kore"})
# which scripts may share a string with a given one at the Highly Restrictive level
_COMPANIONS: Final[dict[str, frozenset[str]]] = {
    "Latn": frozenset({"Latn", "Hani", "Hira", "Kana", "Bopo", "Hang"}),
    "Hani": frozenset({"Latn", "Hani", "Hira", "Kana", "Bopo", "Hang"}),
    "Hira": frozenset({"Latn", "Hani", "Hira", "Kana"}),
    "Kana": frozenset({"Latn", "Hani", "Hira", "Kana"}),
    "Bopo": frozenset({"Latn", "Hani", "Bopo"}),
    "Hang": frozenset({"Latn", "Hani", "Hang"}),
}


@dataclass(frozen=True)
class MixedScripts:
    """Why a string is not Highly Restrictive: its main script and the characters out of place in it."""

    main: str  # the script most of its characters are written in, e.g. "Latin"
    odd: tuple[str, ...]  # the characters that cannot go with it, in order of first appearance
    odd_scripts: tuple[str, ...]  # their scripts, e.g. ("Cyrillic",)


@dataclass(frozen=True)
class _Tables:
    prototypes: dict[int, str | None]  # str.translate table: prototype, or None to drop (ignorables)
    ascii_prototypes: dict[int, str]  # the same, for ASCII code points only
    starts: list[int]  # sorted range starts of Scripts.txt, overlaid with ScriptExtensions.txt
    ends: list[int]
    scx: list[frozenset[str]]  # Script_Extensions of each range, short codes (Latn, Cyrl, Zyyy, ...)
    script: list[str]  # Script of each range, short code
    names: dict[str, str]  # short code -> long name ("Cyrl" -> "Cyrillic")


def skeleton(text: str) -> str:
    """TR39 §4 ``skeleton(text)``: equal skeletons mean the two strings can be confused."""
    if text.isascii():
        # only a few ASCII characters have prototypes (m -> rn, 0 -> O, 1 -> l, I -> l, | -> l, ...)
        mapped = text.translate(_ascii_table())
        return mapped if mapped.isascii() else unicodedata.normalize("NFD", mapped)
    tables = _tables()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(tables.prototypes))


def lookalike_key(text: str, *, ignore_case: bool = False) -> str:
    """What two strings share when a reader cannot tell them apart: the skeleton of their NFKC form.

    TR39's data assumes NFKC identifiers, so compatibility forms are folded first (full-width
    letters, ligatures, circled and superscript forms read as their plain letters); with
    ``ignore_case`` the case is folded too (``NFKC(casefold(NFKC(s)))``), for names.
    """
    if text.isascii():
        return skeleton(text.lower() if ignore_case else text)  # ASCII is already NFKC
    folded = unicodedata.normalize("NFKC", text)
    if ignore_case:
        folded = unicodedata.normalize("NFKC", folded.casefold())
    return skeleton(folded)


def ascii_sources(key: str, *, ignore_case: bool = False, limit: int = 256) -> list[str] | None:
    """Every all-ASCII string whose ``lookalike_key`` is ``key``; None when there are more than ``limit``.

    An ASCII string's key is the string with a handful of characters replaced (``m`` → ``rn``,
    ``0`` → ``O``, ``1``/``I``/``|`` → ``l``, ...), so the strings are found by reading ``key`` back;
    with ``ignore_case`` they are given in lower case (names are looked up by their casefold).
    """
    spellings = _ascii_spellings(ignore_case)
    partial: dict[int, list[str]] = {0: [""]}
    for at in range(len(key)):
        prefixes = partial.pop(at, None)
        if prefixes is None:
            continue
        for output, sources in spellings.get(key[at], ()):
            if key.startswith(output, at):
                found = partial.setdefault(at + len(output), [])
                found.extend(prefix + source for prefix in prefixes for source in sources)
                if len(found) > limit:
                    return None
    return partial.get(len(key), [])


def mixed_scripts(text: str) -> MixedScripts | None:
    """None when ``text`` is at TR39's Highly Restrictive level; otherwise which scripts it mixes."""
    if text.isascii():
        return None  # Latin and Common only
    sets = [(char, _augmented(char)) for char in text]
    resolved: frozenset[str] | None = None  # None: every script
    for _char, scripts in sets:
        if scripts is not None:
            resolved = scripts if resolved is None else resolved & scripts
    if resolved is None or resolved:
        return None  # one script
    # Highly Restrictive: leaving Latin characters aside, the rest is Han with kana, Bopomofo or Hangul
    rest: frozenset[str] | None = None
    for _char, scripts in sets:
        if scripts is not None and "Latn" not in scripts:
            rest = scripts if rest is None else rest & scripts
    if rest is None or rest & _HIGHLY_RESTRICTIVE:
        return None
    return _explain(sets)


def mixed_script_words(text: str) -> MixedScripts | None:
    """``mixed_scripts`` of each word (split at spaces, punctuation and symbols), for names:
    ``"Acme \\u0420\\u043e\\u0441\\u0441\\u0438\\u044f"`` (a Latin and a Cyrillic word) passes,
    a Cyrillic letter inside a Latin word does not."""
    if text.isascii():
        return None
    word: list[str] = []
    for char in [*text, " "]:
        if unicodedata.category(char)[0] in "ZPS":
            if word and (found := mixed_scripts("".join(word))) is not None:
                return found
            word = []
        else:
            word.append(char)
    return None


def confusable_characters(first: str, second: str, *, ignore_case: bool = False) -> tuple[str, ...]:
    """The characters one of two confusable strings has and the other lacks, non-ASCII ones first.

    An ASCII character that one of those merely imitates is left out (Latin a beside a Cyrillic a), so
    ``"p\\u0430ypa1"`` against ``"paypal"`` gives Cyrillic a, digit one, small L. With ``ignore_case``
    a character the other string has in another case does not count.
    """
    fold = str.casefold if ignore_case else str
    first_folded, second_folded = set(fold(first)), set(fold(second))
    differ = {c for c in first if fold(c) not in second_folded} | {c for c in second if fold(c) not in first_folded}
    unusual = sorted(c for c in differ if not c.isascii())
    imitated = {lookalike_key(c, ignore_case=ignore_case) for c in unusual}
    plain = sorted(c for c in differ if c.isascii() and lookalike_key(c, ignore_case=ignore_case) not in imitated)
    return (*unusual, *plain)


def character(char: str) -> str:
    """A character as a reviewer can look it up: ``U+0430 CYRILLIC SMALL LETTER A``."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


# --------------------------------------------------------------------------------------------


def _explain(sets: list[tuple[str, frozenset[str] | None]]) -> MixedScripts:
    counts: dict[str, int] = {}
    order: dict[str, int] = {}
    for char, scripts in sets:
        if scripts is None:
            continue
        for script in scripts - _HIGHLY_RESTRICTIVE:
            counts[script] = counts.get(script, 0) + 1
        order.setdefault(_script(char, scripts), len(order))
    # the main script is the one most characters can be read in; on a tie, the one seen first
    main = max(counts, key=lambda s: (counts[s], -order.get(s, len(order))))
    companions = _COMPANIONS.get(main, frozenset({main}))
    odd = [c for c, scripts in sets if scripts is not None and not scripts & companions]
    if not odd:  # each script goes with the main one, but not all together (Latin + kana + Hangul)
        odd = [c for c, scripts in sets if scripts is not None and main not in scripts]
    unique = tuple(dict.fromkeys(odd))
    odd_scripts = tuple(dict.fromkeys(_script(c, _augmented(c) or frozenset()) for c in unique))
    return MixedScripts(main=_name(main), odd=unique, odd_scripts=tuple(_name(s) for s in odd_scripts))


def _name(script: str) -> str:
    return _tables().names.get(script, script).replace("_", " ")


def _augmented(char: str) -> frozenset[str] | None:
    """TR39's augmented script set of a character; None for Common and Inherited (every script)."""
    return _augmented_cached(ord(char))


@functools.lru_cache(maxsize=4096)
def _augmented_cached(code: int) -> frozenset[str] | None:
    scripts = _lookup(code)[0]
    if "Zyyy" in scripts or "Zinh" in scripts:
        return None
    extra = [a for s in scripts for a in _AUGMENT.get(s, ())]
    return scripts | frozenset(extra) if extra else scripts


def _script(char: str, augmented: frozenset[str]) -> str:
    """The script a character is shown as: its Script, or for a Common one used by a few scripts
    (the kana prolonged sound mark), the first of those."""
    own = _lookup(ord(char))[1]
    if own in ("Zyyy", "Zinh") and augmented - _HIGHLY_RESTRICTIVE:
        return min(augmented - _HIGHLY_RESTRICTIVE)
    return own


def _lookup(code: int) -> tuple[frozenset[str], str]:
    """(Script_Extensions, Script) of a code point; unassigned ones are Unknown (Zzzz)."""
    tables = _tables()
    i = bisect_right(tables.starts, code) - 1
    if i >= 0 and code <= tables.ends[i]:
        return tables.scx[i], tables.script[i]
    return frozenset({"Zzzz"}), "Zzzz"


@functools.cache
def _ascii_table() -> dict[int, str]:
    return _tables().ascii_prototypes


@functools.cache
def _ascii_spellings(ignore_case: bool) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """First character of a key -> [(what an ASCII character becomes in the key, the characters that do)]."""
    table = _ascii_table()
    by_output: dict[str, list[str]] = {}
    for code in range(0x80):
        char = chr(code)
        if ignore_case and char.lower() != char:
            continue  # names are keyed in lower case: an upper-case letter never reaches the table
        by_output.setdefault(table.get(code, char), []).append(char)
    spellings: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for output, sources in by_output.items():
        if output:
            spellings.setdefault(output[0], []).append((output, tuple(sources)))
    return spellings


@functools.cache
def _tables() -> _Tables:
    names: dict[str, str] = {}
    long_to_short: dict[str, str] = {}
    for fields in _records("PropertyValueAliases.txt"):
        if fields[0] == "sc":
            names[fields[1]] = fields[2]
            long_to_short[fields[2]] = fields[1]
            for alias in fields[3:]:
                long_to_short[alias] = fields[1]
    script_ranges = [(*_range(f[0]), long_to_short[f[1]]) for f in _records("Scripts.txt")]
    script_ranges.sort()
    extensions = sorted((*_range(f[0]), frozenset(f[1].split())) for f in _records("ScriptExtensions.txt"))
    starts: list[int] = []
    ends: list[int] = []
    scx: list[frozenset[str]] = []
    script: list[str] = []
    for lo, hi, value in script_ranges:
        # split each Scripts.txt range where ScriptExtensions.txt gives some of its code points more scripts
        for part_lo, part_hi, extended in _overlay(lo, hi, extensions):
            starts.append(part_lo)
            ends.append(part_hi)
            scx.append(extended if extended is not None else frozenset({value}))
            script.append(value)
    prototypes: dict[int, str | None] = {}
    for fields in _records("confusables.txt"):
        prototypes[int(fields[0], 16)] = "".join(chr(int(c, 16)) for c in fields[1].split())
    for lo, hi in _DEFAULT_IGNORABLE:
        for code in range(lo, hi + 1):
            prototypes[code] = None
    ascii_prototypes = {code: value for code, value in prototypes.items() if code < 0x80 and value is not None}
    return _Tables(prototypes, ascii_prototypes, starts, ends, scx, script, names)


def _overlay(
    lo: int, hi: int, extensions: list[tuple[int, int, frozenset[str]]]
) -> Iterator[tuple[int, int, frozenset[str] | None]]:
    """``lo..hi`` cut into parts, each with the Script_Extensions given for it (None: the Script alone)."""
    i = bisect_right(extensions, (lo, -1, frozenset())) - 1
    i = max(i, 0)
    at = lo
    while at <= hi:
        while i < len(extensions) and extensions[i][1] < at:
            i += 1
        if i == len(extensions) or extensions[i][0] > hi:
            yield at, hi, None
            return
        x_lo, x_hi, value = extensions[i]
        if x_lo > at:
            yield at, x_lo - 1, None
            at = x_lo
        end = min(x_hi, hi)
        yield at, end, value
        at = end + 1


def _range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("..")
    return int(lo, 16), int(hi or lo, 16)


def _records(name: str) -> Iterable[list[str]]:
    """The ``;``-separated fields of each data line of a Unicode data file, comments dropped."""
    text = resources.files(__package__).joinpath("unicode", name).read_text(encoding="utf-8-sig")
    for line in text.splitlines():
        data = line.partition("#")[0].strip()
        if data:
            yield [field.strip() for field in data.split(";")]
