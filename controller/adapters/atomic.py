"""Crash-safe file writes for the stores: a reader sees the old file or the new one, never half.

Temp file in the same directory, fsync, ``os.replace``, fsync of the directory. Hand-written
(about twenty lines) because the library that did this, ``atomicwrites``, is archived by its
author, who points to exactly this recipe.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from controller.errors import StoreWriteFailed


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; StoreWriteFailed (retryable) on any OSError."""
    directory = path.parent
    tmp_name: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
        tmp_name = None
        fsync_directory(directory)
    except OSError as exc:
        raise StoreWriteFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and Windows) refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)
