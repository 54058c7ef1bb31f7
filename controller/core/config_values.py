"""Comparing and overlaying sub-resource values: one vocabulary, canonical forms, managed keys only.

Descope *reads* SAML back in other names than it is *written* (``descope_api.SSO_SAML_READ_NAMES``:
``idpSSOUrl`` for ``idpUrl``, ``groupsMapping`` ``[{role: {id, name}, groups}]`` for ``roleMappings``
``[{groups, roleName}]``), leaves empty fields out (Go ``omitempty``) and returns sets in any order. If the
planner compared a load with what it writes as they come, every cycle would show drift; so every live value
is turned into the *write* vocabulary first (``live_sso``) and compared in canonical form (``same``), and
every body is the live object, in write names, with the managed keys laid over it (``overlay``): Descope's
SSO, role and password writes are full overwrites, so whatever a body left out would be reset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from controller.core.model import JSONValue
from controller.core.normalize import canonical_scalar
from controller.core.plan_types import FieldChange
from controller.descope_api import SSO_SAML_READ_NAMES, SSO_SAML_READ_ONLY, SSO_SECRET_KEYS

# keys whose value is a set in Descope's semantics (order and repeats are not meaning)
SET_KEYS: Final = frozenset(
    {"permissionNames", "domains", "defaultSSORoles", "idpAdditionalCerts", "scope", "prompt", "groups"}
)
CASELESS_KEYS: Final = frozenset({"domains"})
# maps inside which only the keys written in YAML are managed (like a tenant's customAttributes)
MAP_KEYS: Final = frozenset({"attributeMapping", "userAttrMapping"})

_READ_TO_WRITE: Final = {read: write for write, read in SSO_SAML_READ_NAMES.items()}


def _empty(value: object) -> bool:
    return value is None or value is False or value in ("", [], {}, ())


def canonical(key: str, value: Any) -> Any:
    """The comparable form of a value under ``key`` (the last segment of its path); empty reads as absent."""
    if _empty(value):
        return None
    if key in SET_KEYS and isinstance(value, list | tuple):
        items = {str(v).strip().lower() if key in CASELESS_KEYS else str(v) for v in value}
        return tuple(sorted(items))
    if key == "roleMappings" and isinstance(value, list | tuple):
        pairs = {
            (canonical("groups", m.get("groups")) or (), str(m.get("roleName", "")))
            for m in value
            if isinstance(m, Mapping)
        }
        return tuple(sorted(pairs))
    if isinstance(value, Mapping):
        out = {str(k): canonical(str(k), v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(value, list | tuple):
        return tuple(canonical(key, v) for v in value)  # an ordered list (groupsPriority: a priority)
    return canonical_scalar(value)


def same(key: str, a: Any, b: Any) -> bool:
    return bool(canonical(key, a) == canonical(key, b))


def diff(
    prefix: str, desired: Mapping[str, Any], live: Mapping[str, Any], *, skip: frozenset[str] = frozenset()
) -> list[FieldChange]:
    """The managed keys of ``desired`` that differ from ``live``, dotted (``saml.attributeMapping.email``)."""
    changes: list[FieldChange] = []
    for key, want in desired.items():
        if key in skip:
            continue
        have = live.get(key)
        path = f"{prefix}.{key}" if prefix else key
        if key in MAP_KEYS and isinstance(want, Mapping):
            changes.extend(diff(path, want, have if isinstance(have, Mapping) else {}))
        elif not same(key, want, have):
            changes.append(FieldChange(path, _json(have), _json(want)))
    return changes


def overlay(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, JSONValue]:
    """The live object with the managed keys laid over it; inside ``MAP_KEYS`` maps, key by key."""
    out: dict[str, JSONValue] = {k: _json(v) for k, v in live.items()}
    for key, want in desired.items():
        have = live.get(key)
        if key in MAP_KEYS and isinstance(want, Mapping) and isinstance(have, Mapping):
            out[key] = {**_json(have), **_json(want)}
        else:
            out[key] = _json(want)
    return out


def _json(value: Any) -> Any:
    """A plain JSON copy (lists for tuples), so a body never aliases the caller's data."""
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True)
class LiveSso:
    """One live SSO configuration in the *write* vocabulary (what a body would have to say to leave it)."""

    sso_id: str
    display_name: str = ""
    protocol: str = ""  # "saml" | "oidc" | "" (nothing configured yet)
    domains: tuple[str, ...] = ()
    redirect_url: str = ""  # SAML's, beside its settings
    saml: Mapping[str, Any] = field(default_factory=dict)
    oidc: Mapping[str, Any] = field(default_factory=dict)

    @property
    def by_metadata(self) -> bool:
        return bool(self.saml.get("idpMetadataUrl"))


def live_sso(entry: Mapping[str, Any]) -> LiveSso:
    """A ``load_sso``/``load_sso_all`` item (read vocabulary; write names are accepted too) as ``LiveSso``."""
    tenant: Mapping[str, Any] = _mapping(entry.get("tenant"))
    saml_read: Mapping[str, Any] = _mapping(entry.get("saml"))
    oidc: Mapping[str, Any] = _mapping(entry.get("oidc"))
    saml = saml_to_write(saml_read)
    oidc_w = {k: _json(v) for k, v in oidc.items() if k not in SSO_SECRET_KEYS and not _empty(v)}
    auth = str(tenant.get("authType") or "")
    protocol = "saml" if saml else "oidc" if oidc_w else auth if auth in ("saml", "oidc") else ""
    domains = entry.get("domains", tenant.get("domains")) or []
    return LiveSso(
        sso_id=str(entry.get("ssoId") or ""),
        display_name=str(entry.get("displayName") or ""),
        protocol=protocol,
        domains=tuple(str(d) for d in domains),
        redirect_url=str(saml_read.get("redirectUrl") or ""),
        saml=saml,
        oidc=oidc_w,
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def saml_to_write(read: Mapping[str, Any]) -> dict[str, Any]:
    """SAML settings as a load answers them, in the names a write sends; read-only keys dropped."""
    out: dict[str, Any] = {}
    for key, value in read.items():
        if key in SSO_SAML_READ_ONLY or key == "redirectUrl" or _empty(value):
            continue
        name = _READ_TO_WRITE.get(key, key)
        out[name] = _role_mappings(value) if name == "roleMappings" else _json(value)
    return out


def _role_mappings(value: Any) -> list[dict[str, Any]]:
    mappings: list[dict[str, Any]] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        role = item.get("role")
        name = item.get("roleName", role.get("name", "") if isinstance(role, Mapping) else "")
        mappings.append({"groups": [str(g) for g in item.get("groups") or []], "roleName": str(name)})
    return mappings


def referenced_roles(section: Mapping[str, Any]) -> list[str]:
    """Role names an SSO section names (role mappings, default SSO roles), in order."""
    names = [str(m.get("roleName", "")) for m in section.get("roleMappings") or [] if isinstance(m, Mapping)]
    names.extend(str(n) for n in section.get("defaultSSORoles") or [])
    return names


def restricted(settings: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k in keys}
