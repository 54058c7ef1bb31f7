"""Reading the tenants files from a commit's tree, not a checkout: sizes checked first, links and submodules refused.

Files are read from the commit's *tree* through GitPython (``commit.tree / path``, blob streams), never
from a checkout: uncommitted edits do not exist for us. The path may be one file (read whatever its name)
or a directory: every ``*.yaml``/``*.yml`` blob under it, recursively, sorted, hidden entries skipped,
named relative to the repository root (``tenants/eu.yaml``) so loader errors read ``tenants/eu.yaml:4``.
Blob sizes are checked before any content is read. Symlinks (mode 120000) named like tenants files or
pointing at a directory are refused (we do not follow links inside a commit); git submodules are refused.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator

from git.objects import Blob, Commit, Submodule, Tree

from controller.adapters.local_source import YAML_SUFFIXES
from controller.errors import Problem, TenantsFileInvalid

_SYMLINK_MODE = 0o120000
_SUBMODULE_MODE = 0o160000


def files_in(
    commit: Commit, path: str, *, shown_url: str, max_file_bytes: int, max_total_bytes: int
) -> dict[str, bytes]:
    """The tenants file(s) at ``path`` in ``commit``: the blob, or the yaml blobs under a tree, by repository path."""
    root = commit.tree
    where = f"commit {commit.hexsha[:7]} of {shown_url}"
    try:
        obj = root / path if path else root
    except KeyError:
        raise TenantsFileInvalid([Problem(path, None, f"not found in {where}")]) from None
    if isinstance(obj, Tree):
        return _read_tree(root, obj, where, path=path, max_file_bytes=max_file_bytes, max_total_bytes=max_total_bytes)
    if not isinstance(obj, Blob):
        raise TenantsFileInvalid([Problem(path, None, f"is a git submodule in {where}; not followed")])
    if obj.mode == _SYMLINK_MODE:
        raise TenantsFileInvalid([_symlink_problem(path, obj)])
    limit = min(max_file_bytes, max_total_bytes)
    if obj.size > limit:
        raise TenantsFileInvalid([_too_big(path, obj.size, limit)])
    return {path: _read_blob(obj, path, limit)}


def _read_tree(
    root: Tree, tree: Tree, where: str, *, path: str, max_file_bytes: int, max_total_bytes: int
) -> dict[str, bytes]:
    found: list[Blob] = []
    problems: list[Problem] = []
    for item in _walk(tree):
        is_yaml = item.name.lower().endswith(YAML_SUFFIXES)
        if item.mode == _SUBMODULE_MODE or not isinstance(item, Blob):
            if is_yaml:
                problems.append(Problem(_path(item), None, "is a git submodule; not followed"))
            continue
        if item.mode == _SYMLINK_MODE:
            if is_yaml or _points_at_tree(root, item):
                problems.append(_symlink_problem(_path(item), item))
            continue
        if not is_yaml:
            continue
        if item.size > max_file_bytes:
            problems.append(_too_big(_path(item), item.size, max_file_bytes))
        else:
            found.append(item)
    shown_dir = path or "."
    if problems:
        raise TenantsFileInvalid(sorted(problems, key=lambda p: p.file))
    if not found:
        raise TenantsFileInvalid(
            [Problem(shown_dir, None, f"no *.yaml or *.yml files in this directory of {where} (hidden ones skipped)")]
        )
    if sum(blob.size for blob in found) > max_total_bytes:
        raise TenantsFileInvalid(
            [
                Problem(
                    shown_dir,
                    None,
                    f"the tenants files add up to more than the limit of {max_total_bytes:,} bytes",
                )
            ]
        )
    found.sort(key=lambda blob: _path(blob))
    return {_path(blob): _read_blob(blob, _path(blob), max_file_bytes) for blob in found}


def _walk(tree: Tree) -> Iterator[Blob | Submodule]:
    """Every non-hidden entry under ``tree`` except directories themselves, depth first."""
    for item in tree:
        if item.name.startswith("."):
            continue
        if isinstance(item, Tree):
            yield from _walk(item)
        else:
            yield item


def _path(obj: Blob | Submodule) -> str:
    """An object's path from the repository root, with forward slashes (GitPython types it loosely)."""
    return os.fspath(obj.path)


def _points_at_tree(root: Tree, link: Blob) -> bool:
    """Whether a symlink blob's target, resolved inside the commit, is a directory."""
    target = _read_blob(link, _path(link), 4096).decode("utf-8", "replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(_path(link)), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        return False  # outside the repository: nothing there for us, like any non-yaml file
    try:
        return isinstance(root / resolved, Tree) if resolved != "." else True
    except KeyError:
        return False


def _read_blob(blob: Blob, display: str, limit: int) -> bytes:
    content: bytes = blob.data_stream.read(limit + 1)
    if len(content) > limit:
        raise TenantsFileInvalid([_too_big(display, None, limit)])
    return content


def _symlink_problem(display: str, link: Blob) -> Problem:
    try:
        target = _read_blob(link, display, 4096).decode("utf-8", "replace")
    except TenantsFileInvalid:
        target = "?"
    return Problem(display, None, f"is a symlink (to {target}); symlinks in a git source are not followed")


def _too_big(display: str, size: int | None, limit: int) -> Problem:
    shown = f"{size:,} bytes" if size is not None else "larger than that"
    return Problem(display, None, f"file is over the size limit of {limit:,} bytes ({shown}); not read")
