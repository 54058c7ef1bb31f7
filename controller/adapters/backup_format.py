"""The backup file format, pure (no filesystem), so the store is only I/O: ids, folder names, head, sha256.

File format 2: one JSON object per backup, written with ``write_atomic`` (temp file, fsync, rename,
directory fsync), mode 0600, never over an existing file::

    {"format":2,
     "meta":{"id":..,"kind":..,"operation":..,"taken_at":..,"tenant_ids":[..],"revision":..,"cycle_id":..},
     "sha256":"<hex>",
     "content":{"tenants":[<tenant as GET /v1/mgmt/tenant/all returned it>, ..],
                "settings":{"<tenant id>":{<session settings>}, ..},
                "config":{"<tenant id>":{"roles":[..],"sso":[..],"passwordPolicy":{..}}, ..}}}

``config`` (new in format 2) holds a tenant's sub-resources as Descope's loads returned them (roles from
``role/search``, SSO configurations from ``sso/settings/all``, password settings), each kind only when it was
read: a kind left out was not backed up, and a restore leaves it alone. Descope never returns an OIDC
``clientSecret``; a key named like a secret is refused here all the same (ValueError on write, Unusable on read), so
no backup can hold one. Format 1 files (no ``config``) are still read, as backups with no sub-resources.

``sha256`` is over the canonical JSON of ``content`` (sort_keys, separators ``(",", ":")``,
ensure_ascii False, UTF-8). Every read of content (``tenants_in``, ``tenant_at``, ``verify`` and
prune's safety checks) re-computes it and cross-checks the metadata against the content and the
path (id = file name, kind = folder, tenant = tenant folder, time = id stamp), so an edited or
misplaced file is StoreCorrupt naming the file, never used. A file of another format version
(say, from a newer build) is reported the same way and never deleted; format 1 is read as it is.
``size`` and ``path`` of BackupMeta come from the filesystem, not the file.

Backup ids are ``<YYYYMMDDTHHMMSS.ffffffZ of taken_at>-<4 hex sequence><4 hex random>-<pre|snap>``,
e.g. ``20261122T043012.123456Z-0000a1b2-pre``: filename-safe, and sorting them sorts by time. The
sequence counts backups taken in the same microsecond in this process (so even a frozen clock keeps
write order) and the random part separates processes; a name that exists is never reused.

Tenant ids are encoded for the folder name injectively and safely for any id and any filesystem,
including case-insensitive ones: ``a-z``, ``0-9`` and ``-`` are kept, every other UTF-8 byte
(``_`` itself, upper case, ``/``, ``.``, unicode) becomes ``_xx`` in lower-case hex; an encoding
longer than 120 characters becomes ``_sha256-<hex of the id>`` (it cannot clash with the first
form, where ``_`` is always followed by two hex digits). The full id is in the metadata.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
PRE_IMAGE = "pre-image"
SNAPSHOT = "snapshot"
OPERATIONS: dict[str, tuple[str, ...]] = {
    PRE_IMAGE: ("update", "delete", "restore"),
    SNAPSHOT: ("scheduled", "manual", "pre-restore"),
}
PRE_IMAGES_DIR = "pre-images"
SNAPSHOTS_DIR = "snapshots"
MAX_ENCODED_LENGTH = 120

ID_TAGS = {PRE_IMAGE: "pre", SNAPSHOT: "snap"}
_KINDS_BY_TAG = {tag: kind for kind, tag in ID_TAGS.items()}
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
ID_RE = re.compile(r"(\d{8}T\d{6}\.\d{6}Z)-([0-9a-f]{8})-(pre|snap)")
ID_PREFIX_RE = re.compile(r"[0-9TZ.a-f\-nrsp]{1,40}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_SHA_FIELD_RE = re.compile(r',"sha256":"([0-9a-f]{64})"')
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-")
_HEAD = b'{"format":%d,"meta":' % FORMAT_VERSION
_HEADS = tuple(b'{"format":%d,"meta":' % version for version in READABLE_VERSIONS)
_SECRET_NAME = re.compile(r"secret", re.IGNORECASE)
_HEAD_CHUNK = 64 * 1024
_UTF8 = "utf-8"
_SURROGATES = "surrogatepass"  # what json.loads(bytes) uses, so any str Python's json can produce survives


@dataclass(frozen=True)
class BackupMeta:
    id: str  # e.g. "20261122T043012.123456Z-0000a1b2-pre"; sorts by time
    kind: str  # "pre-image" | "snapshot"
    operation: str  # pre-image: "update" | "delete" | "restore"; snapshot: "scheduled" | "manual" | "pre-restore"
    taken_at: float  # epoch seconds from the injected clock
    tenant_ids: tuple[str, ...]  # the tenants it holds (one for a pre-image)
    revision: str | None
    cycle_id: str | None
    sha256: str  # of the canonical content
    size: int  # bytes on disk
    path: Path


@dataclass(frozen=True)
class TenantBackup:
    meta: BackupMeta
    tenant: dict[str, Any]  # the tenant exactly as Descope returned it
    settings: dict[str, Any] | None  # its session settings if known
    config: dict[str, Any] | None = None  # its roles/sso/passwordPolicy as read (the kinds backed up), if any


def encode_tenant_id(tenant_id: str) -> str:
    """The folder name of a tenant's pre-images: injective, traversal-free, case-insensitive-safe."""
    raw = tenant_id.encode(_UTF8, _SURROGATES)
    encoded = "".join(chr(byte) if byte in _KEEP else f"_{byte:02x}" for byte in raw)
    if not encoded:
        return "_"  # the empty id; no other id encodes to a lone "_"
    if len(encoded) > MAX_ENCODED_LENGTH:
        return "_sha256-" + hashlib.sha256(raw).hexdigest()
    return encoded


class Unusable(Exception):
    """Why one file is not a usable backup (the store turns it into StoreCorrupt or a line of verify())."""


class _IdSequence:
    """Counts backups stamped with the same microsecond in this process, so ids keep write order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp = ""
        self._count = 0

    def number(self, stamp: str) -> int:
        with self._lock:
            self._count = self._count + 1 if stamp == self._stamp else 0
            self._stamp = stamp
            return min(self._count, 0xFFFF)


_SEQUENCE = _IdSequence()


def check_operation(kind: str, operation: str) -> None:
    """ValueError unless ``operation`` is one a backup of ``kind`` may record."""
    if operation not in OPERATIONS[kind]:
        raise ValueError(f"a {kind} operation is one of {', '.join(OPERATIONS[kind])}, not {operation!r}")


def tenant_id_of(record: Mapping[str, Any]) -> str:
    """The id of a tenant to back up; ValueError when it has no non-empty string id."""
    tenant_id = record.get("id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError(f"a tenant to back up needs a non-empty string 'id', got {tenant_id!r}")
    return tenant_id


def _plain(value: Any) -> Any:
    """Mappings and sequences (a MappingProxy, a tuple) as the dicts and lists JSON reads back."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plain_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as the plain dict JSON reads back (nested mappings and sequences too)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, not {type(value).__name__}")
    return {k: _plain(v) for k, v in value.items()}


def _canonical(content: Any) -> bytes:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode(_UTF8, _SURROGATES)


def secret_names(value: Any, path: str = "") -> list[str]:
    """The paths of keys named like a secret (``clientSecret``, ...) anywhere in ``value``."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _SECRET_NAME.search(str(key)):
                found.append(where)
            found.extend(secret_names(item, where))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(secret_names(item, f"{path}[{index}]"))
    return found


def encode_content(
    tenants: list[dict[str, Any]], settings: dict[str, dict[str, Any]], config: dict[str, dict[str, Any]] | None = None
) -> tuple[bytes, str]:
    """The canonical JSON of a backup's content, and its sha256 as the file records it.

    ValueError if ``config`` has a key named like a secret: Descope never returns one, and no backup may hold one.
    """
    config = config or {}
    leaked = secret_names(config)
    if leaked:
        raise ValueError(f"refusing to back up keys named like a secret: {', '.join(leaked[:5])}")
    body = _canonical({"tenants": tenants, "settings": settings, "config": config})
    return body, hashlib.sha256(body).hexdigest()


def encode_backup(
    backup_id: str,
    kind: str,
    operation: str,
    taken_at: float,
    tenant_ids: tuple[str, ...],
    revision: str | None,
    cycle_id: str | None,
    digest: str,
    body: bytes,
) -> bytes:
    """The bytes of a backup file: the metadata at the head (what listing reads), the sha256, the content."""
    meta = {
        "id": backup_id,
        "kind": kind,
        "operation": operation,
        "taken_at": taken_at,
        "tenant_ids": list(tenant_ids),
        "revision": revision,
        "cycle_id": cycle_id,
    }
    head = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode(_UTF8, _SURROGATES)
    return b"".join([_HEAD, head, b',"sha256":"', digest.encode(), b'","content":', body, b"}\n"])


def id_stamp(taken_at: float) -> str:
    """The stamp an id starts with: ``taken_at`` in UTC to the microsecond, filename-safe, sorting by time."""
    return datetime.fromtimestamp(taken_at, tz=UTC).strftime(_STAMP_FORMAT)


def new_backup_id(stamp: str, kind: str) -> str:
    """A fresh id for a backup of ``kind`` stamped ``stamp``; the caller makes sure no file has it yet."""
    return f"{stamp}-{_SEQUENCE.number(stamp):04x}{os.urandom(2).hex()}-{ID_TAGS[kind]}"


def id_time(backup_id: str) -> float | None:
    """The time the stamp of ``backup_id`` records, or None when it is not a backup id."""
    match = ID_RE.fullmatch(backup_id)
    if match is None:
        return None
    return datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=UTC).timestamp()


def read_head(handle: BinaryIO) -> tuple[Any, str] | None:
    """(meta, sha256) from the head of a file laid out as we write it, read from its start; else None."""
    chunk = handle.read(_HEAD_CHUNK)
    head = next((h for h in _HEADS if chunk.startswith(h)), None)
    return _parse_head(handle, chunk[len(head) :]) if head is not None else None


def _parse_head(handle: Any, start: bytes) -> tuple[Any, str] | None:
    """(meta, sha256) from a file laid out as we write it, reading no more than the head; else None."""
    decoder = codecs.getincrementaldecoder(_UTF8)(_SURROGATES)
    json_decoder = json.JSONDecoder()
    try:
        text = decoder.decode(start)
        at_end = False
        while True:
            try:
                meta, end = json_decoder.raw_decode(text)
            except json.JSONDecodeError:
                end = -1
            if end >= 0 and (len(text) - end >= 80 or at_end):
                match = _SHA_FIELD_RE.match(text, end)
                return (meta, match.group(1)) if match else None
            if at_end:
                return None
            more = handle.read(max(_HEAD_CHUNK, len(text)))
            at_end = not more
            text += decoder.decode(more, final=at_end)
    except (UnicodeDecodeError, RecursionError):
        return None


def parse_document(raw: bytes) -> dict[str, Any]:
    """A whole backup file as a JSON object of this format version; else Unusable."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Unusable(f"is not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise Unusable("is not a JSON object")
    version = document.get("format")
    if type(version) is not int or version not in READABLE_VERSIONS:
        newer = " (written by a newer descope-gitops?)" if type(version) is int and version > FORMAT_VERSION else ""
        raise Unusable(f"has unknown format version {version!r}{newer}; this build reads {FORMAT_VERSION}")
    return document


def meta_from(raw: Any, sha256: Any, path: Path, size: int) -> BackupMeta:
    """BackupMeta from a file's metadata, cross-checked against where the file is and what it is called."""
    if not isinstance(raw, dict):
        raise Unusable("has no metadata object")
    backup_id, kind, operation = raw.get("id"), raw.get("kind"), raw.get("operation")
    taken_at, tenant_ids = raw.get("taken_at"), raw.get("tenant_ids")
    revision, cycle_id = raw.get("revision"), raw.get("cycle_id")
    if not isinstance(backup_id, str) or path.name != f"{backup_id}.json":
        raise Unusable(f"records id {backup_id!r}, which does not match its file name")
    match = ID_RE.fullmatch(backup_id)
    if match is None:
        raise Unusable(f"records id {backup_id!r}, which does not match its file name")
    if kind not in ID_TAGS or _KINDS_BY_TAG[match.group(3)] != kind:
        raise Unusable(f"records kind {kind!r}, which does not match its id")
    if not isinstance(operation, str):
        raise Unusable("records no operation")
    if isinstance(taken_at, bool) or not isinstance(taken_at, int | float) or not math.isfinite(taken_at):
        raise Unusable(f"records taken_at {taken_at!r}, which is not a time")
    if id_stamp(taken_at) != match.group(1):
        raise Unusable(f"records taken_at {taken_at!r}, which does not match its id")
    if not isinstance(tenant_ids, list) or not all(isinstance(t, str) for t in tenant_ids):
        raise Unusable("records no list of tenant ids")
    if len(set(tenant_ids)) != len(tenant_ids):
        raise Unusable("records a tenant twice")
    if not all(v is None or isinstance(v, str) for v in (revision, cycle_id)):
        raise Unusable("records a revision or cycle id that is not a string")
    if not isinstance(sha256, str) or not _HEX64_RE.fullmatch(sha256):
        raise Unusable("records no sha256")
    if kind == SNAPSHOT and path.parent.name != SNAPSHOTS_DIR:
        raise Unusable(f"is a snapshot outside the {SNAPSHOTS_DIR} folder")
    if kind == PRE_IMAGE and (
        len(tenant_ids) != 1
        or path.parent.parent.name != PRE_IMAGES_DIR
        or path.parent.name != encode_tenant_id(tenant_ids[0])
    ):
        raise Unusable("is a pre-image that is not in the folder of its one tenant")
    return BackupMeta(
        backup_id, kind, operation, float(taken_at), tuple(tenant_ids), revision, cycle_id, sha256, size, path
    )


Content = tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]


def content_of(document: Mapping[str, Any], meta: BackupMeta) -> Content:
    """(tenants, settings, config) of a parsed backup file, checked against its sha256 and metadata; else Unusable."""
    content = document.get("content")
    if not isinstance(content, dict):
        raise Unusable("has no content object")
    actual = hashlib.sha256(_canonical(content)).hexdigest()
    if actual != meta.sha256:
        raise Unusable(
            f"checksum mismatch: the content hashes to {actual[:16]}…, the file records {meta.sha256[:16]}…; "
            "it was changed after it was written"
        )
    tenants = content.get("tenants")
    settings = content.get("settings")
    if not isinstance(tenants, list) or not all(isinstance(t, dict) and isinstance(t.get("id"), str) for t in tenants):
        raise Unusable("content.tenants is not a list of tenants with ids")
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise Unusable("content.settings is not a map of tenant id to settings")
    held = tuple(t["id"] for t in tenants)
    if held != meta.tenant_ids:
        raise Unusable("the metadata's tenant_ids do not match the tenants in the content")
    if not set(settings) <= set(held):
        raise Unusable("content.settings has settings for tenants the backup does not hold")
    config = content.get("config", {}) if document.get("format") != 1 else {}  # format 1 had no sub-resources
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise Unusable("content.config is not a map of tenant id to roles, SSO and password policy")
    if not set(config) <= set(held):
        raise Unusable("content.config has sub-resources of tenants the backup does not hold")
    if secret_names(config):
        raise Unusable("content.config holds a key named like a secret; backups never hold secrets")
    return tenants, settings, config
