"""The words of tenants.yaml's JSON Schema: editor hover texts, their public sources, what it cannot say.

Written by hand (paraphrasing Descope's docs, sources listed), apart from the generator in ``json_schema``
so that module holds only how the schema is built from the loader's catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SOURCES: Final[tuple[str, ...]] = (
    "https://docs.descope.com/tenant-management/tenant",
    "https://docs.descope.com/management/tenant-management",
    "https://docs.descope.com/api/management/tenants/create-tenant",
    "https://docs.descope.com/customize/project/",
)
"""Descope's pages the hover texts paraphrase."""

DESCRIPTIONS: Final[Mapping[str, str]] = {
    "tenants": "The tenants this controller manages. `tenants: []` declares that there are none.",
    "id": "The tenant's stable key, also its Descope tenant id. Descope lets an id be chosen only when the "
    "tenant is created; it cannot be changed afterwards, so renaming an id here means a new tenant.",
    "name": "The tenant's display name, unique within the project whatever its case. It can be changed at any time.",
    "selfProvisioningDomains": "Email domains of the tenant: a user signing up (other than through SAML) "
    "with an address at one of them is added to this tenant, in addition to SSO and invitations. Compared "
    "ignoring case and order.",
    "customAttributes": "Values of the tenant's custom attributes, keyed by the attribute's machine name. "
    "Each must be defined in the project first (Console: Tenants → Custom attributes) with a type: text, "
    "numeric, boolean, single select, multi select (a list) or date (epoch milliseconds); null clears a "
    "value. Only the keys written here are managed; others are left as they are.",
    "enforceSSO": "Require the tenant's users to sign in through the tenant's SSO connection.",
    "enforceSSOExclusions": "Users (login ids) who may still sign in without SSO while enforceSSO is on.",
    "disabled": "Disable the tenant (the console's activate/disable); it is kept with its users and configuration.",
    "federatedAppIds": "Ids of the project's federated applications associated with the tenant.",
    "roleInheritance": "How the tenant's users take roles from its parent tenant: `\"\"` (Descope's "
    "default), `none` or `userOnly`.",
    "parent": "The id of the parent tenant, declared in the tenants files too.",
    "defaultRoles": "Roles given to every user who joins the tenant. Compared ignoring order.",
    "settings": "The tenant's own session management settings, which take precedence over the project's "
    "(Console: Tenants → a tenant → Session Management → Custom). When a user belongs to several tenants "
    "the stricter policy wins. Only the keys written here are managed.",
    "settings.enabled": "Use these tenant-level session settings instead of the project's.",
    "settings.sessionTokenExpiration": "How long a session token (used to access the application's "
    "resources) is valid, in sessionTokenExpirationUnit. Descope requires at least 3 minutes and no "
    "longer than the refresh token.",
    "settings.sessionTokenExpirationUnit": "Unit of sessionTokenExpiration.",
    "settings.refreshTokenExpiration": "How long a refresh token is valid, in refreshTokenExpirationUnit; "
    "after it the user must sign in again.",
    "settings.refreshTokenExpirationUnit": "Unit of refreshTokenExpiration.",
    "settings.stepupTokenExpiration": "How long a step-up token is valid, in stepupTokenExpirationUnit.",
    "settings.stepupTokenExpirationUnit": "Unit of stepupTokenExpiration.",
    "settings.enableInactivity": "End sessions that have been inactive for inactivityTime.",
    "settings.inactivityTime": "How long a session may be inactive before it ends (with enableInactivity), "
    "in inactivityTimeUnit.",
    "settings.inactivityTimeUnit": "Unit of inactivityTime.",
    "settings.JITDisabled": "Turn off just-in-time provisioning of SSO users for this tenant.",
    "roles": "Roles scoped to this tenant, keyed by name (unique in the tenant whatever the case). Left out: the "
    "tenant's roles are not managed; `roles: []`: it should have none.",
    "roles.name": "The role's name, its key: SSO role mappings and default roles name it exactly.",
    "roles.description": "What the role is for.",
    "roles.permissionNames": "Names of the project's permissions the role grants.",
    "roles.default": "Give this role to every new user of the tenant.",
    "roles.private": "Hide the role from the tenant's admins in Descope's admin widgets.",
    "sso": "The tenant's SSO configurations (SAML or OIDC), keyed by ssoId. Left out: the tenant's SSO is not "
    "managed; inside an entry only the keys written are managed.",
    "sso.ssoId": "The configuration's id in the tenant. Leave it out (or write \"\") for the tenant's default "
    "configuration, which Descope addresses without an ssoId.",
    "sso.displayName": "The name Descope shows for a further (non-default) configuration.",
    "sso.domains": "Email domains whose users sign in through this configuration.",
    "sso.saml": "A SAML identity provider: idpMetadataUrl, or idpUrl + entityId + idpCert.",
    "sso.oidc": "An OpenID Connect identity provider.",
    "saml.idpMetadataUrl": "URL of the IdP's SAML metadata; Descope reads the IdP's URL and certificate from it.",
    "saml.idpUrl": "The IdP's single sign-on URL (without idpMetadataUrl).",
    "saml.entityId": "The IdP's entity id (issuer).",
    "saml.idpCert": "The IdP's signing certificate (PEM), without idpMetadataUrl.",
    "saml.idpAdditionalCerts": "More IdP signing certificates, e.g. during a rotation.",
    "saml.spACSUrl": "Override of Descope's assertion consumer service URL given to the IdP.",
    "saml.spEntityId": "Override of Descope's service provider entity id given to the IdP.",
    "saml.attributeMapping": "Which IdP attribute fills each Descope user field (e.g. email, name, group).",
    "saml.roleMappings": "IdP groups to roles: each `{groups: [...], roleName: ...}` gives the role to members of "
    "any of the groups. The role must exist (the tenant's or the project's).",
    "saml.defaultSSORoles": "Roles every user signing in through this configuration gets.",
    "saml.groupsPriority": "Order in which IdP groups win when their role mappings disagree.",
    "saml.fgaMappings": "IdP groups to fine-grained authorization relations, in Descope's own structure.",
    "saml.configFGATenantIDResourcePrefix": "Prefix of the tenant id in fine-grained authorization resources.",
    "saml.configFGATenantIDResourceSuffix": "Suffix of the tenant id in fine-grained authorization resources.",
    "saml.redirectUrl": "Where users are sent after a successful SSO sign-in.",
    "oidc.name": "The provider's name as Descope shows it.",
    "oidc.clientId": "The client id registered with the provider.",
    "oidc.clientSecret": "The client secret, as a reference only: `{env: VARIABLE}` or `{file: /absolute/path}`, "
    "read when it is written to Descope. A literal secret is refused.",
    "oidc.redirectUrl": "Where users are sent after a successful SSO sign-in.",
    "oidc.authUrl": "The provider's authorization endpoint.",
    "oidc.tokenUrl": "The provider's token endpoint.",
    "oidc.userDataUrl": "The provider's user info endpoint.",
    "oidc.scope": "Scopes to request, e.g. [openid, email, profile].",
    "oidc.JWKsUrl": "The provider's JSON Web Key Set URL.",
    "oidc.userAttrMapping": "Which provider claim fills each Descope user field.",
    "oidc.manageProviderTokens": "Keep the provider's tokens so the application can fetch them.",
    "oidc.callbackDomain": "Domain of the callback URL given to the provider.",
    "oidc.prompt": "OIDC prompt values to send, e.g. [login].",
    "oidc.grantType": "OAuth grant type, e.g. authorization_code.",
    "oidc.issuer": "The provider's issuer URL.",
    "oidc.groupsPriority": "Order in which provider groups win when their role mappings disagree.",
    "oidc.defaultSSORoles": "Roles every user signing in through this configuration gets.",
    "oidc.fgaMappings": "Provider groups to fine-grained authorization relations, in Descope's own structure.",
    "passwordPolicy": "The tenant's own password policy. Left out: the tenant keeps inheriting (a sub-tenant its "
    "parent's, then the project's). Only the keys written are managed.",
    "passwordPolicy.enabled": "Allow password sign-in for this tenant's users.",
    "passwordPolicy.minLength": "Minimum password length.",
    "passwordPolicy.lowercase": "Require a lowercase letter.",
    "passwordPolicy.uppercase": "Require an uppercase letter.",
    "passwordPolicy.number": "Require a digit.",
    "passwordPolicy.nonAlphanumeric": "Require a character that is not a letter or a digit.",
    "passwordPolicy.expiration": "Make passwords expire after expirationWeeks.",
    "passwordPolicy.expirationWeeks": "Weeks after which a password expires (with expiration).",
    "passwordPolicy.reuse": "Forbid reusing the last reuseAmount passwords.",
    "passwordPolicy.reuseAmount": "How many previous passwords may not be reused (with reuse).",
    "passwordPolicy.lock": "Lock the user after lockAttempts failed sign-ins.",
    "passwordPolicy.lockAttempts": "Failed sign-ins before the user is locked (with lock).",
}
"""Hover texts by field (``settings.<key>`` for session settings). Every field of the model needs one."""

NOT_COVERED: Final[tuple[str, ...]] = (
    "unique ids, and names unique whatever their case, across all tenants and files",
    "ids and names a reviewer could not tell apart (Unicode TR39: mixed scripts, lookalikes)",
    "parents declared in the tenants files, not the tenant itself, and without cycles",
    "domains listed twice in another case (the schema refuses only exact repeats)",
    "in ids: characters that are not printable beyond whitespace and control characters "
    "(e.g. the zero-width space U+200B, private-use or unassigned code points)",
    "whole numbers written with a fraction (`10.0`) where a whole number is required; "
    "`.inf`, `.nan` and whole numbers beyond 64 bits as custom attribute values",
    "whether custom attributes exist in the project and take the value given, unless the schema was "
    "made with `descope-gitops schema --attributes`",
    "YAML itself: syntax, duplicate keys, and YAML 1.1 scalars (`yes`, `on` and `no` are booleans for the loader)",
    "size limits (bytes, tenants, nesting, aliases)",
    "role names unique in a tenant whatever their case, and role names in SSO role mappings or default SSO "
    "roles that differ only in case from a role the tenant declares",
    "ssoId unique in a tenant (one default configuration), and no displayName on the default configuration",
    "URLs beyond their http(s) scheme (a host is required), and secret file paths with NUL",
)
"""What the loader checks and this schema cannot express: listed in the schema's own description."""
