"""``descope-gitops export``: the live project's tenants as tenants.yaml, the way into Git for a console-made project.

Why it is split this way: the YAML is decided in ``controller.core.export`` (pure, table-tested), Descope
is read in ``controller.engine.export``, the target is checked and written by
``controller.adapters.export_files``; this module is argv, progress and the exit code.

The target is checked before Descope is read, so an existing path is refused at once, not after minutes
of rate-limited settings reads. Warnings go to stderr, one line per tenant written only as a comment or
field the loader refuses; exit 4 (partial) when any tenant or settings could not be exported as YAML,
so a CI job notices. Reading settings shows progress on stderr once it has taken more than a second:
a bar on a terminal (``rich`` when it is installed, else one line redrawn), plain lines otherwise.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from controller.cli.common import add_config, epilog, load_settings
from controller.cli.exit_codes import ExitCode
from controller.errors import UsageError

if TYPE_CHECKING:
    from controller.cli.common import Subcommands
    from controller.core.export import Export
    from controller.engine.export import LiveProject


def add_parser(sub: Subcommands) -> None:
    """Add ``export``."""
    p = sub.add_parser(
        "export",
        help="write the live project's tenants as tenants.yaml (plan on it shows no changes)",
        description="Read the live Descope project (one list call, plus one settings read per tenant under the "
        "rate limit) and write its tenants as tenants.yaml: Descope's key names, sorted, defaults left out, "
        "so that `plan` on the result shows no changes. Fields tenants.yaml cannot manage are named in "
        "comments; a tenant whose id or name the loader would refuse is written as a comment, with a "
        f"warning and exit {ExitCode.PARTIAL:d}.",
        **epilog(ExitCode.OK, ExitCode.ERROR, ExitCode.UNREACHABLE, ExitCode.PARTIAL, settings=True),
    )
    add_config(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default="-",
        help="the file to write (default: stdout); with --split, a directory",
    )
    p.add_argument(
        "--split",
        choices=["tenant", "tree"],
        help="write a directory: one file per tenant, or per top-level tenant with its descendants",
    )
    p.add_argument(
        "--tenant",
        metavar="ID",
        action="append",
        default=[],
        help="export only this tenant (repeatable); its parents come along, as the loader needs them",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--include-settings",
        dest="include_settings",
        action="store_true",
        default=True,
        help="export each tenant's session settings (the default; one API call per tenant)",
    )
    group.add_argument(
        "--no-settings", dest="include_settings", action="store_false", help="leave session settings out"
    )
    p.add_argument(
        "--no-subresources",
        dest="include_config",
        action="store_false",
        help="leave each tenant's roles, SSO configurations and password policy out (they cost one role search, "
        "then two API calls per tenant; an OIDC clientSecret is never exported, only a reference to fill in)",
    )
    p.add_argument(
        "--force", action="store_true", help="overwrite an existing file, or the tenants files of a directory"
    )
    p.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from controller.adapters.export_files import check_target, write_export
    from controller.engine import compose
    from controller.engine.export import ExportRequest, export_project

    to_stdout = args.output == "-"
    if to_stdout and args.split:
        raise UsageError("--split writes a directory: give it with --output DIR")
    settings = load_settings(args)
    output = Path(args.output)
    if not to_stdout:
        check_target(output, directory=bool(args.split), force=args.force)
    request = ExportRequest(
        tenant_ids=tuple(args.tenant),
        include_settings=args.include_settings,
        include_config=args.include_config,
        split=args.split or "none",
        file_name="tenants.yaml" if to_stdout else output.name,
    )
    progress = SettingsProgress(sys.stderr)
    try:
        with compose.descope_client(settings) as client:
            outcome = export_project(
                client,
                request,
                attributes=compose.attribute_catalogue(settings),
                max_concurrency=settings.descope.max_concurrency,
                on_progress=progress,
            )
    finally:
        progress.finish()
    export = outcome.export
    if to_stdout:
        sys.stdout.write(next(iter(export.files.values())))
        sys.stdout.flush()
    else:
        removed = write_export(output, export.files, directory=bool(args.split), force=args.force)
        for path in removed:
            print(f"removed the old tenants file {path}", file=sys.stderr)
    _report(export, outcome.live, args, sys.stderr)
    return ExitCode.PARTIAL if export.partial else ExitCode.OK


def _report(export: Export, live: LiveProject, args: argparse.Namespace, stream: TextIO) -> None:
    """The warnings and a summary on stderr: stdout may be the YAML itself."""
    for tid in live.added_ancestors:
        print(f"note: tenant {tid!r} is exported too: it is a parent of a tenant asked for", file=stream)
    for refused in export.skipped:
        print(
            f"warning: tenant {refused.tenant_id!r} is written only as a comment (not managed): the loader "
            f"refuses it: {refused.reason}",
            file=stream,
        )
    managed_only: Counter[str] = Counter()
    for item in export.unexported:
        if item.lost or item.reason.startswith("the loader refuses"):
            print(f"warning: tenant {item.tenant_id!r}: {item.field} is not exported: {item.reason}", file=stream)
        else:
            managed_only[item.field] += 1
    if managed_only:
        fields = ", ".join(f"{name} ({count})" for name, count in sorted(managed_only.items()))
        print(f"note: fields tenants.yaml cannot manage are named in comments: {fields}", file=stream)
    for problem in export.problems:
        print(f"warning: the loader refuses the export: {problem}", file=stream)
    where = "stdout" if args.output == "-" else args.output
    what = "with session settings" if live.settings_by_id is not None else "without session settings"
    what += ", roles, SSO and password policy" if live.config_by_id is not None else ""
    skipped = f", {len(export.skipped)} only as comments" if export.skipped else ""
    print(
        f"exported {export.tenants} tenant{'s' if export.tenants != 1 else ''} ({what}){skipped} to {where}",
        file=stream,
    )
    if export.partial:
        print(f"partial: some of the project is not in the export as YAML (exit {ExitCode.PARTIAL:d})", file=stream)


class SettingsProgress:
    """Progress of the settings reads on ``stream``, shown only once they have taken more than ``delay`` seconds.

    A terminal gets a bar (``rich`` when importable, else one line redrawn in place); anything else gets
    a plain line (``read settings 120/300``) about every tenth of the work or every ``every`` seconds.
    Called from the reading threads.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float = 1.0,
        every: float = 5.0,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.delay, self.every, self.clock = delay, every, clock
        self.tty = stream.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._start: float | None = None
        self._last_line = -1.0
        self._last_done = 0
        self._bar: Any = None  # a rich Progress, once shown
        self._task: Any = None
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            now = self.clock()
            if self._start is None:
                self._start = now
            if now - self._start < self.delay or total == 0:
                return
            if self.tty:
                self._draw(done, total)
            elif (
                self._last_line < 0
                or done == total
                or done - self._last_done >= max(1, total // 10)
                or now - self._last_line >= self.every
            ):
                self.stream.write(f"read settings {done}/{total}\n")
                self.stream.flush()
                self._last_line, self._last_done = now, done

    def _draw(self, done: int, total: int) -> None:
        if self._bar is None and not self._drawn:
            try:
                from rich.console import Console
                from rich.progress import Progress

                self._bar = Progress(console=Console(file=self.stream), transient=False)
                self._task = self._bar.add_task("read settings", total=total)
                self._bar.start()
            except ImportError:
                self._bar = None
        self._drawn = True
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
        else:
            self.stream.write(f"\rread settings {done}/{total} ")
            self.stream.flush()

    def finish(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
            elif self._drawn:
                self.stream.write("\n")
                self.stream.flush()
