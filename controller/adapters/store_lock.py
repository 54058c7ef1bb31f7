"""An exclusive lock on the store directory, so two controllers never write the same state.

``store.lock`` is locked with ``fcntl.flock`` for as long as the process runs (the kernel drops
it when the process dies, even by SIGKILL, so a crash never leaves a stale lock). The file also
holds who took it (pid, host, command, time), which the refusal message shows. Hand-written:
``filelock`` would give the lock but not a standard way to say who holds it.
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

from controller.errors import StoreLocked, StoreWriteFailed

LOCK_FILE = "store.lock"


class StoreLock:
    def __init__(self, directory: Path, *, purpose: str = "") -> None:
        self.path = directory / LOCK_FILE
        self.purpose = purpose or " ".join(os.path.basename(a) for a in sys.argv[:2])
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreWriteFailed(f"cannot open lock file {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = self._holder(fd)
            os.close(fd)
            raise StoreLocked(
                f"store {self.path.parent} is locked by {holder}; only one descope-gitops may write a store "
                "at a time (stop the other one, or point this one at another [store] dir)"
            ) from exc
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.purpose, "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
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
