"""What we know of Descope's per-tenant SSO configurations, tenant roles and password policy APIs.

Facts (with their public sources) and our choices where Descope publishes none, apart from
``descope_api`` (the tenant API, attributes, rate limits) so each stays readable; ``descope_api``
re-exports every name, so callers import from one place. Like ``descope_api``, a leaf: it imports
nothing of ours.
"""

from __future__ import annotations

from typing import Final

# ----- per-tenant SSO configurations, roles and password policy ---------------------------------------
# Sources: py ``descope/management/sso_settings.py`` (+ ``_sso_settings_base.py``), ``role.py``,
# ``password.py``; go ``descope/internal/mgmt/sso.go``, ``role.go`` and ``descope/types.go``.
#
# Reads per cycle: roles have one list for many tenants (``role/search`` with ``tenantIds``), but Descope
# publishes no cross-tenant list for SSO configurations (``sso/settings/all`` takes one ``tenantId``) nor for
# password settings (``password/settings`` takes one ``tenantId``): a no-change cycle therefore costs one
# ``tenant/all``, one ``role/search``, and one of each of those two per tenant that manages that kind.

SSO_SAML_WRITE_KEYS: Final[tuple[str, ...]] = (
    "idpUrl",
    "entityId",
    "idpCert",
    "idpAdditionalCerts",
    "spACSUrl",
    "spEntityId",
    "attributeMapping",
    "roleMappings",
    "defaultSSORoles",
    "groupsPriority",
    "fgaMappings",
    "configFGATenantIDResourcePrefix",
    "configFGATenantIDResourceSuffix",
)
"""The ``settings`` of ``POST /v1/mgmt/sso/saml`` (py ``_compose_configure_saml_settings_body``, go
``ConfigureSAMLSettings``); ``redirectUrl``, ``domains`` and ``ssoId`` sit beside ``settings``. ``idpUrl``,
``entityId`` and ``idpCert`` are required (go refuses the call without them)."""

SSO_SAML_METADATA_WRITE_KEYS: Final[tuple[str, ...]] = (
    "idpMetadataUrl",
    *(key for key in SSO_SAML_WRITE_KEYS if key not in ("idpUrl", "idpCert", "idpAdditionalCerts")),
)
"""The ``settings`` of ``POST /v1/mgmt/sso/saml/metadata``: the IdP fields come from the metadata URL
(required), except ``entityId``, which py 2.16 and go still send."""

SSO_SAML_READ_NAMES: Final[dict[str, str]] = {
    "idpUrl": "idpSSOUrl",
    "entityId": "idpEntityId",
    "idpCert": "idpCertificate",
    "idpAdditionalCerts": "idpAdditionalCertificates",
    "roleMappings": "groupsMapping",
}
"""**A load answers other names than a write sends** for SAML (py ``load_settings`` docstring, go
``SSOSAMLSettingsResponse`` against ``SSOSAMLSettings``): write name → read name. Every other SAML key
keeps its name. ``roleMappings`` ``[{"groups", "roleName"}]`` reads as ``groupsMapping``
``[{"role": {"id", "name"}, "groups"}]``. OIDC keeps its names both ways. Compare in one vocabulary."""

SSO_SAML_READ_ONLY: Final[tuple[str, ...]] = ("spCertificate", "lastSuccessTestTime")
"""SAML keys a load may answer that no write sets (go ``SSOSAMLSettingsResponse``)."""

SSO_OIDC_KEYS: Final[tuple[str, ...]] = (
    "name",
    "clientId",
    "clientSecret",
    "redirectUrl",
    "authUrl",
    "tokenUrl",
    "userDataUrl",
    "scope",
    "JWKsUrl",
    "userAttrMapping",
    "manageProviderTokens",
    "callbackDomain",
    "prompt",
    "grantType",
    "issuer",
    "groupsPriority",
    "defaultSSORoles",
    "fgaMappings",
)
"""The ``settings`` of ``POST /v1/mgmt/sso/oidc`` (py ``_compose_configure_oidc_settings_body``, go
``SSOOIDCSettings``), the same names on read."""

SSO_SECRET_KEYS: Final[frozenset[str]] = frozenset({"clientSecret"})
"""Never returned by a load (go ``SSOOIDCSettings``: "will be empty on response"), so drift on them cannot be
read. *Choice*: the sandbox does not even keep it: it checks the type, then drops it (never stored, never
written to its state file, never answered)."""

SSO_DEFAULT_ID: Final = ""
"""The tenant's default SSO configuration has no ``ssoId``: a saml/oidc write or a load without ``ssoId``
addresses it (py ``load_settings``, go ``LoadSettings`` send ``ssoId`` only when given). Further ones are
made with ``POST /v1/mgmt/sso/settings/new`` (``{"tenantId", "ssoId", "displayName"}``, go requires
``displayName``). *Choices*: the default configuration's ``domains`` and ``authType`` are the tenant's own
``domains``/``authType`` (one value, two views: a tenant settings POST changes them, and a saml/oidc write
to the default configuration changes the tenant); ``settings/all`` lists the default configuration once it
has been configured, then the others in creation order; a saml/oidc write naming an ``ssoId`` that was never
created is a 404 (create it first); ``settings/new`` without an ``ssoId`` generates one (``"SSO"`` + 25
letters and digits); a duplicate ``ssoId`` is a 409; deleting the default configuration resets it (always
200), deleting an unknown ``ssoId`` is a 404."""

SSO_OVERWRITE: Final = True
"""A saml, saml/metadata or oidc POST **replaces the whole configuration** of that ``ssoId`` (py: "all settings
parameters are required"; ``domains``: "Use empty list or None to reset them"; ``redirect_url``: "empty string
to reset it"). *Choice*: every key it omits is reset, ``domains`` and ``redirectUrl`` included, and a SAML write
drops the configuration's OIDC settings (and the reverse): ``authType`` becomes the protocol last written.
So an SSO write is read-modify-write, and a load cannot give back the OIDC ``clientSecret``."""

SSO_ROLE_REFERENCES: Final = True
"""*Choice*: ``roleMappings[].roleName`` and ``defaultSSORoles`` must name roles that exist (the tenant's or the
project's): a load answers mappings with the role's id (go ``GroupsMapping.Role``), so Descope resolves the
name at write time. Otherwise 400 ``E000400-sandbox`` naming the role. Roles are therefore created before
the SSO configurations that name them. A mapping to a role deleted or renamed later keeps the name it was
written with and reads without an id."""

ROLE_FIELDS: Final[tuple[str, ...]] = ("name", "description", "permissionNames", "tenantId", "default", "private")
"""A role as ``POST /v1/mgmt/role/create`` takes it (py ``Role.create``); a load adds ``id`` and ``createdTime``
(go ``Role``: every field but ``name`` ``omitempty``)."""

ROLE_UPDATE_OVERWRITES: Final = True
"""``POST /v1/mgmt/role/update`` is a **full overwrite** (py: "All parameters are used as overrides to the
existing role. Empty fields will override populated fields"): the role is named by ``name`` (+``tenantId``)
or ``id``, ``newName`` is required, and an omitted ``description``, ``permissionNames``, ``default`` or
``private`` is reset. *Choices*: role names are unique per tenant (and among project roles) ignoring case, a
name is looked up exactly; a duplicate is a 409; an unknown role (update, delete) is a 404; an unknown tenant
is the tenant 404; permission names are not checked (the sandbox has no permissions); role ids are
``"ROL"`` + 25 letters and digits."""

ROLE_LISTING: Final = True
"""*Choice*: ``GET /v1/mgmt/role/all`` answers every role, project and tenant roles (with ``tenantId``):
the project's first, then each tenant's in tenant order, each group in creation order. Whether Descope's
``all`` includes tenant roles is unpublished, so a client reading the roles of some tenants uses
``POST /v1/mgmt/role/search`` with ``tenantIds`` (one call for all of them), which answers those tenants'
roles, plus project roles with ``includeProjectRoles``; without ``tenantIds`` it answers every role.
``roleNames`` match exactly, ``roleNameLike`` is a case-insensitive substring, ``permissionNames`` keeps
roles holding any of them, ``roleIds`` match ids; unset filters match all."""

PASSWORD_SETTINGS_DEFAULTS: Final[dict[str, object]] = {
    "enabled": True,
    "minLength": 8,
    "lowercase": False,
    "uppercase": False,
    "number": False,
    "nonAlphanumeric": False,
    "expiration": False,
    "expirationWeeks": 0,
    "reuse": False,
    "reuseAmount": 0,
    "lock": False,
    "lockAttempts": 0,
}
"""``GET/POST /v1/mgmt/password/settings`` keys (py ``Password.get_settings`` docstring, go
``PasswordSettings``); ``tenantId`` in the query (GET) or the body (POST), empty for the project's.
*Choices*: these values are what settings never configured read as (Descope publishes none); a POST is a
**full overwrite** (py's ``configure_settings`` sends only the dict it is given, go sends every field): a key
it omits goes back to this default; a GET always answers every key; a tenant without its own settings reads
its parent's (sub-tenants inherit them), a top-level one the project's."""
