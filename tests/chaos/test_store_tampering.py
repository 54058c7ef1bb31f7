"""A tampered store: symlinks planted in it are refused, never followed; corrupt files are reported, never used.

Each attack runs the real commands and asserts what a user sees: the exit code, a message naming
the path, Descope untouched, and nothing outside the store written, moved or deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from controller.adapters.backup_store import BackupStore
from tests.e2e.conftest import BASE, Run, Sandbox, World

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

DAY = 86400.0
CHANGED = BASE.replace("free", "enterprise")


class Outside:
    """A folder outside the store that an attacker points symlinks at; its files must never change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, text: str = "precious, not the controller's\n") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def fingerprint(self) -> dict[str, tuple[bytes, int]]:
        return {
            str(p.relative_to(self.root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def store(cli_env: dict[str, str]) -> Path:
    path = Path(cli_env["DESCOPE_GITOPS_STORE__DIR"])
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    return Outside(tmp_path / "outside")


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(BASE)
    return path


def refused_naming(result: subprocess.CompletedProcess[str], link: Path, target: Path | str) -> None:
    stderr = result.stderr
    assert result.returncode == 1, result.stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert f"{link} is a symlink (to {target})" in stderr, stderr
    assert "never follows symlinks inside its store" in stderr, stderr


# -- symlinks in place of store files --------------------------------------------------------------


@pytest.mark.parametrize("name", ["store.lock", "state.json", "journal.jsonl", "suspend.json"])
def test_a_symlinked_store_file_stops_sync_apply_and_its_target_is_untouched(
    cli: Run, sandbox: Sandbox, store: Path, outside: Outside, tenants: Path, name: str
) -> None:
    target = outside.file("secret.txt")
    (store / name).symlink_to(target)
    before = outside.fingerprint()

    result = cli("sync", str(tenants), "--apply")

    refused_naming(result, store / name, target)
    assert outside.fingerprint() == before  # not truncated, not read into state, not moved aside
    assert (store / name).is_symlink()  # left for a human to look at
    assert sandbox.stats()["total"] == 0


def test_a_symlinked_store_lock_stops_the_daemon_before_it_starts(
    cli: Run, world: World, outside: Outside, store: Path
) -> None:
    target = outside.file("etc-passwd-like")
    (store / "store.lock").symlink_to(target)
    before = outside.fingerprint()
    world.repo.commit({"tenants.yaml": BASE})

    result = cli("run", "--config", str(world.config()))

    refused_naming(result, store / "store.lock", target)
    assert outside.fingerprint() == before
    assert world.sandbox.stats()["total"] == 0


def test_a_symlinked_restores_log_is_not_appended_through(
    cli: Run, sandbox: Sandbox, store: Path, outside: Outside, tenants: Path
) -> None:
    assert cli("sync", str(tenants), "--apply").returncode == 0
    tenants.write_text(CHANGED)
    assert cli("sync", str(tenants), "--apply").returncode == 0  # a pre-image of acme on the free plan
    target = outside.file("log.txt")
    (store / "restores.jsonl").symlink_to(target)
    before = outside.fingerprint()

    result = cli("restore", "--tenant", "acme", "--before-last-change")

    assert result.returncode == 0, result.stdout + result.stderr  # the restore itself is done
    assert sandbox.tenants()["acme"]["customAttributes"] == {"plan": "free"}
    assert f"{store / 'restores.jsonl'} is a symlink (to {target})" in result.stderr
    assert outside.fingerprint() == before


# -- symlinked backup folders --------------------------------------------------------------------------


def old_backups_at(folder: Path, clock_start: float) -> BackupStore:
    """Two real, valid snapshots and a pre-image of acme in ``folder`` (a backups folder), 40 days old."""
    now = [clock_start]
    store = BackupStore(folder, clock=lambda: now[0])
    store.save_snapshot([{"id": "acme", "name": "ACME Corp"}], operation="manual")
    now[0] += 60
    store.save_snapshot([{"id": "acme", "name": "ACME Corp"}], operation="manual")
    now[0] += 60
    store.save_pre_image({"id": "acme", "name": "ACME Corp"}, operation="update")
    return store


def test_a_symlinked_backups_folder_is_neither_written_nor_pruned(
    cli: Run, sandbox: Sandbox, store: Path, outside: Outside, tenants: Path
) -> None:
    old_backups_at(outside.root / "backups", time.time() - 40 * DAY)
    (store / "backups").symlink_to(outside.root / "backups")
    sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "acme", "name": "ACME Corp"}).raise_for_status()
    before = outside.fingerprint()
    link, target = store / "backups", outside.root / "backups"

    refused_naming(cli("backup", "create"), link, target)
    refused_naming(cli("backup", "prune", env={"DESCOPE_GITOPS_BACKUPS__KEEP_SNAPSHOTS": "1"}), link, target)
    refused_naming(cli("sync", str(tenants), "--apply"), link, target)
    verify = cli("backup", "verify")
    assert verify.returncode == 1 and f"{link}: is a symlink (to {target})" in verify.stderr, verify.stderr

    assert outside.fingerprint() == before  # no snapshot written there, no old one deleted there
    assert sandbox.stats()["writes"] == 1  # only the console's create


def test_a_symlinked_pre_image_folder_of_a_tenant_is_refused_everywhere(
    cli: Run, sandbox: Sandbox, store: Path, outside: Outside, tenants: Path
) -> None:
    assert cli("sync", str(tenants), "--apply").returncode == 0  # acme exists, the store is real
    elsewhere = old_backups_at(outside.root / "backups", time.time() - 40 * DAY)
    assert cli("backup", "create").returncode == 0  # a newer snapshot of acme: old ones are prunable
    link = store / "backups" / "pre-images" / "acme"
    target = elsewhere.directory / "pre-images" / "acme"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    before = outside.fingerprint()
    changed = tenants.with_name("changed.yaml")
    changed.write_text(CHANGED)
    sandbox.reset_stats()

    refused_naming(cli("sync", str(changed), "--apply"), link, target)
    assert sandbox.tenants()["acme"]["customAttributes"] == {"plan": "free"}  # not written: no pre-image
    refused_naming(cli("backup", "prune"), link, target)
    verify = cli("backup", "verify")
    assert verify.returncode == 1 and f"{link}: is a symlink (to {target})" in verify.stderr, verify.stderr
    listed = cli("backup", "list", "--tenant", "acme")
    assert f"{link}: is a symlink (to {target})" in listed.stderr  # listed as a problem, never read

    assert outside.fingerprint() == before
    assert sandbox.stats()["writes"] == 0


def test_a_symlinked_store_root_is_accepted_like_a_mounted_volume(
    cli: Run, sandbox: Sandbox, tmp_path: Path, tenants: Path
) -> None:
    real = tmp_path / "volume" / "store"
    real.mkdir(parents=True)
    (tmp_path / "mounted").symlink_to(real)
    env = {"DESCOPE_GITOPS_STORE__DIR": str(tmp_path / "mounted")}

    assert cli("sync", str(tenants), "--apply", env=env).returncode == 0
    tenants.write_text(CHANGED)
    assert cli("sync", str(tenants), "--apply", env=env).returncode == 0

    assert sandbox.tenants()["acme"]["customAttributes"] == {"plan": "enterprise"}
    assert (real / "state.json").is_file()
    assert len(list((real / "backups" / "pre-images" / "acme").glob("*.json"))) == 1


# -- corrupt store files -------------------------------------------------------------------------------


def test_a_corrupt_state_file_is_kept_aside_named_and_the_next_run_starts_fresh(
    cli: Run, sandbox: Sandbox, store: Path, tenants: Path
) -> None:
    (store / "state.json").write_text('{"version": 2, "inventory": ')

    first = cli("sync", str(tenants), "--apply")

    assert first.returncode == 1
    assert f"{store / 'state.json'} is not a usable state file" in first.stderr, first.stderr
    kept = list(store.glob("state.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"version": 2, "inventory": '
    assert sandbox.stats()["writes"] == 0
    assert cli("sync", str(tenants), "--apply").returncode == 0
    assert "acme" in sandbox.tenants()


def test_a_state_file_from_a_newer_version_is_never_used(
    cli: Run, sandbox: Sandbox, store: Path, tenants: Path
) -> None:
    (store / "state.json").write_text(json.dumps({"version": 99, "inventory": ["x"]}))

    result = cli("sync", str(tenants), "--apply")

    assert result.returncode == 1
    assert "unknown format version 99" in result.stderr and str(store / "state.json") in result.stderr
    assert sandbox.stats()["writes"] == 0


def test_a_corrupt_journal_is_kept_aside_and_the_cycle_replans(
    cli: Run, sandbox: Sandbox, store: Path, tenants: Path
) -> None:
    (store / "journal.jsonl").write_bytes(b"\x00\xff not json\n")

    first = cli("sync", str(tenants), "--apply")

    assert first.returncode == 1
    assert f"{store / 'journal.jsonl'} has an unreadable header" in first.stderr, first.stderr
    assert [p.read_bytes() for p in store.glob("journal.jsonl.corrupt-*")] == [b"\x00\xff not json\n"]
    assert cli("sync", str(tenants), "--apply").returncode == 0
    assert "acme" in sandbox.tenants()


def test_a_corrupt_backup_is_reported_never_restored_and_never_pruned(
    cli: Run, sandbox: Sandbox, store: Path, tenants: Path
) -> None:
    assert cli("sync", str(tenants), "--apply").returncode == 0
    created = cli("backup", "create")
    assert created.returncode == 0
    backup_id = created.stdout.split()[1].rstrip(":")
    path = store / "backups" / "snapshots" / f"{backup_id}.json"
    path.write_bytes(path.read_bytes().replace(b"ACME Corp", b"EVIL Corp"))
    sandbox.api("POST", "/v1/mgmt/tenant/delete", json={"id": "acme"}).raise_for_status()

    verify = cli("backup", "verify")
    restore = cli("restore", "--tenant", "acme", "--from", backup_id)
    prune = cli("backup", "prune", env={"DESCOPE_GITOPS_BACKUPS__RETENTION_DAYS": "0.000001"})

    assert verify.returncode == 1 and f"{path}: checksum mismatch" in verify.stderr
    assert restore.returncode == 1 and str(path) in restore.stderr and "checksum mismatch" in restore.stderr
    assert "acme" not in sandbox.tenants()  # nothing restored from a tampered file
    assert prune.returncode == 0 and path.exists()


def test_a_backup_file_that_is_a_symlink_is_not_read(
    cli: Run, sandbox: Sandbox, store: Path, outside: Outside, tenants: Path
) -> None:
    assert cli("sync", str(tenants), "--apply").returncode == 0
    elsewhere = old_backups_at(outside.root / "backups", time.time() - 60)
    real = elsewhere.metas(kind="snapshot")[-1].path
    link = store / "backups" / "snapshots" / real.name
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    before = outside.fingerprint()

    restore = cli("restore", "--tenant", "acme", "--from", real.stem)
    verify = cli("backup", "verify")

    assert restore.returncode == 1 and f"{link} is a symlink (to {real})" in restore.stderr, restore.stderr
    assert verify.returncode == 1 and f"{link}: is a symlink (to {real})" in verify.stderr, verify.stderr
    assert outside.fingerprint() == before
    assert os.path.islink(link)
