"""On-call's ``restore``: a thin argv handler over the engine's restore (diff first, never deletes).

Same conventions as every command: settings from ``--config`` and the environment, reports on
stdout, errors on stderr, exit codes that mean something (``ExitCode``, listed in ``--help``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

from controller.cli.commands.backup import local_time, render_timeline
from controller.cli.common import add_config, epilog, load_settings
from controller.cli.exit_codes import ExitCode
from controller.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from controller.adapters.backup_store import BackupStore
    from controller.cli.common import Subcommands
    from controller.engine.restore import RestoreReport, Selection
    from controller.engine.restore_job import RestoreJob


def add_parser(sub: Subcommands) -> None:
    """Add ``restore``."""
    p = sub.add_parser(
        "restore",
        help="bring tenants back from a backup or a Git revision (diff first, never deletes)",
        description="Restore tenants to a recorded state: recreate a deleted tenant with its id, or update a "
        "broken one. Say which state: --at TIME (the tenant as it was then), --from BACKUP, "
        "--before-last-change, --undo or --git-rev; with none, restore prints the tenant's history and asks. "
        "Roles, SSO configurations and password policy come back too when the backup holds them (a restore never "
        "deletes one made since); an OIDC configuration's clientSecret is in no backup: give its reference with "
        "--secret. "
        "The diff against live is printed first; --dry-run stops there. The current state is backed up before "
        "anything is written, and the command to undo the restore is printed.",
        **epilog(
            ExitCode.OK,
            ExitCode.ERROR,
            ExitCode.CHANGES,
            ExitCode.UNREACHABLE,
            ExitCode.PARTIAL,
            ExitCode.NOTHING_TO_DO,
        ),
    )
    add_config(p)
    p.add_argument("--tenant", action="append", default=[], metavar="ID", help="tenant to restore (repeatable)")
    origin = p.add_mutually_exclusive_group()
    origin.add_argument(
        "--at",
        metavar="TIME",
        help="the tenant as it was at TIME: ISO 8601 in any offset (2026-11-22T04:30:00Z), epoch seconds, or a "
        "time ago (90m, 2h, 1d, 1h30m); taken from the earliest backup after TIME",
    )
    origin.add_argument(
        "--from", dest="backup", metavar="BACKUP", help="a backup id (or unique prefix) from `backup history`"
    )
    origin.add_argument(
        "--before-last-change",
        action="store_true",
        help="the tenant as it was before the controller's most recent write to it",
    )
    origin.add_argument("--undo", action="store_true", help="undo the most recent restore of the tenant")
    origin.add_argument(
        "--git-rev",
        metavar="REV",
        help="the tenant as tenants.yaml declared it at REV (a commit the git cache holds)",
    )
    p.add_argument("--all", action="store_true", help="every tenant of the backup given with --from (a snapshot)")
    p.add_argument("--dry-run", action="store_true", help="show the diff and stop")
    p.add_argument(
        "--suspend",
        action="store_true",
        help="suspend the daemon first, so it does not revert the restore (resume it later)",
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="TENANT/SSOID=env:VAR",
        help="where the clientSecret of an OIDC configuration to restore is: TENANT/SSOID=env:VARIABLE or "
        "TENANT/SSOID=file:/absolute/path (repeatable; SSOID empty for the default configuration). No backup holds "
        "it (Descope never returns it), so without it an OIDC configuration that must be written is not restored",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_restore)


_AGO = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:\s*ago)?")


def parse_time(text: str, *, now: float, retention_days: float | None = None) -> float:
    """``--at``: ISO 8601 in any offset, epoch seconds, or a time ago (``90m``, ``2h``, ``1d``, ``1h30m``).

    A time in the future, or before the retention window (older backups are pruned, so the state
    then cannot be known), is refused with one line.
    """
    text = text.strip()
    moment = _parse_moment(text, now)
    if moment > now + 1:
        raise UsageError(f"--at {text!r} is in the future ({local_time(moment)}); give a time in the past")
    if retention_days is not None and moment < now - retention_days * 86400:
        raise UsageError(
            f"--at {text!r} ({local_time(moment)}) is before the retention window of {retention_days:g} days: "
            "backups older than that are pruned, so the state then cannot be known; "
            "see `backup history --tenant ID` for what is kept"
        )
    return moment


def _parse_moment(text: str, now: float) -> float:
    relative = _AGO.fullmatch(text)
    if text and relative is not None and any(relative.groups()):
        days, hours, minutes, seconds = (int(part or 0) for part in relative.groups())
        return now - (((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"--at {text!r}: not an ISO 8601 time (2026-11-22T04:30:00Z), epoch seconds or a time ago (90m, 2h, 1d)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without zone is the machine's local time
    return moment.timestamp()


def cmd_restore(args: argparse.Namespace) -> int:
    from controller.cli.render import render_text
    from controller.engine import compose

    settings = load_settings(args)
    if not args.tenant and not args.all:
        raise UsageError("name what to restore: --tenant ID (repeatable), or --all with --from BACKUP")
    if args.all and not args.backup:
        raise UsageError("--all restores a whole backup: give its id with --from BACKUP (see `backup list`)")
    from controller.engine.restore_config import parse_secret_refs

    secrets = parse_secret_refs(args.secret)
    with compose.restorer(settings) as job:
        if not (args.at or args.backup or args.git_rev or args.before_last_change or args.undo):
            return _ask_for_target(job.backups, args.tenant)
        enforced, revert_check = job.enforced_state()
        selection = _select(args, job)
        for tenant_id, why in sorted(selection.missing.items()):
            print(f"error: cannot restore {tenant_id}: {why}", file=sys.stderr)
        if selection.missing:
            return ExitCode.ERROR
        for tenant_id, why in sorted(selection.unchanged.items()):
            print(f"{tenant_id}: {why}")
        if not selection.restored:
            print("nothing to do")
            return ExitCode.NOTHING_TO_DO
        suspend_as = (f"restore of {', '.join(sorted(selection.origins))}", getpass.getuser()) if args.suspend else None
        report = job.run(
            selection,
            enforced=enforced,
            revert_check=revert_check,
            dry_run=args.dry_run,
            suspend_as=suspend_as,
            secrets=secrets,
        )
        _print_restore(report, render_text, args.format)
        if not report.dry_run and report.applied is not None:
            warning = job.record(report)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
    status = report.status
    if status == "nothing-to-do":
        return ExitCode.NOTHING_TO_DO
    if status == "dry-run":
        return ExitCode.CHANGES
    if status == "restored":
        return ExitCode.OK
    if report.applied is not None and report.applied.auth_failed:
        return ExitCode.UNREACHABLE
    return ExitCode.PARTIAL if status == "partial" else ExitCode.ERROR


def _select(args: argparse.Namespace, job: RestoreJob) -> Selection:
    from controller.engine.restore import select_at, select_before_last_write, select_from

    if args.git_rev:
        return job.select_git(args.git_rev, args.tenant)
    if args.backup:
        return select_from(job.backups, args.tenant, args.backup, whole=args.all)
    if args.at:
        at = parse_time(args.at, now=time.time(), retention_days=job.retention_days)
        return select_at(job.backups, args.tenant, at)
    return select_before_last_write(job.backups, args.tenant, restores_only=args.undo)


def _ask_for_target(backups: BackupStore, tenant_ids: list[str]) -> int:
    """No silent "latest": a backup taken after an incident holds the broken state. Show the history, ask."""
    from controller.engine.timeline import timeline

    print(
        "error: say which state to restore: --at TIME (as it was then), --from BACKUP, --before-last-change, "
        "--undo or --git-rev REV. The recorded versions:",
        file=sys.stderr,
    )
    for tenant_id in tenant_ids:
        metas = backups.scan(tenant_id=tenant_id)[0]
        if not metas:
            print(f"  {tenant_id}: no backup holds this tenant", file=sys.stderr)
            continue
        versions = timeline([backups.tenant_in(m.id, tenant_id) for m in metas])
        print(render_timeline(tenant_id, versions), file=sys.stderr)
    return ExitCode.ERROR


def _print_restore(report: RestoreReport, render_text: Callable[..., str], fmt: str) -> None:
    from controller.cli.render import report_json
    from controller.core.outcome import CycleStatus
    from controller.engine.cycle import CycleReport

    # the plan and result are shown as a cycle's; the status is the restore's own (restored, dry-run, ...)
    view = CycleReport(cycle_id="restore", status=CycleStatus.PLANNED, started=0.0, plan=report.plan)
    view.applied = report.applied
    view.dry_run = report.dry_run
    view.config = report.config  # roles, SSO, password policy: shown like a sync's
    view.notes = list(report.notes)
    if fmt == "json":
        data = report_json(view, status=report.status)
        data.update(
            origins=report.origins,
            would_revert=report.would_revert,
            suspended=report.suspended,
            undo_backups=report.undo_backups,
        )
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    for tenant_id, origin in sorted(report.origins.items()):
        print(f"{tenant_id}: from {origin}")
    text = (
        render_text(view, status=report.status).replace("Applied plan:", "Restore:").replace("Plan:", "Restore plan:")
    )
    print(text)
    if report.would_revert:
        for tenant_id, fields in sorted(report.would_revert.items()):
            print(
                f"warning: tenants.yaml manages {', '.join(fields)} of {tenant_id} with other values: the daemon "
                "will revert this restore on its next cycle"
                + ("" if report.suspended else " (use --suspend, then fix tenants.yaml, then `descope-gitops resume`)")
            )
    elif report.revert_check:
        print(f"note: {report.revert_check}")
    if report.suspended:
        print("the daemon is suspended: run `descope-gitops resume` once tenants.yaml agrees")
    for tenant_id, backup_id in sorted(report.undo_backups.items()):
        print(f"{tenant_id}: the state it replaced is backup {backup_id}")
        print(f"  undo: descope-gitops restore --tenant {tenant_id} --undo   (or --from {backup_id})")
    for tenant_id in report.recreated:
        print(f"{tenant_id}: recreated; undoing that means deleting it (restore never deletes)")
    if report.status == "nothing-to-do":
        print("nothing to do: Descope already matches the backup")
    elif report.status == "dry-run":
        print("dry run: nothing was written")
