"""Finding and reading the files of a backups folder, no symlink followed, apart from what the store does with them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from controller.adapters import store_fs
from controller.adapters.backup_format import (
    ID_PREFIX_RE,
    ID_RE,
    ID_TAGS,
    PRE_IMAGE,
    PRE_IMAGES_DIR,
    SNAPSHOT,
    SNAPSHOTS_DIR,
    BackupMeta,
    Content,
    Unusable,
    content_of,
    encode_tenant_id,
    meta_from,
    parse_document,
    read_head,
)
from controller.errors import BackupNotFound, StoreCorrupt, StoreSymlink


class BackupFiles:
    """The files of one ``backups`` folder: found, located by id and read, no symlink below the root followed."""

    def __init__(self, root: Path, directory: Path) -> None:
        self.root = root
        self.directory = directory

    def resolve_id(self, prefix: str) -> str:
        """The full id of the one backup whose id starts with ``prefix``; BackupNotFound when none or several."""
        if ID_RE.fullmatch(prefix):
            return prefix
        if not prefix or not ID_PREFIX_RE.fullmatch(prefix):
            raise BackupNotFound(f"no backup {prefix!r}: ids look like 20261122T043012.123456Z-0000a1b2-pre")
        matches = sorted(
            {
                path.stem
                for path in self.find(tenant_id=None, kind=None, problems=[], links=[])
                if path.stem.startswith(prefix) and ID_RE.fullmatch(path.stem)
            }
        )
        if not matches:
            raise BackupNotFound(f"no backup id starts with {prefix!r} in {self.directory} (see `backup list`)")
        if len(matches) > 1:
            shown = ", ".join(matches[:3]) + (f" and {len(matches) - 3} more" if len(matches) > 3 else "")
            raise BackupNotFound(f"backup id prefix {prefix!r} is ambiguous: {shown}; give more of the id")
        return matches[0]

    def find(
        self,
        *,
        tenant_id: str | None,
        kind: str | None,
        problems: list[tuple[Path, str]],
        links: list[StoreSymlink],
    ) -> list[Path]:
        """Backup files (``*.json``) of ``kind`` (None: both), of one tenant with ``tenant_id``; none if missing.

        Folders and files that are symlinks are not followed: they go to ``problems`` and ``links``.
        """
        files: list[Path] = []

        def entries(folder: Path, want_dirs: bool) -> list[str]:
            return _entries(self.root, folder, problems, links, want_dirs=want_dirs)

        if kind in (None, PRE_IMAGE):
            base = self.directory / PRE_IMAGES_DIR
            if tenant_id is not None:
                folders = [base / encode_tenant_id(tenant_id)]
            else:
                folders = [base / name for name in entries(base, True)]
            for folder in folders:
                files.extend(folder / name for name in entries(folder, False))
        if kind in (None, SNAPSHOT):
            folder = self.directory / SNAPSHOTS_DIR
            files.extend(folder / name for name in entries(folder, False))
        return files

    def every_file(self, problems: list[tuple[Path, str]]) -> list[Path]:
        """Every regular file under the backups folder; symlinks and odd entries go to ``problems`` instead."""

        def failed(path: Path, exc: OSError) -> None:
            problems.append((path, f"cannot be read: {exc.strerror or exc}"))

        found: list[Path] = []
        try:
            for path, kind, _size in store_fs.walk(self.root, self.directory, failed):
                if kind == store_fs.FILE:
                    found.append(path)
                elif kind == store_fs.SYMLINK:
                    problems.append((path, _symlink_problem(store_fs.link_target(self.root, path))))
                else:
                    problems.append((path, "is not a regular file"))
        except StoreSymlink as exc:
            problems.append((Path(exc.path), _symlink_problem(exc.target)))
        return sorted(found)

    def locate(self, backup_id: str, *, tenant_id: str | None = None) -> Path:
        """The file of the backup with this id (or unique prefix); BackupNotFound, StoreCorrupt."""
        if isinstance(backup_id, str) and not ID_RE.fullmatch(backup_id):
            backup_id = self.resolve_id(backup_id)
        match = ID_RE.fullmatch(backup_id) if isinstance(backup_id, str) else None
        if match is None:
            raise BackupNotFound(f"no backup {backup_id!r}: ids look like 20261122T043012.123456Z-0000a1b2-pre")
        name = f"{backup_id}.json"
        if match.group(3) == ID_TAGS[SNAPSHOT]:
            candidates: Iterable[Path] = [self.directory / SNAPSHOTS_DIR / name]
        else:
            base = self.directory / PRE_IMAGES_DIR
            first = [base / encode_tenant_id(tenant_id) / name] if tenant_id is not None else []
            candidates = [*first, *(base / d / name for d in _entries(self.root, base, [], [], want_dirs=True))]
        for path in candidates:
            try:
                with store_fs.open_dir(self.root, path.parent) as folder:
                    if store_fs.kind_at(folder, path.name) is not None:
                        return path  # a symlink or odd file is found, and reading it says what is wrong
            except (FileNotFoundError, NotADirectoryError):
                continue
            except StoreSymlink as exc:
                raise corrupt(Path(exc.path), _symlink_problem(exc.target)) from None
            except OSError as exc:
                raise corrupt(path.parent, f"cannot be read: {exc.strerror or exc}") from None
        raise BackupNotFound(f"no backup {backup_id} in {self.directory}")

    def head(self, path: Path) -> BackupMeta:
        """The metadata from the head of the file, checked against its path; checksum not verified."""
        try:
            with self._open(path) as handle:
                size = os.fstat(handle.fileno()).st_size
                found: tuple[Any, Any] | None = read_head(handle)
                if found is None:  # not laid out as we write it: read it whole, which says what is wrong
                    handle.seek(0)
                    document = parse_document(handle.read())
                    found = document.get("meta"), document.get("sha256")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise Unusable(f"cannot be read: {exc.strerror or exc}") from exc
        return meta_from(found[0], found[1], path, size)

    def load(self, path: Path) -> tuple[BackupMeta, *Content]:
        """Read the whole file and verify it; Unusable says why not."""
        try:
            with self._open(path) as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise Unusable(f"cannot be read: {exc.strerror or exc}") from exc
        document = parse_document(raw)
        meta = meta_from(document.get("meta"), document.get("sha256"), path, len(raw))
        return (meta, *content_of(document, meta))

    def _open(self, path: Path) -> BinaryIO:
        """``path`` for reading, no symlink followed (Unusable if one is in the way)."""
        try:
            return store_fs.open_read(self.root, path)
        except StoreSymlink as exc:
            via = None if Path(exc.path) == path else Path(exc.path)
            raise Unusable(_symlink_problem(exc.target, via=via)) from None

    def load_or_raise(self, path: Path) -> tuple[BackupMeta, *Content]:
        """``load``, its failures as BackupNotFound or StoreCorrupt naming the file."""
        try:
            return self.load(path)
        except FileNotFoundError:
            raise BackupNotFound(f"backup {path.stem} is gone (removed while it was being read)") from None
        except Unusable as exc:
            raise corrupt(path, str(exc)) from None


def _entries(
    root: Path,
    folder: Path,
    problems: list[tuple[Path, str]],
    links: list[StoreSymlink],
    *,
    want_dirs: bool,
) -> list[str]:
    """Sub-folders, or backup file names (``*.json``, not temp files), of ``folder``; none if it is missing.

    A symlink (in the folder, or in place of it or of a folder above it) is never followed: it is
    reported as a problem and collected in ``links``.
    """
    names: list[str] = []
    try:
        listing = store_fs.entries(root, folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except StoreSymlink as exc:
        problems.append((Path(exc.path), _symlink_problem(exc.target)))
        links.append(exc)
        return []
    except OSError as exc:
        problems.append((folder, f"cannot be listed: {exc.strerror or exc}"))
        return []
    for name, kind in listing:
        if name.startswith("."):
            continue
        if kind == store_fs.SYMLINK and (want_dirs or name.endswith(".json")):
            target = store_fs.link_target(root, folder / name)
            problems.append((folder / name, _symlink_problem(target)))
            links.append(StoreSymlink(str(folder / name), target, root=str(root)))
        elif kind == (store_fs.DIRECTORY if want_dirs else store_fs.FILE) and (want_dirs or name.endswith(".json")):
            names.append(name)
    return names


def _symlink_problem(target: str, *, via: Path | None = None) -> str:
    what = "is a symlink" if via is None else f"is behind a symlink: {via}"
    return (
        f"{what} (to {target}); the store never follows symlinks, so it is not used, pruned or counted: "
        "replace it with the real file or folder"
    )


def corrupt(path: Path, problem: str) -> StoreCorrupt:
    """StoreCorrupt naming one unusable backup file and why; it is left in place."""
    return StoreCorrupt(
        f"backup file {path} {problem}. It was left in place for inspection; "
        "`descope-gitops backup verify` lists every such file"
    )
