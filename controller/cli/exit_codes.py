"""The exit codes of ``descope-gitops``, defined once: commands return them and ``--help`` prints them from here.

The numbers are an interface (a pull-request check, a Kubernetes Job, a script read them): never renumber one.
"""

from __future__ import annotations

import functools
import textwrap
from enum import IntEnum

from controller.errors import (
    DescopeAuthError,
    DescopeBadResponse,
    DescopeRateLimited,
    DescopeServerError,
    DescopeUnreachable,
)


class ExitCode(IntEnum):
    """What a command's exit status means, one line each (``meaning``)."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "success; for plan and sync --dry-run: no changes"
    ERROR = (
        1,
        "error: invalid settings or tenants.yaml, a guard refused the plan, a tenant conflict (e.g. a changed "
        "parent), every action failed, or a check found a problem",
    )
    CHANGES = (
        2,
        "plan / sync --dry-run / restore --dry-run: there are changes to apply (also sync --apply when "
        'drift_policy is "report" or the controller is suspended, so nothing was written)',
    )
    UNREACHABLE = 3, "Descope is unreachable, throttled us, failed (5xx) or refused the credentials"
    PARTIAL = (
        4,
        "sync --apply or restore finished partially: some tenants failed; export: some tenants or settings are "
        "only comments (the loader refuses them, or they could not be read)",
    )
    NOTHING_TO_DO = 5, "restore: nothing to do, Descope already holds the state asked for"
    INTERRUPTED = 130, "interrupted (Ctrl-C, or SIGTERM during plan and sync)"
    BROKEN_PIPE = 141, "the reader closed stdout (`status | head -1`): the rest is dropped quietly, as by SIGPIPE"


# Descope could not be asked or would not answer: credentials, network, throttling, 5xx
UNREACHABLE_ERRORS = (DescopeAuthError, DescopeUnreachable, DescopeServerError, DescopeRateLimited, DescopeBadResponse)

_WIDTH = 100


def exit_codes_help(*codes: ExitCode) -> str:
    """The ``exit codes:`` block of a ``--help`` epilog: the given codes (default: all), each with its meaning."""
    shown = codes or tuple(ExitCode)
    digits = max(len(str(int(code))) for code in shown)
    return "\n".join(["exit codes:", *(_code_help(code, digits) for code in shown)]) + "\n"


@functools.cache
def _code_help(code: ExitCode, digits: int) -> str:
    # every command's parser is built at start-up with its epilog: each meaning is wrapped once, not per command
    head = f"  {int(code):>{digits}}  "
    return textwrap.fill(code.meaning, _WIDTH, initial_indent=head, subsequent_indent=" " * len(head))
