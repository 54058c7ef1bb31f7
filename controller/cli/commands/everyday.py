"""The platform team's and the daemon's commands: ``validate``, ``plan``, ``sync``, ``run``, ``status``,
``suspend``, ``resume``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli.common import (
    add_config,
    configure_early_logging,
    epilog,
    load_settings,
    settings_are_defaults,
    tenants_path,
)
from controller.cli.exit_codes import UNREACHABLE_ERRORS, ExitCode
from controller.core.outcome import CycleStatus
from controller.errors import DescopeGitopsError, TenantsFileInvalid

if TYPE_CHECKING:
    from collections.abc import Mapping

    from controller.cli.common import Subcommands
    from controller.cli.progress import ApplyOutput
    from controller.descope_api import AttributeDefinition
    from controller.engine.cycle import CyclePlan, CycleReport


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
    p.set_defaults(handler=cmd_validate, early_logging=False)

    p = sub.add_parser(
        "plan",
        help="show what sync would change in Descope (read-only)",
        description="Read tenants.yaml and the live project (one API call) and print the plan. With --out "
        "FILE, also save it, to apply exactly that plan later with `sync --apply --plan FILE`.",
        **epilog(ExitCode.OK, ExitCode.ERROR, ExitCode.CHANGES, ExitCode.UNREACHABLE, settings=True),
    )
    p.add_argument("path", nargs="?", help="tenants file or directory (default: [source] path)")
    add_config(p)
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--prune", action=argparse.BooleanOptionalAction, default=None, help="override [reconcile] prune")
    p.add_argument(
        "--revision", metavar="REV", help="the Git commit the markdown names (default: the path's work tree)"
    )
    p.add_argument(
        "--allow-deletes",
        type=int,
        default=None,
        metavar="N",
        help="plan as `sync --apply --allow-deletes N` would: the delete guards lifted for up to N tenants",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="save the plan to FILE for `sync --apply --plan FILE` (JSON, mode 0600; replaces an earlier "
        "saved plan, never another file); not saved when the plan is refused by a guard or fails",
    )
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser(
        "sync",
        help="run one reconcile cycle from a local path: --dry-run or --apply",
        description="Run one reconcile cycle now. --dry-run prints the plan; --apply prints it, writes it to "
        "Descope (one line per finished action; a progress bar on a terminal) and records the inventory in "
        "the store directory. --apply --plan FILE applies a plan saved by `plan --out FILE`, and only if "
        "planning again now gives exactly it: the same actions (same fields, same values before and after), "
        "from the same tenants files (their digest: a YAML edit refuses even when the actions are the same, "
        "as it can change which tenants are managed), with the same settings (project, prune, max_deletes, "
        "max_delete_ratio, allow_deletes, drift_policy; --prune and --allow-deletes default to the saved "
        "ones). Otherwise it writes nothing and exits 1 listing each difference, as it does for a corrupt, "
        "edited or other-version file. A console edit that changes no action (a field or tenant the YAML "
        "does not manage) does not refuse; it is noted.",
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
        default=None,
        metavar="N",
        help="lift the delete guards for this run, for up to N deleted tenants",
    )
    p.add_argument("--prune", action=argparse.BooleanOptionalAction, default=None, help="override [reconcile] prune")
    p.add_argument(
        "--plan",
        metavar="FILE",
        help="with --apply: apply the plan saved by `plan --out FILE`, only if planning now gives the same",
    )
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
    p.set_defaults(handler=cmd_run, serves=True)  # ends the ordinary way (cli.app.run)

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

    attributes: Mapping[str, AttributeDefinition] | None = None  # no [descope] attributes by default
    if args.path and settings_are_defaults(args):
        paths = [Path(p) for p in args.path]  # a fast start: no settings to read, nothing logs
    else:
        from controller.engine.compose import attribute_catalogue

        configure_early_logging(args)
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
    from controller.cli.render import RENDERERS
    from controller.engine import compose, saved_plan
    from controller.engine.saved_plan import SavedPlanRefused

    settings = load_settings(args)
    path = tenants_path(args, settings)
    saved_path = Path(args.plan) if getattr(args, "plan", None) else None
    out_path = Path(args.out) if getattr(args, "out", None) else None
    prune, allow_deletes = args.prune, args.allow_deletes
    try:
        saved = saved_plan.load(saved_path) if saved_path is not None else None
    except SavedPlanRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    if saved is not None:  # the saved plan's flags, unless given again (then they must agree)
        prune = saved.settings["prune"] if prune is None else prune
        allow_deletes = saved.settings["allow_deletes"] if allow_deletes is None else allow_deletes
    allow_deletes = allow_deletes or 0
    policy = compose.plan_policy(settings, allow_deletes=allow_deletes, prune=prune)
    fingerprint = saved_plan.plan_settings(settings.descope.project_id, policy, settings.reconcile.drift_policy)
    if saved is not None and saved_path is not None:
        differ = saved_plan.settings_differences(saved, fingerprint)
        if differ:
            print(f"error: {saved_plan.refused(saved_path, differ)}", file=sys.stderr)
            return ExitCode.ERROR
    # text: the plan first, then each finished action; other formats keep stdout for the document
    live = apply and args.format == "text"
    output: ApplyOutput | None = None
    if apply and (live or sys.stderr.isatty()):  # imported only then: a plan shows no progress
        from controller.cli.progress import ApplyOutput

        output = ApplyOutput(sys.stdout if live else sys.stderr)
    desired: list[str] = []  # the tenants files' digest when planned
    notes: list[str] = []

    def on_plan(planned: CyclePlan) -> None:
        plan = planned.tenants
        if saved is not None or out_path is not None:
            desired.append(saved_plan.desired_digest(path))
        if saved is not None and saved_path is not None:
            differ = saved_plan.differences(saved, plan, desired=desired[-1], config=planned.config)
            if differ:
                raise saved_plan.refused(saved_path, differ)
            if plan.live_digest != saved.live_digest:
                notes.append("Descope changed since the plan was saved, but in nothing the plan does or reads")
        if output is not None and live:
            output.show_plan(plan, planned.config)
            for note in notes:
                output.note(note)

    try:
        with compose.one_shot_sync(
            settings,
            path,
            apply=apply,
            allow_deletes=allow_deletes,
            prune=prune,
            hooks=output,
            on_plan=on_plan,
            on_sub_result=output.after_sub_action if output is not None else None,
        ) as sync:
            report = sync.run()
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    finally:
        if output is not None:
            output.finish()  # the bar down, whatever happened
    if isinstance(report.error, SavedPlanRefused):
        print(f"error: {report.error}", file=sys.stderr)
        return ExitCode.ERROR
    if live and output is not None and output.plan_shown:
        output.summary(report)  # the plan and each finished action are out already
        if report.error is not None:
            print(f"Error: {report.error}", file=sys.stderr)
    else:
        report.notes.extend(notes)
        if args.format == "markdown":  # the PR comment also names the project and the commit
            from controller.cli.markdown import pr_comment

            rev = getattr(args, "revision", None)
            code = _exit_code(report, apply=apply)
            rendered = pr_comment(
                report, project_id=settings.descope.project_id, path=path, revision=rev, exit_code=code
            )
        else:
            rendered = RENDERERS[args.format](report)
        stream = sys.stdout if report.error is None else sys.stderr
        print(rendered, file=stream if args.format == "text" else sys.stdout)
    code = _exit_code(report, apply=apply)
    if out_path is not None:
        code = _save(report, out_path, path, fingerprint, desired, args.format, code)
    return code


def _save(
    report: CycleReport, out: Path, path: Path, fingerprint: dict[str, Any], desired: list[str], fmt: str, code: int
) -> int:
    """``plan --out``: save a plan that can be applied; say why not otherwise (exit 1)."""
    from controller.engine import saved_plan

    tell = sys.stdout if fmt == "text" else sys.stderr
    plan, config = report.plan, report.config.plan if report.config is not None else None
    if report.error is not None or plan is None or plan.blocked or (config and config.blocked) or not desired:
        print(f"No plan saved to {out}: only a plan that sync could apply is saved.", file=sys.stderr)
        return ExitCode.ERROR
    try:
        saved = saved_plan.SavedPlan.of(
            plan, settings=fingerprint, desired=desired[-1], tenants=str(path), config=config
        )
        saved_plan.save(out, saved)
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    print(
        f"\nSaved the plan to: {out}\nTo apply exactly this plan: descope-gitops sync {path} --apply --plan {out}",
        file=tell,
    )
    return code


def _exit_code(report: CycleReport, *, apply: bool) -> int:
    if isinstance(report.error, UNREACHABLE_ERRORS):
        return ExitCode.UNREACHABLE
    if report.applied is not None and report.applied.auth_failed:
        return ExitCode.UNREACHABLE
    if not report.status.completed:
        return ExitCode.ERROR
    config_conflicts = report.config is not None and bool(report.config.plan.conflicts)
    tenant_conflicts = report.plan is not None and bool(report.plan.conflicts)
    if (tenant_conflicts or config_conflicts) and report.status is CycleStatus.PLANNED:
        return ExitCode.ERROR  # e.g. a changed parent: the PR check must fail
    if report.status is CycleStatus.PARTIAL:
        return ExitCode.PARTIAL
    if report.status is CycleStatus.PLANNED:
        # plan / dry-run, or --apply under drift_policy "report" / suspension: changes not written
        return ExitCode.CHANGES if report.has_changes else ExitCode.OK
    return ExitCode.OK


def cmd_plan(args: argparse.Namespace) -> int:
    if args.allow_deletes is not None and args.allow_deletes < 0:
        print("error: --allow-deletes must be 0 or more", file=sys.stderr)
        return ExitCode.ERROR
    return _run_cycle(args, apply=False)


def cmd_sync(args: argparse.Namespace) -> int:
    if args.allow_deletes is not None and args.allow_deletes < 0:
        print("error: --allow-deletes must be 0 or more", file=sys.stderr)
        return ExitCode.ERROR
    if args.plan and not args.apply:
        print("error: --plan FILE goes with --apply (`plan` shows a plan without applying it)", file=sys.stderr)
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
