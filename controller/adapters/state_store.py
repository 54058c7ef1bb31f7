"""The controller's lasting state on disk: inventory, revisions, failures, history.

One JSON file, ``state.json``, under the store directory, written atomically and versioned
(``FORMAT_VERSION``; older versions are migrated on read). A file that cannot be read is moved
aside (``state.json.corrupt-<pid>-<rand>``), never deleted, and reported as StoreCorrupt so a
human decides. The journal of the cycle in flight lives beside it (``journal.py``), and so does
the suspend flag (``suspend.json``), which one-shot commands write and the daemon only reads, so
the two never overwrite each other's state. A symlink in place of either file is refused
(StoreSymlink), never read or written through (``store_fs``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from itertools import repeat
from pathlib import Path
from typing import Any

from controller.adapters.atomic import write_atomic
from controller.adapters.store_fs import read_bytes, rename, resolve_root
from controller.core.flapping import Hold, Revert
from controller.errors import StoreCorrupt, StoreWriteFailed

FORMAT_VERSION = 2
STATE_FILE = "state.json"
SUSPEND_FILE = "suspend.json"
HISTORY_LENGTH = 20


@dataclass
class CycleRecord:
    """What one cycle did, as ``status`` shows it."""

    cycle_id: str
    revision: str
    started: float
    finished: float
    status: str  # succeeded | partial | failed | blocked | invalid | unavailable | planned | suspended
    plan_digest: str = ""
    actions: int = 0
    failed: int = 0
    error: str = ""
    drifted: int = 0
    managed: int = 0
    unmanaged: int = 0
    drift_fields: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    changed: int = 0  # tenants whose managed fields tenants.yaml changed (not drift)
    measured: bool = True  # False: Descope (or the source) could not be read, so drift is unknown

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CycleRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TenantFailure:
    """A tenant whose writes keep failing: it is retried with backoff, not on every tick."""

    count: int
    next_attempt: float
    error: str


@dataclass
class ControllerState:
    inventory: set[str] = field(default_factory=set)
    last_applied_revision: str | None = None
    last_applied_count: int | None = None
    last_applied_at: float | None = None
    last_attempted_revision: str | None = None
    last_attempted_error: str = ""
    last_success_at: float | None = None
    last_cycle: CycleRecord | None = None
    history: list[CycleRecord] = field(default_factory=list)
    tenant_failures: dict[str, TenantFailure] = field(default_factory=dict)
    # the session settings we last wrote per tenant: reading them live costs one call per tenant,
    # so a routine cycle trusts this record and a refresh re-reads Descope
    applied_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # flapping (core/flapping.py): the drift corrections made within the window, and the tenants
    # whose drift is no longer corrected because another writer keeps reverting it. Added in
    # version 2 with empty defaults: an older file reads as "none", so no migration is needed
    corrections: dict[str, tuple[Revert, ...]] = field(default_factory=dict)
    flapping: dict[str, Hold] = field(default_factory=dict)
    resumes: int = 0
    # tenant id -> the latest thing a cycle did or found about it (engine/tenant_events.py): what
    # ``status`` names; bounded to the most recent RECENT_TENANTS tenants
    recent_tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    # issue 16, added with empty defaults (an older file reads as "none"): the roles, SSO configurations and
    # password policies this controller created or adopted, as (kind, tenant id, key); and per tenant and ssoId
    # the keyed hash (engine/config_secrets.py) of the OIDC clientSecret last written, never the secret
    config_inventory: set[tuple[str, str, str]] = field(default_factory=set)
    secret_fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)

    def record_cycle(self, record: CycleRecord) -> None:
        self.last_cycle = record
        self.history = [*self.history, record][-HISTORY_LENGTH:]

    def to_json(self, *, inventory: bool = True) -> dict[str, Any]:
        """The file's content; ``inventory=False`` leaves out the one key whose size grows with the tenants."""
        return {
            "version": FORMAT_VERSION,
            **({"inventory": sorted(self.inventory)} if inventory else {}),
            "last_applied_revision": self.last_applied_revision,
            "last_applied_count": self.last_applied_count,
            "last_applied_at": self.last_applied_at,
            "last_attempted_revision": self.last_attempted_revision,
            "last_attempted_error": self.last_attempted_error,
            "last_success_at": self.last_success_at,
            "last_cycle": asdict(self.last_cycle) if self.last_cycle else None,
            "history": [asdict(h) for h in self.history],
            "tenant_failures": {k: asdict(v) for k, v in sorted(self.tenant_failures.items())},
            "applied_settings": {k: self.applied_settings[k] for k in sorted(self.applied_settings)},
            "corrections": {k: [asdict(r) for r in v] for k, v in sorted(self.corrections.items())},
            "flapping": {k: asdict(v) for k, v in sorted(self.flapping.items())},
            "resumes": self.resumes,
            "recent_tenants": self.recent_tenants,
            "config_inventory": [list(k) for k in sorted(self.config_inventory)],
            "secret_fingerprints": {k: dict(sorted(v.items())) for k, v in sorted(self.secret_fingerprints.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> ControllerState:
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        data = migrate(data)
        inventory = data.get("inventory", [])
        if not isinstance(inventory, list) or not all(map(isinstance, inventory, repeat(str))):
            raise ValueError("inventory is not a list of tenant ids")
        applied_settings = data.get("applied_settings", {})
        if not isinstance(applied_settings, dict) or not all(isinstance(v, dict) for v in applied_settings.values()):
            raise ValueError("applied_settings is not a map of tenant id to settings")
        cycle = data.get("last_cycle")
        return cls(
            inventory=set(inventory),
            last_applied_revision=data.get("last_applied_revision"),
            last_applied_count=data.get("last_applied_count"),
            last_applied_at=data.get("last_applied_at"),
            last_attempted_revision=data.get("last_attempted_revision"),
            last_attempted_error=str(data.get("last_attempted_error") or ""),
            last_success_at=data.get("last_success_at"),
            last_cycle=CycleRecord.from_json(cycle) if isinstance(cycle, dict) else None,
            history=[CycleRecord.from_json(h) for h in data.get("history", []) if isinstance(h, dict)],
            tenant_failures={k: TenantFailure(**v) for k, v in dict(data.get("tenant_failures", {})).items()},
            applied_settings=applied_settings,
            corrections={k: tuple(Revert(**r) for r in v) for k, v in dict(data.get("corrections", {})).items()},
            flapping={k: Hold(**v) for k, v in dict(data.get("flapping", {})).items()},
            resumes=int(data.get("resumes", 0)),
            recent_tenants=_recent_tenants(data.get("recent_tenants", {})),
            config_inventory=_config_inventory(data.get("config_inventory", [])),
            secret_fingerprints=_fingerprints(data.get("secret_fingerprints", {})),
        )


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older state file to FORMAT_VERSION; ValueError for a version we do not know."""
    version = data.get("version")
    if version == 1:
        # v1 (one-shot sync only) had no history, failures or timestamps: they start empty
        data = {**data, "version": 2, "history": [data["last_cycle"]] if data.get("last_cycle") else []}
        version = 2
    if version != FORMAT_VERSION:
        raise ValueError(f"unknown format version {version!r} (this build reads 1 to {FORMAT_VERSION})")
    return data


@dataclass(frozen=True)
class SuspendFlag:
    suspended: bool
    reason: str = ""
    since: float | None = None
    by: str = ""


class StateStore:
    """Reads and writes ``state.json`` (and reads/writes the suspend flag) in one store directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = resolve_root(directory)
        self.path = self.directory / STATE_FILE
        self.suspend_path = self.directory / SUSPEND_FILE
        # the inventory last saved, and its JSON: an idle daemon cycle saves the same 100k ids every time
        self._inventory: tuple[frozenset[str], str] = (frozenset(), "[]")

    def load(self, *, keep_aside: bool = True) -> ControllerState:
        """The saved state, a fresh one if there is none, or StoreCorrupt.

        ``keep_aside`` (the writer's view) moves a corrupt file aside so the next cycle starts
        fresh; readers such as ``status`` leave it where it is.
        """
        data = self._read_json(self.path, keep_aside=keep_aside)
        if data is None:
            return ControllerState()
        try:
            return ControllerState.from_json(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise self._corrupt(self.path, exc, keep_aside=keep_aside) from exc

    def save(self, state: ControllerState) -> None:
        if self._inventory[0] != state.inventory:
            self._inventory = (frozenset(state.inventory), json.dumps(sorted(state.inventory)))
        content = _dumps(state.to_json(inventory=False), inventory=self._inventory[1])
        write_atomic(self.path, content, root=self.directory)

    def suspend_flag(self) -> SuspendFlag:
        # never moved aside: while it is unreadable the daemon stays suspended (the safe reading)
        data = self._read_json(self.suspend_path, keep_aside=False)
        if data is None:
            return SuspendFlag(False)
        try:
            return SuspendFlag(
                bool(data["suspended"]), str(data.get("reason", "")), data.get("since"), str(data.get("by", ""))
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._corrupt(self.suspend_path, exc, keep_aside=False) from exc

    def set_suspend(self, flag: SuspendFlag) -> None:
        write_atomic(self.suspend_path, json.dumps(asdict(flag), indent=1).encode(), root=self.directory)

    def _read_json(self, path: Path, *, keep_aside: bool) -> Any:
        try:
            raw = read_bytes(self.directory, path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreCorrupt(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise self._corrupt(path, exc, keep_aside=keep_aside) from exc

    def _corrupt(self, path: Path, exc: Exception, *, keep_aside: bool) -> StoreCorrupt:
        if path == self.suspend_path:
            return StoreCorrupt(
                f"{path} is not a usable suspend flag ({exc}); the controller stays suspended until "
                "`descope-gitops suspend` or `resume` writes a valid one"
            )
        if not keep_aside:
            return StoreCorrupt(f"{path} is not a usable state file ({exc}); the daemon will keep it aside")
        kept = self._keep_aside(path)
        return StoreCorrupt(
            f"{path} is not a usable state file ({exc}); it was moved to {kept} for inspection. "
            "Starting fresh forgets the inventory, so prune will not delete anything until tenants "
            "are applied again"
        )

    def _keep_aside(self, path: Path) -> Path:
        stamp = f"{os.getpid()}-{int.from_bytes(os.urandom(3), 'big'):06x}"
        try:
            return rename(self.directory, path, f"{path.name}.corrupt-{stamp}")
        except OSError as exc:
            raise StoreWriteFailed(f"cannot move corrupt {path} aside: {exc.strerror or exc}") from exc


def _dumps(data: Mapping[str, Any], **encoded: str) -> bytes:
    """JSON with one top-level key a line, each value by the C encoder (or given already ``encoded``).

    ``json.dumps(indent=...)`` runs the pure-Python encoder: rewriting a 100k-tenant inventory that
    way cost a daemon's idle cycle about 0.1 s; this layout is as easy to read and diff by key.
    """
    values = {key: json.dumps(value, sort_keys=True) for key, value in data.items()} | encoded
    lines = (f" {json.dumps(key)}: {value}" for key, value in sorted(values.items()))
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def _recent_tenants(value: Any) -> dict[str, dict[str, Any]]:
    """Added after version 2 with an empty default: an older file reads as "nothing recent"."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("recent_tenants is not a map of tenant id to event")
    return {str(k): v for k, v in value.items()}


def _config_inventory(value: Any) -> set[tuple[str, str, str]]:
    """Added after version 2 with an empty default: an older file reads as "no sub-resources managed"."""
    if not isinstance(value, list) or not all(
        isinstance(k, list) and len(k) == 3 and all(isinstance(p, str) for p in k) for k in value
    ):
        raise ValueError("config_inventory is not a list of [kind, tenant id, key]")
    return {(k[0], k[1], k[2]) for k in value}


def _fingerprints(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not all(
        isinstance(v, dict) and all(isinstance(f, str) for f in v.values()) for v in value.values()
    ):
        raise ValueError("secret_fingerprints is not a map of tenant id to ssoId to fingerprint")
    return {str(k): {str(s): f for s, f in v.items()} for k, v in value.items()}
