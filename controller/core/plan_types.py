"""The plan's vocabulary: actions with their exact request bodies, field changes and why, conflicts, the plan.

Plain frozen data, shared by the planner (``core.plan``), the prune rules (``core.prune``), the engine
that executes a plan and the renderers that show it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from controller.core.model import JSONValue


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Cause(StrEnum):
    """Why a field or a tenant is written (``core.cause``)."""

    CHANGE = "change"  # tenants.yaml changed it (or the previous revision is unknown)
    DRIFT = "drift"  # tenants.yaml did not change it: someone edited Descope
    ADOPT = "adopt"  # a live tenant the controller did not manage yet, now in tenants.yaml


@dataclass(frozen=True)
class FieldChange:
    """One managed field that differs; ``field`` is dotted inside maps (``customAttributes.plan``)."""

    field: str
    before: JSONValue
    after: JSONValue
    cause: Cause = Cause.CHANGE

    @property
    def top_field(self) -> str:
        return self.field.split(".", 1)[0]


@dataclass(frozen=True)
class Action:
    """One tenant's change, with the exact request bodies the engine will send."""

    kind: ActionKind
    tenant_id: str
    changes: tuple[FieldChange, ...] = ()
    create_body: Mapping[str, JSONValue] | None = None  # CREATE: POST /tenant/create
    patch: Mapping[str, JSONValue] | None = None  # UPDATE: PATCH /tenant/patch (without "id")
    default_roles: tuple[str, ...] | None = None  # POST /tenant/updateDefaultRoles
    settings: Mapping[str, JSONValue] | None = None  # the managed settings keys (the client writes them RMW)
    cascade: bool = False  # DELETE only
    stage: int = 0  # actions of one stage are independent; stage n+1 waits for stage n
    where: str = ""  # file:line of the tenant in the source, when it has one
    adopt: bool = False  # UPDATE of a live tenant the controller did not manage yet

    @property
    def cause(self) -> Cause:
        """Why this tenant is written: adopted, a change of tenants.yaml (if any field is one), else drift."""
        if self.adopt:
            return Cause.ADOPT
        if self.kind is ActionKind.UPDATE and self.changes and all(c.cause is Cause.DRIFT for c in self.changes):
            return Cause.DRIFT
        return Cause.CHANGE

    def as_dict(self) -> dict[str, Any]:
        """The action as plain data; ``cause`` is said but is not part of what the action does."""
        return {**self.what(), "cause": self.cause.value, "changes": [_change_dict(c) for c in self.changes]}

    def what(self) -> dict[str, Any]:
        """What the action does, and nothing about why: the plan digest and a saved plan compare this."""
        return {
            "kind": self.kind.value,
            "tenant_id": self.tenant_id,
            "stage": self.stage,
            "where": self.where,
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes],
            "create_body": dict(self.create_body) if self.create_body is not None else None,
            "patch": dict(self.patch) if self.patch is not None else None,
            "default_roles": list(self.default_roles) if self.default_roles is not None else None,
            "settings": dict(self.settings) if self.settings is not None else None,
            "cascade": self.cascade,
        }


def _change_dict(change: FieldChange) -> dict[str, Any]:
    return {"field": change.field, "before": change.before, "after": change.after, "cause": change.cause.value}


@dataclass(frozen=True)
class Conflict:
    """A tenant the plan cannot bring to the desired state; it is skipped and reported."""

    tenant_id: str
    message: str
    where: str = ""
    changes: tuple[FieldChange, ...] = ()  # the tenant's other changes, which wait with it


@dataclass(frozen=True)
class PlanPolicy:
    """The knobs of planning, from settings and one-shot flags."""

    prune: bool = False
    max_deletes: int = 10
    max_delete_ratio: float = 0.25
    allow_deletes: int = 0  # a deliberate, one-shot lift of the delete guards for up to N tenants
    adopt: bool = True  # take over live tenants that tenants.yaml declares but this controller did not create


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    blocked: tuple[str, ...] = ()  # guard reasons; non-empty means apply nothing
    blocked_codes: tuple[str, ...] = ()  # max_deletes | max_delete_ratio | empty_source | source_shrank
    managed: int = 0  # desired tenants that exist live
    unmanaged: int = 0  # live tenants outside desired and inventory
    orphaned: tuple[str, ...] = ()  # inventory tenants gone from YAML but kept because prune is off
    drifted: int = 0  # live tenants edited outside tenants.yaml (drift, not a change of the YAML)
    drift_fields: Mapping[str, int] = field(default_factory=dict)  # top field -> tenants drifted
    changed: int = 0  # live tenants whose managed fields tenants.yaml changed (or adopts)
    differing: int = 0  # live tenants that differ from desired in any way (drift, change or conflict)
    # the live state planned from, digested only when asked (``live_digest``): a daemon cycle never pays for it
    live_source: Callable[[], str] = field(default=lambda: "", compare=False, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @cached_property
    def live_digest(self) -> str:
        """A sha256 of the live tenants and session settings this plan was computed from (a saved plan records it)."""
        return self.live_source()

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)

    def counts_by_cause(self) -> dict[tuple[str, str], int]:
        """(action, cause) -> actions, every pair present (zero when none): bounded metric labels."""
        counts = {(kind.value, cause.value): 0 for kind in ActionKind for cause in Cause}
        for action in self.actions:
            counts[(action.kind.value, action.cause.value)] += 1
        return counts

    def digest(self) -> str:
        """A stable id of what this plan would do (not why), for journals, logs and saved plans."""
        payload = json.dumps([a.what() for a in self.actions], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
