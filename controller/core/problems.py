"""The loader's bounds, its list of problems and how user text reads in one, shared by composer and validator."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from controller.errors import Problem


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what the loader accepts, so a hostile or runaway file cannot exhaust the process."""

    max_file_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 128 * 1024 * 1024
    max_depth: int = 32  # nesting of mappings/sequences
    max_nodes: int = 5_000_000  # nodes after alias expansion (alias-bomb guard)
    max_tenants: int = 200_000
    max_problems: int = 100  # stop collecting after this many


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


def _clip(text: str, limit: int = 60) -> str:
    """User text shortened for a message, so a hostile 1 MB key cannot flood the output."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _q(text: str) -> str:
    """User text quoted (and clipped) for a message."""
    return repr(_clip(text))


def unknown_key(what: str, key: str, choices: Iterable[str]) -> str:
    """``unknown settings key 'sesionTokenExpiration'; did you mean 'sessionTokenExpiration'?`` (or the choices)."""
    options = list(choices)
    guess = suggest(key, options)
    if guess is not None:
        return f"unknown {what} {_q(key)}; did you mean {guess!r}?"
    return f"unknown {what} {_q(key)}; expected one of: {', '.join(options)}"
