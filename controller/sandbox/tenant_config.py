"""A tenant's (or the project's) SSO configurations, roles and password settings, and Descope's rules for them.

Kept beside the tenant records, under the store's lock, and never changed in place: each write builds a new
``TenantConfig`` (copy-on-write, like the records). The functions here are pure: the store hands them what
they read (a ``Scope``) and installs what they return (an ``Outcome``). The choices where Descope publishes
nothing are in ``controller.descope_api`` (``SSO_*``, ``ROLE_*``, ``PASSWORD_SETTINGS_DEFAULTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS, SSO_DEFAULT_ID

from .fields import Parser, parse_bool, parse_count, parse_required_string, parse_string
from .roles import ROLE_ORDER, RoleKey, render_role, role_fields, role_key
from .sso import blank_config, parse_oidc, parse_saml, referenced_roles, render_sso
from .wire import ApiError, conflict, invalid, not_found, refused

Record = dict[str, Any]

PASSWORD_FIELDS: Final[dict[str, Parser]] = {
    key: parse_bool if isinstance(default, bool) else parse_count for key, default in PASSWORD_SETTINGS_DEFAULTS.items()
}


@dataclass(frozen=True)
class TenantConfig:
    """One tenant's configuration; the project's (roles and password settings) is kept under the id ``""``."""

    sso: Mapping[str, Record] = field(default_factory=dict)  # ssoId -> configuration, default one first
    roles: tuple[Record, ...] = ()  # in creation order
    password: Mapping[str, Any] | None = None  # what was configured; None: inherited

    def is_empty(self) -> bool:
        return not self.sso and not self.roles and self.password is None

    def role(self, key: RoleKey) -> Record | None:
        return next((role for role in self.roles if key.matches(role)), None)


EMPTY: Final = TenantConfig()


@dataclass(frozen=True)
class Scope:
    """What a write may read: the tenant (None for the project), its configuration and the project's."""

    tenant: Record | None
    config: TenantConfig
    project: TenantConfig
    new_id: Callable[[str], str]  # a fresh id with the given prefix
    now: int

    @property
    def tenant_id(self) -> str:
        return "" if self.tenant is None else self.tenant["id"]

    def role_id(self, name: str) -> str | None:
        for roles in (self.config.roles, self.project.roles):
            for role in roles:
                if role["name"] == name:
                    return str(role["id"])
        return None


@dataclass(frozen=True)
class Outcome:
    config: TenantConfig
    answer: object = field(default_factory=dict)
    tenant_changes: Mapping[str, Any] | None = None  # fields of the tenant record itself (default SSO)


# ----- SSO ---------------------------------------------------------------------------------------------
def _sso_of(scope: Scope, sso_id: str) -> Record:
    config = scope.config.sso.get(sso_id)
    if config is not None:
        return config
    if sso_id == SSO_DEFAULT_ID:
        return blank_config(SSO_DEFAULT_ID)
    raise not_found("SSO configuration not found", f"SSO configuration {sso_id} of tenant {scope.tenant_id} not found")


def _tenant(scope: Scope) -> Record:
    if scope.tenant is None:  # pragma: no cover - routes always name a tenant for SSO
        raise refused("SSO configurations belong to a tenant")
    return scope.tenant


def load_sso(scope: Scope, sso_id: str) -> Record:
    return render_sso(_tenant(scope), _sso_of(scope, sso_id), scope.role_id)


def all_sso(scope: Scope) -> Record:
    tenant = _tenant(scope)
    return {"SSOSettings": [render_sso(tenant, config, scope.role_id) for config in scope.config.sso.values()]}


def new_sso(scope: Scope, body: Mapping[str, Any]) -> Outcome:
    tenant = _tenant(scope)
    display_name = parse_required_string(body.get("displayName"), "displayName")
    sso_id = parse_string(body.get("ssoId"), "ssoId") or scope.new_id("SSO")
    if sso_id in scope.config.sso:
        raise conflict(f"SSO configuration {sso_id} of tenant {tenant['id']} already exists", "SSO already exists")
    created = blank_config(sso_id, display_name)
    config = replace(scope.config, sso={**scope.config.sso, sso_id: created})
    return Outcome(config, render_sso(tenant, created, scope.role_id))


def configure_sso(scope: Scope, body: Mapping[str, Any], kind: str) -> Outcome:
    """A saml, saml/metadata or oidc write: the whole configuration of that ``ssoId`` is replaced."""
    tenant = _tenant(scope)
    written = parse_oidc(body) if kind == "oidc" else parse_saml(body, by_metadata=kind == "metadata")
    sso_id = parse_string(body.get("ssoId"), "ssoId")
    old = _sso_of(scope, sso_id)
    for name in referenced_roles(written):
        if scope.role_id(name) is None:
            raise refused(f"Role {name!r} does not exist in tenant {tenant['id']} or the project")
    new = {**old, **written}
    config = replace(scope.config, sso=_with_default_first({**scope.config.sso, sso_id: new}))
    if sso_id == SSO_DEFAULT_ID:
        changes = {"authType": new["authType"], "domains": new["domains"]}
        return Outcome(config, {}, changes)
    return Outcome(config)


def delete_sso(scope: Scope, sso_id: str) -> Outcome:
    _sso_of(scope, sso_id)  # 404 for an unknown non-default one
    remaining = {key: value for key, value in scope.config.sso.items() if key != sso_id}
    config = replace(scope.config, sso=remaining)
    if sso_id == SSO_DEFAULT_ID:
        return Outcome(config, {}, {"authType": "none", "domains": []})
    return Outcome(config)


def _with_default_first(configs: Mapping[str, Record]) -> dict[str, Record]:
    ordered = {SSO_DEFAULT_ID: configs[SSO_DEFAULT_ID]} if SSO_DEFAULT_ID in configs else {}
    ordered.update((key, value) for key, value in configs.items() if key != SSO_DEFAULT_ID)
    return ordered


# ----- roles -------------------------------------------------------------------------------------------
def _check_name_free(scope: Scope, name: str, keep: Record | None = None) -> None:
    folded = name.casefold()
    for role in scope.config.roles:
        if role is not keep and role["name"].casefold() == folded:
            where = f"tenant {scope.tenant_id}" if scope.tenant_id else "the project"
            raise conflict(f"A role named {role['name']!r} already exists in {where}", "Role already exists")


def create_role(scope: Scope, body: Mapping[str, Any]) -> Outcome:
    name = parse_required_string(body.get("name"), "name")
    fields = role_fields(body)
    _check_name_free(scope, name)
    role = {"id": scope.new_id("ROL"), "name": name, **fields, "createdTime": scope.now, "tenantId": scope.tenant_id}
    ordered = {key: role[key] for key in ROLE_ORDER}
    return Outcome(replace(scope.config, roles=(*scope.config.roles, ordered)))


def _existing_role(scope: Scope, key: RoleKey) -> Record:
    role = scope.config.role(key)
    if role is None:
        raise not_found("Role not found", f"{key} not found")
    return role


def update_role(scope: Scope, body: Mapping[str, Any]) -> Outcome:
    """A full overwrite: ``newName`` is required, every other field omitted is reset."""
    old = _existing_role(scope, role_key(body))
    new_name = parse_required_string(body.get("newName"), "newName")
    fields = role_fields(body)
    _check_name_free(scope, new_name, keep=old)
    new = {**old, "name": new_name, **fields}
    roles = tuple(new if role is old else role for role in scope.config.roles)
    return Outcome(replace(scope.config, roles=roles))


def delete_role(scope: Scope, body: Mapping[str, Any]) -> Outcome:
    old = _existing_role(scope, role_key(body))
    return Outcome(replace(scope.config, roles=tuple(role for role in scope.config.roles if role is not old)))


# ----- password settings -------------------------------------------------------------------------------
def set_password(scope: Scope, body: Mapping[str, Any]) -> Outcome:
    """A full overwrite: what the body omits (or sends as null) goes back to its default."""
    return Outcome(replace(scope.config, password=password_fields(body)))


def password_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: parse(body[key], key) for key, parse in PASSWORD_FIELDS.items() if body.get(key) is not None}


def effective_password(chain: list[TenantConfig]) -> dict[str, Any]:
    """Defaults overlaid by the first configured settings along tenant, parent, ..., project."""
    own = next((config.password for config in chain if config.password is not None), {})
    return {**PASSWORD_SETTINGS_DEFAULTS, **own}


# ----- seeds, state file and the control API's dump ----------------------------------------------------
def config_dump(config: TenantConfig) -> Record:
    """The keys a full record (control API, state file) carries for its configuration; none when empty."""
    dump: Record = {}
    if config.sso:
        dump["ssoSettings"] = [_sso_dump(sso) for sso in config.sso.values()]
    if config.roles:
        dump["roles"] = [render_role(role) for role in config.roles]
    if config.password is not None:
        dump["passwordSettings"] = dict(config.password)
    return dump


def _sso_dump(sso: Mapping[str, Any]) -> Record:
    # the default configuration's domains and auth type are the tenant record's own fields
    hidden = ("domains", "authType") if sso["ssoId"] == SSO_DEFAULT_ID else ()
    return {key: value for key, value in sso.items() if key not in hidden}


def parse_config_entry(entry: Mapping[str, Any], owner: str, now: int, new_id: Callable[[str], str]) -> TenantConfig:
    """The configuration a seed or state-file entry carries (``config_dump``'s keys), strict like the API.

    Role references in SSO mappings are not checked: the entry is a record, not a request.
    """
    scope = Scope(None, EMPTY, EMPTY, new_id, now)
    roles: list[Record] = []
    for index, raw in enumerate(_list(entry.get("roles"), "roles")):
        where = f"roles[{index}]"
        name = parse_required_string(raw.get("name"), f"{where}.name")
        outcome = create_role(replace(scope, config=TenantConfig(roles=tuple(roles))), raw)
        role = {**outcome.config.roles[-1], "tenantId": owner}
        role["id"] = parse_string(raw.get("id"), f"{where}.id") or role["id"]
        role["createdTime"] = parse_count(raw.get("createdTime"), f"{where}.createdTime") or now
        roles.append({**role, "name": name})
    sso: dict[str, Record] = {}
    for index, raw in enumerate(_list(entry.get("ssoSettings"), "ssoSettings")):
        sso_id = parse_string(raw.get("ssoId"), f"ssoSettings[{index}].ssoId")
        if sso_id in sso:
            raise conflict(f"SSO configuration {sso_id!r} of {owner or 'the project'} is listed twice")
        sso[sso_id] = _stored_sso(raw, sso_id, f"ssoSettings[{index}]")
    password = entry.get("passwordSettings")
    if password is not None and not isinstance(password, dict):
        raise invalid("passwordSettings", "an object")
    return TenantConfig(_with_default_first(sso), tuple(roles), None if password is None else password_fields(password))


def _list(value: object, name: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid(name, "a list of objects")
    return value


def _stored_sso(raw: Mapping[str, Any], sso_id: str, where: str) -> Record:
    stored = blank_config(sso_id, parse_string(raw.get("displayName"), f"{where}.displayName"))
    for kind, key in (("saml", "saml"), ("metadata", "saml"), ("oidc", "oidc")):
        part = raw.get(key)
        if not part or (kind == "metadata") != ("idpMetadataUrl" in part):
            continue
        try:
            body = {"settings": part, "domains": raw.get("domains"), "redirectUrl": raw.get("redirectUrl")}
            stored.update(parse_oidc(body) if kind == "oidc" else parse_saml(body, by_metadata=kind == "metadata"))
        except ApiError as exc:
            raise invalid(f"{where}.{key}", f"a valid {key} configuration ({exc.message})") from None
    stored["ssoId"] = sso_id
    return stored
