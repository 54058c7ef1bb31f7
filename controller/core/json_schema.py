"""The JSON Schema (draft 2020-12) of tenants.yaml, generated from the catalogue the loader checks against.

Editors (VS Code's YAML extension, JetBrains) read a JSON Schema to complete keys, show what a field
means on hover and underline mistakes while a tenants file is being written, before ``validate`` or a
pull request ever sees it. So that the editor and the loader can never disagree about what is allowed,
nothing here is a copy: the keys, kinds, choices, defaults and limits come from ``core.model``
(``TENANT_FIELDS``, ``SETTINGS_FIELDS``, ``MAX_*_LENGTH``), the domain grammar from ``core.schema``, the
session defaults and custom attribute types from ``descope_api``, the sub-resources' keys and kinds from
``core.schema_config``. Only the hover texts are written here,
paraphrasing Descope's documentation (sources in ``SOURCES``); a field of the model without one is an
error, so a new field cannot ship undocumented.

The schema is a weaker check than the loader, never a stricter one: whatever it refuses, the loader
refuses too (``tests/core/test_json_schema.py`` proves both on a table of documents). What it cannot
express is listed in its root ``description`` (``NOT_COVERED``): rules across tenants and files, YAML
itself, and a few value details. Patterns are written for both regex dialects that read them,
ECMA-262 in editors and Python's ``re`` in the ``jsonschema`` package: ``(?![\\s\\S])`` ends a match
where ``$`` would also match before a final newline in Python, and characters are spelled ``\\uXXXX``.
It uses only keywords that mean the same in draft-07, the newest draft yaml-language-server implements.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from controller.core.config_keys import (
    BOOL_KEYS,
    ENV_NAME,
    OBJECT_KEYS,
    OPTIONAL_STRING_KEYS,
    PASSWORD_POLICY_TYPES,
    SAML_KEYS,
    SAML_MANUAL,
    SAML_NOT_WITH_METADATA,
    STRING_LIST_KEYS,
    STRING_MAP_KEYS,
    URL_KEYS,
)
from controller.core.model import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    ROLE_KEYS,
    SETTINGS_FIELDS,
    SSO_KEYS,
    TENANT_FIELDS,
    FieldSpec,
    Kind,
    WritePath,
)
from controller.core.schema import _DOMAIN, TOP_LEVEL_KEYS
from controller.core.yaml_events import _INT64
from controller.descope_api import (
    PASSWORD_SETTINGS_DEFAULTS,
    SELECT_TYPES,
    SESSION_SETTINGS_DEFAULTS,
    SSO_OIDC_KEYS,
    SSO_SECRET_KEYS,
    AttributeDefinition,
)

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

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

_END: Final = r"(?![\s\S])"
"""End of the string in both ECMA-262 and Python (Python's ``$`` also matches before a final newline)."""


def tenants_json_schema(attributes: Mapping[str, AttributeDefinition] | None = None) -> dict[str, Any]:
    """The JSON Schema of a tenants file; with the project's attribute definitions, of its customAttributes too."""
    missing = [name for name in _documented_fields() if name not in DESCRIPTIONS]
    if missing:
        raise ValueError(f"no description for {', '.join(missing)}: add it to DESCRIPTIONS")
    (top_key,) = TOP_LEVEL_KEYS
    tenant: dict[str, Any] = {
        "type": "object",
        "description": "One tenant. Only the keys written are managed: a key left out is never changed.",
        "required": ["id", "name"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": "string",
                "description": DESCRIPTIONS["id"],
                "minLength": 1,
                "maxLength": MAX_ID_LENGTH,
                "pattern": f"^[^{_char_class(_is_blank_or_control)}]+{_END}",
                "patternErrorMessage": "an id cannot contain whitespace or control characters",
            },
            **{name: _field(spec, attributes) for name, spec in TENANT_FIELDS.items()},
        },
    }
    return {
        "$schema": DIALECT,
        "title": "descope-gitops tenants file",
        "description": "The tenants a descope-gitops controller keeps equal in a Descope project. "
        "`descope-gitops validate` checks more than this schema; not covered here: "
        + "; ".join(NOT_COVERED)
        + ". Generated by `descope-gitops schema"
        + (" --attributes" if attributes is not None else "")
        + "`; field descriptions paraphrase "
        + ", ".join(SOURCES)
        + ".",
        "type": "object",
        "required": [top_key],
        "additionalProperties": False,
        "properties": {top_key: {"type": "array", "description": DESCRIPTIONS[top_key], "items": tenant}},
    }


def render(schema: Mapping[str, Any]) -> str:
    """The schema as the shipped file holds it: stable key order, two-space indent, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# -- one field ----------------------------------------------------------------------------------


def _field(spec: FieldSpec, attributes: Mapping[str, AttributeDefinition] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _description(spec)}
    if spec.name == "name":
        out |= {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": f"[^{_char_class(str.isspace)}]",  # not only whitespace (the loader strips it)
            "patternErrorMessage": "a name cannot be empty or only whitespace",
        }
    elif spec.choices:
        out["enum"] = list(spec.choices)
    elif spec.kind is Kind.STRING:
        out["type"] = "string"
    elif spec.kind is Kind.BOOL:
        out["type"] = "boolean"
    elif spec.kind is Kind.STRING_SET:
        out |= {"type": "array", "items": {"type": "string", "minLength": 1}}
    elif spec.kind is Kind.DOMAIN_SET:
        out |= {"type": "array", "uniqueItems": True, "items": _domain()}
    elif spec.kind is Kind.ATTRIBUTES:
        out |= _attributes(attributes)
    elif spec.kind is Kind.SETTINGS:
        out |= _settings()
    elif spec.kind is Kind.ROLES:
        out |= {"type": "array", "items": _roles()}
    elif spec.kind is Kind.SSO:
        out |= {"type": "array", "items": _sso()}
    elif spec.kind is Kind.PASSWORD_POLICY:
        out |= _password_policy()
    else:  # pragma: no cover - the model has only these kinds
        raise AssertionError(f"no JSON Schema for {spec.kind}")
    if spec.name != "name":  # required: a default would only mislead a completion
        out["default"] = _json(spec.default)
    return out


def _description(spec: FieldSpec) -> str:
    text = DESCRIPTIONS[spec.name]
    if spec.write is WritePath.IMMUTABLE:
        text += " Set when the tenant is created only: changing it later is a conflict the plan reports."
    return text


def _domain() -> dict[str, Any]:
    return {
        "type": "string",
        "maxLength": 253,
        # the loader's grammar, anchored; the last label is not all digits (an IP address is no domain)
        "pattern": rf"^(?![\s\S]*\.[0-9]+{_END})(?:{_DOMAIN.pattern}){_END}",
        "patternErrorMessage": "a domain name such as acme.com (internationalised names in punycode, xn--...)",
    }


def _attributes(attributes: Mapping[str, AttributeDefinition] | None) -> dict[str, Any]:
    if attributes is None:
        return {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": {
                "type": ["string", "number", "boolean", "null", "array"],
                "items": {"type": "string"},
            },
        }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _attribute(definition) for name, definition in sorted(attributes.items())},
    }


def _attribute(definition: AttributeDefinition) -> dict[str, Any]:
    """A value ``descope_api.attribute_value_problem`` takes for this definition (null clears it)."""
    shown = definition.display_name or definition.name
    out: dict[str, Any] = {"description": f"{shown} ({definition.type}): {definition.expected()}, or null to clear it"}
    if definition.type in SELECT_TYPES:
        values: list[Any] = list(definition.values)
        if definition.type == "singleselect":
            return out | {"enum": [*values, None]}
        return out | {"type": ["array", "null"], "uniqueItems": True, "items": {"enum": values}}
    if definition.type == "date":  # whole epoch milliseconds, in the loader's 64-bit range
        return out | {"type": ["integer", "null"], "minimum": -_INT64, "maximum": _INT64 - 1}
    json_type = {"string": "string", "number": "number", "boolean": "boolean"}[definition.type]
    return out | {"type": [json_type, "null"]}


def _settings() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, expected in SETTINGS_FIELDS.items():
        setting: dict[str, Any] = {"description": DESCRIPTIONS[f"settings.{name}"]}
        if expected is bool:
            setting["type"] = "boolean"
        elif expected is int:
            setting |= {"type": "integer", "minimum": 1, "maximum": _INT64 - 1}
        elif isinstance(expected, tuple):
            setting["enum"] = list(expected)
        else:  # pragma: no cover - the catalogue has only these types
            raise AssertionError(f"no JSON Schema for settings.{name}: {expected!r}")
        if name in SESSION_SETTINGS_DEFAULTS:
            setting["default"] = SESSION_SETTINGS_DEFAULTS[name]
        properties[name] = setting
    return {"type": "object", "additionalProperties": False, "properties": properties}


# -- sub-resources: roles, SSO, password policy (the loader's rules: core.schema_config) ----------


def _text() -> dict[str, Any]:
    """A string that is not empty nor only whitespace."""
    return {
        "type": "string",
        "pattern": f"[^{_char_class(str.isspace)}]",
        "patternErrorMessage": "cannot be empty or only whitespace",
    }


def _strings(min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}} | (
        {"minItems": min_items} if min_items else {}
    )


def _object(prefix: str, properties: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A mapping of exactly these keys, each with its hover text."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {"description": DESCRIPTIONS[f"{prefix}.{name}"]} | spec for name, spec in properties.items()
        },
    }


def _roles() -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "name": _text() | {"maxLength": MAX_NAME_LENGTH},
        "description": {"type": "string"},
        "permissionNames": _strings(),
        "default": {"type": "boolean"},
        "private": {"type": "boolean"},
    }
    assert tuple(kinds) == ROLE_KEYS
    return _object("roles", kinds) | {"required": ["name"]}


def _sso_setting(name: str) -> dict[str, Any]:
    """One key of ``saml:`` or ``oidc:``, by the kind ``schema_config`` checks it as."""
    if name in SSO_SECRET_KEYS:
        return {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "env": {"type": "string", "pattern": f"^{ENV_NAME.pattern}{_END}"},
                "file": {"type": "string", "pattern": "^/"},
            },
        }
    if name in URL_KEYS:
        return {
            "type": "string",
            "pattern": "^[hH][tT][tT][pP][sS]?://",
            "patternErrorMessage": "an http(s) URL with a host",
        }
    if name in STRING_LIST_KEYS:
        return _strings()
    if name in STRING_MAP_KEYS:
        return {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": {"type": "string"}}
    if name == "roleMappings":
        return {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["groups", "roleName"],
                "properties": {"groups": _strings(min_items=1), "roleName": _text()},
            },
        }
    if name in BOOL_KEYS:
        return {"type": "boolean"}
    if name in OBJECT_KEYS:
        return {"type": "object"}
    if name in OPTIONAL_STRING_KEYS:
        return {"type": "string"}
    return _text()


def _sso() -> dict[str, Any]:
    manual = [{"required": [key]} for key in SAML_NOT_WITH_METADATA]
    saml = _object("saml", {name: _sso_setting(name) for name in SAML_KEYS}) | {
        "anyOf": [
            {"required": ["idpMetadataUrl"], "not": {"anyOf": manual}},
            {"required": list(SAML_MANUAL), "not": {"required": ["idpMetadataUrl"]}},
        ]
    }
    oidc = _object("oidc", {name: _sso_setting(name) for name in SSO_OIDC_KEYS})
    kinds: dict[str, dict[str, Any]] = {
        "ssoId": {
            "type": "string",
            "maxLength": MAX_ID_LENGTH,
            "pattern": f"^[^{_char_class(_is_blank_or_control)}]*{_END}",
            "patternErrorMessage": "an ssoId cannot contain whitespace or control characters",
        },
        "displayName": _text(),
        "domains": {"type": "array", "uniqueItems": True, "items": _domain()},
        "saml": saml,
        "oidc": oidc,
    }
    assert tuple(kinds) == SSO_KEYS
    return _object("sso", kinds) | {"oneOf": [{"required": ["saml"]}, {"required": ["oidc"]}]}


def _password_policy() -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    for name, expected in PASSWORD_POLICY_TYPES.items():
        if expected is bool:
            kinds[name] = {"type": "boolean"}
        else:
            assert isinstance(expected, tuple)
            kinds[name] = {"type": "integer", "minimum": expected[0], "maximum": expected[1]}
        kinds[name]["default"] = PASSWORD_SETTINGS_DEFAULTS[name]
    return _object("passwordPolicy", kinds)


# -- helpers ------------------------------------------------------------------------------------


def _documented_fields() -> Iterable[str]:
    yield from TOP_LEVEL_KEYS
    yield "id"
    yield from TENANT_FIELDS
    yield from (f"settings.{name}" for name in SETTINGS_FIELDS)
    yield from (f"roles.{name}" for name in ROLE_KEYS)
    yield from (f"sso.{name}" for name in SSO_KEYS)
    yield from (f"saml.{name}" for name in SAML_KEYS)
    yield from (f"oidc.{name}" for name in SSO_OIDC_KEYS)
    yield from (f"passwordPolicy.{name}" for name in PASSWORD_POLICY_TYPES)


def _json(value: Any) -> Any:
    """A model default as JSON data (the model keeps sets as tuples)."""
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_blank_or_control(char: str) -> bool:
    """What the loader refuses in an id and whose Unicode category never changes: whitespace, Cc, Zs, Zl, Zp."""
    return char.isspace() or unicodedata.category(char) in {"Cc", "Zs", "Zl", "Zp"}


def _char_class(member: Callable[[str], bool]) -> str:
    """The inside of a ``[...]`` class of the BMP characters ``member`` accepts, as ``\\uXXXX`` ranges."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if not member(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(rf"\u{a:04x}" if a == b else rf"\u{a:04x}-\u{b:04x}" for a, b in ranges)
