"""The tenant fields we manage, in Descope's own wire names, with their defaults and write paths.

This is the single catalogue the loader (what YAML may say), the planner (how to compare and
which API call changes a field) and the client share. Values are plain JSON data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

JSONValue = Any  # str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]
LiveTenant = Mapping[str, JSONValue]
"""A tenant as Descope returns it from ``GET /v1/mgmt/tenant/all`` (missing fields mean defaults)."""


class Kind(Enum):
    """How a field's value is validated and compared."""

    STRING = "string"
    BOOL = "bool"
    STRING_SET = "string_set"  # order-insensitive list of strings
    DOMAIN_SET = "domain_set"  # order- and case-insensitive list of domains
    ATTRIBUTES = "attributes"  # map; only keys written in YAML are managed
    SETTINGS = "settings"  # tenant session settings, a separate endpoint
    ROLES = "roles"  # tenant-scoped roles, a list keyed by name
    SSO = "sso"  # SSO configurations, a list keyed by ssoId
    PASSWORD_POLICY = "password_policy"  # noqa: S105 - a kind, not a password; the tenant's password settings, a map


class WritePath(Enum):
    """Which Descope call changes a field after the tenant exists."""

    PATCH = "patch"  # PATCH /v1/mgmt/tenant/patch with only the changed fields
    DEFAULT_ROLES = "default_roles"  # POST /v1/mgmt/tenant/updateDefaultRoles
    SETTINGS = "settings"  # POST /v1/mgmt/tenant/settings
    IMMUTABLE = "immutable"  # set at create only; a change is an error
    SUBRESOURCE = "subresource"  # its own resource and endpoints (roles, SSO, password); not the tenant planner's


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    write: WritePath
    default: JSONValue
    choices: tuple[str, ...] = ()


TENANT_FIELDS: Final[Mapping[str, FieldSpec]] = {
    f.name: f
    for f in (
        FieldSpec("name", Kind.STRING, WritePath.PATCH, ""),
        FieldSpec("selfProvisioningDomains", Kind.DOMAIN_SET, WritePath.PATCH, ()),
        FieldSpec("customAttributes", Kind.ATTRIBUTES, WritePath.PATCH, {}),
        FieldSpec("enforceSSO", Kind.BOOL, WritePath.PATCH, False),
        FieldSpec("enforceSSOExclusions", Kind.STRING_SET, WritePath.PATCH, ()),
        FieldSpec("disabled", Kind.BOOL, WritePath.PATCH, False),
        FieldSpec("federatedAppIds", Kind.STRING_SET, WritePath.PATCH, ()),
        FieldSpec("roleInheritance", Kind.STRING, WritePath.PATCH, "", ("", "none", "userOnly")),
        FieldSpec("parent", Kind.STRING, WritePath.IMMUTABLE, ""),
        FieldSpec("defaultRoles", Kind.STRING_SET, WritePath.DEFAULT_ROLES, ()),
        FieldSpec("settings", Kind.SETTINGS, WritePath.SETTINGS, {}),
        FieldSpec("roles", Kind.ROLES, WritePath.SUBRESOURCE, ()),
        FieldSpec("sso", Kind.SSO, WritePath.SUBRESOURCE, ()),
        FieldSpec("passwordPolicy", Kind.PASSWORD_POLICY, WritePath.SUBRESOURCE, {}),
    )
}
"""Every key a tenant in tenants.yaml may carry besides ``id``.

The ``WritePath.SUBRESOURCE`` ones (``roles``, ``sso``, ``passwordPolicy``) are not fields of the tenant
record: each is its own resource with its own endpoints, planned apart from the tenant (the tenant planner
skips them). In ``DesiredTenant.fields`` they are plain JSON values exactly as validated
(``core.schema_config`` says what each holds); an absent key is not managed, an empty list means "none"."""

SUBRESOURCE_FIELDS: Final[tuple[str, ...]] = tuple(
    name for name, spec in TENANT_FIELDS.items() if spec.write is WritePath.SUBRESOURCE
)
"""The tenant keys that are sub-resources: what code reading the tenant record itself must skip."""

SERVER_ONLY_FIELDS: Final[frozenset[str]] = frozenset({"createdTime", "authType", "successors", "domains"})
"""Fields Descope reports that we never compare or write."""

TIME_UNITS: Final[tuple[str, ...]] = ("seconds", "minutes", "hours", "days", "weeks")

SETTINGS_FIELDS: Final[Mapping[str, type | tuple[str, ...]]] = {
    "enabled": bool,
    "sessionTokenExpiration": int,
    "sessionTokenExpirationUnit": TIME_UNITS,
    "refreshTokenExpiration": int,
    "refreshTokenExpirationUnit": TIME_UNITS,
    "stepupTokenExpiration": int,
    "stepupTokenExpirationUnit": TIME_UNITS,
    "enableInactivity": bool,
    "inactivityTime": int,
    "inactivityTimeUnit": TIME_UNITS,
    "JITDisabled": bool,
}
"""Keys of a tenant's ``settings`` block: the type of an int/bool key, or the allowed strings."""

ROLE_KEYS: Final[tuple[str, ...]] = ("name", "description", "permissionNames", "default", "private")
"""Keys of one entry of a tenant's ``roles``: ``descope_api.ROLE_FIELDS`` but ``tenantId`` (the tenant it sits in)."""

SSO_KEYS: Final[tuple[str, ...]] = ("ssoId", "displayName", "domains", "saml", "oidc")
"""Keys of one entry of a tenant's ``sso``: what sits beside the protocol's settings in Descope's writes."""

SSO_SAML_REDIRECT_KEY: Final = "redirectUrl"
"""Sent beside the SAML ``settings`` (``descope_api.SSO_SAML_WRITE_KEYS``), written inside ``saml:`` in YAML."""

PASSWORD_POLICY_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "minLength": (1, 128),
    "expirationWeeks": (0, 520),
    "reuseAmount": (0, 100),
    "lockAttempts": (0, 100),
}
"""*Choice*: the whole-number keys of ``passwordPolicy`` and the bounds we accept (Descope publishes none;
these are wide enough for any sane policy: a password of 1 to 128 characters, expiry within ten years,
up to 100 remembered passwords or failed attempts). Every other key of
``descope_api.PASSWORD_SETTINGS_DEFAULTS`` is a boolean."""

MAX_ID_LENGTH: Final = 256
MAX_NAME_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class DesiredTenant:
    """One tenant as tenants.yaml declares it: only the keys written there are managed."""

    id: str
    fields: Mapping[str, JSONValue]  # wire name -> value, every key written in YAML except ``id``
    file: str = "<memory>"
    line: int | None = None

    @property
    def name(self) -> str:
        return str(self.fields.get("name", ""))

    @property
    def parent(self) -> str:
        return str(self.fields.get("parent", "") or "")

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class DesiredState:
    """All tenants of one revision of the source, in file order."""

    tenants: tuple[DesiredTenant, ...] = ()
    files: tuple[str, ...] = field(default=())

    def by_id(self) -> dict[str, DesiredTenant]:
        return {t.id: t for t in self.tenants}
