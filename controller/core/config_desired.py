"""A tenant's roles, SSO configurations and password policy as Descope returns them → tenants.yaml's form.

Why: ``export`` writes them and ``restore`` plans them back from a backup, and both need the one answer to
"what would tenants.yaml say to leave this live object as it is". Descope's loads answer other names than a
write takes (``config_values.live_sso`` turns them into the write vocabulary), add keys no write sets
(``id``, ``createdTime``, ``tenantId``) and leave empty fields out; the result here holds only the keys the
loader accepts (``model.ROLE_KEYS``, ``model.SSO_KEYS``, ``config_keys.SAML_KEYS``, ``descope_api.SSO_OIDC_KEYS``,
``descope_api.PASSWORD_SETTINGS_DEFAULTS``), empty values left out.

An OIDC ``clientSecret`` is never returned by Descope, so it can be in neither: ``desired_config`` takes the
references to put in its place (``secrets``: (tenant id, ssoId) → ``{"env": NAME}`` or ``{"file": PATH}``);
an OIDC configuration without one is returned without ``clientSecret`` and listed by ``oidc_without_secret``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from controller.core.config_keys import SAML_KEYS, SAML_NOT_WITH_METADATA
from controller.core.config_values import live_sso
from controller.core.model import ROLE_KEYS
from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS, SSO_DEFAULT_ID, SSO_OIDC_KEYS, SSO_SECRET_KEYS

SecretRefs = Mapping[tuple[str, str], Mapping[str, str]]  # (tenant id, ssoId) -> {"env": NAME} | {"file": PATH}
_OIDC_KEYS: Final = tuple(k for k in SSO_OIDC_KEYS if k not in SSO_SECRET_KEYS)


def _empty(value: Any) -> bool:
    return value is None or value is False or value in ("", [], {}, ())


def desired_roles(roles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Roles as ``roles:`` lists them, sorted by name."""
    out: list[dict[str, Any]] = []
    for role in sorted(roles, key=lambda r: str(r.get("name"))):
        entry: dict[str, Any] = {"name": str(role.get("name"))}
        for key in ROLE_KEYS[1:]:
            value = role.get(key)
            if not _empty(value):
                entry[key] = sorted(value) if key == "permissionNames" and isinstance(value, list) else value
        out.append(entry)
    return out


def desired_sso(tenant_id: str, entries: Sequence[Mapping[str, Any]], secrets: SecretRefs) -> list[dict[str, Any]]:
    """SSO configurations (a ``load_sso_all`` answer) as ``sso:`` lists them, in Descope's order."""
    out: list[dict[str, Any]] = []
    for raw in entries:
        live = live_sso(raw)
        entry: dict[str, Any] = {"ssoId": live.sso_id}
        if live.display_name and live.sso_id != SSO_DEFAULT_ID:
            entry["displayName"] = live.display_name
        if live.domains:
            entry["domains"] = sorted({d.lower() for d in live.domains})
        if live.protocol == "saml":
            skip = SAML_NOT_WITH_METADATA if live.by_metadata else ()
            saml = {k: v for k, v in live.saml.items() if k in SAML_KEYS and k not in skip and not _empty(v)}
            if live.redirect_url:
                saml["redirectUrl"] = live.redirect_url
            entry["saml"] = saml
        elif live.protocol == "oidc":
            oidc = {k: v for k, v in live.oidc.items() if k in _OIDC_KEYS and not _empty(v)}
            reference = secrets.get((tenant_id, live.sso_id))
            if reference is not None:
                oidc["clientSecret"] = dict(reference)
            entry["oidc"] = oidc
        out.append(entry)
    return out


def desired_password(settings: Mapping[str, Any], *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Password settings as ``passwordPolicy:`` says them; with ``base``, only the keys that differ from it."""
    out = {k: settings[k] for k in PASSWORD_SETTINGS_DEFAULTS if k in settings}
    if base is not None:
        out = {k: v for k, v in out.items() if base.get(k, PASSWORD_SETTINGS_DEFAULTS[k]) != v}
    return out


def desired_config(tenant_id: str, config: Mapping[str, Any], secrets: SecretRefs | None = None) -> dict[str, Any]:
    """A backed-up ``config`` (``{"roles"?, "sso"?, "passwordPolicy"?}`` as read) in tenants.yaml's form."""
    out: dict[str, Any] = {}
    if isinstance(config.get("roles"), list):
        out["roles"] = desired_roles(config["roles"])
    if isinstance(config.get("sso"), list):
        out["sso"] = desired_sso(tenant_id, config["sso"], secrets or {})
    if isinstance(config.get("passwordPolicy"), Mapping):
        out["passwordPolicy"] = desired_password(config["passwordPolicy"])
    return out


def oidc_without_secret(tenant_id: str, desired: Mapping[str, Any]) -> list[str]:
    """The ssoIds of the OIDC configurations in ``desired`` that have no ``clientSecret`` reference."""
    return [
        str(e.get("ssoId") or "")
        for e in desired.get("sso") or ()
        if isinstance(e.get("oidc"), Mapping) and "clientSecret" not in e["oidc"]
    ]


def secret_env_name(tenant_id: str, sso_id: str) -> str:
    """A variable to name a secret by: ``DESCOPE_SSO_SECRET_<TENANT>_<SSOID>``, upper case, ``_`` for others."""
    tail = re.sub(r"[^A-Za-z0-9]", "_", f"{tenant_id}_{sso_id or 'default'}").upper()
    return f"DESCOPE_SSO_SECRET_{tail}"
