"""The rules that need every tenant of every file: parents declared and acyclic, no two ids or names alike.

Ids and names a reviewer could not tell apart are refused (Unicode TR39, ``controller.core.confusables``):
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
"""

from __future__ import annotations

from collections.abc import Callable

from controller.core.confusables import (
    ascii_sources,
    character,
    confusable_characters,
    lookalike_key,
    mixed_script_words,
    mixed_scripts,
)
from controller.core.problems import _Problems, _q


class _CrossFileRules:
    """The checks ``schema._Validator`` runs once it has read every file, over what it collected."""

    # set by schema._Validator (see its __init__)
    problems: _Problems
    ids: dict[str, tuple[str, int, int]]
    names: dict[str, tuple[str, int, str, int]]
    unusual_ids: list[str]
    unusual_names: list[str]
    parents: list[tuple[str, str, str, int]]
    all_ids: set[str]
    incomplete: bool
    file_name: str
    add: Callable[[int | None, str], None]

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


def _characters(chars: tuple[str, ...], limit: int = 4) -> str:
    """Characters as a reviewer can look them up (``U+0430 CYRILLIC SMALL LETTER A``), the first few."""
    shown = ", ".join(character(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")
