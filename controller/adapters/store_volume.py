"""Whether a store can take the writes a start needs, asked before anything reaches Descope.

A full, read-only or foreign-owned volume, or a symlink planted in the store, would otherwise show
up as an OSError deep in the first cycle. ``check_store`` runs when a writer (the daemon, ``sync
--apply``) takes the store lock: it refuses a symlink among the store's own entries (StoreSymlink),
asks the file system for the free space (``statvfs``), and writes, fsyncs and removes a small probe
file, so quotas, read-only mounts and permissions are found too. A refusal is StoreUnwritable: one
line naming the store, the volume it is on, the space free and the space needed.

Space needed to start (``needed_bytes``): HEADROOM (a cycle's journal, its pre-images and the
state history fit in far less) plus the size of the newest snapshot (the daemon's next one is about
as big) plus the size of ``state.json`` (it is rewritten through a temp copy beside it).
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import suppress
from pathlib import Path

from controller.adapters.store_fs import DIRECTORY, SYMLINK, entries, link_target, open_at, open_dir, write_all
from controller.errors import StoreSymlink, StoreUnwritable

HEADROOM = 4 * 1024 * 1024
PROBE_SIZE = 4096
_STATE_FILE = "state.json"  # the state store's file; its size counts in the space needed
_SNAPSHOTS = ("backups", "snapshots")
_WALKED = {("backups",), ("backups", "pre-images")}  # folders whose entries are checked for symlinks too
_FULL = {errno.ENOSPC, errno.EDQUOT}


def check_store(root: Path, *, purpose: str = "descope-gitops") -> None:
    """Refuse (StoreSymlink, StoreUnwritable) a store that a writer could not use safely; ``root`` is resolved."""
    _refuse_symlinks(root)
    needed, _why = needed_bytes(root)
    free = free_bytes(root)
    if free is not None and free < needed:
        raise unwritable(root, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), purpose=purpose)
    try:
        with open_dir(root, root) as folder:
            _probe(folder, root)
    except OSError as exc:
        raise unwritable(root, exc, purpose=purpose) from exc


def unwritable(root: Path, exc: OSError, *, purpose: str = "descope-gitops") -> StoreUnwritable:
    """The one-line refusal for a store that failed a write at start: what, where, free, needed, what to do."""
    needed, why = needed_bytes(root)
    free = free_bytes(root)
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    reason = f"{exc.strerror or exc} [{code}]"
    free_text = "unknown" if free is None else _size(free)
    if exc.errno in _FULL:
        fix = "free space on it (`descope-gitops backup prune` removes old backups) or grow the volume"
    elif exc.errno == errno.EROFS:
        fix = "mount the volume read-write"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"let uid {os.getuid()} write to {root} (its owner or mode)"
    else:
        fix = "check the volume"
    return StoreUnwritable(
        f"{purpose} refused to start: the store {root} cannot be written ({reason}); its volume "
        f"{_mount_point(root)} has {free_text} free and starting needs at least {_size(needed)} ({why}): "
        f"{fix}, then start again. Nothing was written to Descope"
    )


def needed_bytes(root: Path) -> tuple[int, str]:
    """(bytes a start needs free, how that is made up)."""
    snapshot = _newest_snapshot_size(root)
    state = _size_of(root / _STATE_FILE)
    why = f"{_size(HEADROOM)} headroom + {_size(snapshot)} for the newest snapshot + {_size(state)} for state.json"
    return HEADROOM + snapshot + state, why


def free_bytes(root: Path) -> int | None:
    """Bytes an unprivileged writer may still use on the volume of ``root`` (None if the system cannot say)."""
    try:
        info = os.statvfs(root)
    except OSError:
        return None
    if info.f_blocks == 0:
        return None  # some network and FUSE file systems report no sizes at all: the probe decides
    if info.f_files > 0 and info.f_favail == 0:
        return 0  # no free inodes: not one new file fits, whatever the bytes say
    return info.f_bavail * info.f_frsize


def _probe(folder: int, root: Path) -> None:
    name = f".write-probe-{os.getpid()}-{secrets.token_hex(4)}"
    fd = open_at(folder, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, shown=root / name, root=root)
    try:
        try:
            write_all(fd, b"\0" * PROBE_SIZE)
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        with suppress(OSError):
            os.unlink(name, dir_fd=folder)


def _refuse_symlinks(root: Path) -> None:
    """The store's own entries (and the backup folders) must not be symlinks; found at start, not mid-cycle."""
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        folder = root.joinpath(*parts)
        try:
            listing = entries(root, folder)
        except FileNotFoundError:
            continue
        except OSError:
            continue  # unreadable: the probe or the first use reports it
        for name, kind in sorted(listing):
            if kind == SYMLINK:
                raise StoreSymlink(str(folder / name), link_target(root, folder / name), root=str(root))
            if kind == DIRECTORY and (*parts, name) in _WALKED:
                pending.append((*parts, name))


def _newest_snapshot_size(root: Path) -> int:
    folder = root.joinpath(*_SNAPSHOTS)
    try:
        names = sorted(name for name, kind in entries(root, folder) if name.endswith(".json") and kind != SYMLINK)
    except (OSError, StoreSymlink):
        return 0
    return _size_of(folder / names[-1]) if names else 0  # ids sort by time


def _size_of(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _mount_point(path: Path) -> Path:
    current = path
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
