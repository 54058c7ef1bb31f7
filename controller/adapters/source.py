"""Where desired state comes from: a revision id plus the raw tenants files at that revision.

The reconciler only needs ``fetch() -> Revision``; a local path and (later) a Git remote both
provide it, so one-shot commands and the daemon run the same cycle code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from controller.adapters.local_source import read_tenant_files
from controller.core.loader import source_digest


@dataclass(frozen=True)
class Revision:
    """The tenants files at one revision of a source."""

    id: str  # a Git commit sha, or a content digest for a local path
    files: Mapping[str, bytes] = field(repr=False)
    label: str = ""  # what a human calls it: "main@1a2b3c4" or "tenants.yaml"
    committed_at: float | None = None  # commit time, when the source knows it
    commit_message: str | None = field(default=None, repr=False)  # the commit's message (git sources)
    notes: tuple[str, ...] = ()  # things the source did that a human should hear about (e.g. a cache set aside)

    def parsed(self) -> Revision:
        """This revision without its files' bytes, once they are parsed (13 MB at 100k tenants, kept by cycles)."""
        return replace(self, files={})


class Source(Protocol):
    def fetch(self) -> Revision:
        """The current revision; SourceUnavailable when it cannot be read now."""
        ...


@runtime_checkable
class VersionedSource(Source, Protocol):
    """A source that keeps its history (Git): an older revision can be read back by its id.

    What tells a change of tenants.yaml from drift after a restart, keeps the last good revision
    enforced when the remote is down, and lets ``restore --git-rev`` read a past revision.
    A local path is not one: its older content is gone.
    """

    def resolve(self, rev: str) -> str:
        """The commit sha a branch, tag, ``HEAD~1`` or short sha names; RevisionNotFound if none."""
        ...

    def read_at(self, sha: str) -> Revision:
        """The tenants files at commit ``sha``; RevisionNotFound if the cache does not hold it."""
        ...


class LocalSource:
    """A file or directory on disk (a checkout, or a git-sync sidecar's volume)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def fetch(self) -> Revision:
        files = read_tenant_files(self.path)
        digest = source_digest(files)
        return Revision(id=f"sha256:{digest[:16]}", files=files, label=str(self.path))

    def __repr__(self) -> str:
        return f"LocalSource({str(self.path)!r})"
