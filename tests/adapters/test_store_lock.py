"""Taking the store lock: the check a writer passes before anything reaches Descope.

A full, read-only or tampered store is a one-line refusal that names the store, its volume, the
free space and the space needed, with no descriptor left open and nothing outside the store touched.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.backup_store import BackupStore
from controller.adapters.store_lock import StoreLock
from controller.adapters.store_volume import HEADROOM
from controller.errors import StoreSymlink, StoreUnwritable


def open_fds() -> set[str]:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("counts descriptors through /proc/self/fd (Linux)")
    return set(os.listdir("/proc/self/fd"))


def enospc_writes_under(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Every write to a file under ``root`` fails as on a full volume (creating, renaming, deleting work)."""
    real_write, real_pwrite = os.write, os.pwrite

    def under(fd: int) -> bool:
        return os.readlink(f"/proc/self/fd/{fd}").startswith(f"{root}/")

    def write(fd: int, data: Any) -> int:
        if under(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def pwrite(fd: int, data: Any, offset: int) -> int:
        if under(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "pwrite", pwrite)


def free_space(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    real = os.statvfs

    def statvfs(path: Any) -> os.statvfs_result:
        fields = list(real(path))
        fields[3] = fields[4] = free // fields[1]  # f_bfree, f_bavail in f_frsize units
        return os.statvfs_result(fields)

    monkeypatch.setattr(os, "statvfs", statvfs)


def test_a_full_volume_is_one_clear_refusal_and_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = open_fds()
    enospc_writes_under(monkeypatch, tmp_path)

    with pytest.raises(StoreUnwritable) as info:
        StoreLock(tmp_path, purpose="descope-gitops run").acquire()

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"descope-gitops run refused to start: the store {tmp_path} cannot be written")
    assert "(No space left on device [ENOSPC])" in message
    assert "free and starting needs at least 4.0 MiB" in message
    assert "grow the volume" in message and "Nothing was written to Descope" in message
    assert info.value.retryable
    assert open_fds() == before
    monkeypatch.undo()
    StoreLock(tmp_path).acquire().release()  # the refusal did not keep the lock


def test_too_little_free_space_is_refused_before_a_cycle_could_fail_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = [{"id": f"t{i:05d}", "name": "x" * 200} for i in range(2000)]
    snapshot = BackupStore(tmp_path / "backups").save_snapshot(big)
    free_space(monkeypatch, HEADROOM)  # enough for the headroom, not for the next snapshot

    with pytest.raises(StoreUnwritable) as info:
        StoreLock(tmp_path, purpose="descope-gitops sync --apply").acquire()

    message = str(info.value)
    assert f"the store {tmp_path} cannot be written (No space left on device [ENOSPC])" in message
    assert f"has {HEADROOM / 1024 / 1024:.1f} MiB free" in message
    assert f"+ {snapshot.size / 1024:.1f} KiB for the newest snapshot" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "backups.lock", "store.lock"]  # no probe left


def test_a_read_only_volume_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreUnwritable, match=r"Read-only file system \[EROFS\].*mount the volume read-write"):
        StoreLock(tmp_path).acquire()


def test_a_symlinked_lock_file_is_refused_and_its_target_not_truncated(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("not the controller's")
    (store / "store.lock").symlink_to(target)

    with pytest.raises(StoreSymlink) as info:
        StoreLock(store).acquire()

    assert str(info.value).startswith(f"{store / 'store.lock'} is a symlink (to {target})")
    assert target.read_text() == "not the controller's"


@pytest.mark.parametrize(
    "planted", ["state.json", "journal.jsonl", "suspend.json", "backups", "backups/pre-images/acme"]
)
def test_a_symlink_among_the_store_entries_is_refused_at_start(tmp_path: Path, planted: str) -> None:
    store = tmp_path / "store"
    (store / planted).parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (store / planted).symlink_to(elsewhere)

    with pytest.raises(StoreSymlink, match=f"^{store / planted} is a symlink"):
        StoreLock(store).acquire()
    assert list(elsewhere.iterdir()) == []
    (store / planted).unlink()
    StoreLock(store).acquire().release()  # released when refused


def test_a_symlinked_store_root_is_accepted_and_used_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "volume"
    (tmp_path / "mount").symlink_to(real, target_is_directory=True)
    real.mkdir()
    with StoreLock(tmp_path / "mount") as lock:
        assert lock.path == real / "store.lock"
        assert sorted(p.name for p in real.iterdir()) == ["store.lock"]
