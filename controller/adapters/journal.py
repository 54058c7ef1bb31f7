"""The journal of the cycle in flight, so a crash at any moment can be resumed without repeats.

``journal.jsonl`` in the store directory: a header line (cycle id, revision, plan digest, the
ordered actions) written atomically when a cycle starts applying, then one appended line per
finished action, flushed and fsync'd before the next is reported done. Appending keeps the cost
of a 1000-action cycle linear. A crash can tear only the last line, which is ignored on read;
a journal whose header cannot be read is moved aside and reported, never silently discarded.
The file is removed when the cycle is closed in ``state.json``. A symlink in its place is refused
(StoreSymlink), never appended through (``store_fs``).
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.adapters.atomic import write_atomic
from controller.adapters.store_fs import fsync_dir, open_at, open_dir, read_bytes, rename, resolve_root, write_all
from controller.errors import StoreCorrupt, StoreWriteFailed

JOURNAL_FILE = "journal.jsonl"
JOURNAL_VERSION = 1


@dataclass
class OpenJournal:
    """A journal found on disk: what the interrupted cycle meant to do and what it finished."""

    cycle_id: str
    revision: str
    plan_digest: str
    started: float
    actions: list[dict[str, str]]  # [{"kind": "create", "tenant_id": "acme"}, ...] in plan order
    done: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, id) -> "" if ok else error

    @property
    def succeeded(self) -> list[tuple[str, str]]:
        return [key for key, error in self.done.items() if not error]

    @property
    def failed(self) -> dict[tuple[str, str], str]:
        return {key: error for key, error in self.done.items() if error}

    @property
    def remaining(self) -> int:
        return sum(1 for a in self.actions if (a["kind"], a["tenant_id"]) not in self.done)

    def progress(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "revision": self.revision,
            "total": len(self.actions),
            "done": len(self.succeeded),
            "failed": len(self.failed),
            "remaining": self.remaining,
            "errors": {f"{k} {t}": e for (k, t), e in self.failed.items()},
        }


class Journal:
    """Writes and reads ``journal.jsonl``; thread-safe (apply workers record concurrently)."""

    def __init__(self, directory: Path) -> None:
        self.directory = resolve_root(directory)
        self.path = self.directory / JOURNAL_FILE
        self._lock = threading.Lock()
        self._fd: int | None = None

    def begin(
        self, *, cycle_id: str, revision: str, plan_digest: str, started: float, actions: list[dict[str, str]]
    ) -> None:
        header = {
            "journal": JOURNAL_VERSION,
            "cycle_id": cycle_id,
            "revision": revision,
            "plan_digest": plan_digest,
            "started": started,
            "actions": actions,
        }
        with self._lock:
            self._close_handle()
            write_atomic(self.path, (json.dumps(header, separators=(",", ":")) + "\n").encode(), root=self.directory)
            try:
                with open_dir(self.directory, self.directory) as folder:
                    self._fd = open_at(
                        folder, JOURNAL_FILE, os.O_WRONLY | os.O_APPEND, shown=self.path, root=self.directory
                    )
            except OSError as exc:
                raise StoreWriteFailed(f"cannot append to {self.path}: {exc.strerror or exc}") from exc

    def record(self, kind: str, tenant_id: str, *, error: str = "") -> None:
        """Mark one action finished (``error`` empty when it succeeded); durable on return."""
        line = json.dumps({"kind": kind, "tenant_id": tenant_id, "error": error}, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fd is None:
                raise StoreWriteFailed(f"journal {self.path} is not open")
            try:
                write_all(self._fd, line.encode())
                os.fsync(self._fd)
            except OSError as exc:
                raise StoreWriteFailed(f"cannot append to {self.path}: {exc.strerror or exc}") from exc

    def finish(self) -> None:
        """The cycle is recorded in state.json: the journal has done its job."""
        with self._lock:
            self._close_handle()
            try:
                with open_dir(self.directory, self.directory) as folder:
                    with suppress(FileNotFoundError):
                        os.unlink(JOURNAL_FILE, dir_fd=folder)
                    fsync_dir(folder)
            except OSError as exc:
                raise StoreWriteFailed(f"cannot remove {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Release the file handle, leaving the journal on disk (shutdown mid-cycle)."""
        with self._lock:
            self._close_handle()

    def _close_handle(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def read_open(self, *, keep_aside: bool = True) -> OpenJournal | None:
        """The journal of an interrupted cycle, or None; StoreCorrupt (kept aside by writers) if unreadable."""
        try:
            raw = read_bytes(self.directory, self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreCorrupt(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        lines = raw.split(b"\n")
        try:
            header = json.loads(lines[0])
            if header.get("journal") != JOURNAL_VERSION:
                raise ValueError(f"unknown journal version {header.get('journal')!r}")
            journal = OpenJournal(
                cycle_id=str(header["cycle_id"]),
                revision=str(header["revision"]),
                plan_digest=str(header["plan_digest"]),
                started=float(header["started"]),
                actions=[{"kind": str(a["kind"]), "tenant_id": str(a["tenant_id"])} for a in header["actions"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if not keep_aside:
                raise StoreCorrupt(f"{self.path} has an unreadable header ({exc})") from exc
            try:
                # pid and random, like state.json: a container's pid 1 repeats across restarts
                stamp = f"{os.getpid()}-{int.from_bytes(os.urandom(3), 'big'):06x}"
                kept = rename(self.directory, self.path, f"{JOURNAL_FILE}.corrupt-{stamp}")
            except OSError as move:
                raise StoreWriteFailed(f"cannot move corrupt {self.path} aside: {move.strerror or move}") from move
            raise StoreCorrupt(
                f"{self.path} has an unreadable header ({exc}); moved to {kept}. The interrupted cycle "
                "cannot be resumed from it; the next cycle re-reads Descope and plans afresh"
            ) from exc
        for line in lines[1:]:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                journal.done[(str(entry["kind"]), str(entry["tenant_id"]))] = str(entry.get("error") or "")
            except (ValueError, KeyError, TypeError):
                break  # a torn last line from a crash mid-write: everything before it stands
        return journal
