"""The decision of what to change: desired + live + inventory → an ordered, guarded plan.

A pure function over plain data (kopf's ``diffs`` is the model): no I/O, no clock. The engine
executes the plan; this module only decides. Semantics (shared/DESIGN.md, "Reconcile semantics"):

- only keys written in YAML are managed; inside ``customAttributes`` and ``settings`` only the
  keys written are managed, and the rest of the live map is carried over untouched;
- values are normalised before comparing (see ``normalize``), so an unchanged tenant plans nothing;
- an update carries only the changed patchable fields (``PATCH /v1/mgmt/tenant/patch``); default
  roles and settings, which have no patch form, get their own calls; an action's settings are the
  managed keys only, which the client lays over a fresh read of the live settings (Descope's
  settings POST overwrites everything it omits);
- ``parent`` is set at create only: a different live parent is a per-tenant conflict, not an update;
- prune deletes only inventory tenants that left the YAML, children first, never with cascade;
- guards refuse the whole plan (``Plan.blocked``) when it would delete too much, when the source
  lost too many tenants against the last applied revision, or when it declares none at all.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property, partial
from typing import Any

from controller.core.model import (
    SETTINGS_FIELDS,
    TENANT_FIELDS,
    DesiredState,
    DesiredTenant,
    JSONValue,
    LiveTenant,
    WritePath,
)
from controller.core.normalize import canonical, canonical_scalar, identical, live_value, wire_value


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class FieldChange:
    """One managed field that differs; ``field`` is dotted inside maps (``customAttributes.plan``)."""

    field: str
    before: JSONValue
    after: JSONValue

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

    def as_dict(self) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Conflict:
    """A tenant the plan cannot bring to the desired state; it is skipped and reported."""

    tenant_id: str
    message: str
    where: str = ""


@dataclass(frozen=True)
class PlanPolicy:
    """The knobs of planning, from settings and one-shot flags."""

    prune: bool = False
    max_deletes: int = 10
    max_delete_ratio: float = 0.25
    allow_deletes: int = 0  # a deliberate, one-shot lift of the delete guards for up to N tenants


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    blocked: tuple[str, ...] = ()  # guard reasons; non-empty means apply nothing
    blocked_codes: tuple[str, ...] = ()  # max_deletes | max_delete_ratio | empty_source | source_shrank
    managed: int = 0  # desired tenants that exist live
    unmanaged: int = 0  # live tenants outside desired and inventory
    orphaned: tuple[str, ...] = ()  # inventory tenants gone from YAML but kept because prune is off
    drifted: int = 0  # live tenants that differ from desired
    drift_fields: Mapping[str, int] = field(default_factory=dict)  # top field -> tenants drifted
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

    def digest(self) -> str:
        """A stable id of what this plan would do, for journals and logs."""
        payload = json.dumps([a.as_dict() for a in self.actions], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_plan(
    desired: DesiredState,
    live: Sequence[LiveTenant],
    *,
    inventory: Set[str] = frozenset(),
    live_settings: Mapping[str, Mapping[str, JSONValue]] | None = None,
    last_applied_count: int | None = None,
    policy: PlanPolicy = PlanPolicy(),
) -> Plan:
    """Decide what to change so that live equals desired, for the managed fields only.

    ``live_settings`` holds the live session settings of the tenants whose YAML has a
    ``settings`` block (the engine reads them); a tenant missing from it gets its settings written.
    """
    live_by_id = {str(t.get("id")): t for t in live}
    desired_by_id = desired.by_id()
    settings_by_id = live_settings or {}

    creates: list[Action] = []
    updates: list[Action] = []
    conflicts: list[Conflict] = []
    drift_fields: Counter[str] = Counter()
    drifted = 0

    for tenant in desired.tenants:
        current = live_by_id.get(tenant.id)
        if current is None:
            creates.append(_create_action(tenant))
            continue
        conflict = _parent_conflict(tenant, current)
        changes, action = _update_action(tenant, current, settings_by_id.get(tenant.id))
        if conflict or changes:
            drifted += 1
            drift_fields.update({c.top_field for c in changes} | ({"parent"} if conflict else set()))
        if conflict:
            conflicts.append(conflict)
        elif action is not None:
            updates.append(action)

    deletes, orphaned, delete_conflicts = _deletes(desired_by_id, live_by_id, inventory, policy)
    conflicts.extend(delete_conflicts)

    managed = sum(1 for tid in desired_by_id if tid in live_by_id)
    unmanaged = sum(1 for tid in live_by_id if tid not in desired_by_id and tid not in inventory)
    guards = _guards(desired, deletes, inventory, live_by_id, last_applied_count, policy)

    return Plan(
        actions=tuple(_staged_creates(creates, desired_by_id) + updates + _staged_deletes(deletes, live_by_id)),
        conflicts=tuple(conflicts),
        blocked=tuple(message for _code, message in guards),
        blocked_codes=tuple(code for code, _message in guards),
        managed=managed,
        unmanaged=unmanaged,
        orphaned=tuple(sorted(orphaned)),
        drifted=drifted,
        drift_fields=dict(sorted(drift_fields.items())),
        live_source=partial(live_digest, live, settings_by_id),
    )


def live_digest(live: Sequence[LiveTenant], live_settings: Mapping[str, Mapping[str, JSONValue]]) -> str:
    """A sha256 of the live tenants and the session settings a plan was computed from, in any order."""
    tenants = sorted(live, key=lambda t: str(t.get("id")))
    payload = json.dumps({"tenants": tenants, "settings": live_settings}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _create_action(tenant: DesiredTenant) -> Action:
    body: dict[str, JSONValue] = {"id": tenant.id}
    changes = []
    default_roles: tuple[str, ...] | None = None
    settings: dict[str, JSONValue] | None = None
    for name, value in tenant.fields.items():
        spec = TENANT_FIELDS[name]
        wired = wire_value(name, value)
        changes.append(FieldChange(name, None, wired))
        if spec.write is WritePath.DEFAULT_ROLES:
            default_roles = tuple(wired)
        elif spec.write is WritePath.SETTINGS:
            settings = dict(wired)
        else:
            body[name] = wired
    return Action(
        ActionKind.CREATE,
        tenant.id,
        changes=tuple(changes),
        create_body=body,
        default_roles=default_roles,
        settings=settings,
        where=tenant.where,
    )


def _parent_conflict(tenant: DesiredTenant, current: LiveTenant) -> Conflict | None:
    if "parent" not in tenant.fields:
        return None
    want, have = (
        canonical("parent", tenant.fields["parent"]),
        canonical("parent", live_value(current, "parent")),
    )
    if want == have:
        return None
    return Conflict(
        tenant.id,
        f"parent is set at create only: Descope has parent {have or '(none)'!r}, the YAML says "
        f"{want or '(none)'!r}; restore the YAML value, or delete and recreate the tenant",
        tenant.where,
    )


def update_action(
    tenant: DesiredTenant, current: LiveTenant, current_settings: Mapping[str, JSONValue] | None
) -> Action | None:
    """The update that brings one live tenant's managed fields to ``tenant``; None when nothing differs."""
    return _update_action(tenant, current, current_settings)[1]


def _update_action(
    tenant: DesiredTenant, current: LiveTenant, current_settings: Mapping[str, JSONValue] | None
) -> tuple[list[FieldChange], Action | None]:
    changes: list[FieldChange] = []
    patch: dict[str, JSONValue] = {}
    default_roles: tuple[str, ...] | None = None
    settings: dict[str, JSONValue] | None = None
    for name, value in tenant.fields.items():
        spec = TENANT_FIELDS[name]
        if spec.write is WritePath.IMMUTABLE:
            continue
        if spec.write is WritePath.SETTINGS:
            # only session-settings keys: the settings GET also carries domains and SSO fields
            # that a patch in the same action may be changing
            have = (
                None
                if current_settings is None
                else {k: v for k, v in current_settings.items() if k in SETTINGS_FIELDS}
            )
            field_changes, _merged = _map_changes(name, value, have, missing_means_unknown=True)
            if field_changes:
                # only the managed keys: the client lays them over a fresh read at write time, so a
                # console edit made after this plan's read is not overwritten with a stale value
                settings = dict(value)
            changes.extend(field_changes)
            continue
        if name == "customAttributes":
            field_changes, merged = _map_changes(name, value, live_value(current, name))
            if merged is not None:
                patch[name] = merged
            changes.extend(field_changes)
            continue
        before = current.get(name)
        if before is None:
            before = spec.default
        if identical(value, before) or canonical(name, value) == canonical(name, before):
            continue
        wired = wire_value(name, value)
        changes.append(FieldChange(name, wire_value(name, before), wired))
        if spec.write is WritePath.DEFAULT_ROLES:
            default_roles = tuple(wired)
        else:
            patch[name] = wired
    if not changes:
        return changes, None
    action = Action(
        ActionKind.UPDATE,
        tenant.id,
        changes=tuple(changes),
        patch=patch or None,
        default_roles=default_roles,
        settings=settings,
        where=tenant.where,
    )
    return changes, action


def _map_changes(
    name: str,
    desired: JSONValue,
    current: Mapping[str, JSONValue] | None,
    *,
    missing_means_unknown: bool = False,
) -> tuple[list[FieldChange], dict[str, JSONValue] | None]:
    """Compare only the keys written in YAML; return the changes and the full map to write.

    The map to write is the live map with the managed keys laid over it, so that keys the YAML
    does not manage survive a write that replaces the whole map.
    """
    if current is not None and all(identical(v, current.get(k)) for k, v in desired.items()):
        return [], None  # the common case, without copying either map
    wanted = dict(desired)
    if current is None and missing_means_unknown:
        # not read: write what YAML says, and report it as an unknown-before change
        return [FieldChange(f"{name}.{k}", None, v) for k, v in wanted.items()], wanted
    have = dict(current or {})
    changes = [
        FieldChange(f"{name}.{key}", have.get(key), value)
        for key, value in wanted.items()
        if not identical(value, have.get(key)) and canonical_scalar(value) != canonical_scalar(have.get(key))
    ]
    if not changes:
        return [], None
    return changes, {**have, **wanted}


def _deletes(
    desired_by_id: Mapping[str, DesiredTenant],
    live_by_id: Mapping[str, LiveTenant],
    inventory: Set[str],
    policy: PlanPolicy,
) -> tuple[list[Action], list[str], list[Conflict]]:
    gone = sorted(tid for tid in inventory if tid not in desired_by_id and tid in live_by_id)
    if not policy.prune:
        return [], gone, []
    doomed = set(gone)
    deletes, conflicts = [], []
    for tid in gone:
        kept_children = [
            c
            for c in _successors(tid, live_by_id)
            if c not in doomed  # a child that stays would be orphaned by Descope or refused
        ]
        if kept_children:
            conflicts.append(
                Conflict(tid, f"not deleted: child tenants {', '.join(sorted(kept_children))} still exist")
            )
            continue
        deletes.append(Action(ActionKind.DELETE, tid, cascade=False))
    return deletes, [], conflicts


def _successors(tenant_id: str, live_by_id: Mapping[str, LiveTenant]) -> list[str]:
    listed = {str(s) for s in (live_by_id[tenant_id].get("successors") or [])}
    by_parent = {tid for tid, t in live_by_id.items() if t.get("parent") == tenant_id}
    return sorted(listed | by_parent)


def _guards(
    desired: DesiredState,
    deletes: Sequence[Action],
    inventory: Set[str],
    live_by_id: Mapping[str, LiveTenant],
    last_applied_count: int | None,
    policy: PlanPolicy,
) -> list[tuple[str, str]]:
    reasons: list[tuple[str, str]] = []
    lifted = policy.allow_deletes
    n_deletes = len(deletes)
    if n_deletes > policy.max_deletes and n_deletes > lifted:
        reasons.append(
            (
                "max_deletes",
                f"would delete {n_deletes} tenants, more than max_deletes={policy.max_deletes} "
                f"(lift once with --allow-deletes {n_deletes})",
            )
        )
    managed_live = sum(1 for tid in inventory if tid in live_by_id) or len(live_by_id)
    if n_deletes and managed_live and n_deletes / managed_live > policy.max_delete_ratio and n_deletes > lifted:
        reasons.append(
            (
                "max_delete_ratio",
                f"would delete {n_deletes} of {managed_live} managed tenants "
                f"({n_deletes / managed_live:.0%}), more than max_delete_ratio={policy.max_delete_ratio:.0%} "
                f"(lift once with --allow-deletes {n_deletes})",
            )
        )
    count = len(desired.tenants)
    if count == 0:
        held = max(len(inventory), last_applied_count or 0)
        if lifted < max(held, 1):
            reasons.append(
                (
                    "empty_source",
                    "the source declares zero tenants; refusing to treat that as the desired state "
                    f"(lift once with --allow-deletes {max(held, 1)})",
                )
            )
    elif last_applied_count:
        lost = last_applied_count - count
        if lost > 0 and lost / last_applied_count > policy.max_delete_ratio and lost > lifted:
            reasons.append(
                (
                    "source_shrank",
                    f"the source lost {lost} of the {last_applied_count} tenants of the last applied "
                    f"revision ({lost / last_applied_count:.0%}), "
                    f"more than max_delete_ratio={policy.max_delete_ratio:.0%} "
                    f"(lift once with --allow-deletes {lost})",
                )
            )
    return reasons


def _staged_creates(creates: list[Action], desired_by_id: Mapping[str, DesiredTenant]) -> list[Action]:
    """Parents before children: a create's stage is one more than its parent's create."""
    creating = {a.tenant_id for a in creates}
    depth: dict[str, int] = {}

    def stage_of(tid: str) -> int:
        # iterative walk up the parent chain; the loader has already refused cycles
        chain = []
        cur: str | None = tid
        while cur is not None and cur in creating and cur not in depth:
            chain.append(cur)
            parent = desired_by_id[cur].parent
            cur = parent if parent in creating and parent not in chain else None
        base = depth[cur] + 1 if cur is not None and cur in depth else 0
        for i, item in enumerate(reversed(chain)):
            depth[item] = base + i
        return depth[tid]

    staged = [replace(a, stage=stage_of(a.tenant_id)) for a in creates]
    return sorted(staged, key=lambda a: a.stage)


def _staged_deletes(deletes: list[Action], live_by_id: Mapping[str, LiveTenant]) -> list[Action]:
    """Children before parents: a delete waits for the deletes of all its children."""
    deleting = {a.tenant_id for a in deletes}
    height: dict[str, int] = {}

    def height_of(tid: str, seen: frozenset[str] = frozenset()) -> int:
        if tid not in height:
            kids = [c for c in _successors(tid, live_by_id) if c in deleting and c not in seen]
            height[tid] = 1 + max((height_of(c, seen | {tid}) for c in kids), default=-1)
        return height[tid]

    staged = [replace(a, stage=height_of(a.tenant_id)) for a in deletes]
    return sorted(staged, key=lambda a: a.stage)
