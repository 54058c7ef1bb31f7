"""Backup store: nothing the controller touches can be lost, and nothing corrupt is used or pruned."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.adapters import backup_format
from controller.adapters.backup_store import BackupMeta, BackupStore, encode_tenant_id
from controller.errors import BackupNotFound, StoreCorrupt, StoreSymlink, StoreWriteFailed

DAY = 86400.0
T0 = 1_763_785_812.123456  # 2025-11-22T04:30:12.123456Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tenant(tenant_id: str, name: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": tenant_id, "name": name or f"Tenant {tenant_id}", **extra}


def make_store(tmp_path: Path, now: float = T0) -> tuple[BackupStore, Clock]:
    clock = Clock(now)
    return BackupStore(tmp_path / "store" / "backups", clock=clock), clock


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def canonical_sha(content: Any) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# -- round trips -----------------------------------------------------------------------------------


def test_pre_image_round_trip(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    live = tenant(
        "acme-corp",
        "ACME Corp",
        selfProvisioningDomains=["acme.com"],
        customAttributes={"plan": "enterprise", "seats": 50, "ratio": 0.25},
        createdTime=1700000000,
    )
    settings = {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"}
    meta = store.save_pre_image(live, operation="update", settings=settings, revision="abc123", cycle_id="c-1")

    assert meta.kind == "pre-image" and meta.operation == "update"
    assert meta.taken_at == T0  # sub-second precision kept exactly
    assert meta.id.startswith("20251122T043012.123456Z-") and meta.id.endswith("-pre")
    assert meta.tenant_ids == ("acme-corp",)
    assert (meta.revision, meta.cycle_id) == ("abc123", "c-1")
    assert meta.path == store.directory / "pre-images" / "acme-corp" / f"{meta.id}.json"
    assert meta.size == meta.path.stat().st_size
    assert stat.S_IMODE(meta.path.stat().st_mode) == 0o600

    document = json.loads(meta.path.read_bytes())
    assert document["format"] == 2
    assert document["content"] == {"tenants": [live], "settings": {"acme-corp": settings}, "config": {}}
    assert document["sha256"] == meta.sha256 == canonical_sha(document["content"])

    [restored] = store.tenants_in(meta.id)
    assert restored.tenant == live and restored.settings == settings and restored.meta == meta
    assert store.get(meta.id) == meta
    assert store.metas() == [meta]
    assert all_files(store.directory) == [meta.path]  # no temp files left behind


def test_pre_image_without_settings_and_from_read_only_mappings(tmp_path: Path) -> None:
    from types import MappingProxyType

    store, _ = make_store(tmp_path)
    live = MappingProxyType({"id": "t1", "name": "T", "selfProvisioningDomains": ("a.com",)})
    meta = store.save_pre_image(live, operation="delete")
    [restored] = store.tenants_in(meta.id)
    assert restored.tenant == {"id": "t1", "name": "T", "selfProvisioningDomains": ["a.com"]}
    assert restored.settings is None


def test_snapshot_round_trip(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    tenants = [tenant("a", "Ä ü 日本"), tenant("b"), tenant("C_c", parent="a")]
    settings = {"a": {"sessionTokenExpiration": 5}, "gone": {"sessionTokenExpiration": 1}}
    meta = store.save_snapshot(tenants, operation="manual", settings_by_id=settings, revision="r1")

    assert meta.kind == "snapshot" and meta.operation == "manual" and meta.id.endswith("-snap")
    assert meta.tenant_ids == ("a", "b", "C_c") and meta.taken_at == T0 and meta.cycle_id is None
    assert meta.path == store.directory / "snapshots" / f"{meta.id}.json"
    restored = store.tenants_in(meta.id)
    assert [r.tenant for r in restored] == tenants
    assert [r.settings for r in restored] == [{"sessionTokenExpiration": 5}, None, None]
    assert "gone" not in json.loads(meta.path.read_bytes())["content"]["settings"]  # only tenants it holds
    assert "日本".encode() in meta.path.read_bytes()  # utf-8, not \\u escapes


def test_empty_snapshot_is_a_valid_backup(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    meta = store.save_snapshot([])
    assert meta.tenant_ids == () and store.tenants_in(meta.id) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.save_pre_image(tenant("a"), operation="create"), "not 'create'"),
        (lambda s: s.save_snapshot([], operation="update"), "not 'update'"),
        (lambda s: s.save_pre_image({"name": "no id"}, operation="update"), "needs a non-empty string 'id'"),
        (lambda s: s.save_pre_image(tenant(""), operation="update"), "needs a non-empty string 'id'"),
        (lambda s: s.save_snapshot([tenant("a"), tenant("a")]), "cannot hold a tenant twice"),
        (lambda s: s.metas(kind="pre"), "kind must be"),
    ],
)
def test_programming_errors_are_value_errors_and_write_nothing(tmp_path: Path, call: Any, message: str) -> None:
    store, _ = make_store(tmp_path)
    with pytest.raises(ValueError, match=message):
        call(store)
    assert store.usage() == (0, 0)


# -- tenant ids in paths -----------------------------------------------------------------------------

HOSTILE_IDS = [
    "../../etc/passwd",
    "..",
    ".",
    "a/b",
    "a_b",
    "A_B",
    "a_2fb",  # what a naive escaping of "a/b" would produce
    "b",
    "B",
    "a\\b",
    "-rf *",
    "ünïcödé-租户",
    "x" * 1000,
    "x" * 1000 + "y",
    "_sha256-" + "0" * 64,
    "CON",
]


def test_tenant_ids_are_encoded_injectively_and_safely(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    metas = {tid: store.save_pre_image(tenant(tid), operation="update") for tid in HOSTILE_IDS}

    root = (store.directory / "pre-images").resolve()
    folders = [meta.path.parent for meta in metas.values()]
    assert all(f.parent.resolve() == root for f in folders)  # one level under pre-images, never outside
    names = [f.name for f in folders]
    assert len({n.lower() for n in names}) == len(HOSTILE_IDS)  # distinct even on a case-insensitive volume
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_") and len(n) <= 120 for n in names)
    assert not (tmp_path / "etc").exists()
    for tid, meta in metas.items():
        assert store.metas(tenant_id=tid) == [meta]
        [restored] = store.tenants_in(meta.id)
        assert restored.tenant["id"] == tid
        assert store.tenant_at(tid) == restored
    assert store.verify() == []


def test_encoding_examples() -> None:
    assert encode_tenant_id("acme-corp") == "acme-corp"
    assert encode_tenant_id("a_b") == "a_5fb"
    assert encode_tenant_id("a/b") == "a_2fb"
    assert encode_tenant_id("A_B") == "_41_5f_42"
    assert encode_tenant_id("..") == "_2e_2e"
    assert encode_tenant_id("é") == "_c3_a9"
    long = encode_tenant_id("x" * 1000)
    assert long.startswith("_sha256-") and len(long) == 8 + 64


def test_encoding_has_no_collisions_among_many_similar_ids() -> None:
    alphabet = ["a", "A", "_", "/", "2", "f", "5", ".", "-", "é"]
    ids = {a + b + c for a in alphabet for b in alphabet for c in alphabet}
    assert len({encode_tenant_id(i) for i in ids}) == len(ids)


# -- many backups at the same time -----------------------------------------------------------------


def test_same_second_and_same_microsecond_backups_all_survive_in_write_order(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    written = []
    for version, now in enumerate([T0, T0, T0, T0 + 0.0004, T0 + 0.0004]):
        clock.now = now
        written.append(store.save_pre_image(tenant("t", f"v{version}"), operation="update"))
    assert len({m.id for m in written}) == 5 and len({m.path for m in written}) == 5
    assert len(all_files(store.directory)) == 5
    assert store.metas(tenant_id="t") == written  # a frozen clock still keeps write order
    latest = store.tenant_at("t")
    assert latest is not None and latest.tenant["name"] == "v4"


def test_concurrent_backups_of_one_tenant_from_a_frozen_clock(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                store.save_pre_image(tenant("t", f"{n}-{i}"), operation="update")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.metas(tenant_id="t")) == 40


def test_an_existing_file_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = make_store(tmp_path)
    monkeypatch.setattr(backup_format._SEQUENCE, "number", lambda stamp: 0)
    randoms = iter([b"\x00\x00", b"\x00\x00", b"\x00\x01"])
    monkeypatch.setattr(os, "urandom", lambda n: next(randoms))
    first = store.save_pre_image(tenant("t", "first"), operation="update")
    second = store.save_pre_image(tenant("t", "second"), operation="update")  # same name drawn first: redrawn
    assert first.id != second.id
    assert [b.tenant["name"] for m in (first, second) for b in store.tenants_in(m.id)] == ["first", "second"]


# -- listing ---------------------------------------------------------------------------------------


def test_list_orders_by_recorded_time_not_file_times(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    metas = {}
    for name, when in [("late", T0 + 300), ("early", T0 + 100), ("middle", T0 + 200)]:
        clock.now = when
        metas[name] = store.save_pre_image(tenant("t", name), operation="update")
    clock.now = T0 + 150
    metas["snap"] = store.save_snapshot([tenant("t", "snap"), tenant("u")])
    # file times claim the opposite order
    for offset, meta in enumerate(sorted(metas.values(), key=lambda m: m.taken_at)):
        os.utime(meta.path, (T0 + 10_000 - offset * 100, T0 + 10_000 - offset * 100))

    expected = [metas["early"], metas["snap"], metas["middle"], metas["late"]]
    assert store.metas() == expected
    assert store.metas(tenant_id="t") == expected
    assert store.metas(tenant_id="u") == [metas["snap"]]
    assert store.metas(kind="snapshot") == [metas["snap"]]
    assert store.metas(kind="pre-image", tenant_id="t") == [metas["early"], metas["middle"], metas["late"]]
    assert store.metas(tenant_id="nobody") == []


def test_empty_store_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    assert store.metas() == [] and store.verify() == [] and store.usage() == (0, 0)
    assert store.tenant_at("t") is None
    assert store.prune(max_age_days=0, keep_snapshots=0) == []
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("backup_id", ["nope", "../../etc/passwd", "20251122T043012.123456Z-00000000-pre", ""])
def test_unknown_backup_ids_are_not_found(tmp_path: Path, backup_id: str) -> None:
    store, _ = make_store(tmp_path)
    store.save_pre_image(tenant("t"), operation="update")
    with pytest.raises(BackupNotFound):
        store.get(backup_id)
    with pytest.raises(BackupNotFound):
        store.tenants_in(backup_id)


def test_list_reads_metadata_only_and_does_not_verify_content(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    ids = [f"tenant-{i:05d}-" + "x" * 20 for i in range(4000)]  # metadata larger than one read chunk
    meta = store.save_snapshot([tenant(i) for i in ids])
    tamper(meta.path, b"tenant-00001-", b"TENANT-00001-", in_content_only=True)
    assert store.metas() == [meta]  # cheap path: metadata read, checksum not verified
    assert store.get(meta.id) == meta
    with pytest.raises(StoreCorrupt, match="checksum mismatch"):
        store.tenants_in(meta.id)


# -- tenant_at ---------------------------------------------------------------------------------------


def test_tenant_at_picks_the_newest_backup_at_or_before_the_time(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    clock.now = T0 + 100
    pre1 = store.save_pre_image(tenant("t", "v1"), operation="update", settings={"s": 1})
    clock.now = T0 + 200
    snap = store.save_snapshot([tenant("t", "v2"), tenant("only-in-snapshot")], settings_by_id={"t": {"s": 2}})
    clock.now = T0 + 300
    pre3 = store.save_pre_image(tenant("t", "v3"), operation="delete")

    def name_at(at: float | None) -> tuple[str, str] | None:
        found = store.tenant_at("t", at=at)
        return None if found is None else (found.tenant["name"], found.meta.id)

    assert name_at(T0 + 50) is None
    assert name_at(T0 + 100) == ("v1", pre1.id)
    assert name_at(T0 + 150) == ("v1", pre1.id)
    assert name_at(T0 + 200) == ("v2", snap.id)
    assert name_at(T0 + 299.999999) == ("v2", snap.id)
    assert name_at(None) == ("v3", pre3.id)
    from_snapshot = store.tenant_at("t", at=T0 + 250)
    assert from_snapshot is not None and from_snapshot.meta.kind == "snapshot" and from_snapshot.settings == {"s": 2}

    only = store.tenant_at("only-in-snapshot")
    assert only is not None and only.meta == snap and only.settings is None
    assert store.tenant_at("never-backed-up") is None

    chosen = store.tenant_at("t", backup_id=pre1.id)
    assert chosen is not None and chosen.tenant["name"] == "v1" and chosen.settings == {"s": 1}
    with pytest.raises(BackupNotFound, match="does not hold tenant 'only-in-snapshot'"):
        store.tenant_at("only-in-snapshot", backup_id=pre3.id)
    with pytest.raises(BackupNotFound, match="taken after"):
        store.tenant_at("t", backup_id=pre3.id, at=T0 + 200)


# -- corruption ----------------------------------------------------------------------------------------


def tamper(path: Path, old: bytes, new: bytes, *, in_content_only: bool = False) -> None:
    data = path.read_bytes()
    if in_content_only:
        head, sep, content = data.partition(b'"content":')
        assert old in content
        path.write_bytes(head + sep + content.replace(old, new))
    else:
        assert old in data
        path.write_bytes(data.replace(old, new))


def test_edited_content_is_corrupt_named_and_never_falls_back(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    clock.now = T0 + 1
    older = store.save_pre_image(tenant("t", "ACME"), operation="update")
    clock.now = T0 + 2
    newer = store.save_pre_image(tenant("t", "ACME"), operation="update")
    tamper(newer.path, b"ACME", b"EVIL", in_content_only=True)

    with pytest.raises(StoreCorrupt) as info:
        store.tenants_in(newer.id)
    assert str(newer.path) in str(info.value) and "checksum mismatch" in str(info.value)
    with pytest.raises(StoreCorrupt, match="checksum mismatch") as info:
        store.tenant_at("t")  # the newest is corrupt: say so, do not quietly restore an older one
    assert str(newer.path) in str(info.value)
    at_older = store.tenant_at("t", at=T0 + 1.5)
    assert at_older is not None and at_older.meta.id == older.id  # asked for the older time: fine

    problems = store.verify()
    assert [p for p, _ in problems] == [newer.path]
    assert "checksum mismatch" in problems[0][1]
    assert newer.path.exists()  # reported, never removed


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.replace(b'"tenant_ids":["a","b"]', b'"tenant_ids":["a"]'), "tenant_ids do not match"),
        (lambda d: d.replace(b'"kind":"snapshot"', b'"kind":"pre-image"'), "does not match its id"),
        (lambda d: d.replace(b'"taken_at":', b'"taken_at":1'), "does not match its id"),
        (lambda d: d[: len(d) // 2], "not valid JSON"),
        (lambda d: b"", "not valid JSON"),
        (lambda d: b"[1, 2]", "not a JSON object"),
    ],
)
def test_tampered_or_truncated_files_are_corrupt(tmp_path: Path, edit: Any, reason: str) -> None:
    store, _ = make_store(tmp_path)
    meta = store.save_snapshot([tenant("a"), tenant("b")])
    meta.path.write_bytes(edit(meta.path.read_bytes()))
    with pytest.raises(StoreCorrupt, match=reason):
        store.tenants_in(meta.id)
    assert [(p, reason in why) for p, why in store.verify()] == [(meta.path, True)]


def test_a_pre_image_moved_to_another_tenants_folder_is_corrupt(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    meta = store.save_pre_image(tenant("a"), operation="update")
    store.save_pre_image(tenant("b"), operation="update")
    moved = meta.path.parent.parent / "b" / meta.path.name
    os.replace(meta.path, moved)
    with pytest.raises(StoreCorrupt, match="not in the folder of its one tenant"):
        store.metas(tenant_id="b")
    assert [p for p, _ in store.verify()] == [moved]


def write_foreign(path: Path, document: dict[str, Any] | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document if isinstance(document, bytes) else json.dumps(document).encode())


def test_unknown_format_version_is_reported_everywhere_and_never_deleted(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path, now=T0 + 100 * DAY)
    good = store.save_snapshot([tenant("t")])
    newer_id = "20251122T043012.123456Z-00000000-snap"  # at T0: older than everything else
    newer = store.directory / "snapshots" / f"{newer_id}.json"
    write_foreign(newer, {"format": 3, "meta": {"id": newer_id}, "anything": "new"})

    with pytest.raises(StoreCorrupt, match="unknown format version 3") as info:
        store.metas()
    assert str(newer) in str(info.value) and "newer descope-gitops" in str(info.value)
    metas, problems = store.scan()
    assert metas == [good] and [p for p, _ in problems] == [newer]
    with pytest.raises(StoreCorrupt, match="unknown format version 3"):
        store.get(newer_id)
    assert [p for p, _ in store.verify()] == [newer]
    # the unreadable file is older than the good snapshot, so it cannot be the newest holder of "t"
    found = store.tenant_at("t")
    assert found is not None and found.meta == good
    clock.now += 1000 * DAY
    assert store.prune(max_age_days=1, keep_snapshots=0) == []
    assert newer.exists() and good.path.exists()


def test_an_unreadable_file_that_might_be_newer_blocks_tenant_at(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    store.save_snapshot([tenant("t")])
    clock.now = T0 + 10
    broken = store.save_snapshot([tenant("t", "newer")])
    broken.path.write_bytes(b"{garbage")
    with pytest.raises(StoreCorrupt, match="not valid JSON") as info:
        store.tenant_at("t")
    assert str(broken.path) in str(info.value)
    assert store.tenant_at("t", at=T0 + 5) is not None  # before the broken file: it cannot be a candidate


# -- write failures ----------------------------------------------------------------------------------------


def dev_full_temp_files(monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.open

    def open_(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real(name, flags, *args, **kwargs)  # the temp file really exists, and must be cleaned up
        if not (flags & os.O_CREAT and str(name).endswith(".tmp")):
            return fd
        os.close(fd)
        return real("/dev/full", os.O_WRONLY)

    monkeypatch.setattr(os, "open", open_)


def fsync_enospc(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("make_disk_full", [dev_full_temp_files, fsync_enospc])
def test_full_disk_fails_closed_naming_file_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_disk_full: Any
) -> None:
    if make_disk_full is dev_full_temp_files and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    store, clock = make_store(tmp_path)
    earlier = store.save_pre_image(tenant("acme"), operation="update")
    before = all_files(store.directory)
    clock.now += 1
    make_disk_full(monkeypatch)

    with pytest.raises(StoreWriteFailed) as info:
        store.save_pre_image(tenant("acme"), operation="delete")
    assert "No space left on device" in str(info.value)
    assert str(store.directory / "pre-images" / "acme") in str(info.value)
    assert info.value.retryable
    with pytest.raises(StoreWriteFailed, match="No space left on device"):
        store.save_snapshot([tenant("acme")])
    monkeypatch.undo()

    assert all_files(store.directory) == before  # nothing partial, not even a temp file
    assert store.metas() == [earlier] and store.verify() == []


def test_read_only_store_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = make_store(tmp_path)
    earlier = store.save_snapshot([tenant("a")])

    real_open = os.open

    def read_only(path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:  # as a read-only mount answers: nothing new can be made, what exists opens
            try:
                return real_open(path, flags & ~os.O_CREAT & ~os.O_EXCL, *args, **kwargs)
            except FileNotFoundError:
                raise read_only(path) from None
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        try:
            os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise read_only(path) from None
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(StoreWriteFailed, match="Read-only file system") as info:
        store.save_snapshot([tenant("a")])
    assert str(store.directory / "snapshots") in str(info.value)
    with pytest.raises(StoreWriteFailed, match="Read-only file system") as info:
        store.save_pre_image(tenant("new-tenant"), operation="update")  # needs a new folder
    assert "new-tenant" in str(info.value)
    monkeypatch.undo()
    assert all_files(store.directory) == [earlier.path]


def test_store_on_a_file_path_fails_closed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    store = BackupStore(blocker / "backups")
    with pytest.raises(StoreWriteFailed, match="backups") as info:
        store.save_pre_image(tenant("a"), operation="update")
    assert info.value.retryable
    assert blocker.read_text() == "x"


# -- retention ---------------------------------------------------------------------------------------------


def at_day(store: BackupStore, clock: Clock, day: float, call: Any) -> BackupMeta:
    clock.now = T0 + day * DAY
    meta: BackupMeta = call(store)
    return meta


def test_prune_by_age_and_count_keeps_the_newest_backup_of_every_tenant(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    ab = [tenant("a"), tenant("b")]
    s1 = at_day(store, clock, 1, lambda s: s.save_snapshot([*ab, tenant("old-only")]))
    s2 = at_day(store, clock, 2, lambda s: s.save_snapshot(ab))
    p1 = at_day(store, clock, 3, lambda s: s.save_pre_image(tenant("a"), operation="update"))
    p3 = at_day(store, clock, 5, lambda s: s.save_pre_image(tenant("c"), operation="delete"))
    s3 = at_day(store, clock, 50, lambda s: s.save_snapshot(ab))
    s4 = at_day(store, clock, 98, lambda s: s.save_snapshot(ab))
    p2 = at_day(store, clock, 99, lambda s: s.save_pre_image(tenant("a"), operation="update"))
    clock.now = T0 + 100 * DAY
    everything = all_files(store.directory)

    planned = store.prune(max_age_days=30, keep_snapshots=2, dry_run=True)
    assert [m.id for m in planned] == [s2.id, p1.id, s3.id]
    assert all_files(store.directory) == everything  # a dry run removes nothing

    removed = store.prune(max_age_days=30, keep_snapshots=2)
    assert removed == planned
    kept = {s1.path, p3.path, s4.path, p2.path}  # old-only's and c's only backups, b's and a's newest
    assert set(all_files(store.directory)) == kept
    for tenant_id in ("a", "b", "c", "old-only"):
        assert store.tenant_at(tenant_id) is not None
    assert store.prune(max_age_days=30, keep_snapshots=2) == []  # nothing more to do


def test_prune_by_count_only(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    snaps = [at_day(store, clock, d, lambda s: s.save_snapshot([tenant("a")])) for d in (1, 2, 3, 4)]
    removed = store.prune(max_age_days=365, keep_snapshots=2)
    assert removed == snaps[:2]
    assert store.metas() == snaps[2:]
    assert store.prune(max_age_days=365, keep_snapshots=0) == [snaps[2]]  # the newest of "a" stays
    assert store.metas() == [snaps[3]]


def test_prune_never_removes_corrupt_files_and_protects_the_newest_valid_copy(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    oldest = at_day(store, clock, 1, lambda s: s.save_pre_image(tenant("t", "good"), operation="update"))
    older_bad = at_day(store, clock, 2, lambda s: s.save_pre_image(tenant("t", "good"), operation="update"))
    valid = at_day(store, clock, 3, lambda s: s.save_pre_image(tenant("t", "good"), operation="update"))
    newest = at_day(store, clock, 4, lambda s: s.save_pre_image(tenant("t", "good"), operation="update"))
    for meta in (older_bad, newest):
        tamper(meta.path, b"good", b"evil", in_content_only=True)
    clock.now = T0 + 100 * DAY

    removed = store.prune(max_age_days=30, keep_snapshots=0)
    assert removed == [oldest]  # the corrupt ones are kept for a human; the newest valid copy too
    assert {p for p, _ in store.verify()} == {older_bad.path, newest.path}
    assert valid.path.exists()
    found = store.tenant_at("t", at=valid.taken_at)
    assert found is not None and found.tenant["name"] == "good"


def test_prune_rejects_negative_limits(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    with pytest.raises(ValueError):
        store.prune(max_age_days=-1, keep_snapshots=1)
    with pytest.raises(ValueError):
        store.prune(max_age_days=1, keep_snapshots=-1)


# -- usage and stray files ---------------------------------------------------------------------------------


def test_usage_counts_every_file_and_verify_reports_stray_ones(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    metas = [
        store.save_pre_image(tenant("a"), operation="update"),
        store.save_snapshot([tenant("a"), tenant("b")]),
    ]
    leftover = store.directory / "snapshots" / ".x.json.abc.tmp"
    leftover.write_bytes(b"half a backup")
    assert store.usage() == (sum(m.size for m in metas) + len(b"half a backup"), 3)
    assert store.metas() == metas  # temp files are not backups
    [(path, problem)] = store.verify()
    assert path == leftover and "interrupted write" in problem


# -- symlinks: nothing outside the store is written, read, counted or deleted ----------------------------------


def files_and_times(root: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in all_files(root)}


def old_backups_elsewhere(tmp_path: Path) -> BackupStore:
    """A real backups folder outside the store, with old backups a prune would remove if it got there."""
    elsewhere, clock = make_store(tmp_path / "elsewhere")
    at_day(elsewhere, clock, 1, lambda s: s.save_snapshot([tenant("a")]))
    at_day(elsewhere, clock, 2, lambda s: s.save_snapshot([tenant("a")]))
    at_day(elsewhere, clock, 3, lambda s: s.save_pre_image(tenant("a"), operation="update"))
    at_day(elsewhere, clock, 4, lambda s: s.save_pre_image(tenant("a"), operation="update"))
    return elsewhere


def test_a_symlinked_backups_folder_is_never_written_read_pruned_or_counted(tmp_path: Path) -> None:
    elsewhere = old_backups_elsewhere(tmp_path)
    before = files_and_times(elsewhere.directory)
    store, clock = make_store(tmp_path)
    store.directory.parent.mkdir(parents=True)
    store.directory.symlink_to(elsewhere.directory)
    clock.now = T0 + 100 * DAY
    refused = f"^{store.directory} is a symlink \\(to {elsewhere.directory}\\)"

    with pytest.raises(StoreSymlink, match=refused):
        store.save_snapshot([tenant("a")])
    with pytest.raises(StoreSymlink, match=refused):
        store.save_pre_image(tenant("a"), operation="update")
    with pytest.raises(StoreSymlink, match=refused):
        store.prune(max_age_days=1, keep_snapshots=1)
    with pytest.raises(StoreCorrupt, match=f"{store.directory} is a symlink"):
        store.tenant_at("a")
    [(path, problem)] = store.verify()
    assert path == store.directory and problem.startswith(f"is a symlink (to {elsewhere.directory})")
    assert store.usage() == (0, 0)
    assert files_and_times(elsewhere.directory) == before


def test_a_symlinked_tenant_folder_is_refused_and_the_other_tenants_go_on(tmp_path: Path) -> None:
    elsewhere = old_backups_elsewhere(tmp_path)
    before = files_and_times(elsewhere.directory)
    store, clock = make_store(tmp_path)
    at_day(store, clock, 50, lambda s: s.save_snapshot([tenant("a"), tenant("b")]))  # makes old "a" prunable
    link = store.directory / "pre-images" / "a"
    link.parent.mkdir()
    link.symlink_to(elsewhere.directory / "pre-images" / "a")
    clock.now = T0 + 100 * DAY

    with pytest.raises(StoreSymlink, match=f"^{link} is a symlink"):
        store.save_pre_image(tenant("a"), operation="update")  # the write it protects is not made
    assert store.save_pre_image(tenant("b"), operation="update").path.parent == store.directory / "pre-images" / "b"
    with pytest.raises(StoreSymlink, match=f"^{link} is a symlink"):
        store.prune(max_age_days=30, keep_snapshots=1)
    metas, problems = store.scan(tenant_id="a")
    assert [m.kind for m in metas] == ["snapshot"] and [p for p, _ in problems] == [link]
    assert [p for p, _ in store.verify()] == [link]
    assert files_and_times(elsewhere.directory) == before


def test_a_symlinked_backup_file_is_not_read_and_not_counted(tmp_path: Path) -> None:
    elsewhere = old_backups_elsewhere(tmp_path)
    real = elsewhere.metas(kind="snapshot")[-1]
    store, _ = make_store(tmp_path)
    mine = store.save_snapshot([tenant("b")])
    link = store.directory / "snapshots" / real.path.name
    link.symlink_to(real.path)

    with pytest.raises(StoreCorrupt, match=f"{link} is a symlink \\(to {real.path}\\)"):
        store.tenants_in(real.id)
    metas, problems = store.scan()
    assert metas == [mine] and [p for p, _ in problems] == [link]
    assert [p for p, _ in store.verify()] == [link]
    assert store.usage() == (mine.size, 1)


def test_stamp_matches_utc_time() -> None:
    expected = datetime.fromtimestamp(T0, tz=UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    assert expected == "20251122T043012.123456Z"
