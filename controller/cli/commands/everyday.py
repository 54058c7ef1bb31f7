"""The platform team's and the daemon's commands: ``validate``, ``plan``, ``sync``, ``run``, ``status``,
``suspend``, ``resume``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli.common import add_config, epilog, load_settings, tenants_path
from controller.cli.exit_codes import UNREACHABLE_ERRORS, ExitCode
from controller.core.outcome import CycleStatus
from controller.errors import DescopeGitopsError, TenantsFileInvalid

if TYPE_CHECKING:
    from collections.abc import Mapping

    from controller.cli.common import Subcommands
    from controller.descope_api import AttributeDefinition
    from controller.engine.cycle import CycleReport


def add_parser(sub: Subcommands) -> None:
    """Add ``validate``, ``plan``, ``sync``, ``run``, ``status``, ``suspend`` and ``resume``."""
    p = sub.add_parser(
        "validate",
        help="check tenants.yaml (file or directory) offline; errors name file:line",
        description="Parse and validate tenants.yaml without contacting Descope.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    p.add_argument(
        "path",
        nargs="*",
        help="tenants file or directory (default: [source] path); several are each validated on their own, "
        "as pre-commit passes them, and the exit code is 1 if any is invalid",
    )
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
    p.add_argument(
        "--revision", metavar="REV", help="the Git commit the markdown names (default: the path's work tree)"
    )
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
        help="lift a suspend, and correct flapping tenants again: the daemon writes again from its next cycle",
        description="Clear the suspend flag in the store directory. Tenants held as flapping (another writer "
        "kept reverting them) before this moment are corrected again on the next cycle.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    add_config(p)
    p.set_defaults(handler=cmd_resume)


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from controller.engine.compose import attribute_catalogue

    settings = load_settings(args)
    paths = [Path(p) for p in args.path] or [tenants_path(args, settings)]
    attributes = attribute_catalogue(settings)
    results = [_validate_path(path, attributes, args.format) for path in paths]
    if args.format == "json":
        if len(results) == 1:
            if results[0] is not None:
                print(json.dumps(results[0], indent=None if results[0]["valid"] else 2))
        else:
            shown = [{"path": str(p), **(r or {"valid": False})} for p, r in zip(paths, results, strict=True)]
            print(json.dumps({"valid": all(r["valid"] for r in shown), "paths": shown}, indent=2))
    return ExitCode.OK if all(r is not None and r["valid"] for r in results) else ExitCode.ERROR


def _validate_path(path: Path, attributes: Mapping[str, AttributeDefinition] | None, fmt: str) -> dict[str, Any] | None:
    """Validate one tenants path on its own: its JSON result, or None after an error printed on stderr."""
    from controller.adapters.local_source import read_tenant_files
    from controller.core.loader import parse_tenant_files

    try:
        desired = parse_tenant_files(read_tenant_files(path), attributes=attributes)
    except TenantsFileInvalid as exc:
        if fmt != "json":
            print(f"{path}: invalid\n{exc}", file=sys.stderr)
        problems = [{"file": p.file, "line": p.line, "message": p.message} for p in exc.problems]
        return {"valid": False, "problems": problems}
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if fmt != "json":
        print(f"{path}: valid, {len(desired.tenants)} tenant{'s' if len(desired.tenants) != 1 else ''}")
    return {"valid": True, "tenants": len(desired.tenants), "files": sorted(desired.files)}


def _run_cycle(args: argparse.Namespace, *, apply: bool) -> int:
    from controller.cli.render import RENDERERS, ProgressLine
    from controller.engine import compose

    settings = load_settings(args)
    path = tenants_path(args, settings)
    progress = ProgressLine(sys.stderr) if apply and sys.stderr.isatty() else None
    try:
        with compose.one_shot_sync(
            settings,
            path,
            apply=apply,
            allow_deletes=getattr(args, "allow_deletes", 0),
            prune=args.prune,
            hooks=progress,
        ) as sync:
            report = sync.run()
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    if progress is not None:
        progress.finish()
    if args.format == "markdown":  # the PR comment also names the project and the commit
        from controller.cli.markdown import pr_comment

        code = _exit_code(report, apply=apply)
        rev = getattr(args, "revision", None)
        output = pr_comment(report, project_id=settings.descope.project_id, path=path, revision=rev, exit_code=code)
    else:
        output = RENDERERS[args.format](report)
    stream = sys.stdout if report.error is None else sys.stderr
    print(output, file=stream if args.format == "text" else sys.stdout)
    return _exit_code(report, apply=apply)


def _exit_code(report: CycleReport, *, apply: bool) -> int:
    if isinstance(report.error, UNREACHABLE_ERRORS):
        return ExitCode.UNREACHABLE
    if report.applied is not None and report.applied.auth_failed:
        return ExitCode.UNREACHABLE
    if not report.status.completed:
        return ExitCode.ERROR
    if report.plan is not None and report.plan.conflicts and report.status is CycleStatus.PLANNED:
        return ExitCode.ERROR  # e.g. a changed parent: the PR check must fail
    if report.status is CycleStatus.PARTIAL:
        return ExitCode.PARTIAL
    if report.status is CycleStatus.PLANNED:
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
    import getpass
    import time

    from controller.adapters.state_store import SuspendFlag
    from controller.engine import compose

    settings = load_settings(args)
    store = compose.state_store(settings)
    was = store.suspend_flag()
    try:
        held = sorted(store.load(keep_aside=False).flapping)
    except DescopeGitopsError:
        held = []
    # the time is what releases flapping tenants: the daemon corrects those held before it again
    store.set_suspend(SuspendFlag(False, since=time.time(), by=getpass.getuser()))
    if was.suspended:
        print("resumed")
    elif not held:
        print("was not suspended; nothing to do")
    if held:
        print(
            f"{len(held)} flapping tenant{'s' if len(held) != 1 else ''} ({', '.join(held[:10])}"
            f"{', ...' if len(held) > 10 else ''}) will be corrected again from the next cycle; "
            "stop the other writer first, or they are held again after [reconcile] flapping_reverts reverts"
        )
    return ExitCode.OK
