"""On-call's ``backup list|history|show|create|verify|prune``: thin argv handlers over the backup store.

Same conventions as every command: settings from ``--config`` and the environment, reports on
stdout, errors on stderr, exit codes that mean something (``ExitCode``, listed in ``--help``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.cli.common import add_config, epilog, load_settings
from controller.cli.exit_codes import ExitCode
from controller.errors import DescopeGitopsError

if TYPE_CHECKING:
    from controller.adapters.backup_store import BackupMeta, BackupStore, TenantBackup
    from controller.cli.common import Subcommands
    from controller.engine.drill import DrillReport
    from controller.engine.timeline import Version
    from controller.settings import Settings


def add_parser(sub: Subcommands) -> None:
    """Add ``backup`` and its actions."""
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
    p.set_defaults(handler=cmd_backup)


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


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
                "tenants": [{"tenant": b.tenant, "settings": b.settings, "config": b.config} for b in items],
            }
            print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
        else:
            _show_text(meta, items)
        return ExitCode.OK
    if action == "create":
        from controller.engine.backups import take_snapshot

        with compose.descope_client(settings) as client:
            state = compose.state_store(settings).load(keep_aside=False)
            snap = take_snapshot(
                client,
                store,
                operation="manual",
                settings_by_id=state.applied_settings,
                inventory=state.config_inventory,
            )
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


def _show_text(meta: BackupMeta, items: list[TenantBackup]) -> None:
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
        for key, value in sorted((backup.config or {}).items()):  # roles, sso, passwordPolicy as read (no secret)
            print(f"    {key}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")


def _history(store: BackupStore, tenant_id: str, fmt: str) -> int:
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
                "config_changed_after": [d.as_dict() for d in v.config_changed_after],
            }
            for v in versions
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return ExitCode.OK
    print(render_timeline(tenant_id, versions))
    return ExitCode.OK


def render_timeline(tenant_id: str, versions: list[Version]) -> str:
    """The versions newest first; under each, what changed from it to the next newer version."""
    from controller.engine.timeline import cause

    lines = [f"History of {tenant_id}, newest first ({len(versions)} recorded versions):"]
    for version in versions:
        meta = version.meta
        lines.append(f"  {local_time(meta.taken_at)}  {meta.id}  {cause(meta)}")
        if version.changed_after is None:
            lines.append("      (the newest recorded version)")
        elif not version.changed_after and not version.config_changed_after:
            lines.append("      then: no managed field changed")
        for change in version.changed_after or ():
            before, after = (json.dumps(v, ensure_ascii=False) for v in (change.before, change.after))
            lines.append(f"      then: {change.field} {before} → {after}")
        lines.extend(f"      then: {difference.line()}" for difference in version.config_changed_after)
    lines.append(
        f"Restore one: descope-gitops restore --tenant {tenant_id} --from BACKUP "
        "(or --at TIME, --before-last-change); add --dry-run to see the diff first"
    )
    return "\n".join(lines)


def _meta_json(meta: BackupMeta) -> dict[str, Any]:
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


def restore_drill(settings: Settings, store: BackupStore) -> int:
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


def _print_drill(report: DrillReport) -> None:
    """The tenants that did not round-trip, each field with both values, then one summary line."""
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    for outcome in report.failed:  # only these: a project of 100k tenants gives a short report
        if outcome.error:
            print(f"{outcome.tenant_id}: NOT RESTORED: {outcome.error}")
            continue
        if outcome.differences:
            print(f"{outcome.tenant_id}: {len(outcome.differences)} field(s) differ after the restore")
        for diff in outcome.differences:
            recorded, restored = (json.dumps(v, ensure_ascii=False) for v in (diff.recorded, diff.restored))
            why = "" if diff.settable else "  (the restore cannot set this field)"
            print(f"    {diff.field}: snapshot {recorded}, restored {restored}{why}")
        if outcome.sub_differences or outcome.sub_errors:
            print(f"{outcome.tenant_id}: roles, SSO or password policy differ after the restore")
        for sub in outcome.sub_differences:
            if not sub.field:
                where = "in the snapshot, not restored" if sub.after is None else "restored, not in the snapshot"
                print(f"    {sub.label()}: {where}")
            else:
                recorded, restored = (json.dumps(v, ensure_ascii=False) for v in (sub.before, sub.after))
                print(f"    {sub.label()} {sub.field}: snapshot {recorded}, restored {restored}")
        for error in outcome.sub_errors:
            print(f"    NOT RESTORED: {error}")
    snapshot = report.snapshot
    if snapshot is None:
        print("restore drill FAILED: nothing was restored (see the errors above)")
        return
    name = f"snapshot {snapshot.id} ({local_time(snapshot.taken_at)})"
    total = len(report.outcomes)
    if report.passed:
        compared = report.compared()
        subs = ", ".join(f"{compared[k]} {k}" for k in ("roles", "sso", "passwordPolicy") if compared.get(k))
        print(
            f"restore drill passed: all {total} tenants of {name} round-tripped, every field equal"
            + (f" (with their sub-resources: {subs})" if subs else "")
        )
    elif not report.outcomes and report.problems:
        print(f"restore drill FAILED: {name} could not be restored (see the errors above)")
    else:
        print(
            f"restore drill FAILED: {len(report.failed)} of {total} tenants of {name} did not round-trip "
            f"(the other {total - len(report.failed)} did, every field equal)"
            + (f"; {len(report.problems)} unusable backup file(s), see the errors above" if report.problems else "")
        )
