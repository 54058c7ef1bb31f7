"""Change or drift: did the revision being enforced just change a field, or did someone edit Descope?

A field whose desired value the last applied revision already had, and that differs live, is
*drift* (someone edited Descope); a field the new revision changed is a *change*. Without the last
applied revision every difference counts as a change: an unknown never raises a drift alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from controller.core.model import TENANT_FIELDS, DesiredTenant, JSONValue
from controller.core.normalize import canonical, canonical_scalar

ABSENT: Final = object()  # a field or attribute key the YAML does not write


def same_value(field_name: str, a: JSONValue, b: JSONValue) -> bool:
    """Equal as the planner compares them: domains as sets, 50 == 50.0, a missing value as the default."""
    top, _, key = field_name.partition(".")
    if key or top not in TENANT_FIELDS:
        return bool(canonical_scalar(a) == canonical_scalar(b))
    return bool(canonical(top, a) == canonical(top, b))


def is_change(field_name: str, tenant: DesiredTenant, before: Mapping[str, DesiredTenant] | None) -> bool:
    """Did the revision being enforced just change this field's desired value? Unknown counts as yes."""
    old = before.get(tenant.id) if before is not None else None
    if old is None:
        return True
    was, now = desired_at(old, field_name), desired_at(tenant, field_name)
    if was is ABSENT or now is ABSENT:
        return was is not now
    return not same_value(field_name, was, now)


def desired_at(tenant: DesiredTenant, field_name: str) -> JSONValue:
    """The YAML's value of a field, dotted inside maps (``customAttributes.plan``), or ABSENT."""
    top, _, key = field_name.partition(".")
    value = tenant.fields.get(top, ABSENT)
    if not key or value is ABSENT:
        return value
    return value.get(key, ABSENT) if isinstance(value, Mapping) else ABSENT
