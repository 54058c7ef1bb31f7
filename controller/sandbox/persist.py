"""The sandbox's state file: a versioned JSON document, read strictly and written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

FORMAT: Final = "descope-sandbox-state"
VERSION: Final = 1


class SandboxStateError(Exception):
    """The state file cannot be used; the message names the file and what is wrong with it."""


def read_state(path: Path) -> list[Any] | None:
    """The raw tenant entries stored in ``path``, or None when the file does not exist yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxStateError(f"cannot read sandbox state file {path}: {exc}") from exc
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SandboxStateError(f"sandbox state file {path} is corrupt: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SandboxStateError(f"sandbox state file {path} is corrupt: not a {FORMAT} document")
    if document.get("version") != VERSION:
        raise SandboxStateError(
            f"sandbox state file {path} has unknown format version {document.get('version')!r} (expected {VERSION})"
        )
    tenants = document.get("tenants")
    if not isinstance(tenants, list):
        raise SandboxStateError(f"sandbox state file {path} is corrupt: 'tenants' is not a list")
    return tenants


def write_state(path: Path, tenants: list[dict[str, Any]]) -> None:
    document = {"format": FORMAT, "version": VERSION, "tenants": tenants}
    write_atomic(path, json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` so a reader (or a crash) sees the old file or the new one, never half of one."""
    directory = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory, which is not an error here.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
