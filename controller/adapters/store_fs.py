"""File access for the stores that never follows a symlink below the store root, so nothing outside is touched.

The root (``[store] dir``) is resolved once, when a store object is made: a Kubernetes volume or an
operator may well make *it* a symlink, and that is accepted. Below it, every folder is opened with
``O_DIRECTORY | O_NOFOLLOW`` relative to its parent's descriptor and every file with ``O_NOFOLLOW``,
and renames and deletes go through the folder's descriptor too, so a symlink anywhere under the root
(even one swapped in while we run) is refused with StoreSymlink, never followed: no read, write or
delete of a store lands outside it.

These are helpers for the store adapters: a symlink raises StoreSymlink, any other failure the
OSError the system gave, which the calling adapter maps to its own error (it knows what it was doing).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from controller.errors import StoreSymlink

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

FILE, DIRECTORY, SYMLINK, OTHER = "file", "directory", "symlink", "other"


def resolve_root(directory: Path | str) -> Path:
    """The store root as an absolute path with symlinks resolved: a symlinked root is followed, once, here."""
    return Path(directory).resolve()


def below(root: Path, path: Path) -> tuple[str, ...]:
    """The components of ``path`` under ``root``; ValueError for a path outside it (a bug, not user input)."""
    parts = path.relative_to(root).parts
    if ".." in parts:
        raise ValueError(f"{path} is not below {root}")
    return parts


@contextmanager
def open_dir(root: Path, folder: Path, *, create: bool = False, mode: int = 0o700) -> Iterator[int]:
    """A descriptor of ``folder`` (``root`` or a folder below it), reached without following a symlink.

    ``create`` makes missing folders (the root with its parents, folders below it with ``mode``).
    """
    parts = below(root, folder)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIR_FLAGS)
    try:
        current = root
        for part in parts:
            current = current / part
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, mode, dir_fd=fd)
            child = open_at(fd, part, _DIR_FLAGS, shown=current, root=root)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def open_at(dir_fd: int, name: str, flags: int, mode: int = 0o600, *, shown: Path, root: Path) -> int:
    """``os.open`` of ``name`` in ``dir_fd`` with O_NOFOLLOW; StoreSymlink (naming ``shown``) if it is a symlink."""
    try:
        return os.open(name, flags | NOFOLLOW, mode, dir_fd=dir_fd)
    except OSError as exc:
        # Linux says ELOOP for a file and ENOTDIR for a folder, FreeBSD EMLINK: ask what it is
        refuse_symlink(dir_fd, name, shown=shown, root=root)
        raise exc from None


def refuse_symlink(dir_fd: int, name: str, *, shown: Path, root: Path) -> None:
    """Raise StoreSymlink if ``name`` in ``dir_fd`` is a symlink; otherwise return."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        raise StoreSymlink(str(shown), target, root=str(root))


def kind_at(dir_fd: int, name: str) -> str | None:
    """What ``name`` in ``dir_fd`` is (FILE, DIRECTORY, SYMLINK, OTHER), never following it; None if missing."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISDIR(mode):
        return DIRECTORY
    return FILE if stat.S_ISREG(mode) else OTHER


def open_read(root: Path, path: Path) -> BinaryIO:
    """``path`` opened for reading, no symlink followed; FileNotFoundError if it or a folder is missing."""
    with open_dir(root, path.parent) as folder:
        fd = open_at(folder, path.name, os.O_RDONLY, shown=path, root=root)
    return os.fdopen(fd, "rb")


def read_bytes(root: Path, path: Path) -> bytes:
    with open_read(root, path) as handle:
        return handle.read()


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may be short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def append(root: Path, path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it."""
    with open_dir(root, path.parent, create=True) as folder:
        fd = open_at(folder, path.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode, shown=path, root=root)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink(root: Path, path: Path) -> None:
    """Remove ``path`` (a symlink itself would be removed, never what it points to)."""
    with open_dir(root, path.parent) as folder:
        os.unlink(path.name, dir_fd=folder)


def rename(root: Path, path: Path, new_name: str) -> Path:
    """Rename ``path`` within its folder (a symlink is renamed itself, never followed); the new path."""
    with open_dir(root, path.parent) as folder:
        os.replace(path.name, new_name, src_dir_fd=folder, dst_dir_fd=folder)
        fsync_dir(folder)
    return path.with_name(new_name)


def fsync_dir(dir_fd: int) -> None:
    """Make a rename in the folder durable (some file systems refuse fsync on a folder: the rename still happened)."""
    with suppress(OSError):
        os.fsync(dir_fd)


def entries(root: Path, folder: Path) -> list[tuple[str, str]]:
    """(name, kind) of everything in ``folder``, no symlink followed; FileNotFoundError if it is missing."""
    found: list[tuple[str, str]] = []
    with open_dir(root, folder) as fd, os.scandir(fd) as listing:
        for entry in listing:
            if entry.is_symlink():
                kind = SYMLINK
            elif entry.is_dir(follow_symlinks=False):
                kind = DIRECTORY
            elif entry.is_file(follow_symlinks=False):
                kind = FILE
            else:
                kind = OTHER
            found.append((entry.name, kind))
    return found


def link_target(root: Path, path: Path) -> str:
    """What the symlink ``path`` points to ("?" if that cannot be read)."""
    try:
        with open_dir(root, path.parent) as folder:
            return os.readlink(path.name, dir_fd=folder)
    except (OSError, StoreSymlink):
        return "?"


def walk(root: Path, folder: Path, on_error: Callable[[Path, OSError], None]) -> Iterator[tuple[Path, str, int]]:
    """(path, kind, size) of every file, symlink and odd entry under ``folder``; folders are entered, links not.

    A folder that cannot be listed goes to ``on_error`` and is skipped; a missing ``folder`` yields nothing.
    """
    sizes: dict[str, int] = {}
    subfolders: list[str] = []
    others: list[tuple[str, str]] = []
    try:
        with open_dir(root, folder) as fd, os.scandir(fd) as listing:
            for entry in listing:
                if entry.is_symlink():
                    others.append((entry.name, SYMLINK))
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.name)
                elif entry.is_file(follow_symlinks=False):
                    try:
                        sizes[entry.name] = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # removed since the folder was listed
                else:
                    others.append((entry.name, OTHER))
    except FileNotFoundError:
        return
    except OSError as exc:
        on_error(folder, exc)
        return
    found = [(name, FILE, size) for name, size in sizes.items()] + [(name, kind, 0) for name, kind in others]
    found += [(name, DIRECTORY, 0) for name in subfolders]
    for name, kind, size in sorted(found):
        if kind == DIRECTORY:
            yield from walk(root, folder / name, on_error)
        else:
            yield folder / name, kind, size
