"""Crash-safe file writes for the stores: a reader sees the old file or the new one, never half.

Temp file in the same directory, fsync, ``os.replace``, fsync of the directory. Hand-written
(about twenty lines) because the library that did this, ``atomicwrites``, is archived by its
author, who points to exactly this recipe. Every step goes through the folder's descriptor,
reached from the store root without following a symlink (``store_fs``), so a symlinked folder
or file is refused (StoreSymlink), never written through.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

from controller.adapters.store_fs import fsync_dir, open_at, open_dir, refuse_symlink, write_all
from controller.errors import StoreWriteFailed


def write_atomic(path: Path, data: bytes, *, root: Path, mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Replace ``path`` (below ``root``) with ``data`` atomically; StoreWriteFailed (retryable) on any OSError.

    Missing folders between ``root`` and ``path`` are made with ``dir_mode``.
    """
    try:
        with open_dir(root, path.parent, create=True, mode=dir_mode) as folder:
            write_atomic_at(folder, path, data, root=root, mode=mode)
    except OSError as exc:
        raise StoreWriteFailed(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_atomic_at(folder: int, path: Path, data: bytes, *, root: Path, mode: int = 0o600) -> None:
    """``write_atomic`` into an open folder descriptor (``path`` names the file for messages); OSError as raised."""
    refuse_symlink(folder, path.name, shown=path, root=root)  # replacing it would hide the tampering
    tmp = f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = open_at(folder, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, shown=path.with_name(tmp), root=root)
    left: str | None = tmp  # the temp file to remove if anything below fails
    try:
        try:
            write_all(fd, data)
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        left = None
        fsync_dir(folder)
    finally:
        if left is not None:
            with suppress(OSError):
                os.unlink(left, dir_fd=folder)
