"""Strict parsing of tenant and settings fields in request bodies; every failure is a 400 naming the field.

A JSON ``null`` reads as the field's zero value (Go's decoder does the same, and the python SDK sends nulls).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from .wire import VALIDATION_FAILURE, ApiError, invalid, missing

Parser = Callable[[object, str], Any]

AUTH_TYPES: Final = ("none", "saml", "oidc")
ROLE_INHERITANCE: Final = ("", "none", "userOnly")
TIME_UNITS: Final = ("seconds", "minutes", "hours", "days", "weeks")


def parse_string(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise invalid(name, "a string")


def parse_required_string(value: object, name: str) -> str:
    text = parse_string(value, name)
    if not text:
        raise missing(name)
    return text


def parse_strings(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise invalid(name, "a list of strings")


def parse_bool(value: object, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise invalid(name, "a boolean")


def parse_count(value: object, name: str) -> int:
    """A non-negative integer (JSON booleans are not numbers here, although Python says they are)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise invalid(name, "a non-negative integer")


def choice(options: tuple[str, ...]) -> Parser:
    def parse(value: object, name: str) -> str:
        text = parse_string(value, name)
        if text not in options:
            raise invalid(name, "one of " + ", ".join(repr(option) for option in options))
        return text

    return parse


def parse_auth_type(value: object, name: str) -> str:
    text = parse_string(value, name) or "none"
    if text not in AUTH_TYPES:
        raise invalid(name, "one of " + ", ".join(repr(option) for option in AUTH_TYPES))
    return text


def parse_attributes(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "an object")
    for key, item in value.items():
        if not _attribute_value_ok(item):
            raise invalid(f"{name}.{key}", "a string, number, boolean or list of strings")
    return dict(value)


def _attribute_value_ok(value: object) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def parse_sso_suite(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "an object")
    parse_bool(value.get("enabled"), f"{name}.enabled")
    parse_string(value.get("styleId"), f"{name}.styleId")
    features = value.get("disabledFeatures")
    if features is not None and not (
        isinstance(features, dict) and all(isinstance(flag, bool) for flag in features.values())
    ):
        raise invalid(f"{name}.disabledFeatures", "an object of booleans")
    return dict(value)


# The fields create and update write (``descope_api.TENANT_UPDATE_FIELDS``), in the order a record lists them.
TENANT_FIELDS: Final[dict[str, Parser]] = {
    "name": parse_required_string,
    "selfProvisioningDomains": parse_strings,
    "customAttributes": parse_attributes,
    "enforceSSO": parse_bool,
    "enforceSSOExclusions": parse_strings,
    "disabled": parse_bool,
    "federatedAppIds": parse_strings,
    "roleInheritance": choice(ROLE_INHERITANCE),
}
# Fields a patch may not carry: they are read-only or have their own endpoint.
NOT_PATCHABLE: Final = frozenset({"parent", "defaultRoles", "createdTime", "authType", "domains", "successors"})

# Settings keys that are really tenant fields: writing them through settings changes the tenant.
SHARED_SETTINGS: Final[dict[str, Parser]] = {
    "selfProvisioningDomains": parse_strings,
    "domains": parse_strings,
    "authType": parse_auth_type,
    "enforceSSO": parse_bool,
    "enforceSSOExclusions": parse_strings,
    "federatedAppIds": parse_strings,
}
SESSION_SETTINGS: Final[dict[str, Parser]] = {
    "enabled": parse_bool,
    "refreshTokenExpiration": parse_count,
    "refreshTokenExpirationUnit": choice(TIME_UNITS),
    "sessionTokenExpiration": parse_count,
    "sessionTokenExpirationUnit": choice(TIME_UNITS),
    "stepupTokenExpiration": parse_count,
    "stepupTokenExpirationUnit": choice(TIME_UNITS),
    "enableInactivity": parse_bool,
    "inactivityTime": parse_count,
    "inactivityTimeUnit": choice(TIME_UNITS),
    "JITDisabled": parse_bool,
    "ssoSetupSuiteSettings": parse_sso_suite,
}


def tenant_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Every create/update field, with omitted or null ones at their zero value (a full overwrite)."""
    return {name: parse(body.get(name), name) for name, parse in TENANT_FIELDS.items()}


def patch_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields present and not null; anything a patch cannot change is refused, not ignored."""
    for name in body:
        if name in NOT_PATCHABLE:
            raise ApiError(
                400, VALIDATION_FAILURE, "Validation failure", f"The {name} field cannot be changed by patch"
            )
    return {name: parse(body[name], name) for name, parse in TENANT_FIELDS.items() if body.get(name) is not None}


def settings_overwrite(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A settings POST as Descope applies it (a full overwrite, ``descope_api.SETTINGS_POST_KEYS``).

    Returns (every tenant field, at its zero value when omitted or null; the session settings present
    and not null). The session keys left out go back to their defaults.
    """
    shared = {name: parse(body.get(name), name) for name, parse in SHARED_SETTINGS.items()}
    return shared, settings_fields(body)[1]


def settings_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tenant fields, session settings) present and not null in a settings body; unknown keys are ignored."""
    shared: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for name, value in body.items():  # walk the body, not the catalogue: most bodies carry few keys
        if value is None:
            continue
        if name in SHARED_SETTINGS:
            shared[name] = SHARED_SETTINGS[name](value, name)
        elif name in SESSION_SETTINGS:
            own[name] = SESSION_SETTINGS[name](value, name)
    return shared, own
