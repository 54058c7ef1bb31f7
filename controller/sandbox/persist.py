"""The sandbox's state file: a versioned JSON document, read strictly and written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

FORMAT: Final = "descope-sandbox-state"
VERSION: Final = 3
"""2 added the attribute catalogue (``attributes``), 3 each tenant's ``ssoSettings``, ``roles`` and
``passwordSettings`` and the project's (``project``): an older sandbox refuses the file rather than drop them."""
READABLE_VERSIONS: Final = frozenset({1, 2, VERSION})


class SandboxStateError(Exception):
    """The state file cannot be used; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class StateDocument:
    """What a state file holds, still raw: tenant entries and the attribute catalogue (None: no catalogue)."""

    tenants: list[Any]
    attributes: object = None
    project: object = None  # the project's own roles and password settings (version 3)


def read_state(path: Path) -> StateDocument | None:
    """The raw content of ``path``, or None when the file does not exist yet.

    Version 1 files (before the attribute catalogue) read as having no catalogue.
    """
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
    if document.get("version") not in READABLE_VERSIONS:
        raise SandboxStateError(
            f"sandbox state file {path} has unknown format version {document.get('version')!r} (expected {VERSION})"
        )
    tenants = document.get("tenants")
    if not isinstance(tenants, list):
        raise SandboxStateError(f"sandbox state file {path} is corrupt: 'tenants' is not a list")
    return StateDocument(tenants, document.get("attributes"), document.get("project"))


def write_state(
    path: Path,
    tenants: list[dict[str, Any]],
    attributes: list[dict[str, Any]] | None = None,
    project: dict[str, Any] | None = None,
) -> None:
    document = {"format": FORMAT, "version": VERSION, "tenants": tenants, "attributes": attributes}
    if project:
        document["project"] = project
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
