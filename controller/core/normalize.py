"""Canonical forms of tenant field values, so an unchanged tenant never compares as different.

Descope may omit false/empty fields, return domains in another case or order, and send numbers
as floats; YAML authors write lists in any order. Every comparison in the planner goes through
``canonical`` so that these differences are not drift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from controller.core.model import TENANT_FIELDS, JSONValue, Kind

_SUBRESOURCE_KINDS: Final = frozenset({Kind.ROLES, Kind.SSO, Kind.PASSWORD_POLICY})


def canonical_scalar(value: JSONValue) -> JSONValue:
    """Numbers equal as numbers compare equal (50 == 50.0); a bool never equals a number."""
    if isinstance(value, bool):
        return ("bool", value)  # Python says True == 1; Descope does not
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        items = [canonical_scalar(v) for v in value]
        # attribute lists (multiselect) are sets of options: order is not meaning
        try:
            return tuple(sorted(items))
        except TypeError:
            return tuple(items)
    return value


def identical(a: JSONValue, b: JSONValue) -> bool:
    """Same values of the same types all the way down: such values are always canonically equal.

    The planner's fast path: most fields of most tenants are unchanged, and this test is far
    cheaper than building two canonical forms (it made a 100k no-change plan 2.6x faster).
    """
    if type(a) is not type(b) or a != b:  # C-level equality first: most values are plain equal strings
        return False
    if type(a) is list:
        # equal lists: only a bool hiding among numbers (True == 1) can still make them differ
        return all(
            type(x) is type(y) and (type(x) not in (list, dict) or identical(x, y)) for x, y in zip(a, b, strict=True)
        )
    if type(a) is dict:
        return all(type(v) is type(b[k]) and (type(v) not in (list, dict) or identical(v, b[k])) for k, v in a.items())
    return True


def canonical(field_name: str, value: JSONValue) -> JSONValue:
    """The comparable form of a top-level tenant field value (None/missing → the field's default)."""
    spec = TENANT_FIELDS[field_name]
    if value is None:
        value = spec.default
    if spec.kind is Kind.BOOL:
        return bool(value)
    if spec.kind is Kind.STRING:
        return str(value)
    if spec.kind is Kind.DOMAIN_SET:
        return tuple(sorted({str(d).strip().lower() for d in value}))
    if spec.kind is Kind.STRING_SET:
        return tuple(sorted({str(v) for v in value}))
    if spec.kind in (Kind.ATTRIBUTES, Kind.SETTINGS):
        return {str(k): canonical_scalar(v) for k, v in dict(value).items()}
    if spec.kind in _SUBRESOURCE_KINDS:
        # compared as exact JSON here (a tool reading every field must not crash on them); their own
        # planner compares them entry by entry
        return json.dumps(value, sort_keys=True, default=list)
    raise AssertionError(f"unhandled kind {spec.kind}")  # pragma: no cover


def wire_value(field_name: str, value: JSONValue) -> JSONValue:
    """The value to send to Descope for a top-level field: JSON-ready, domains lower-cased."""
    spec = TENANT_FIELDS[field_name]
    if value is None:
        value = spec.default
    if spec.kind is Kind.DOMAIN_SET:
        return sorted({str(d).strip().lower() for d in value})
    if spec.kind is Kind.STRING_SET:
        return list(dict.fromkeys(str(v) for v in value))
    if spec.kind in (Kind.ATTRIBUTES, Kind.SETTINGS):
        return dict(value)
    return value


def live_value(live: Mapping[str, Any], field_name: str) -> JSONValue:
    """A field of a live tenant, reading a missing key as the field's default."""
    value = live.get(field_name)
    return TENANT_FIELDS[field_name].default if value is None else value
