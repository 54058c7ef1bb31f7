"""Where ``export`` writes: one file or a directory of files, never over something that exists unless forced.

Why a module of its own: an export is usually the first step of putting a project under Git, and the
path it is given is often a checkout that already holds a tenants.yaml someone edited. So the target is
checked before anything is read from Descope (no minutes of rate-limited reads to then refuse), and
refused when it exists, unless ``force``:

- a file: any existing path is refused (a directory even with ``force``: say ``--split``);
- a directory: an existing one is refused unless it is empty; with ``force`` the tenants files the
  loader would read there (every ``*.yaml``/``*.yml`` not hidden, as ``local_source`` reads them) are
  replaced: the new ones are written, then the old ones that were not rewritten are removed, so
  ``validate`` on the directory sees the export and nothing else. Other files are left alone.

Each file is written atomically (``adapters.atomic``): a reader sees the old file or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from controller.adapters.atomic import write_atomic
from controller.adapters.local_source import YAML_SUFFIXES
from controller.errors import StoreWriteFailed, UsageError


def check_target(path: Path, *, directory: bool, force: bool) -> None:
    """Refuse (UsageError) a target the export must not write to; nothing is changed."""
    if not os.path.lexists(path):
        return
    if not directory:
        if path.is_dir():
            raise UsageError(f"{path} is a directory; give --split tenant or --split tree to write one file per tenant")
        if not force:
            raise UsageError(f"{path} exists; give --force to overwrite it")
        return
    if not path.is_dir():
        raise UsageError(f"{path} exists and is not a directory; give --split only with a directory")
    if not force and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty; give --force to replace the tenants files in it")


def tenants_files_in(directory: Path) -> list[Path]:
    """The files the loader would read in ``directory``: ``*.yaml``/``*.yml``, recursively, not hidden."""
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, f) for f in files if not f.startswith(".") and f.lower().endswith(YAML_SUFFIXES)]
    return sorted(found)


def write_export(path: Path, files: Mapping[str, str], *, directory: bool, force: bool) -> list[Path]:
    """Write the export; returns the old tenants files it removed (only with ``directory`` and ``force``)."""
    check_target(path, directory=directory, force=force)
    if not directory:
        (only,) = files.values()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, only.encode("utf-8"), root=path.parent, mode=0o644, dir_mode=0o755)
        return []
    path.mkdir(parents=True, exist_ok=True)
    old = tenants_files_in(path)
    written = set()
    for name, text in files.items():
        target = path / name
        write_atomic(target, text.encode("utf-8"), root=path, mode=0o644, dir_mode=0o755)
        written.add(target)
    removed = [p for p in old if p not in written]
    for stale in removed:
        try:
            stale.unlink()
        except OSError as exc:
            raise StoreWriteFailed(f"cannot remove the old tenants file {stale}: {exc.strerror or exc}") from exc
    return removed
