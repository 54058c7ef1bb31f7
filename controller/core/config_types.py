"""The vocabulary of the sub-resource plan (a tenant's roles, SSO configurations, password policy).

Plain frozen data, like ``plan_types`` for the tenant record, so the planner (``core.config_plan``), the
engine that executes it and the renderers share one shape. Why a separate vocabulary: a sub-resource is
keyed by (kind, tenant, key) rather than by tenant id, its writes are Descope's *full overwrites* (the body
is the whole object, never a patch), and an OIDC write carries a secret the plan must never hold: bodies
carry the ``{env: NAME}``/``{file: PATH}`` reference, which the engine resolves at send time.

Stages compose with the tenant plan's: the engine runs tenant creates (by stage), then tenant updates (by
stage), then these actions by ``stage`` (``Stage``), then tenant deletes (by stage). So every SSO and role
write happens after its tenant exists, roles are written before the SSO configurations that name them, SSO
deletes run before role deletes, and a tenant delete never races a write to its sub-resources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from controller.core.model import JSONValue
from controller.core.plan_types import Cause, FieldChange


class SubKind(StrEnum):
    ROLE = "role"
    SSO = "sso"
    PASSWORD_POLICY = "password_policy"  # noqa: S105 - a kind of resource, not a password


class SubOp(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ADOPT = "adopt"  # a live sub-resource the controller did not manage yet (written too when it differs)


class Stage(IntEnum):
    """Order among sub-resource actions; a stage finishes before the next starts (after tenant creates/updates)."""

    ROLES = 0  # role create/update/adopt and password policy: nothing they need is written later
    SSO = 1  # SSO create/update/adopt: role mappings and default SSO roles name roles (SSO_ROLE_REFERENCES)
    SSO_DELETE = 2  # deletes in reverse: SSO configurations that may name a role go first ...
    ROLE_DELETE = 3  # ... then the roles


class Protocol(StrEnum):
    """Which overwrite an SSO write is: ``configure_saml`` (``by_metadata`` or not) or ``configure_oidc``."""

    NONE = ""
    SAML = "saml"
    SAML_METADATA = "saml_metadata"
    OIDC = "oidc"


SubKey = tuple[str, str, str]  # (kind, tenant_id, key): the inventory of managed sub-resources


@dataclass(frozen=True)
class SubAction:
    """One sub-resource write, with the exact full-overwrite body the engine sends.

    ``body`` (None for deletes and for an adoption that writes nothing):

    - role: ``{"name", "tenantId", "description", "permissionNames", "default", "private"}`` for
      ``create_role(body)`` or ``update_role(key, body)``;
    - sso: ``{"displayName", "domains", "settings"}`` (+ ``"redirectUrl"`` for SAML), settings in Descope's
      *write* names; a create first calls ``new_sso(tenant, key, displayName)`` (except the default ``""``),
      then ``configure_saml``/``configure_oidc`` as ``protocol`` says; ``settings["clientSecret"]`` is the
      reference mapping, for the engine to replace by the secret's value at send time;
    - password_policy: every key of ``update_password_settings``.
    """

    kind: SubKind
    op: SubOp
    tenant_id: str
    key: str  # role name, ssoId ("" is the tenant's default SSO configuration), "" for the password policy
    changes: tuple[FieldChange, ...] = ()
    body: Mapping[str, JSONValue] | None = None
    protocol: Protocol = Protocol.NONE
    stage: Stage = Stage.ROLES
    notes: tuple[str, ...] = ()  # said with the action: why a secret is re-sent, inheritance, ...
    secret_fingerprint: str = ""  # the fingerprint of the secret the body sends: the engine stores it after the write

    @property
    def ident(self) -> SubKey:
        return (self.kind.value, self.tenant_id, self.key)

    @property
    def writes(self) -> bool:
        return self.body is not None or self.op is SubOp.DELETE

    @property
    def cause(self) -> Cause:
        if self.op is SubOp.ADOPT:
            return Cause.ADOPT
        if self.op is SubOp.UPDATE and self.changes and all(c.cause is Cause.DRIFT for c in self.changes):
            return Cause.DRIFT
        return Cause.CHANGE

    def label(self) -> str:
        return _label(self.kind, self.tenant_id, self.key)

    def line(self) -> str:
        """``+ role acme/Tenant Admin``, ``~ sso acme/okta saml.attributeMapping.email``, ``- role acme/Old``."""
        sign = {SubOp.CREATE: "+", SubOp.UPDATE: "~", SubOp.DELETE: "-", SubOp.ADOPT: "~ adopt"}[self.op]
        fields = ", ".join(c.field for c in self.changes) if self.op is not SubOp.CREATE else ""
        return f"{sign} {self.label()}" + (f" {fields}" if fields else "")

    def what(self) -> dict[str, Any]:
        """What the action does (not why): a plan digest or a saved plan compares this."""
        return {
            "kind": self.kind.value,
            "op": self.op.value,
            "tenant_id": self.tenant_id,
            "key": self.key,
            "stage": int(self.stage),
            "protocol": self.protocol.value,
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes],
            "body": _plain(self.body) if self.body is not None else None,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; the body holds a secret's reference (``{"env": NAME}``), never its value, nor a fingerprint."""
        data = self.what()
        data["cause"] = self.cause.value
        data["changes"] = [{**c, "cause": ch.cause.value} for c, ch in zip(data["changes"], self.changes, strict=True)]
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class SubConflict:
    """A sub-resource the plan cannot bring to the desired state: it is skipped and reported."""

    kind: SubKind
    tenant_id: str
    key: str
    message: str

    def line(self) -> str:
        return f"! {_label(self.kind, self.tenant_id, self.key)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "tenant_id": self.tenant_id, "key": self.key, "message": self.message}


@dataclass(frozen=True)
class ConfigPolicy:
    """Prune and the delete guards for sub-resources, counted apart from the tenant guards."""

    prune: bool = False
    max_deletes: int = 10
    max_delete_ratio: float = 0.25
    allow_deletes: int = 0
    adopt: bool = True


@dataclass(frozen=True)
class SecretFingerprints:
    """Keyed hashes (made by the engine; the planner never sees a secret) per (tenant_id, ssoId).

    ``written``: of the clientSecret this controller last wrote (from the store); ``wanted``: of the secret
    the desired reference resolves to now. A reference the engine could not resolve has no ``wanted`` entry.
    """

    written: Mapping[tuple[str, str], str] = field(default_factory=dict)
    wanted: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigPlan:
    actions: tuple[SubAction, ...] = ()
    conflicts: tuple[SubConflict, ...] = ()
    blocked: tuple[str, ...] = ()  # guard reasons: non-empty means apply none of these actions
    blocked_codes: tuple[str, ...] = ()
    orphaned: tuple[SubKey, ...] = ()  # managed sub-resources gone from YAML, kept because prune is off
    drifted: Mapping[str, int] = field(default_factory=dict)  # kind -> sub-resources with drift (bounded labels)

    @property
    def has_changes(self) -> bool:
        return any(a.writes for a in self.actions) or any(a.op is SubOp.ADOPT for a in self.actions)

    def lines(self) -> list[str]:
        out: list[str] = []
        for action in self.actions:
            out.append(action.line())
            out.extend(f"    # {note}" for note in action.notes)
        out.extend(c.line() for c in self.conflicts)
        out.extend(f"  orphan {_label(SubKind(k), t, key)} (prune is off)" for k, t, key in self.orphaned)
        out.extend(f"  blocked: {reason}" for reason in self.blocked)
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def counts(self) -> dict[tuple[str, str], int]:
        """(kind, op) -> actions, every pair present: bounded metric labels."""
        counts = {(k.value, o.value): 0 for k in SubKind for o in SubOp}
        for action in self.actions:
            counts[(action.kind.value, action.op.value)] += 1
        return counts

    def summary(self) -> dict[str, int]:
        """What a reviewer counts first: writes by op (an adoption apart), then what is not written."""
        ops = [a.op for a in self.actions]
        return {
            "create": ops.count(SubOp.CREATE),
            "update": ops.count(SubOp.UPDATE),
            "delete": ops.count(SubOp.DELETE),
            "adopt": ops.count(SubOp.ADOPT),
            "conflicts": len(self.conflicts),
            "orphaned": len(self.orphaned),
            "blocked": len(self.blocked),
            "drifted": sum(self.drifted.values()),
        }

    def summary_text(self) -> str:
        """``3 to create, 1 to update, 0 to delete, 1 to adopt, 1 conflict``: zero counts after delete left out."""
        counts = self.summary()
        parts = [f"{counts[op]} to {op}" for op in ("create", "update", "delete")]
        parts += [f"{counts['adopt']} to adopt"] if counts["adopt"] else []
        parts += [f"{counts['conflicts']} conflict{'s' if counts['conflicts'] != 1 else ''}"] if self.conflicts else []
        parts += [f"{counts['orphaned']} removed from YAML but kept (prune is off)"] if self.orphaned else []
        parts += ["REFUSED by guard"] if self.blocked else []
        return ", ".join(parts)

    def digest(self) -> str:
        """A stable id of what these actions do (``SubAction.what``), like ``Plan.digest`` for tenants."""
        payload = json.dumps([a.what() for a in self.actions], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def counts_by_cause(self) -> dict[tuple[str, str, str], int]:
        """(kind, op, cause) -> actions, every triple present: the bounded labels of the planned-actions metric."""
        counts = {(k.value, o.value, c.value): 0 for k in SubKind for o in SubOp for c in Cause}
        for action in self.actions:
            counts[(action.kind.value, action.op.value, action.cause.value)] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "actions": [a.as_dict() for a in self.actions],
            "conflicts": [c.as_dict() for c in self.conflicts],
            "blocked": list(self.blocked),
            "blocked_codes": list(self.blocked_codes),
            "orphaned": [list(k) for k in self.orphaned],
            "drifted": dict(self.drifted),
        }


def sub_label(kind: str, tenant_id: str, key: str) -> str:
    """``_label`` for a kind given by name (a saved plan's action); an unknown kind is shown as it is."""
    known = {k.value: k for k in SubKind}
    return _label(known[kind], tenant_id, key) if kind in known else f"{kind} {tenant_id}/{key}"


def _label(kind: SubKind, tenant_id: str, key: str) -> str:
    """``role acme/Tenant Admin``, ``sso acme/okta``, ``sso acme/(default)``, ``password_policy acme``."""
    if kind is SubKind.SSO and not key:
        key = "(default)"  # the tenant's default SSO configuration has no ssoId
    return f"{kind.value} {tenant_id}/{key}" if key else f"{kind.value} {tenant_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
