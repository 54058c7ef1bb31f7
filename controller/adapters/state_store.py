"""The controller's lasting state on disk: inventory, last applied revision and last cycle.

One JSON file, ``state.json``, under the store directory, written atomically and versioned. A file
that cannot be read is moved aside (``state.json.corrupt-<time>``), never deleted, and reported as
StoreCorrupt so a human decides; the daemon's checkpoint journal builds on this file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.adapters.atomic import write_atomic
from controller.errors import StoreCorrupt, StoreWriteFailed

FORMAT_VERSION = 1
STATE_FILE = "state.json"


@dataclass
class CycleRecord:
    """What one cycle did, as ``status`` shows it."""

    cycle_id: str
    revision: str
    started: float
    finished: float
    status: str  # succeeded | partial | failed | blocked | invalid | no-op
    plan_digest: str = ""
    actions: int = 0
    failed: int = 0
    error: str = ""


@dataclass
class ControllerState:
    inventory: set[str] = field(default_factory=set)
    last_applied_revision: str | None = None
    last_applied_count: int | None = None
    last_cycle: CycleRecord | None = None
    # the session settings we last wrote per tenant: reading them live costs one call per tenant,
    # so a routine cycle trusts this record and a refresh re-reads Descope
    applied_settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "inventory": sorted(self.inventory),
            "last_applied_revision": self.last_applied_revision,
            "last_applied_count": self.last_applied_count,
            "last_cycle": asdict(self.last_cycle) if self.last_cycle else None,
            "applied_settings": {k: self.applied_settings[k] for k in sorted(self.applied_settings)},
        }

    @classmethod
    def from_json(cls, data: Any) -> ControllerState:
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(f"unknown format version {version!r} (this build reads {FORMAT_VERSION})")
        inventory = data.get("inventory", [])
        if not isinstance(inventory, list) or not all(isinstance(i, str) for i in inventory):
            raise ValueError("inventory is not a list of tenant ids")
        cycle = data.get("last_cycle")
        applied_settings = data.get("applied_settings", {})
        if not isinstance(applied_settings, dict) or not all(isinstance(v, dict) for v in applied_settings.values()):
            raise ValueError("applied_settings is not a map of tenant id to settings")
        return cls(
            inventory=set(inventory),
            last_applied_revision=data.get("last_applied_revision"),
            last_applied_count=data.get("last_applied_count"),
            last_cycle=CycleRecord(**cycle) if isinstance(cycle, dict) else None,
            applied_settings=applied_settings,
        )


class StateStore:
    """Reads and writes ``state.json`` in one store directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE

    def load(self) -> ControllerState:
        """The saved state, a fresh one if there is none, or StoreCorrupt (file kept aside)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ControllerState()
        except OSError as exc:
            raise StoreCorrupt(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        try:
            return ControllerState.from_json(json.loads(raw))
        except (ValueError, TypeError) as exc:
            kept = self._keep_aside()
            raise StoreCorrupt(
                f"{self.path} is not a usable state file ({exc}); it was moved to {kept} for inspection. "
                "Starting fresh forgets the inventory, so prune will not delete anything until tenants "
                "are applied again"
            ) from exc

    def save(self, state: ControllerState) -> None:
        data = json.dumps(state.to_json(), indent=1, sort_keys=True).encode()
        write_atomic(self.path, data)

    def _keep_aside(self) -> Path:
        stamp = f"{os.getpid()}-{int.from_bytes(os.urandom(3), 'big'):06x}"
        target = self.path.with_name(f"{STATE_FILE}.corrupt-{stamp}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise StoreWriteFailed(f"cannot move corrupt {self.path} aside: {exc.strerror or exc}") from exc
        return target
