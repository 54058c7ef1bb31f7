"""Does a restored tenant equal its backup? The field-by-field comparison a restore drill reports.

Pure: the tenant as a backup recorded it and as the restore target now holds it go in, the fields
that differ come out. Values are compared in the planner's canonical forms (``normalize``): domains
as case-insensitive sets, 50 == 50.0, a missing field as its default, so that only a real loss
shows. Fields Descope sets itself (``SERVER_ONLY_FIELDS``) are not compared. A field the backup
holds that the tenant model does not know is compared too: a restore cannot set it, so a value in
it is lost (an empty one, which Descope omits anyway, is not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.core.model import (
    SERVER_ONLY_FIELDS,
    SETTINGS_FIELDS,
    SUBRESOURCE_FIELDS,
    TENANT_FIELDS,
    JSONValue,
    LiveTenant,
)
from controller.core.normalize import canonical, canonical_scalar, live_value


@dataclass(frozen=True)
class FieldDifference:
    """One field whose restored value is not the recorded one (``settings.<key>`` for a session setting)."""

    field: str
    recorded: JSONValue  # in the backup; a missing field reads as its default
    restored: JSONValue  # in the target after the restore (None: it is not there)
    settable: bool = True  # False: the restore has no way to write this field at all


def round_trip_differences(
    recorded: LiveTenant,
    restored: LiveTenant,
    *,
    recorded_settings: Mapping[str, JSONValue] | None = None,
    restored_settings: Mapping[str, JSONValue] | None = None,
) -> tuple[FieldDifference, ...]:
    """Every restorable field, each recorded session setting, and each unknown non-empty field that differs."""
    found: list[FieldDifference] = []
    for name in TENANT_FIELDS:
        if name == "settings" or name in SUBRESOURCE_FIELDS:
            continue  # a separate endpoint: settings are compared key by key below; sub-resources not yet
        want, have = live_value(recorded, name), live_value(restored, name)
        if canonical(name, want) != canonical(name, have):
            found.append(FieldDifference(name, want, have))
    for name in sorted(set(recorded) - set(TENANT_FIELDS) - SERVER_ONLY_FIELDS - {"id"}):
        want, have = recorded[name], restored.get(name)
        if not (_empty(want) and _empty(have)) and canonical_scalar(want) != canonical_scalar(have):
            found.append(FieldDifference(name, want, have, settable=False))
    for key, want in sorted((recorded_settings or {}).items()):
        if key not in SETTINGS_FIELDS:
            continue  # SSO-side keys (domains, authType, ...) ride along in the settings answer
        have = None if restored_settings is None else restored_settings.get(key)
        if canonical_scalar(want) != canonical_scalar(have):
            found.append(FieldDifference(f"settings.{key}", want, have))
    return tuple(found)


def _empty(value: JSONValue) -> bool:
    """Descope omits false, empty and zero fields (Go's omitempty): such a value is no loss."""
    return value is None or value is False or (not isinstance(value, bool) and value in ("", 0, [], {}))
