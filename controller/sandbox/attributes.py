"""The sandbox project's custom attribute definitions, and the check Descope makes of tenant values against them.

The catalogue is optional: without one any key is accepted (the sandbox knows no definitions), with
one a write that uses an undefined key or a value its type does not take is refused. The facts (types,
values, the error) come from ``controller.descope_api``; this module turns them into answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.descope_api import (
    ATTRIBUTE_UNDEFINED_CODE,
    ATTRIBUTE_VALUE_CODE,
    AttributeDefinition,
    attribute_value_problem,
    parse_attribute_definitions,
)

from .wire import VALIDATION_FAILURE, ApiError, invalid, missing

Catalogue = Mapping[str, AttributeDefinition]
"""Definitions by machine name; replaced whole, never changed in place, so readers need no lock."""


def parse_catalogue(items: object) -> Catalogue | None:
    """The catalogue from its wire list (``None``: no catalogue); a bad one is a 400 saying what is wrong."""
    if items is None:
        return None
    try:
        return parse_attribute_definitions(items)
    except ValueError as exc:
        raise ApiError(400, VALIDATION_FAILURE, "Validation failure", str(exc)) from None


def catalogue_from_body(body: Mapping[str, Any]) -> Catalogue | None:
    """The body of ``POST /_sandbox/attributes``: a list sets the catalogue, null removes it."""
    if "attributes" not in body:
        raise missing("attributes")
    items = body["attributes"]
    if items is not None and not isinstance(items, list):
        raise invalid("attributes", "a list of attribute definitions, or null for none")
    return parse_catalogue(items)


def catalogue_wire(catalogue: Catalogue | None) -> list[dict[str, Any]] | None:
    return None if catalogue is None else [definition.wire() for definition in catalogue.values()]


def checked(catalogue: Catalogue | None, tenant: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values to store: refused (400) if the catalogue does not take them; nulls clear their key.

    With a catalogue every key sent is checked, a null one too: a key the project does not define is
    refused whatever its value. ``tenant`` names the tenant in the message (its id, or its name on a
    create without one).
    """
    if catalogue is not None:
        for key, value in values.items():
            definition = catalogue.get(key)
            if definition is None:
                raise ApiError(
                    400,
                    ATTRIBUTE_UNDEFINED_CODE,
                    "Custom attribute not defined",
                    f"Custom attribute '{key}' of tenant {tenant} is not defined in the project",
                )
            problem = attribute_value_problem(definition, value)
            if problem is not None:
                raise ApiError(
                    400,
                    ATTRIBUTE_VALUE_CODE,
                    "Invalid custom attribute value",
                    f"Custom attribute '{key}' of tenant {tenant} ({definition.type}) {problem}",
                )
    return {key: value for key, value in values.items() if value is not None}
