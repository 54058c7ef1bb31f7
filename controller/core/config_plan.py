"""The decision of what to change in each tenant's roles, SSO configurations and password policy.

A pure function over plain data, like the tenant planner (``core.plan``), whose rules it follows: only the
keys written in tenants.yaml are managed (an absent ``roles``/``sso``/``passwordPolicy`` leaves that kind
alone; ``[]`` manages it and wants none); values are compared in one vocabulary and canonical form
(``config_values``), so an unchanged tenant plans nothing; a difference in a field the previous applied
revision already had is drift, any other a change (``core.cause``'s rule); only sub-resources this
controller created or adopted (``managed``) are deleted, and only with prune on, under their own guards.

Bodies are whole objects (Descope's SSO, role and password writes are full overwrites): the live object in
write names with the managed keys laid over. Ordering (``config_types.Stage``): roles, then SSO (which names
roles), then SSO deletes, then role deletes; all after the tenant plan's creates and updates and before its
deletes. Password policy follows Descope's inheritance rule rather than refusing it: a sub-tenant without
its own policy reads its parent's (or the project's); writing it gives the tenant its own, starting from the
values it inherited for the keys tenants.yaml does not manage.
"""

from __future__ import annotations

__all__ = ["LiveConfig", "make_config_plan"]

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Final

from controller.core.config_sso import SsoContext, plan_sso
from controller.core.config_types import (
    ConfigPlan,
    ConfigPolicy,
    SecretFingerprints,
    Stage,
    SubAction,
    SubConflict,
    SubKey,
    SubKind,
    SubOp,
)
from controller.core.config_values import diff, live_sso, overlay, restricted, same
from controller.core.plan_types import Cause, FieldChange
from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS

_ROLE_BODY: Final = ("name", "tenantId", "description", "permissionNames", "default", "private")
_ROLE_ZERO: Final[dict[str, Any]] = {"description": "", "permissionNames": [], "default": False, "private": False}
_ABSENT: Final = object()

NO_SECRETS: Final = SecretFingerprints()
DEFAULT_POLICY: Final = ConfigPolicy()

Desired = Mapping[str, Mapping[str, Any]]  # tenant id -> {"roles"?, "sso"?, "passwordPolicy"?} as in tenants.yaml


@dataclass(frozen=True)
class LiveConfig:
    """What the engine read, per tenant id, in the client's shapes (``adapters.descope_config``).

    A tenant that exists live and manages a kind must have been read for that kind (an unread one reads as
    having none); a tenant the tenant plan is creating has none. ``password`` missing: not known.
    """

    roles: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)  # role.search by tenantIds
    sso: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)  # sso/settings/all per tenant
    password: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # password/settings per tenant
    project_roles: frozenset[str] = frozenset()  # names of the project's roles (an SSO mapping may name them)


def make_config_plan(
    desired: Desired,
    live: LiveConfig,
    *,
    previous: Desired | None = None,
    managed: Set[SubKey] = frozenset(),
    inventory_known: bool = False,
    secrets: SecretFingerprints = NO_SECRETS,
    policy: ConfigPolicy = DEFAULT_POLICY,
) -> ConfigPlan:
    """Decide the sub-resource writes that make live equal desired, for the managed keys only."""
    actions: list[SubAction] = []
    conflicts: list[SubConflict] = []
    deletes: list[SubAction] = []
    orphaned: list[SubKey] = []
    for tenant_id in sorted(desired):
        config = desired[tenant_id]
        before = previous.get(tenant_id) if previous is not None else None
        ctx = _Tenant(tenant_id, before, previous is not None, managed, inventory_known, policy, config)
        roles_want = config.get("roles")
        roles_have = live.roles.get(tenant_id, ())
        if roles_want is not None:
            a, c = _plan_roles(ctx, roles_want, roles_have, live.project_roles)
            actions += a
            conflicts += c
        known = {str(r.get("name")) for r in roles_want or ()} | {str(r.get("name")) for r in roles_have}
        sso_want = config.get("sso")
        referenced: set[str] = set()
        if sso_want is not None:
            sso_ctx = SsoContext(
                tenant_id, known | live.project_roles, managed, inventory_known, policy.adopt, secrets, ctx.sso_cause
            )
            outcome = plan_sso(sso_want, live.sso.get(tenant_id, ()), sso_ctx)
            actions += outcome.actions
            conflicts += outcome.conflicts
            referenced = outcome.referenced
            wanted = {str(e.get("ssoId") or "") for e in sso_want}
            have_ids = [live_sso(e).sso_id for e in live.sso.get(tenant_id, ())]
            _gone(SubKind.SSO, tenant_id, have_ids, wanted, ctx, deletes, orphaned, conflicts, set())
        if roles_want is not None:
            wanted = {str(r.get("name")) for r in roles_want}
            names = [str(r.get("name")) for r in roles_have]
            _gone(SubKind.ROLE, tenant_id, names, wanted, ctx, deletes, orphaned, conflicts, referenced)
        policy_want = config.get("passwordPolicy")
        if policy_want is not None:
            action = _plan_password(ctx, policy_want, live.password.get(tenant_id), conflicts)
            if action is not None:
                actions.append(action)

    guards = _guards(deletes, managed, live, policy)
    drifted = Counter(a.kind.value for a in actions if any(c.cause is Cause.DRIFT for c in a.changes))
    ordered = sorted(actions + deletes, key=lambda a: (a.stage, a.tenant_id, a.kind.value, a.key))
    return ConfigPlan(
        actions=tuple(ordered),
        conflicts=tuple(conflicts),
        blocked=tuple(m for _c, m in guards),
        blocked_codes=tuple(c for c, _m in guards),
        orphaned=tuple(sorted(orphaned)),
        drifted={k.value: drifted.get(k.value, 0) for k in SubKind},
    )


@dataclass(frozen=True)
class _Tenant:
    tenant_id: str
    before: Mapping[str, Any] | None  # the previous revision's config of this tenant
    previous_known: bool
    managed: Set[SubKey]
    inventory_known: bool
    policy: ConfigPolicy
    desired: Mapping[str, Any] = field(default_factory=dict)

    def outside(self, kind: SubKind, key: str) -> bool:
        return (kind.value, self.tenant_id, key) not in self.managed

    def cause(self, was: Any, now: Any, path: str) -> Cause:
        """Drift when the previous revision already wanted this value at ``path`` (``core.cause``'s rule)."""
        if not self.previous_known or was is _ABSENT:
            return Cause.CHANGE
        a, b = _at(was, path), _at(now, path)
        if a is _ABSENT or b is _ABSENT:
            return Cause.DRIFT if a is b else Cause.CHANGE
        return Cause.DRIFT if same(path.rsplit(".", 1)[-1], a, b) else Cause.CHANGE

    def item(self, config: Mapping[str, Any] | None, kind: str, id_key: str, key: str) -> Any:
        items = (config or {}).get(kind)
        if items is None:
            return _ABSENT
        return next((i for i in items if str(i.get(id_key) or "") == key), _ABSENT)

    def sso_cause(self, sso_id: str, path: str) -> Cause:
        was = self.item(self.before, "sso", "ssoId", sso_id)
        return self.cause(was, self.item(self.desired, "sso", "ssoId", sso_id), path)


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _plan_roles(
    ctx: _Tenant, want: Sequence[Mapping[str, Any]], have: Sequence[Mapping[str, Any]], project: Set[str]
) -> tuple[list[SubAction], list[SubConflict]]:
    actions: list[SubAction] = []
    conflicts: list[SubConflict] = []
    live = {str(r.get("name")): r for r in have}
    folded = {name.casefold(): name for name in live}
    project_folded = {name.casefold(): name for name in project}
    seen: dict[str, str] = {}
    for role in want:
        name = str(role.get("name"))
        fold = name.casefold()

        def refuse(message: str, name: str = name) -> None:
            conflicts.append(SubConflict(SubKind.ROLE, ctx.tenant_id, name, message))

        if fold in seen:
            refuse(f"declared twice: {seen[fold]!r} and {name!r} (Descope role names are unique, ignoring case)")
            continue
        seen[fold] = name
        if fold in project_folded:
            refuse(f"collides with the project role {project_folded[fold]!r} (role names are unique, ignoring case)")
            continue
        current = live.get(name)
        if current is None and fold in folded:
            refuse(
                f"Descope has the role {folded[fold]!r}, which differs only in case (role names are unique, "
                "ignoring case): write the live spelling, or rename it in the console first"
            )
            continue
        fields = {k: v for k, v in role.items() if k != "name"}
        base = {**_ROLE_ZERO, **restricted(current or {}, _ROLE_BODY)}
        body = {**overlay(base, fields), "name": name, "tenantId": ctx.tenant_id}
        body = {k: body[k] for k in _ROLE_BODY if k in body}
        if current is None:
            changes = tuple(FieldChange(k, None, v) for k, v in fields.items())
            actions.append(SubAction(SubKind.ROLE, SubOp.CREATE, ctx.tenant_id, name, changes, body))
            continue
        was = ctx.item(ctx.before, "roles", "name", name)
        changes = tuple(
            FieldChange(c.field, c.before, c.after, ctx.cause(was, role, c.field)) for c in diff("", fields, current)
        )
        adopting = ctx.outside(SubKind.ROLE, name) and ctx.inventory_known
        if adopting and not ctx.policy.adopt:
            refuse("exists in Descope but this controller did not create it, and adopt = false")
        elif changes or adopting:
            op = SubOp.ADOPT if adopting else SubOp.UPDATE
            actions.append(SubAction(SubKind.ROLE, op, ctx.tenant_id, name, changes, body if changes else None))
    return actions, conflicts


def _gone(
    kind: SubKind,
    tenant_id: str,
    have: Sequence[str],
    wanted: Set[str],
    ctx: _Tenant,
    deletes: list[SubAction],
    orphaned: list[SubKey],
    conflicts: list[SubConflict],
    referenced: Set[str],
) -> None:
    """Managed sub-resources of a managed kind that left tenants.yaml: deleted with prune, else orphans."""
    for key in have:
        if key in wanted or ctx.outside(kind, key):
            continue
        if not ctx.policy.prune:
            orphaned.append((kind.value, tenant_id, key))
        elif key in referenced:
            message = "not deleted: an SSO configuration in tenants.yaml still names this role"
            conflicts.append(SubConflict(kind, tenant_id, key, message))
        else:
            stage = Stage.SSO_DELETE if kind is SubKind.SSO else Stage.ROLE_DELETE
            deletes.append(SubAction(kind, SubOp.DELETE, tenant_id, key, stage=stage))


def _plan_password(
    ctx: _Tenant, want: Mapping[str, Any], have: Mapping[str, Any] | None, conflicts: list[SubConflict]
) -> SubAction | None:
    known = have is not None
    base = restricted(have, tuple(PASSWORD_SETTINGS_DEFAULTS)) if have is not None else {}
    base = {**PASSWORD_SETTINGS_DEFAULTS, **base}
    was = (ctx.before or {}).get("passwordPolicy", _ABSENT) if ctx.before is not None else _ABSENT
    raw = diff("", want, base if known else {})
    changes = tuple(
        FieldChange(
            c.field, c.before if known else None, c.after, ctx.cause(was, want, c.field) if known else Cause.CHANGE
        )
        for c in raw
    )
    adopting = ctx.outside(SubKind.PASSWORD_POLICY, "") and ctx.inventory_known
    if adopting and not ctx.policy.adopt:
        conflicts.append(
            SubConflict(
                SubKind.PASSWORD_POLICY, ctx.tenant_id, "", "not managed by this controller yet, and adopt = false"
            )
        )
        return None
    if not changes and not adopting:
        return None
    notes: tuple[str, ...] = ()
    if ctx.outside(SubKind.PASSWORD_POLICY, "") and changes:
        notes = (
            "from this write on the tenant has its own password policy; until then it reads its parent's or the "
            "project's, and the keys tenants.yaml does not manage keep those values",
        )
    op = SubOp.ADOPT if adopting else SubOp.UPDATE
    body = overlay(base, want) if changes else None
    return SubAction(SubKind.PASSWORD_POLICY, op, ctx.tenant_id, "", changes, body, notes=notes)


def _guards(
    deletes: Sequence[SubAction], managed: Set[SubKey], live: LiveConfig, policy: ConfigPolicy
) -> list[tuple[str, str]]:
    """The tenant guards' rules, counted over roles and SSO configurations only."""
    n = len(deletes)
    lifted = policy.allow_deletes
    reasons: list[tuple[str, str]] = []
    if n > policy.max_deletes and n > lifted:
        reasons.append(
            (
                "max_deletes",
                f"would delete {n} roles and SSO configurations, more than max_deletes={policy.max_deletes} "
                f"(lift once with --allow-deletes {n})",
            )
        )
    present = {("role", t, str(r.get("name"))) for t, rs in live.roles.items() for r in rs}
    present |= {("sso", t, live_sso(e).sso_id) for t, es in live.sso.items() for e in es}
    held = len(present & set(managed))
    if n and held and n / held > policy.max_delete_ratio and n > lifted:
        reasons.append(
            (
                "max_delete_ratio",
                f"would delete {n} of {held} managed roles and SSO configurations ({n / held:.0%}), more than "
                f"max_delete_ratio={policy.max_delete_ratio:.0%} (lift once with --allow-deletes {n})",
            )
        )
    return reasons
