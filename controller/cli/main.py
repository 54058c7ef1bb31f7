"""The ``descope-gitops`` command: argv → settings → one command → an exit code that means something.

The exit codes are ``ExitCode`` (controller/cli/exit_codes.py), printed in every ``--help``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from controller import __version__
from controller.cli import oncall
from controller.cli.common import add_config, epilog, load_settings, tenants_path
from controller.cli.exit_codes import UNREACHABLE_ERRORS, ExitCode
from controller.descope_api import RateLimit
from controller.errors import ConfigError, DescopeGitopsError, TenantsFileInvalid


def _rate_limit(text: str) -> RateLimit:
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descope-gitops",
        description="Keep a Descope project's tenants equal to a tenants.yaml kept in Git.",
        **epilog(settings=True),
    )
    parser.add_argument("--version", action="version", version=f"descope-gitops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_everyday_parsers(sub)
    _add_backup_parser(sub)
    _add_restore_parser(sub)
    _add_sandbox_parser(sub)
    _add_demo_parser(sub)
    return parser


def _add_everyday_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The platform team's and the daemon's commands: validate, plan, sync, run, status, suspend, resume."""
    p = sub.add_parser(
        "validate",
        help="check tenants.yaml (file or directory) offline; errors name file:line",
        description="Parse and validate tenants.yaml without contacting Descope.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    p.add_argument("path", nargs="?", help="tenants file or directory (default: [source] path)")
    add_config(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "plan",
        help="show what sync would change in Descope (read-only)",
        description="Read tenants.yaml and the live project (one API call) and print the plan.",
        **epilog(ExitCode.OK, ExitCode.ERROR, ExitCode.CHANGES, ExitCode.UNREACHABLE, settings=True),
    )
    p.add_argument("path", nargs="?", help="tenants file or directory (default: [source] path)")
    add_config(p)
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--prune", action=argparse.BooleanOptionalAction, default=None, help="override [reconcile] prune")
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser(
        "sync",
        help="run one reconcile cycle from a local path: --dry-run or --apply",
        description="Run one reconcile cycle now. --dry-run prints the plan; --apply writes it to Descope "
        "and records the inventory in the store directory.",
        **epilog(ExitCode.OK, ExitCode.ERROR, ExitCode.CHANGES, ExitCode.UNREACHABLE, ExitCode.PARTIAL, settings=True),
    )
    p.add_argument("path", nargs="?", help="tenants file or directory (default: [source] path)")
    add_config(p)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="plan only, write nothing")
    mode.add_argument("--apply", action="store_true", help="apply the plan to Descope")
    p.add_argument(
        "--allow-deletes",
        type=int,
        default=0,
        metavar="N",
        help="lift the delete guards for this run, for up to N deleted tenants",
    )
    p.add_argument("--prune", action=argparse.BooleanOptionalAction, default=None, help="override [reconcile] prune")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser(
        "run",
        help="run the controller daemon: reconcile on a schedule, on webhooks and on SIGHUP",
        description="Run the long-lived controller. It reconciles every [source] interval seconds, at once "
        "on a verified push webhook (POST /hooks/git), a saved file (local source) or SIGHUP, and serves "
        "/healthz and /readyz on [http] listen. SIGTERM/SIGINT finish the actions in flight and exit "
        f"{ExitCode.OK:d}. Only one daemon may use a store directory; a second one exits {ExitCode.ERROR:d} and "
        "says who holds it.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "status",
        help="show the last applied revision, the last cycle, drift and suspension",
        description="Read the store directory (read-only) and show what the controller last did.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "suspend",
        help="pause writes: the daemon keeps measuring drift but changes nothing until resume",
        description="Set the suspend flag in the store directory; the running daemon honours it on its next cycle.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(p)
    p.add_argument("--reason", default="", help="why, shown by status (e.g. an incident or a restore)")
    p.set_defaults(handler=cmd_suspend)

    p = sub.add_parser(
        "resume",
        help="lift a suspend: the daemon writes again from its next cycle",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(p)
    p.set_defaults(handler=cmd_resume)


def _add_backup_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``backup list|history|show|create|verify|prune``."""
    p = sub.add_parser(
        "backup",
        help="list, show, create, verify and prune backups of tenants",
        description="Backups live under <[store] dir>/backups: a pre-image of each tenant before every update or "
        "delete the controller makes, and full snapshots (scheduled by the daemon, or `backup create`).",
        **epilog(ExitCode.OK, ExitCode.ERROR, ExitCode.UNREACHABLE),
    )
    bsub = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    b = bsub.add_parser("list", help="backups, oldest first by recorded time")
    add_config(b)
    b.add_argument("--tenant", help="only backups holding this tenant")
    b.add_argument("--kind", choices=["pre-image", "snapshot"])
    b.add_argument("--format", choices=["text", "json"], default="text")
    b = bsub.add_parser(
        "history",
        help="a tenant's recorded versions, newest first, with what changed between them",
        description="Every backup holding the tenant is one version: a pre-image is the tenant just before a "
        "write (by a cycle at a revision, or a restore), a snapshot the tenant at its time. Each line says what "
        "changed from that version to the next newer one. Restore one with `restore --tenant ID --from BACKUP`.",
    )
    add_config(b)
    b.add_argument("--tenant", required=True, metavar="ID")
    b.add_argument("--format", choices=["text", "json"], default="text")
    b = bsub.add_parser("show", help="print a backup's content (checksum verified); ids accept a unique prefix")
    add_config(b)
    b.add_argument("backup_id")
    b.add_argument("--tenant", help="only this tenant of a snapshot")
    b.add_argument("--format", choices=["text", "json"], default="text")
    b = bsub.add_parser("create", help="take a full snapshot of all live tenants now")
    add_config(b)
    b = bsub.add_parser(
        "verify",
        help=f"check every backup's checksum; exit {ExitCode.ERROR:d} on any problem",
        description="Check every backup's checksum. With --restore-drill, also restore every tenant of the newest "
        "snapshot into a scratch sandbox started in this process (never the configured Descope project; no "
        "credentials needed) and compare each field with the snapshot; the result is recorded for the daemon's "
        "/metrics. A checksum that does not match (or a tenant that did not round-trip) is an error.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(b)
    b.add_argument(
        "--restore-drill",
        action="store_true",
        help="also restore the newest snapshot into a scratch sandbox and compare it field by field",
    )
    b = bsub.add_parser("prune", help="apply retention ([backups] retention_days, keep_snapshots)")
    add_config(b)
    b.add_argument("--dry-run", action="store_true", help="show what would be removed")
    p.set_defaults(handler=oncall.cmd_backup)


def _add_restore_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``restore``."""
    p = sub.add_parser(
        "restore",
        help="bring tenants back from a backup or a Git revision (diff first, never deletes)",
        description="Restore tenants to a recorded state: recreate a deleted tenant with its id, or update a "
        "broken one. Say which state: --at TIME (the tenant as it was then), --from BACKUP, "
        "--before-last-change, --undo or --git-rev; with none, restore prints the tenant's history and asks. "
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
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=oncall.cmd_restore)


def _add_sandbox_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``sandbox``."""
    p = sub.add_parser(
        "sandbox",
        help="run a local Descope-compatible tenant API (for demos and tests)",
        description="Serve Descope's tenant Management API on loopback, in memory or backed by --state.",
        **epilog(ExitCode.OK),
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--project-id", default="Psandbox")
    p.add_argument("--management-key", default=None, help="default: $DESCOPE_MANAGEMENT_KEY or 'sandbox-key'")
    p.add_argument("--state", metavar="FILE", help="JSON file that keeps tenants across restarts")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    p.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/Ws",
        help='at most N requests in any W seconds, then 429 for W seconds, as Descope does ("20/4s"; '
        "a plain number is per second)",
    )
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="F", help="share of requests answered 503")
    p.add_argument("--seed", type=int, default=None, help="make injected failures repeatable")
    p.add_argument(
        "--without-patch",
        action="store_true",
        help="act as a Descope deployment older than PATCH /v1/mgmt/tenant/patch (404 for it)",
    )
    p.add_argument(
        "--attributes",
        metavar="FILE",
        help="the project's custom attribute definitions (JSON or YAML `attributes: [...]`); then undefined "
        "keys and wrongly typed values are refused as Descope does. Default: the --state file's, else any key",
    )
    p.set_defaults(handler=cmd_sandbox)


def _add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo``."""
    p = sub.add_parser(
        "demo",
        help="see it work: sandbox + sample tenants.yaml, a change applied end to end",
        description="Start the bundled sandbox and a sample tenants.yaml in a temporary directory, "
        "apply it, change it, and show the change going through. Needs no settings.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    p.set_defaults(handler=cmd_demo)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from controller.engine.logs import configure_logging

    configure_logging(os.environ.get("DESCOPE_GITOPS_LOG__LEVEL", "WARNING"), "text")
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


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from controller.adapters.local_source import read_tenant_files
    from controller.core.loader import parse_tenant_files
    from controller.engine.compose import attribute_catalogue

    settings = load_settings(args)
    path = tenants_path(args, settings)
    attributes = attribute_catalogue(settings)
    try:
        desired = parse_tenant_files(read_tenant_files(path), attributes=attributes)
    except TenantsFileInvalid as exc:
        if args.format == "json":
            problems = [{"file": p.file, "line": p.line, "message": p.message} for p in exc.problems]
            print(json.dumps({"valid": False, "problems": problems}, indent=2))
        else:
            print(f"{path}: invalid\n{exc}", file=sys.stderr)
        return ExitCode.ERROR
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    if args.format == "json":
        print(json.dumps({"valid": True, "tenants": len(desired.tenants), "files": sorted(desired.files)}))
    else:
        print(f"{path}: valid, {len(desired.tenants)} tenant{'s' if len(desired.tenants) != 1 else ''}")
    return ExitCode.OK


def _run_cycle(args: argparse.Namespace, *, apply: bool) -> int:
    from controller.adapters.store_lock import StoreLock
    from controller.cli.render import RENDERERS, ProgressLine
    from controller.engine import compose
    from controller.engine.reconciler import CycleOptions, Reconciler

    settings = load_settings(args)
    path = tenants_path(args, settings)
    attributes = compose.attribute_catalogue(settings)
    options = CycleOptions(
        apply=apply,
        drift_policy=settings.reconcile.drift_policy,
        policy=compose.plan_policy(settings, allow_deletes=getattr(args, "allow_deletes", 0), prune=args.prune),
        max_concurrency=settings.descope.max_concurrency,
    )
    lock = StoreLock(Path(settings.store.dir), purpose="descope-gitops sync --apply") if apply else None
    progress = ProgressLine(sys.stderr) if apply and sys.stderr.isatty() else None
    try:
        if lock is not None:
            lock.acquire()
        with compose.descope_client(settings) as client:
            reconciler = Reconciler(
                compose.local_source(path),
                client,
                compose.state_store(settings),
                backups=compose.backup_store(settings) if apply else None,
                hooks=progress,
                attributes=attributes,
            )
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
            try:
                report = reconciler.run_cycle(options)
            finally:
                signal.signal(signal.SIGTERM, previous)
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    finally:
        if lock is not None:
            lock.release()
    if progress is not None:
        progress.finish()
    output = RENDERERS[args.format](report)
    stream = sys.stdout if report.error is None else sys.stderr
    print(output, file=stream if args.format == "text" else sys.stdout)
    return _exit_code(report, apply=apply)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exit_code(report: Any, *, apply: bool) -> int:
    if isinstance(report.error, UNREACHABLE_ERRORS):
        return ExitCode.UNREACHABLE
    if report.applied is not None and any(r.error_kind == "DescopeAuthError" for r in report.applied.failed):
        return ExitCode.UNREACHABLE
    if report.status in {"invalid", "unavailable", "failed", "blocked"}:
        return ExitCode.ERROR
    if report.plan is not None and report.plan.conflicts and report.status == "planned":
        return ExitCode.ERROR  # e.g. a changed parent: the PR check must fail
    if report.status == "partial":
        return ExitCode.PARTIAL
    if report.status == "planned":
        # plan / dry-run, or --apply under drift_policy "report" / suspension: changes not written
        return ExitCode.CHANGES if report.plan is not None and report.plan.has_changes else ExitCode.OK
    return ExitCode.OK


def cmd_plan(args: argparse.Namespace) -> int:
    return _run_cycle(args, apply=False)


def cmd_sync(args: argparse.Namespace) -> int:
    if args.allow_deletes < 0:
        print("error: --allow-deletes must be 0 or more", file=sys.stderr)
        return ExitCode.ERROR
    return _run_cycle(args, apply=bool(args.apply))


def cmd_run(args: argparse.Namespace) -> int:
    from controller.engine import compose
    from controller.errors import StoreLocked

    settings = load_settings(args, daemon=True)
    try:
        with compose.daemon(settings) as daemon:
            return daemon.run()
    except StoreLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from controller.cli.status import read_status, render_status
    from controller.engine import compose

    settings = load_settings(args)
    try:
        status = read_status(compose.state_store(settings))
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    print(json.dumps(status, indent=2, sort_keys=True) if args.format == "json" else render_status(status))
    return ExitCode.OK


def cmd_suspend(args: argparse.Namespace) -> int:
    import getpass
    import time

    from controller.adapters.state_store import SuspendFlag
    from controller.engine import compose

    settings = load_settings(args)
    store = compose.state_store(settings)
    store.set_suspend(SuspendFlag(True, args.reason, time.time(), getpass.getuser()))
    print(f"suspended: the controller using {store.directory} writes nothing to Descope until `descope-gitops resume`")
    return ExitCode.OK


def cmd_resume(args: argparse.Namespace) -> int:
    from controller.adapters.state_store import SuspendFlag
    from controller.engine import compose

    settings = load_settings(args)
    store = compose.state_store(settings)
    was = store.suspend_flag()
    store.set_suspend(SuspendFlag(False))
    print("resumed" if was.suspended else "was not suspended; nothing to do")
    return ExitCode.OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from controller.adapters.attribute_file import read_attribute_file
    from controller.sandbox import SandboxServer

    key = args.management_key or os.environ.get("DESCOPE_MANAGEMENT_KEY") or "sandbox-key"
    attributes = list(read_attribute_file(Path(args.attributes)).values()) if args.attributes else None
    server = SandboxServer(
        project_id=args.project_id,
        management_key=key,
        host=args.host,
        port=args.port,
        state_file=args.state,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fail_rate=args.fail_rate,
        seed=args.seed,
        patch_endpoint=not args.without_patch,
        attributes=attributes,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        # only a flag-like action here: ask the server loop to return
        import threading

        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Descope sandbox listening on {server.url} (project {args.project_id})", flush=True)
    print(f"  export DESCOPE_BASE_URI={server.url} DESCOPE_PROJECT_ID={args.project_id}", flush=True)
    if attributes is not None:
        names = ", ".join(definition.name for definition in attributes)
        print(f"  custom attributes defined: {names or '(none)'}; other keys are refused", flush=True)
    server.serve_forever()
    print("sandbox stopped", flush=True)
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.cli.demo import run_demo

    return run_demo(keep=args.keep)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
