"""An exclusive lock on the store directory, so two controllers never write the same state.

``store.lock`` is locked with ``fcntl.flock`` for as long as the process runs (the kernel drops
it when the process dies, even by SIGKILL, so a crash never leaves a stale lock). The file also
holds who took it (pid, host, command, time), which the refusal message shows. Hand-written:
``filelock`` would give the lock but not a standard way to say who holds it.

Taking the lock is where a writer (the daemon, ``sync --apply``) starts using the store, so it is
also where the store is checked before anything reaches Descope (``store_volume.check_store``): a
symlink among the store's entries, a full, read-only or unwritable volume is a one-line refusal
(StoreSymlink, StoreUnwritable), with no descriptor left open. The lock file itself is opened with
O_NOFOLLOW: a symlink in its place is refused, never truncated through.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from controller.adapters.store_fs import open_at, open_dir, resolve_root, write_all
from controller.adapters.store_volume import check_store, unwritable
from controller.errors import StoreLocked, StoreWriteFailed

LOCK_FILE = "store.lock"


class StoreLock:
    def __init__(self, directory: Path, *, purpose: str = "") -> None:
        self.directory = resolve_root(directory)
        self.path = self.directory / LOCK_FILE
        self.purpose = purpose or " ".join(os.path.basename(a) for a in sys.argv[:2])
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        """Take the lock and check the store; StoreLocked, StoreSymlink, StoreUnwritable or StoreWriteFailed."""
        try:
            with open_dir(self.directory, self.directory, create=True) as folder:
                fd = open_at(folder, LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600, shown=self.path, root=self.directory)
        except OSError as exc:
            raise unwritable(self.directory, exc, purpose=self.purpose) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = self._holder(fd)
            os.close(fd)
            raise StoreLocked(
                f"store {self.directory} is locked by {holder}; only one descope-gitops may write a store "
                "at a time (stop the other one, or point this one at another [store] dir)"
            ) from exc
        except OSError as exc:
            os.close(fd)
            raise StoreWriteFailed(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.purpose, "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            write_all(fd, json.dumps(info).encode())
        except OSError as exc:
            os.close(fd)  # drops the flock too
            raise unwritable(self.directory, exc, purpose=self.purpose) from exc
        self._fd = fd
        try:
            check_store(self.directory, purpose=self.purpose)
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass  # who held it is only a hint; the lock itself goes with the descriptor
            finally:
                os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
            return f"pid {info['pid']} on {info['host']} ({info.get('command', '?')}) since {since}"
        except (ValueError, KeyError, TypeError, OSError):
            return "another process"

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
