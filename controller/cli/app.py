"""The ``descope-gitops`` command: argv → settings → one command → an exit code that means something.

The exit codes are ``ExitCode`` (controller/cli/exit_codes.py), printed in every ``--help``.

A reader that stops early (``descope-gitops status | head -1``) is handled here, once for every
command, as the Python documentation recommends (signal.html, "Note on SIGPIPE"): stdout is pointed
at /dev/null so the interpreter's last flush cannot fail again, nothing is printed, and the exit
status is ``ExitCode.BROKEN_PIPE`` (141 = 128 + SIGPIPE), what a shell reports for any tool ended
by SIGPIPE, so ``set -o pipefail`` treats it like ``git log | head -1``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from controller import __version__
from controller.cli.commands import backup, demo, everyday, export, restore, sandbox, schema
from controller.cli.common import configure_early_logging, epilog
from controller.cli.exit_codes import UNREACHABLE_ERRORS, ExitCode
from controller.errors import ConfigError, DescopeGitopsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descope-gitops",
        description="Keep a Descope project's tenants equal to a tenants.yaml kept in Git.",
        **epilog(settings=True),
    )
    parser.add_argument("--version", action="version", version=f"descope-gitops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (everyday, export, backup, restore, sandbox, demo, schema):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return _guarded(argv, [])


def run() -> NoReturn:
    """The process's entry (``descope-gitops``, ``python -m controller``): ``main``, then the exit.

    A one-shot command over 100k tenants leaves a heap that the interpreter would free object by
    object on its way out (0.3-0.4 s of CPU, more than the whole plan's comparison); the process is
    ending anyway, so it runs the exit hooks (loguru's), flushes stdout and stderr and ends at once, as
    mypy does. Nothing is left behind: files are written and closed, and the store lock released,
    before a command returns. Commands that serve (the daemon, the sandbox, the demo), ``--help``, an
    uncaught error and a thread still running end the ordinary way, as they always did.
    """
    # httpx's package imports its own command-line client (click, rich, pygments: a sixth of the start-up)
    # whenever those are installed; this process never runs it, and httpx falls back to a stub without it
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "not importable"
    parsed: list[argparse.Namespace] = []
    code = _guarded(None, parsed)
    if not parsed or getattr(parsed[0], "serves", False) or _other_threads():
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what the interpreter would run on the way out (loguru removes its sinks)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: what main says of it stands
            stream.flush()
    os._exit(code)


def _other_threads() -> bool:
    """A thread the interpreter would wait for at exit is still running: let it (never expected after a command)."""
    return any(not t.daemon and t is not threading.main_thread() for t in threading.enumerate())


def _guarded(argv: Sequence[str] | None, parsed: list[argparse.Namespace]) -> int:
    try:
        try:
            code = _main(argv, parsed)
        finally:  # also after --help: a closed pipe shows here, not in the interpreter's flush at exit
            sys.stdout.flush()
    except BrokenPipeError:
        _silence_closed_pipes()
        return ExitCode.BROKEN_PIPE
    return code


def _silence_closed_pipes() -> None:
    """Point stdout and stderr at /dev/null: the output still buffered goes nowhere instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # not a file (a test harness's) or closed
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _main(argv: Sequence[str] | None, parsed: list[argparse.Namespace]) -> int:
    args = build_parser().parse_args(argv)
    parsed.append(args)
    # until a command has read its settings: errors in reading them are logged as asked, or as text.
    # A command that may start without logging (it logs nothing then) sets `early_logging=False` and
    # calls configure_early_logging itself when it does read settings.
    if getattr(args, "early_logging", True):
        configure_early_logging(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE if isinstance(exc, UNREACHABLE_ERRORS) else ExitCode.ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
