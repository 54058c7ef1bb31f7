"""A full store volume for a real ``descope-gitops`` process, injected at the OS boundary (no root needed).

Put this folder on PYTHONPATH and set ``CHAOS_FULL_DISK_UNDER`` to the store directory: every
``os.write``/``os.pwrite`` to a file under it then fails with ENOSPC, and ``os.statvfs`` of it reports
no free blocks, as a full volume does. ``CHAOS_FULL_DISK_FLAG`` (optional) names a file: the disk is
full only while that file exists, so a test can fill the disk under a running daemon and free it
again. ``CHAOS_FULL_DISK_STATVFS_ONLY=1`` fakes only the free space (writes still succeed).
Reading, creating, renaming and deleting files keep working (a full disk allows them), and so
does writing anywhere else. The store code writes through ``os.write`` (``store_fs.write_all``).
Linux only (it finds an fd's file through /proc/self/fd).
"""

from __future__ import annotations

import errno
import os

_ROOT = os.environ.get("CHAOS_FULL_DISK_UNDER")
_FLAG = os.environ.get("CHAOS_FULL_DISK_FLAG")
_STATVFS_ONLY = os.environ.get("CHAOS_FULL_DISK_STATVFS_ONLY") == "1"


def _full() -> bool:
    return _FLAG is None or os.path.exists(_FLAG)


def _under(path: str) -> bool:
    assert _ROOT is not None
    return path == _ROOT or path.startswith(_ROOT.rstrip("/") + "/")


def _fd_under(fd: int) -> bool:
    try:
        return _under(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return False


def _install() -> None:
    global _ROOT
    assert _ROOT is not None
    _ROOT = os.path.realpath(_ROOT)
    real_write, real_pwrite, real_statvfs = os.write, os.pwrite, os.statvfs

    def write(fd: int, data: bytes, /) -> int:
        if not _STATVFS_ONLY and _full() and _fd_under(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def pwrite(fd: int, data: bytes, offset: int, /) -> int:
        if not _STATVFS_ONLY and _full() and _fd_under(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    def statvfs(path: object) -> os.statvfs_result:
        result = real_statvfs(path)  # type: ignore[arg-type]
        where = os.path.realpath(path) if isinstance(path, str | os.PathLike) else ""
        if _full() and isinstance(where, str) and _under(where):
            fields = list(result)
            fields[3] = fields[4] = 0  # f_bfree, f_bavail
            return os.statvfs_result(fields)
        return result

    os.write, os.pwrite, os.statvfs = write, pwrite, statvfs


if _ROOT:
    _install()
