"""Read the tenants file(s) at a local path, so the pure loader gets bytes and never touches the disk.

The path may be one file (read whatever its name) or a directory: then every ``*.yaml``/``*.yml``
file under it, recursively, in sorted order, skipping hidden files and directories (``.git``,
``.worktrees`` of a git-sync volume, editor swap files). Display names are relative to the
directory with forward slashes (``eu/tenants.yaml``); a single file keeps the path as given.

Errors, mapped to the one error tree:
- the path is missing or unreadable now → ``SourceUnavailable`` (retryable; the next tick tries again);
- what is there is not acceptable (no yaml files, a file over the size limit, a symlink that points
  outside the directory, a special file) → ``TenantsFileInvalid`` with one problem per file.
Sizes are checked with ``stat`` before reading, and reads are bounded, so a huge file is never
read whole.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from controller.core.loader import LoadLimits
from controller.errors import Problem, SourceUnavailable, TenantsFileInvalid

__all__ = ["YAML_SUFFIXES", "is_tenants_change", "read_tenant_files"]

YAML_SUFFIXES = (".yaml", ".yml")
_DEFAULTS = LoadLimits()


def read_tenant_files(
    path: str | os.PathLike[str],
    *,
    max_file_bytes: int = _DEFAULTS.max_file_bytes,
    max_total_bytes: int = _DEFAULTS.max_total_bytes,
) -> dict[str, bytes]:
    """The tenants files at ``path``: display name → content, in sorted name order."""
    given = os.fspath(path)
    try:
        st = os.stat(given)
    except FileNotFoundError as exc:
        raise SourceUnavailable(f"tenants path {given} does not exist") from exc
    except OSError as exc:
        raise SourceUnavailable(f"cannot read tenants path {given}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        return _read_directory(given, max_file_bytes, max_total_bytes)
    if not stat.S_ISREG(st.st_mode):
        raise TenantsFileInvalid([Problem(given, None, "not a regular file or directory")])
    if st.st_size > max_file_bytes:
        raise TenantsFileInvalid([_too_big(given, st.st_size, max_file_bytes)])
    if st.st_size > max_total_bytes:
        raise TenantsFileInvalid([_too_big(given, st.st_size, max_total_bytes)])
    return {given: _read(given, given, min(max_file_bytes, max_total_bytes))}


def _read_directory(root: str, max_file_bytes: int, max_total_bytes: int) -> dict[str, bytes]:
    real_root = os.path.realpath(root)
    found: list[tuple[str, str, int]] = []  # (display name, path to open, size)
    problems: list[Problem] = []
    visited: set[str] = {real_root}
    pending: list[tuple[str, str]] = [(root, "")]  # (directory on disk, its display prefix)
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            raise SourceUnavailable(f"cannot list {directory}: {exc.strerror or exc}") from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue
            display = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    target = os.path.realpath(entry.path)
                    if not _inside(target, real_root):
                        if entry.name.lower().endswith(YAML_SUFFIXES) or os.path.isdir(target):
                            problems.append(
                                Problem(
                                    display,
                                    None,
                                    f"symlink points outside the tenants directory (to {target}); refused",
                                )
                            )
                        continue
                st = os.stat(entry.path)  # follows an in-directory symlink
            except FileNotFoundError:
                if entry.name.lower().endswith(YAML_SUFFIXES):
                    problems.append(Problem(display, None, "broken symlink (its target does not exist)"))
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    problems.append(Problem(display, None, "symlink loop (too many levels of symbolic links)"))
                    continue
                raise SourceUnavailable(f"cannot read {entry.path}: {exc.strerror or exc}") from exc
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(entry.path)
                if real not in visited:  # a symlink loop or a second link to the same directory
                    visited.add(real)
                    pending.append((entry.path, display + "/"))
                continue
            if not entry.name.lower().endswith(YAML_SUFFIXES):
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(Problem(display, None, "not a regular file"))
            elif st.st_size > max_file_bytes:
                problems.append(_too_big(display, st.st_size, max_file_bytes))
            else:
                found.append((display, entry.path, st.st_size))
    if problems:
        raise TenantsFileInvalid(sorted(problems, key=lambda p: p.file))
    if not found:
        raise TenantsFileInvalid(
            [Problem(root, None, "no *.yaml or *.yml files in this directory (hidden files are skipped)")]
        )
    found.sort()
    if sum(size for _name, _path, size in found) > max_total_bytes:
        raise TenantsFileInvalid(
            [Problem(root, None, f"the tenants files add up to more than the limit of {max_total_bytes:,} bytes")]
        )
    files: dict[str, bytes] = {}
    total = 0
    for display, file_path, _size in found:
        content = _read(file_path, display, max_file_bytes)
        total += len(content)
        if total > max_total_bytes:  # grew since stat
            raise TenantsFileInvalid(
                [Problem(root, None, f"the tenants files add up to more than the limit of {max_total_bytes:,} bytes")]
            )
        files[display] = content
    return files


def _inside(target: str, real_root: str) -> bool:
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def _read(file_path: str, display: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a file; a file that grew past the limit since ``stat`` is refused."""
    try:
        with open(file_path, "rb") as handle:
            content = handle.read(limit + 1)
    except FileNotFoundError as exc:
        raise SourceUnavailable(f"tenants file {file_path} disappeared while reading it") from exc
    except OSError as exc:
        raise SourceUnavailable(f"cannot read tenants file {file_path}: {exc.strerror or exc}") from exc
    if len(content) > limit:
        raise TenantsFileInvalid([_too_big(display, None, limit)])
    return content


def _too_big(display: str, size: int | None, limit: int) -> Problem:
    shown = f"{size:,} bytes" if size is not None else "larger than that"
    return Problem(display, None, f"file is over the size limit of {limit:,} bytes ({shown}); not read")


def is_tenants_change(changed: str, source: Path, ignored: Sequence[Path] = ()) -> bool:
    """Whether a changed path is part of the tenants source: the file itself, or a visible ``*.yaml``/
    ``*.yml`` under the source directory; never anything under ``ignored`` (the controller's own store).

    A watcher that fires on every change in the folder triggers itself when the store lives there:
    each cycle writes its checkpoint, which starts the next cycle, forever. Paths are compared as
    given; pass resolved paths on both sides.
    """
    path = Path(changed)
    if any(path == root or root in path.parents for root in ignored):
        return False
    if path == source:
        return True
    if source not in path.parents:
        return False
    relative = path.relative_to(source).parts
    return not any(part.startswith(".") for part in relative) and path.name.lower().endswith(YAML_SUFFIXES)
