"""The restores log, ``restores.jsonl`` in the store: one line per restore, counted by the daemon's metrics.

One-shot ``restore`` jobs append to it (no symlink followed, fsync'd) and the daemon's ``/metrics``
reads it; it is the only file both write or read, and appending keeps them from overwriting each other.
"""

from __future__ import annotations

from pathlib import Path

from controller.adapters.store_fs import append, read_bytes, resolve_root
from controller.errors import StoreError, StoreWriteFailed


def append_restore(path: Path, line: str) -> None:
    """Append one JSON line; StoreWriteFailed, or StoreSymlink if the log (or the store) is a symlink."""
    root = resolve_root(path.parent)
    try:
        append(root, root / path.name, (line.rstrip("\n") + "\n").encode("utf-8"))
    except OSError as exc:
        raise StoreWriteFailed(f"cannot append to {path}: {exc.strerror or exc}") from exc


def read_restores(path: Path) -> list[str]:
    """The log's lines; none when it is missing or cannot be read (metrics are best effort)."""
    root = resolve_root(path.parent)
    try:
        return read_bytes(root, root / path.name).decode("utf-8", "replace").splitlines()
    except (OSError, StoreError):
        return []
