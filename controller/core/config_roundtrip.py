"""What differs between two versions of a tenant's roles, SSO configurations and password policy, by field.

Why one pure comparison for three readers: a restore drill compares a snapshot with what the scratch project
returns after the restore, ``backup history`` what changed between two backups, and a restore what
tenants.yaml would revert. All three hold the sub-resources in tenants.yaml's form (``config_desired``, so
Descope's read-only keys are already gone), keyed by role name, ssoId and "" for the password policy, and
want ``role acme/Member: description "a" → "b"``. A kind one side does not hold was not read (or is not
managed): it is not compared, never "all deleted". Keys named like a secret are never compared nor shown
(Descope never returns an OIDC ``clientSecret``, so a read-back cannot hold one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from controller.core.config_types import SubKind, sub_label
from controller.core.model import JSONValue
from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS

KINDS: Final = (
    ("roles", SubKind.ROLE, "name"),
    ("sso", SubKind.SSO, "ssoId"),
    ("passwordPolicy", SubKind.PASSWORD_POLICY, ""),
)
_SECRET_NAME: Final = re.compile(r"secret", re.IGNORECASE)
_SETS: Final = frozenset({"domains", "permissionNames", "defaultSSORoles", "groups"})  # order carries no meaning


@dataclass(frozen=True)
class SubDifference:
    """One sub-resource added or removed (``field`` ""), or one of its fields (dotted) changed."""

    kind: str  # SubKind value
    tenant_id: str
    key: str  # role name, ssoId, "" for the password policy
    field: str = ""
    before: JSONValue = None  # None: absent on that side
    after: JSONValue = None

    def label(self) -> str:
        return sub_label(self.kind, self.tenant_id, self.key)

    def line(self) -> str:
        """``+ sso acme/okta``, ``- role acme/Old``, ``role acme/Member: description "a" → "b"``."""
        if not self.field:
            return f"{'+' if self.before is None else '-'} {self.label()}"
        return f"{self.label()}: {self.field} {_text(self.before)} → {_text(self.after)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "key": self.key,
            "field": self.field,
            "before": self.before,
            "after": self.after,
        }


def config_differences(
    tenant_id: str, before: Mapping[str, Any], after: Mapping[str, Any], *, managed_by_after: bool = False
) -> tuple[SubDifference, ...]:
    """Each sub-resource and field that differs from ``before`` to ``after`` (both in tenants.yaml's form).

    ``managed_by_after``: ``after`` is what tenants.yaml enforces, where only the keys written are managed:
    a field ``after`` does not write is no difference, nor is an entry only ``after`` declares (writing it
    reverts nothing); an entry only ``before`` has is one (``after`` does not declare it).
    """
    found: list[SubDifference] = []
    for name, kind, key_name in KINDS:
        if name not in before or name not in after:
            continue
        old, new = _keyed(before[name], key_name), _keyed(after[name], key_name)
        if kind is SubKind.PASSWORD_POLICY:  # a key Descope left out is its default (omitempty), not a loss
            old = {k: {**PASSWORD_SETTINGS_DEFAULTS, **v} for k, v in old.items()}
            if not managed_by_after:  # tenants.yaml's policy manages only the keys it writes
                new = {k: {**PASSWORD_SETTINGS_DEFAULTS, **v} for k, v in new.items()}
        for key in sorted(old.keys() | new.keys()):
            if key not in new:
                found.append(SubDifference(kind.value, tenant_id, key, before=_plain(old[key])))
            elif key not in old:
                if not managed_by_after:
                    found.append(SubDifference(kind.value, tenant_id, key, after=_plain(new[key])))
            else:
                was, now = _flat(old[key], key_name), _flat(new[key], key_name)
                fields = sorted(now if managed_by_after else was.keys() | now.keys())
                for field in fields:
                    if _canon(field, was.get(field)) != _canon(field, now.get(field)):
                        found.append(SubDifference(kind.value, tenant_id, key, field, was.get(field), now.get(field)))
    return tuple(found)


def _keyed(entries: Any, key_name: str) -> dict[str, Mapping[str, Any]]:
    if not key_name:  # the password policy: one object per tenant
        return {"": entries} if isinstance(entries, Mapping) else {}
    return {str(e.get(key_name) or ""): e for e in entries or () if isinstance(e, Mapping)}


def _flat(entry: Mapping[str, Any], key_name: str, prefix: str = "") -> dict[str, JSONValue]:
    """Dotted paths to leaves (lists are leaves); the key itself and secret-named keys left out."""
    out: dict[str, JSONValue] = {}
    for name, value in entry.items():
        if (not prefix and name == key_name) or _SECRET_NAME.search(str(name)):
            continue
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(_flat(value, key_name, f"{path}."))
        else:
            out[path] = _plain(value)
    return out


def _canon(field: str, value: JSONValue) -> Any:
    """Descope's empty values read as absent; lists that are sets compare as sets (domains ignoring case)."""
    if value is None or value is False or value in ("", [], {}):
        return None
    last = field.rsplit(".", 1)[-1]
    if isinstance(value, list) and last in _SETS and all(isinstance(v, str) for v in value):
        return sorted({str(v).lower() if last == "domains" else str(v) for v in value})
    return json.dumps(value, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _text(value: JSONValue) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
