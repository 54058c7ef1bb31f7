"""On-call's commands, ``backup …`` and ``restore``: thin argv handlers over the engine's restore.

Kept apart from ``cli.py`` so the everyday commands stay readable; same conventions: settings
from ``--config`` and the environment, reports on stdout, errors on stderr, exit codes that mean
something (listed in ``restore --help``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import datetime
from typing import Any

from controller.errors import ConfigError, DescopeGitopsError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_UNREACHABLE, EXIT_PARTIAL, EXIT_NOTHING = 0, 1, 2, 3, 4, 5


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def parse_time(text: str) -> float:
    """ISO 8601 (``2026-11-22T04:30:00Z``, a date, an offset) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            [f"--at {text!r}: not an ISO 8601 time (e.g. 2026-11-22T04:30:00Z) or epoch seconds"]
        ) from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without zone is the machine's local time
    return moment.timestamp()


def cmd_backup(args: argparse.Namespace, settings: Any) -> int:
    from controller.engine import compose

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
                    f"{_when(m.taken_at):<29} {m.kind:<9} {m.operation:<11} {tenants[:24]:<24} "
                    f"{(m.revision or '-')[:14]:<14} {m.size:>8}  {m.id}"
                )
        return EXIT_OK
    if action == "show":
        items = store.tenants_in(args.backup_id)
        if args.tenant:
            items = [b for b in items if b.tenant.get("id") == args.tenant]
            if not items:
                print(f"error: backup {args.backup_id} does not hold tenant {args.tenant!r}", file=sys.stderr)
                return EXIT_ERROR
        meta = items[0].meta if items else store.get(args.backup_id)
        document = {
            "backup": _meta_json(meta),
            "tenants": [{"tenant": b.tenant, "settings": b.settings} for b in items],
        }
        print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
        return EXIT_OK
    if action == "create":
        from controller.engine.backups import take_snapshot

        with compose.descope_client(settings) as client:
            state = compose.state_store(settings).load(keep_aside=False)
            snap = take_snapshot(client, store, operation="manual", settings_by_id=state.applied_settings)
        assert snap is not None  # only a daemon shutting down abandons a snapshot
        print(f"snapshot {snap.id}: {len(snap.tenant_ids)} tenants, {snap.size} bytes, sha256 {snap.sha256[:16]}…")
        return EXIT_OK
    if action == "verify":
        problems = store.verify()
        bytes_, files = store.usage()
        for path, problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(
            f"{files} backup files, {bytes_} bytes: "
            + ("all checksums match" if not problems else f"{len(problems)} problems")
        )
        return EXIT_ERROR if problems else EXIT_OK
    if action == "prune":
        removed = store.prune(
            max_age_days=settings.backups.retention_days,
            keep_snapshots=settings.backups.keep_snapshots,
            dry_run=args.dry_run,
        )
        verb = "would remove" if args.dry_run else "removed"
        for meta in removed:
            print(f"{verb} {meta.id} ({meta.kind}, {_when(meta.taken_at)})")
        print(f"{verb} {len(removed)} backups; the newest backup of every tenant is always kept")
        return EXIT_OK
    raise AssertionError(action)  # pragma: no cover - argparse refuses other actions


def _meta_json(meta: Any) -> dict[str, Any]:
    return {
        "id": meta.id,
        "kind": meta.kind,
        "operation": meta.operation,
        "taken_at": meta.taken_at,
        "time": _when(meta.taken_at),
        "tenant_ids": list(meta.tenant_ids),
        "revision": meta.revision,
        "cycle_id": meta.cycle_id,
        "sha256": meta.sha256,
        "size": meta.size,
    }


def cmd_restore(args: argparse.Namespace, settings: Any) -> int:
    from controller.engine import compose
    from controller.engine.render import render_text
    from controller.engine.restore import Restorer, collect_from_backups, suspend_with

    if not args.tenant and not args.all:
        raise ConfigError(["name what to restore: --tenant ID (repeatable), or --all with --from BACKUP"])
    if args.all and args.backup == "latest":
        raise ConfigError(["--all restores a whole backup: give its id with --from BACKUP (see `backup list`)"])
    backups = compose.backup_store(settings)
    state_store = compose.state_store(settings)
    enforced, revert_check = _enforced_state(settings)
    if args.git_rev:
        restored, origins, missing = _from_git(settings, args.git_rev, args.tenant)
    else:
        restored, origins, missing = collect_from_backups(
            backups,
            args.tenant,
            backup_id=None if args.backup == "latest" else args.backup,
            at=parse_time(args.at) if args.at else None,
            whole_backup=args.all,
        )
    for tenant_id in missing:
        print(
            f"error: no backup holds tenant {tenant_id!r}" + (f" at or before {args.at}" if args.at else ""),
            file=sys.stderr,
        )
    if missing:
        return EXIT_ERROR
    suspend = None
    if args.suspend:
        suspend = suspend_with(state_store, f"restore of {', '.join(sorted(origins))}", getpass.getuser(), time.time())
    with compose.descope_client(settings) as client:
        report = Restorer(client, backups).run(
            restored,
            origins,
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
        return EXIT_NOTHING
    if status == "dry-run":
        return EXIT_CHANGES
    if status == "restored":
        return EXIT_OK
    if report.applied is not None and any(r.error_kind == "DescopeAuthError" for r in report.applied.failed):
        return EXIT_UNREACHABLE
    return EXIT_PARTIAL if status == "partial" else EXIT_ERROR


def _log_restore(path: Any, report: Any) -> None:
    """One line per restore in the store, which the daemon's /metrics counts (restores_total)."""
    line = json.dumps({"time": time.time(), "result": report.status, "tenants": sorted(report.origins)})
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print(f"warning: could not record the restore in {path}: {exc.strerror or exc}", file=sys.stderr)


def _enforced_state(settings: Any) -> tuple[Any, str]:
    """The desired state the daemon enforces now, to warn when it would revert the restore."""
    from controller.core.loader import parse_tenant_files
    from controller.engine import compose

    try:
        source = compose.source_from_settings(settings)
        return parse_tenant_files(source.fetch().files), ""
    except DescopeGitopsError as exc:
        return None, f"could not read the source the daemon enforces ({exc}); check tenants.yaml by hand"


def _from_git(settings: Any, rev: str, tenant_ids: list[str]) -> tuple[list[Any], dict[str, str], list[str]]:
    from controller.core.loader import parse_tenant_files
    from controller.engine import compose

    if settings.source.kind != "git":
        raise ConfigError(['--git-rev needs [source] kind = "git" (the repository to read the revision from)'])
    source = compose.source_from_settings(settings)
    source.fetch()  # brings the cache up to date, so recent revisions are known
    desired = parse_tenant_files(source.read_at(rev).files)  # type: ignore[attr-defined]
    wanted = set(tenant_ids)
    restored = [t for t in desired.tenants if t.id in wanted]
    found = {t.id for t in restored}
    return restored, dict.fromkeys(found, f"git {rev[:12]}"), [t for t in tenant_ids if t not in found]


def _print_restore(report: Any, render_text: Any, fmt: str) -> None:
    from controller.engine.reconciler import CycleReport
    from controller.engine.render import report_json

    view = CycleReport(cycle_id="restore", status=report.status, started=0.0, plan=report.plan)
    view.applied = report.applied
    view.dry_run = report.dry_run
    if fmt == "json":
        data = report_json(view)
        data.update(origins=report.origins, would_revert=report.would_revert, suspended=report.suspended)
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
    if report.status == "nothing-to-do":
        print("nothing to do: Descope already matches the backup")
    elif report.status == "dry-run":
        print("dry run: nothing was written")
