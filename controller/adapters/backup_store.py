"""Backups of Descope tenants on a local or mounted volume, so nothing the controller touches can be lost.

Two kinds, under ``<store>/backups``:

    backups/pre-images/<encoded tenant id>/<backup id>.json   one tenant, taken before every update,
                                                              delete and restore write (fail closed)
    backups/snapshots/<backup id>.json                        every live tenant: scheduled, manual,
                                                              or taken before a restore

The file format (backup ids, tenant folder names, the head, canonical JSON and sha256, the
cross-checks of a file against its place) is ``backup_format``; finding and reading the files
without following a symlink is ``backup_files``; this module is what the store does with them.

Listing (``metas``, ``get``, ``scan``) reads only the metadata, which the writer puts at the head of
the file, so a listing of thousands of backups (and of 30 MB snapshots) stays fast without an
index that could fall out of step with the files; it does not verify checksums. Order is always
the recorded ``taken_at``, then the id, never file times.

Symlinks: the folder holding ``backups`` (the store root) is resolved once, so it may be a symlink
(a mounted volume); nothing below it is ever followed (``store_fs``). Writing through a symlinked
folder raises StoreSymlink (a pre-image write fails closed); listing reports a symlinked folder or
file as a problem (like a corrupt file, it is never used); ``prune`` refuses to run while there is
one, so it never deletes anything outside the store.

Concurrency: ``<store>/backups.lock`` is taken with ``flock``, shared by every backup write
(pre-images, snapshots: from the daemon, ``backup create`` and ``restore`` alike) and exclusive by
``prune``. A prune so works on a settled store and waits for a snapshot in progress instead of
racing it, and a write waits for a prune in progress; writers never wait for one another. Both
wait at most ``BUSY_TIMEOUT`` seconds, then StoreLocked.

This adapter never logs: it returns data and raises StoreWriteFailed (retryable: disk full,
read-only, permission), StoreCorrupt, StoreSymlink, StoreLocked and BackupNotFound.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller.adapters import store_fs
from controller.adapters.atomic import write_atomic_at
from controller.adapters.backup_files import BackupFiles, corrupt
from controller.adapters.backup_format import (
    PRE_IMAGE,
    PRE_IMAGES_DIR,
    SNAPSHOT,
    SNAPSHOTS_DIR,
    BackupMeta,
    TenantBackup,
    Unusable,
    check_operation,
    encode_backup,
    encode_content,
    encode_tenant_id,
    id_stamp,
    id_time,
    new_backup_id,
    plain_mapping,
    tenant_id_of,
)
from controller.errors import BackupNotFound, StoreCorrupt, StoreLocked, StoreSymlink, StoreWriteFailed

__all__ = ["PRE_IMAGE", "SNAPSHOT", "BackupMeta", "BackupStore", "TenantBackup", "encode_tenant_id"]

FILE_MODE = 0o600
DIR_MODE = 0o700
BUSY_TIMEOUT = 60.0  # seconds a backup write waits for a prune (or a prune for the writes) before giving up
_DAY = 86400.0
_ONE_MICROSECOND = 1e-6


class BackupStore:
    """Pre-images and snapshots of tenants in one ``backups`` directory (created on the first write)."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        # the store root (the folder holding ``backups``) may be a symlink; nothing below it may
        self.root = store_fs.resolve_root(directory.parent)
        self.directory = self.root / directory.name
        self.lock_path = self.root / f"{directory.name}.lock"
        self._clock = clock
        self._files = BackupFiles(self.root, self.directory)

    # -- writing ------------------------------------------------------------------------------

    def save_pre_image(
        self,
        tenant: Mapping[str, Any],
        *,
        operation: str,
        settings: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        revision: str | None = None,
        cycle_id: str | None = None,
    ) -> BackupMeta:
        """Back up one tenant (with its sub-resources ``config`` as read, if any) before a write to it.

        StoreWriteFailed means the write must not be made.
        """
        check_operation(PRE_IMAGE, operation)
        record = plain_mapping(tenant)
        tenant_id = tenant_id_of(record)
        settings_by_id = {} if settings is None else {tenant_id: plain_mapping(settings)}
        config_by_id = {} if not config else {tenant_id: plain_mapping(config)}
        folder = self.directory / PRE_IMAGES_DIR / encode_tenant_id(tenant_id)
        return self._save(PRE_IMAGE, operation, [record], settings_by_id, revision, cycle_id, folder, config_by_id)

    def save_snapshot(
        self,
        tenants: Sequence[Mapping[str, Any]],
        *,
        operation: str = "scheduled",
        settings_by_id: Mapping[str, Mapping[str, Any]] | None = None,
        config_by_id: Mapping[str, Mapping[str, Any]] | None = None,
        revision: str | None = None,
        cycle_id: str | None = None,
    ) -> BackupMeta:
        """Back up every tenant given (all live ones); settings and sub-resources kept for the tenants it holds."""
        check_operation(SNAPSHOT, operation)
        records = [plain_mapping(t) for t in tenants]
        ids = [tenant_id_of(r) for r in records]
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"a snapshot cannot hold a tenant twice: {duplicates}")
        held = set(ids)
        settings = {k: plain_mapping(v) for k, v in (settings_by_id or {}).items() if k in held}
        config = {k: plain_mapping(v) for k, v in (config_by_id or {}).items() if k in held and v}
        folder = self.directory / SNAPSHOTS_DIR
        return self._save(SNAPSHOT, operation, records, settings, revision, cycle_id, folder, config)

    def _save(
        self,
        kind: str,
        operation: str,
        tenants: list[dict[str, Any]],
        settings: dict[str, dict[str, Any]],
        revision: str | None,
        cycle_id: str | None,
        folder: Path,
        config: dict[str, dict[str, Any]],
    ) -> BackupMeta:
        for name, value in (("revision", revision), ("cycle_id", cycle_id)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string or None, not {type(value).__name__}")
        body, digest = encode_content(tenants, settings, config)
        with self._locked(exclusive=False):
            try:
                with store_fs.open_dir(self.root, folder, create=True, mode=DIR_MODE) as folder_fd:
                    taken_at = float(self._clock())  # under the lock: a prune waiting for us sees this backup
                    return self._write(
                        kind, operation, tenants, revision, cycle_id, folder, folder_fd, taken_at, body, digest
                    )
            except OSError as exc:
                raise StoreWriteFailed(f"cannot create backup folder {folder}: {exc.strerror or exc}") from exc

    def _write(
        self,
        kind: str,
        operation: str,
        tenants: list[dict[str, Any]],
        revision: str | None,
        cycle_id: str | None,
        folder: Path,
        folder_fd: int,
        taken_at: float,
        body: bytes,
        digest: str,
    ) -> BackupMeta:
        backup_id, path = self._free_name(folder_fd, folder, taken_at, kind)
        tenant_ids = tuple(str(t["id"]) for t in tenants)
        data = encode_backup(backup_id, kind, operation, taken_at, tenant_ids, revision, cycle_id, digest, body)
        try:
            write_atomic_at(folder_fd, path, data, root=self.root, mode=FILE_MODE)
        except OSError as exc:
            raise StoreWriteFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
        return BackupMeta(backup_id, kind, operation, taken_at, tenant_ids, revision, cycle_id, digest, len(data), path)

    @staticmethod
    def _free_name(folder_fd: int, folder: Path, taken_at: float, kind: str) -> tuple[str, Path]:
        stamp = id_stamp(taken_at)
        for _ in range(1000):
            backup_id = new_backup_id(stamp, kind)
            if store_fs.kind_at(folder_fd, f"{backup_id}.json") is None:
                return backup_id, folder / f"{backup_id}.json"
        raise StoreWriteFailed(f"cannot write a backup in {folder}: no free file name for {stamp}")

    @contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        """``backups.lock``: shared by writes, exclusive for prune; StoreLocked after BUSY_TIMEOUT seconds."""
        try:
            with store_fs.open_dir(self.root, self.root, create=True) as root_fd:
                fd = store_fs.open_at(
                    root_fd,
                    self.lock_path.name,
                    os.O_RDWR | os.O_CREAT,
                    FILE_MODE,
                    shown=self.lock_path,
                    root=self.root,
                )
        except OSError as exc:
            raise StoreWriteFailed(f"cannot open {self.lock_path}: {exc.strerror or exc}") from exc
        try:
            deadline = time.monotonic() + BUSY_TIMEOUT
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        waiting_for = "backups being written" if exclusive else "a prune"
                        raise StoreLocked(
                            f"backups in {self.directory} are busy: waited {BUSY_TIMEOUT:.0f}s for {waiting_for} "
                            f"holding {self.lock_path}; try again"
                        ) from None
                    time.sleep(0.05)
                except OSError as exc:
                    raise StoreWriteFailed(f"cannot lock {self.lock_path}: {exc.strerror or exc}") from exc
            yield
        finally:
            os.close(fd)  # drops the flock

    # -- reading ------------------------------------------------------------------------------

    def metas(self, *, tenant_id: str | None = None, kind: str | None = None) -> list[BackupMeta]:
        """Backups oldest first (recorded time, then id); StoreCorrupt if any candidate's metadata is unreadable.

        With ``tenant_id``: that tenant's pre-images and the snapshots holding it. Checksums are not
        verified here (reads do that); ``scan`` gives the readable ones and the problems instead of raising.
        """
        metas, problems = self.scan(tenant_id=tenant_id, kind=kind)
        if problems:
            raise _corrupt_many(problems)
        return metas

    def scan(
        self, *, tenant_id: str | None = None, kind: str | None = None
    ) -> tuple[list[BackupMeta], list[tuple[Path, str]]]:
        """Like ``metas``, but files whose metadata cannot be read are returned as (path, problem)."""
        metas, problems, _links = self._scan(tenant_id=tenant_id, kind=kind)
        return metas, problems

    def _scan(
        self, *, tenant_id: str | None, kind: str | None
    ) -> tuple[list[BackupMeta], list[tuple[Path, str]], list[StoreSymlink]]:
        """``scan``, plus the symlinks met (also among the problems), which ``prune`` refuses to run beside."""
        if kind not in (None, PRE_IMAGE, SNAPSHOT):
            raise ValueError(f"kind must be {PRE_IMAGE!r} or {SNAPSHOT!r}, not {kind!r}")
        problems: list[tuple[Path, str]] = []
        links: list[StoreSymlink] = []
        metas: list[BackupMeta] = []
        for path in self._files.find(tenant_id=tenant_id, kind=kind, problems=problems, links=links):
            try:
                meta = self._files.head(path)
            except FileNotFoundError:
                continue  # removed since the folder was listed (prune by another process)
            except Unusable as exc:
                problems.append((path, str(exc)))
                continue
            if tenant_id is None or tenant_id in meta.tenant_ids:
                metas.append(meta)
        metas.sort(key=_order)
        return metas, sorted(problems), links

    def get(self, backup_id: str) -> BackupMeta:
        """One backup's metadata (checksum not verified); BackupNotFound, StoreCorrupt."""
        path = self._files.locate(backup_id)
        try:
            return self._files.head(path)
        except FileNotFoundError:
            raise BackupNotFound(f"backup {backup_id} is gone (removed while it was being read)") from None
        except Unusable as exc:
            raise corrupt(path, str(exc)) from None

    def tenants_in(self, backup_id: str) -> list[TenantBackup]:
        """Every tenant of one backup, read and verified; BackupNotFound, StoreCorrupt."""
        meta, tenants, settings, config = self._files.load_or_raise(self._files.locate(backup_id))
        return [TenantBackup(meta, t, settings.get(str(t["id"])), config.get(str(t["id"]))) for t in tenants]

    def tenant_at(
        self, tenant_id: str, *, at: float | None = None, backup_id: str | None = None
    ) -> TenantBackup | None:
        """The tenant from its newest backup taken at or before ``at`` (None: the latest), or None.

        Pre-images and snapshots both count. With ``backup_id``: the tenant from that backup
        (BackupNotFound if it does not hold the tenant or, with ``at`` too, was taken after ``at``).
        Nothing is skipped: if the best candidate, or any unreadable file that might be a newer
        one, is corrupt, this raises StoreCorrupt naming it instead of using an older backup.
        """
        if backup_id is not None:
            loaded = self._files.load_or_raise(self._files.locate(backup_id, tenant_id=tenant_id))
            if at is not None and loaded[0].taken_at > at:
                raise BackupNotFound(f"backup {backup_id} was taken after the requested time")
            found = _pick(*loaded, tenant_id)
            if found is None:
                raise BackupNotFound(f"backup {backup_id} does not hold tenant {tenant_id!r}")
            return found
        metas, problems = self.scan(tenant_id=tenant_id)
        best = max((m for m in metas if at is None or m.taken_at <= at), key=_order, default=None)
        blocking = [(path, why) for path, why in problems if _might_be_newer(path, best, at)]
        if blocking:
            raise _corrupt_many(blocking)
        if best is None:
            return None
        found = _pick(*self._files.load_or_raise(best.path), tenant_id)
        if found is None:  # pragma: no cover - the load cross-checks content against the metadata
            raise corrupt(best.path, f"does not hold tenant {tenant_id!r}")
        return found

    def tenant_after(self, tenant_id: str, at: float) -> TenantBackup | None:
        """The tenant as it was at ``at``: from its earliest backup taken *after* ``at``, or None.

        A pre-image taken at t holds the state just before the write at t, and a snapshot the
        state at its time, so the earliest backup after ``at`` holds the tenant as it was at ``at``.
        None means nothing was recorded after ``at``: the live tenant is still that state. An
        unreadable file that might be that earliest backup raises StoreCorrupt naming it.
        """
        metas, problems = self.scan(tenant_id=tenant_id)
        best = min((m for m in metas if m.taken_at > at), key=_order, default=None)
        blocking = [(path, why) for path, why in problems if _might_be_earlier(path, best, at)]
        if blocking:
            raise _corrupt_many(blocking)
        return None if best is None else self.tenant_in(best.id, tenant_id)

    def tenant_in(self, backup_id: str, tenant_id: str) -> TenantBackup:
        """One tenant from one backup (an id or a unique prefix), verified; BackupNotFound, StoreCorrupt."""
        loaded = self._files.load_or_raise(self._files.locate(backup_id, tenant_id=tenant_id))
        found = _pick(*loaded, tenant_id)
        if found is None:
            raise BackupNotFound(f"backup {loaded[0].id} does not hold tenant {tenant_id!r}")
        return found

    def resolve_id(self, prefix: str) -> str:
        """The full id of the one backup whose id starts with ``prefix``; BackupNotFound when none or several."""
        return self._files.resolve_id(prefix)

    def verify(self) -> list[tuple[Path, str]]:
        """Read and verify every file under the backups folder; [(path, problem)], empty when all are good."""
        problems: list[tuple[Path, str]] = []
        seen: dict[str, Path] = {}
        for path in self._files.every_file(problems):
            if not _in_backup_place(path, self.directory):
                problems.append((path, _stray(path)))
                continue
            try:
                meta = self._files.load(path)[0]
            except FileNotFoundError:
                continue
            except Unusable as exc:
                problems.append((path, str(exc)))
                continue
            if meta.id in seen:
                problems.append((path, f"has the same backup id as {seen[meta.id]}"))
            seen.setdefault(meta.id, path)
        return sorted(problems)

    # -- retention and metrics ----------------------------------------------------------------

    def prune(self, *, max_age_days: float, keep_snapshots: int, dry_run: bool = False) -> list[BackupMeta]:
        """Remove snapshots beyond the newest ``keep_snapshots`` and backups older than ``max_age_days``.

        Never removed: the newest valid backup holding each tenant (every tenant of every backup,
        whether or not it still exists), any file that is corrupt or unreadable (``verify`` reports
        those), and anything written while this runs. Returns what was (or, dry run, would be)
        removed, oldest first.
        """
        if max_age_days < 0 or keep_snapshots < 0 or math.isnan(max_age_days):
            raise ValueError("max_age_days and keep_snapshots must not be negative")
        if not os.path.lexists(self.directory):
            return []  # no backups yet: nothing to lock, nothing created
        with self._locked(exclusive=True):
            return self._prune(max_age_days, keep_snapshots, dry_run)

    def _prune(self, max_age_days: float, keep_snapshots: int, dry_run: bool) -> list[BackupMeta]:
        metas, _unreadable, links = self._scan(tenant_id=None, kind=None)  # unreadable files are never candidates
        if links:
            # a symlink means the store was tampered with or mis-assembled: a human looks before anything goes
            raise links[0]
        newest_first = sorted(metas, key=_order, reverse=True)
        valid: dict[Path, bool] = {}

        def is_valid(meta: BackupMeta) -> bool:
            if meta.path not in valid:
                try:
                    self._files.load(meta.path)
                    valid[meta.path] = True
                except (Unusable, FileNotFoundError):
                    valid[meta.path] = False
            return valid[meta.path]

        protected: set[Path] = set()
        covered: set[str] = set()
        for meta in newest_first:
            uncovered = [t for t in meta.tenant_ids if t not in covered]
            if uncovered and is_valid(meta):
                protected.add(meta.path)
                covered.update(uncovered)
        cutoff = self._clock() - max_age_days * _DAY
        snapshots = [m for m in newest_first if m.kind == SNAPSHOT]
        doomed = {m.path: m for m in snapshots[keep_snapshots:]}
        doomed.update((m.path, m) for m in metas if m.taken_at < cutoff)
        removed: list[BackupMeta] = []
        for meta in sorted(doomed.values(), key=_order):
            if meta.path in protected or not is_valid(meta):
                continue
            if not dry_run:
                try:
                    store_fs.unlink(self.root, meta.path)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise StoreWriteFailed(f"cannot remove backup {meta.path}: {exc.strerror or exc}") from exc
            removed.append(meta)
        return removed

    def usage(self) -> tuple[int, int]:
        """(bytes, files) of everything under the backups folder."""
        total = count = 0
        try:
            for _path, kind, size in store_fs.walk(self.root, self.directory, lambda _path, _exc: None):
                if kind == store_fs.FILE:
                    total += size
                    count += 1
        except StoreSymlink:
            pass  # nothing behind a symlink is ours to count; scan and verify report it
        return total, count


# -- helpers -------------------------------------------------------------------------------------


def _order(meta: BackupMeta) -> tuple[float, str]:
    return meta.taken_at, meta.id


def _pick(
    meta: BackupMeta,
    tenants: Sequence[dict[str, Any]],
    settings: Mapping[str, dict[str, Any]],
    config: Mapping[str, dict[str, Any]],
    tenant_id: str,
) -> TenantBackup | None:
    for record in tenants:
        if record["id"] == tenant_id:
            return TenantBackup(meta, record, settings.get(tenant_id), config.get(tenant_id))
    return None


def _in_backup_place(path: Path, directory: Path) -> bool:
    parts = path.relative_to(directory).parts
    name_ok = path.name.endswith(".json") and not path.name.startswith(".")
    return name_ok and (
        (len(parts) == 2 and parts[0] == SNAPSHOTS_DIR) or (len(parts) == 3 and parts[0] == PRE_IMAGES_DIR)
    )


def _stray(path: Path) -> str:
    if path.name.startswith(".") and path.name.endswith(".tmp"):
        return "is a temporary file left by an interrupted write (not a backup; safe to delete)"
    return "is not a backup file (unexpected name or place)"


def _might_be_earlier(path: Path, best: BackupMeta | None, at: float) -> bool:
    """Could this unreadable file be a backup after ``at`` that is earlier than ``best``?"""
    taken = id_time(path.stem)
    if taken is None:
        return True
    if taken + _ONE_MICROSECOND <= at:
        return False
    return best is None or taken - _ONE_MICROSECOND <= best.taken_at


def _might_be_newer(path: Path, best: BackupMeta | None, at: float | None) -> bool:
    """Could this unreadable file be a candidate newer than ``best`` (at or before ``at``)?"""
    taken = id_time(path.stem)
    if taken is None:
        return True
    if at is not None and taken - _ONE_MICROSECOND > at:
        return False
    return best is None or taken + _ONE_MICROSECOND >= best.taken_at


def _corrupt_many(problems: Sequence[tuple[Path, str]]) -> StoreCorrupt:
    if len(problems) == 1:
        return corrupt(*problems[0])
    lines = "\n".join(f"  {path} {problem}" for path, problem in problems)
    return StoreCorrupt(
        f"{len(problems)} backup files are unusable (left in place; `descope-gitops backup verify` lists them):\n"
        + lines
    )
