"""On-call's commands, ``backup …`` and ``restore``: thin argv handlers over the engine's restore.

Kept apart from ``main.py`` so the everyday commands stay readable; same conventions: settings
from ``--config`` and the environment, reports on stdout, errors on stderr, exit codes that mean
something (``ExitCode``, listed in ``--help``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from datetime import datetime
from typing import Any

from controller.cli.common import load_settings
from controller.cli.exit_codes import ExitCode
from controller.errors import ConfigError, DescopeGitopsError, UsageError


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


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


def cmd_backup(args: argparse.Namespace) -> int:
    from controller.engine import compose

    settings = load_settings(args)
    store = compose.backup_store(settings)
    action = args.backup_command
    if action == "list":
        metas, problems = store.scan(tenant_id=args.tenant, kind=args.kind)
        for path, problem in problems:  # listed, never hidden: `backup verify` says more
            print(f"warning: {path}: {problem}", file=sys.stderr)
        if args.format == "json":
            print(json.dumps([_meta_json(m) for m in metas], indent=2))
        elif not metas:
            print("no backups" + (f" of tenant {args.tenant}" if args.tenant else ""))
        else:
            print(f"{'TIME':<29} {'KIND':<9} {'OPERATION':<11} {'TENANTS':<24} {'REVISION':<14} {'SIZE':>8}  ID")
            for m in metas:
                tenants = m.tenant_ids[0] if len(m.tenant_ids) == 1 else f"{len(m.tenant_ids)} tenants"
                print(
                    f"{local_time(m.taken_at):<29} {m.kind:<9} {m.operation:<11} {tenants[:24]:<24} "
                    f"{(m.revision or '-')[:14]:<14} {m.size:>8}  {m.id}"
                )
        return ExitCode.OK
    if action == "history":
        return _history(store, args.tenant, args.format)
    if action == "show":
        items = store.tenants_in(args.backup_id)
        if args.tenant:
            items = [b for b in items if b.tenant.get("id") == args.tenant]
            if not items:
                print(f"error: backup {args.backup_id} does not hold tenant {args.tenant!r}", file=sys.stderr)
                return ExitCode.ERROR
        meta = items[0].meta if items else store.get(args.backup_id)
        if args.format == "json":
            document = {
                "backup": _meta_json(meta),
                "tenants": [{"tenant": b.tenant, "settings": b.settings} for b in items],
            }
            print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
        else:
            _show_text(meta, items)
        return ExitCode.OK
    if action == "create":
        from controller.engine.backups import take_snapshot

        with compose.descope_client(settings) as client:
            state = compose.state_store(settings).load(keep_aside=False)
            snap = take_snapshot(client, store, operation="manual", settings_by_id=state.applied_settings)
        assert snap is not None  # only a daemon shutting down abandons a snapshot
        print(f"snapshot {snap.id}: {len(snap.tenant_ids)} tenants, {snap.size} bytes, sha256 {snap.sha256[:16]}…")
        return ExitCode.OK
    if action == "verify":
        problems = store.verify()
        bytes_, files = store.usage()
        for path, problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(
            f"{files} backup files, {bytes_} bytes: "
            + ("all checksums match" if not problems else f"{len(problems)} problems")
        )
        drilled = restore_drill(settings, store) if args.restore_drill else ExitCode.OK
        return ExitCode.ERROR if problems or drilled != ExitCode.OK else ExitCode.OK
    if action == "prune":
        removed = store.prune(
            max_age_days=settings.backups.retention_days,
            keep_snapshots=settings.backups.keep_snapshots,
            dry_run=args.dry_run,
        )
        verb = "would remove" if args.dry_run else "removed"
        for meta in removed:
            print(f"{verb} {meta.id} ({meta.kind}, {local_time(meta.taken_at)})")
        print(f"{verb} {len(removed)} backups; the newest backup of every tenant is always kept")
        return ExitCode.OK
    raise AssertionError(action)  # pragma: no cover - argparse refuses other actions


def _show_text(meta: Any, items: list[Any]) -> None:
    from controller.engine.timeline import cause

    print(f"backup {meta.id}: {cause(meta)}, taken {local_time(meta.taken_at)}, {len(items)} tenant(s)")
    print(f"  revision {meta.revision or '-'}, cycle {meta.cycle_id or '-'}, sha256 {meta.sha256[:16]}…")
    for backup in items:
        print(f"\n  {backup.tenant.get('id')}")
        for key, value in sorted(backup.tenant.items()):
            if key != "id":
                print(f"    {key}: {json.dumps(value, ensure_ascii=False)}")
        for key, value in sorted((backup.settings or {}).items()):
            print(f"    settings.{key}: {json.dumps(value, ensure_ascii=False)}")


def _history(store: Any, tenant_id: str, fmt: str) -> int:
    from controller.engine.timeline import cause, timeline

    metas, problems = store.scan(tenant_id=tenant_id)
    for path, problem in problems:
        print(f"warning: {path}: {problem} (left out of the history)", file=sys.stderr)
    if not metas:
        print(f"error: no backup holds tenant {tenant_id!r} (see `backup list`)", file=sys.stderr)
        return ExitCode.ERROR
    versions = timeline([store.tenant_in(m.id, tenant_id) for m in metas])
    if fmt == "json":
        rows = [
            {
                **_meta_json(v.meta),
                "cause": cause(v.meta),
                "changed_after": None
                if v.changed_after is None
                else [{"field": c.field, "before": c.before, "after": c.after} for c in v.changed_after],
            }
            for v in versions
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return ExitCode.OK
    print(render_timeline(tenant_id, versions))
    return ExitCode.OK


def render_timeline(tenant_id: str, versions: list[Any]) -> str:
    """The versions newest first; under each, what changed from it to the next newer version."""
    from controller.engine.timeline import cause

    lines = [f"History of {tenant_id}, newest first ({len(versions)} recorded versions):"]
    for version in versions:
        meta = version.meta
        lines.append(f"  {local_time(meta.taken_at)}  {meta.id}  {cause(meta)}")
        if version.changed_after is None:
            lines.append("      (the newest recorded version)")
        elif not version.changed_after:
            lines.append("      then: no managed field changed")
        for change in version.changed_after or ():
            before, after = (json.dumps(v, ensure_ascii=False) for v in (change.before, change.after))
            lines.append(f"      then: {change.field} {before} → {after}")
    lines.append(
        f"Restore one: descope-gitops restore --tenant {tenant_id} --from BACKUP "
        "(or --at TIME, --before-last-change); add --dry-run to see the diff first"
    )
    return "\n".join(lines)


def _meta_json(meta: Any) -> dict[str, Any]:
    return {
        "id": meta.id,
        "kind": meta.kind,
        "operation": meta.operation,
        "taken_at": meta.taken_at,
        "time": local_time(meta.taken_at),
        "tenant_ids": list(meta.tenant_ids),
        "revision": meta.revision,
        "cycle_id": meta.cycle_id,
        "sha256": meta.sha256,
        "size": meta.size,
    }


def cmd_restore(args: argparse.Namespace) -> int:
    from controller.cli.render import render_text
    from controller.engine import compose
    from controller.engine.restore import Restorer, suspend_with

    settings = load_settings(args)
    if not args.tenant and not args.all:
        raise UsageError("name what to restore: --tenant ID (repeatable), or --all with --from BACKUP")
    if args.all and not args.backup:
        raise UsageError("--all restores a whole backup: give its id with --from BACKUP (see `backup list`)")
    backups = compose.backup_store(settings)
    if not (args.at or args.backup or args.git_rev or args.before_last_change or args.undo):
        return _ask_for_target(backups, args.tenant)
    state_store = compose.state_store(settings)
    enforced, revert_check = _enforced_state(settings)
    selection = _select(args, settings, backups)
    for tenant_id, why in sorted(selection.missing.items()):
        print(f"error: cannot restore {tenant_id}: {why}", file=sys.stderr)
    if selection.missing:
        return ExitCode.ERROR
    for tenant_id, why in sorted(selection.unchanged.items()):
        print(f"{tenant_id}: {why}")
    if not selection.restored:
        print("nothing to do")
        return ExitCode.NOTHING_TO_DO
    suspend = None
    if args.suspend:
        who = f"restore of {', '.join(sorted(selection.origins))}"
        suspend = suspend_with(state_store, who, getpass.getuser(), time.time())
    with compose.descope_client(settings) as client:
        report = Restorer(client, backups).run(
            selection.restored,
            selection.origins,
            enforced=enforced,
            revert_check=revert_check,
            dry_run=args.dry_run,
            suspend=suspend,
            max_concurrency=settings.descope.max_concurrency,
        )
    _print_restore(report, render_text, args.format)
    if not report.dry_run and report.applied is not None:
        _log_restore(compose.restores_log(settings), report)
    status = report.status
    if status == "nothing-to-do":
        return ExitCode.NOTHING_TO_DO
    if status == "dry-run":
        return ExitCode.CHANGES
    if status == "restored":
        return ExitCode.OK
    if report.applied is not None and any(r.error_kind == "DescopeAuthError" for r in report.applied.failed):
        return ExitCode.UNREACHABLE
    return ExitCode.PARTIAL if status == "partial" else ExitCode.ERROR


def _select(args: argparse.Namespace, settings: Any, backups: Any) -> Any:
    from controller.engine.restore import select_at, select_before_last_write, select_from

    if args.git_rev:
        return _from_git(settings, args.git_rev, args.tenant)
    if args.backup:
        return select_from(backups, args.tenant, args.backup, whole=args.all)
    if args.at:
        at = parse_time(args.at, now=time.time(), retention_days=settings.backups.retention_days)
        return select_at(backups, args.tenant, at)
    return select_before_last_write(backups, args.tenant, restores_only=args.undo)


def _ask_for_target(backups: Any, tenant_ids: list[str]) -> int:
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


def _log_restore(path: Any, report: Any) -> None:
    """One line per restore in the store, which the daemon's /metrics counts (restores_total)."""
    from controller.adapters.restores_log import append_restore
    from controller.errors import StoreError

    line = json.dumps({"time": time.time(), "result": report.status, "tenants": sorted(report.origins)})
    try:
        append_restore(path, line)
    except StoreError as exc:  # the restore itself is done: say the count is off, do not fail it
        print(f"warning: could not record the restore: {exc}", file=sys.stderr)


def _enforced_state(settings: Any) -> tuple[Any, str]:
    """The desired state the daemon enforces now, to warn when it would revert the restore."""
    from controller.core.loader import parse_tenant_files
    from controller.engine import compose

    try:
        source = compose.source_from_settings(settings)
        return parse_tenant_files(source.fetch().files), ""
    except DescopeGitopsError as exc:
        return None, f"could not read the source the daemon enforces ({exc}); check tenants.yaml by hand"


def _from_git(settings: Any, rev: str, tenant_ids: list[str]) -> Any:
    from controller.core.loader import parse_tenant_files
    from controller.engine import compose
    from controller.engine.restore import Selection

    if settings.source.kind != "git":
        raise ConfigError(['--git-rev needs [source] kind = "git" (the repository to read the revision from)'])
    source = compose.source_from_settings(settings)
    source.fetch()  # brings the cache up to date, so recent revisions are known
    sha = source.resolve(rev)  # type: ignore[attr-defined]
    revision = source.read_at(sha)  # type: ignore[attr-defined]
    desired = parse_tenant_files(revision.files)
    wanted = set(tenant_ids)
    chosen = Selection()
    for tenant in desired.tenants:
        if tenant.id in wanted:
            chosen.restored.append(tenant)
            chosen.origins[tenant.id] = f"git {rev}, resolved to commit {sha}: as tenants.yaml declared it there"
    for tenant_id in tenant_ids:
        if tenant_id not in chosen.origins:
            chosen.missing[tenant_id] = f"tenants.yaml at {rev} does not declare it"
    return chosen


def _print_restore(report: Any, render_text: Any, fmt: str) -> None:
    from controller.cli.render import report_json
    from controller.engine.reconciler import CycleReport

    view = CycleReport(cycle_id="restore", status=report.status, started=0.0, plan=report.plan)
    view.applied = report.applied
    view.dry_run = report.dry_run
    if fmt == "json":
        data = report_json(view)
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
    text = render_text(view).replace("Applied plan:", "Restore:").replace("Plan:", "Restore plan:")
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


def restore_drill(settings: Any, store: Any) -> int:
    """``backup verify --restore-drill``: restore the newest snapshot into a scratch sandbox and compare.

    The sandbox is started in this process on loopback with a throwaway project and key and no
    state file, so the drill needs no Descope credentials and cannot touch the configured project;
    the restore's own pre-images go to a temporary store, not the real one. The result is appended
    to ``restore-drills.jsonl`` in the store, which the daemon's /metrics reports. OK when every
    tenant round-trips, ERROR otherwise.
    """
    import secrets
    import tempfile
    from pathlib import Path

    import httpx

    from controller.adapters.backup_store import BackupStore
    from controller.adapters.descope import DescopeClient
    from controller.engine import compose
    from controller.engine.drill import DrillReport, run_drill
    from controller.sandbox import SandboxServer

    catalogue = compose.attribute_catalogue(settings)  # the project's attribute definitions, if configured
    key = secrets.token_urlsafe(24)
    try:
        with (
            SandboxServer(
                project_id="Prestoredrill",
                management_key=key,
                attributes=None if catalogue is None else list(catalogue.values()),
            ) as sandbox,
            httpx.Client(timeout=httpx.Timeout(30.0)) as http,
            tempfile.TemporaryDirectory(prefix="descope-gitops-drill-") as scratch_dir,
        ):
            client = DescopeClient(http, project_id=sandbox.project_id, management_key=key, base_url=sandbox.url)
            report = run_drill(
                store,
                client,
                BackupStore(Path(scratch_dir) / "backups"),
                max_concurrency=settings.descope.max_concurrency,
            )
    except DescopeGitopsError as exc:  # the scratch restore itself broke: the drill proved nothing
        report = DrillReport(None, problems=[f"the drill could not restore into the scratch sandbox: {exc}"])
    _print_drill(report)
    line = {
        "time": time.time(),
        "result": "passed" if report.passed else "failed",
        "snapshot": report.snapshot.id if report.snapshot is not None else None,
        "tenants": len(report.outcomes),
        "failed_tenants": len(report.failed),
    }
    path = compose.restore_drills_log(settings)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as exc:
        print(f"warning: could not record the drill in {path}: {exc.strerror or exc}", file=sys.stderr)
    return ExitCode.OK if report.passed else ExitCode.ERROR


def _print_drill(report: Any) -> None:
    """The tenants that did not round-trip, each field with both values, then one summary line."""
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    for outcome in report.failed:  # only these: a project of 100k tenants gives a short report
        if outcome.error:
            print(f"{outcome.tenant_id}: NOT RESTORED: {outcome.error}")
            continue
        print(f"{outcome.tenant_id}: {len(outcome.differences)} field(s) differ after the restore")
        for diff in outcome.differences:
            recorded, restored = (json.dumps(v, ensure_ascii=False) for v in (diff.recorded, diff.restored))
            why = "" if diff.settable else "  (the restore cannot set this field)"
            print(f"    {diff.field}: snapshot {recorded}, restored {restored}{why}")
    snapshot = report.snapshot
    if snapshot is None:
        print("restore drill FAILED: nothing was restored (see the errors above)")
        return
    name = f"snapshot {snapshot.id} ({local_time(snapshot.taken_at)})"
    total = len(report.outcomes)
    if report.passed:
        print(f"restore drill passed: all {total} tenants of {name} round-tripped, every field equal")
    elif not report.outcomes and report.problems:
        print(f"restore drill FAILED: {name} could not be restored (see the errors above)")
    else:
        print(
            f"restore drill FAILED: {len(report.failed)} of {total} tenants of {name} did not round-trip "
            f"(the other {total - len(report.failed)} did, every field equal)"
            + (f"; {len(report.problems)} unusable backup file(s), see the errors above" if report.problems else "")
        )
