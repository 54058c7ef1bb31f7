"""What we know of Descope's Management API, with its sources: the one place the client and the sandbox take it from.

Each fact names where it comes from: Descope's SDKs (py = descope/python-sdk, go = descope/go-sdk,
node = descope/node-sdk, net = descope-dotnet), docs.descope.com, or shared/reference/descope-tenant-api.md
(§ numbers). A fact marked *choice* is not published; we picked the stricter reading, and this is
the only place that says so. The sandbox behaves as these facts say; the client copes with them.
A leaf module: any layer (and the sandbox) may import it; it imports nothing of ours.
"""

from __future__ import annotations

from typing import Final

# ----- transient failures and retries (§5) ------------------------------------------------------------

SDK_RETRY_STATUSES: Final[frozenset[int]] = frozenset({503, 520, 521, 522, 524, 530})
"""What every Descope SDK retries by itself (py ``_RETRY_STATUS_CODES``, go ``retryableStatusCodes``,
net ``DescopeErrorResponseHandler``), 3 times after 0.1 s, 5 s, 5 s. Never 429, 500, 502 or 504."""

GATEWAY_STATUSES: Final[frozenset[int]] = frozenset({502, 504})
"""*Choice*: gateway failures we retry too, although the SDKs do not. A write we retry is idempotent
(patch, update, settings and default roles set values) or checked by id first (create), so repeating
it after a gateway lost the answer cannot do harm."""

EDGE_STATUSES: Final[frozenset[int]] = SDK_RETRY_STATUSES | GATEWAY_STATUSES
"""Statuses answered by Cloudflare in front of Descope, with an HTML page rather than a Descope error body."""

# ----- which writes overwrite, and what they reset (§3.3, §3.3a, §3.7) ---------------------------------

TENANT_UPDATE_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "selfProvisioningDomains",
    "customAttributes",
    "enforceSSO",
    "enforceSSOExclusions",
    "disabled",
    "federatedAppIds",
    "roleInheritance",
)
"""What ``POST /v1/mgmt/tenant/update`` writes, as a **full overwrite**: an omitted field is reset to empty
(py docstring "Empty fields will override populated fields", py README "Update will override all fields as
is"; descope-dotnet PR #140 builds the body from a load). So an update is always read-modify-write."""

TENANT_FIELDS_NOT_UPDATABLE: Final[frozenset[str]] = frozenset(
    {"parent", "defaultRoles", "createdTime", "authType", "domains", "successors"}
)
"""Tenant fields a load answers that ``update`` does not take (parent is create-only, default roles have
their own endpoint, the rest are read-only or set through settings/SSO). A body built from a load leaves them out."""

TENANT_PATCH_FIELDS: Final[tuple[str, ...]] = TENANT_UPDATE_FIELDS
"""What ``PATCH /v1/mgmt/tenant/patch`` may carry; only those present change (py 2.16 ``patch_tenant``).
Whether ``customAttributes`` merges or replaces is unpublished: *choice*, it replaces the whole map, so
the client always sends the complete intended map."""

PATCH_MISSING_STATUSES: Final[frozenset[int]] = frozenset({404, 405})
"""PATCH arrived in the SDKs in September 2026; an older deployment answers 404 (no route) or 405. A 404
may also mean "no such tenant": the client tells the two apart with a load by id."""

SETTINGS_TENANT_KEYS: Final[tuple[str, ...]] = (
    "selfProvisioningDomains",
    "domains",
    "authType",
    "enforceSSO",
    "enforceSSOExclusions",
    "federatedAppIds",
)
"""Keys of the settings body that are really tenant fields (net ``ConfigureTenantSettingsRequest``; py sends
the last three on POST). A settings POST that omits them clears the tenant's domains and SSO setup."""

SETTINGS_SESSION_KEYS: Final[tuple[str, ...]] = (
    "enabled",
    "refreshTokenExpiration",
    "refreshTokenExpirationUnit",
    "sessionTokenExpiration",
    "sessionTokenExpirationUnit",
    "stepupTokenExpiration",
    "stepupTokenExpirationUnit",
    "enableInactivity",
    "inactivityTime",
    "inactivityTimeUnit",
    "JITDisabled",
    "ssoSetupSuiteSettings",
)
"""The tenant's own session settings in the same body (go ``TenantSettings``, net, py ``update_settings``)."""

SETTINGS_POST_KEYS: Final[tuple[str, ...]] = SETTINGS_TENANT_KEYS + SETTINGS_SESSION_KEYS
"""``POST /v1/mgmt/tenant/settings`` (id under ``tenantId``) is a **full overwrite**: every key it omits is
reset to its default, self-provisioning and SSO domains included. Sources: the node SDK README ("Update will
override all fields as is. Use carefully."), py makes ``self_provisioning_domains`` a required argument,
go's ``ConfigureSettings`` always sends every field. So a settings write is always read-modify-write."""

SESSION_SETTINGS_DEFAULTS: Final[dict[str, object]] = {
    "enabled": False,
    "refreshTokenExpiration": 4,
    "refreshTokenExpirationUnit": "weeks",
    "sessionTokenExpiration": 10,
    "sessionTokenExpirationUnit": "minutes",
    "stepupTokenExpiration": 10,
    "stepupTokenExpirationUnit": "minutes",
    "enableInactivity": False,
    "inactivityTime": 12,
    "inactivityTimeUnit": "hours",
    "JITDisabled": False,
    "ssoSetupSuiteSettings": {
        "enabled": False,
        "styleId": "",
        "disabledFeatures": {"saml": False, "oidc": False, "scim": False, "ssoDomains": False, "groupMapping": False},
    },
}
"""*Choice*: what a tenant's session settings read as when never configured, and what an omitted key is
reset to (Descope publishes no defaults; these are the console's usual ones). Readers must not mutate it."""
