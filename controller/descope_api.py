"""What we know of Descope's Management API, with its sources: the one place the client and the sandbox take it from.

Each fact names where it comes from, all public: Descope's SDKs on GitHub (py =
https://github.com/descope/python-sdk, go = https://github.com/descope/go-sdk, node =
https://github.com/descope/node-sdk, net = https://github.com/descope/descope-dotnet, java =
https://github.com/descope/descope-java, swift = https://github.com/descope/swift-sdk), its Terraform
provider (https://github.com/descope/terraform-provider-descope) and https://docs.descope.com.
A fact marked *choice* is not published; we picked the stricter reading, and this is the only place
that says so. The sandbox behaves as these facts say; the client copes with them.
A leaf module: any layer (and the sandbox) may import it; it imports nothing of ours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

# re-exported (listed in __all__): Descope's facts are imported from this one module, sub-resources included
from controller.descope_config_api import (
    PASSWORD_SETTINGS_DEFAULTS,
    ROLE_FIELDS,
    ROLE_LISTING,
    ROLE_UPDATE_OVERWRITES,
    SSO_DEFAULT_ID,
    SSO_OIDC_KEYS,
    SSO_OVERWRITE,
    SSO_ROLE_REFERENCES,
    SSO_SAML_METADATA_WRITE_KEYS,
    SSO_SAML_READ_NAMES,
    SSO_SAML_READ_ONLY,
    SSO_SAML_WRITE_KEYS,
    SSO_SECRET_KEYS,
)

__all__ = [
    "API_RATE_LIMIT",
    "ATTRIBUTE_TYPES",
    "ATTRIBUTE_UNDEFINED_CODE",
    "ATTRIBUTE_VALUE_CODE",
    "EDGE_STATUSES",
    "GATEWAY_STATUSES",
    "PASSWORD_SETTINGS_DEFAULTS",
    "PATCH_MISSING_STATUSES",
    "RATE_FORM_HINT",
    "RATE_LIMITED_STATUS",
    "RETRY_AFTER_HEADER",
    "ROLE_FIELDS",
    "ROLE_LISTING",
    "ROLE_UPDATE_OVERWRITES",
    "SDK_RATE_LIMIT",
    "SDK_RETRY_STATUSES",
    "SELECT_TYPES",
    "SESSION_SETTINGS_DEFAULTS",
    "SETTINGS_POST_KEYS",
    "SETTINGS_SESSION_KEYS",
    "SETTINGS_TENANT_KEYS",
    "SSO_DEFAULT_ID",
    "SSO_OIDC_KEYS",
    "SSO_OVERWRITE",
    "SSO_ROLE_REFERENCES",
    "SSO_SAML_METADATA_WRITE_KEYS",
    "SSO_SAML_READ_NAMES",
    "SSO_SAML_READ_ONLY",
    "SSO_SAML_WRITE_KEYS",
    "SSO_SECRET_KEYS",
    "TENANT_FIELDS_NOT_UPDATABLE",
    "TENANT_PATCH_FIELDS",
    "TENANT_UPDATE_FIELDS",
    "AttributeDefinition",
    "RateLimit",
    "attribute_value_problem",
    "parse_attribute_definitions",
]

# ----- transient failures and retries ----------------------------------------------------------------

SDK_RETRY_STATUSES: Final[frozenset[int]] = frozenset({503, 520, 521, 522, 524, 530})
"""What every Descope SDK retries by itself (py ``_RETRY_STATUS_CODES``, go ``retryableStatusCodes``,
net ``DescopeErrorResponseHandler``), 3 times after 0.1 s, 5 s, 5 s. Never 429, 500, 502 or 504."""

GATEWAY_STATUSES: Final[frozenset[int]] = frozenset({502, 504})
"""*Choice*: gateway failures we retry too, although the SDKs do not. A write we retry is idempotent
(patch, update, settings and default roles set values) or checked by id first (create), so repeating
it after a gateway lost the answer cannot do harm."""

EDGE_STATUSES: Final[frozenset[int]] = SDK_RETRY_STATUSES | GATEWAY_STATUSES
"""Statuses answered by Cloudflare in front of Descope, with an HTML page rather than a Descope error body."""

# ----- which writes overwrite, and what they reset ----------------------------------------------------

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

# ----- tenant custom attributes ------------------------------------------------------------------------

ATTRIBUTE_TYPES: Final[tuple[str, ...]] = ("string", "number", "boolean", "singleselect", "multiselect", "date")
"""The types a custom attribute definition may have (Terraform provider ``attributeTypeValidator``)."""

SELECT_TYPES: Final[frozenset[str]] = frozenset({"singleselect", "multiselect"})
"""The types whose values are chosen from the definition's ``options``."""

ATTRIBUTE_UNDEFINED_CODE: Final = "E000400-sandbox-undefined-attribute"
"""*Choice*: keys must be defined in the project first (py docstring: "custom attributes values of the
keys that were previously configured in Descope console"); whether and how Descope refuses an undefined
key is unpublished. We take it as refused: HTTP 400 with this clearly fake code and an
``errorMessage`` naming the key (in single quotes) and the tenant. Only this code makes the client say
"not defined"; Descope's real answer (code unknown) is told as a refusal of the key it names, in
Descope's own words."""

ATTRIBUTE_VALUE_CODE: Final = "E000400-sandbox-invalid-attribute"
"""*Choice*: a value that the key's definition does not take (a string for a number, an option that is
not listed, ...) is refused too, with HTTP 400 and this clearly fake code, and an ``errorMessage``
naming the key (in single quotes), the tenant and what the type expects. Descope's own code for it is
unpublished (perhaps ``E011003``, the generic "Request is invalid", swift ``DescopeError.invalidRequest``):
a client must not take that generic code to mean this."""


@dataclass(frozen=True)
class AttributeDefinition:
    """One tenant custom attribute as a Descope project defines it (the Terraform provider's wire keys).

    ``name`` is the machine id, the key a tenant's ``customAttributes`` uses; ``display_name`` is what
    the console shows; ``options`` are the ``(label, value)`` pairs of a select type. ``authorization``
    is not modelled: it does not change which values are accepted.
    """

    name: str
    type: str
    display_name: str = ""
    options: tuple[tuple[str, str], ...] = ()

    @property
    def values(self) -> tuple[str, ...]:
        """The option values a select attribute takes (*choice*: a tenant stores the value, not the label;
        the TF provider makes them equal, so Descope's own reading is not known)."""
        return tuple(value for _label, value in self.options)

    def wire(self) -> dict[str, Any]:
        """As Descope's project configuration writes it."""
        return {
            "name": self.name,
            "displayName": self.display_name or self.name,
            "type": self.type,
            "options": [{"label": label, "value": value} for label, value in self.options],
        }

    def expected(self) -> str:
        """What a value of this attribute must be, for messages."""
        if self.type in SELECT_TYPES:
            listed = ", ".join(repr(value) for value in self.values)
            if self.type == "singleselect":
                return f"one of {listed}"
            return f"a list of {listed} (each at most once)"
        return _EXPECTED[self.type]


_EXPECTED: Final[dict[str, str]] = {
    "string": "a string",
    "number": "a number",
    "boolean": "true or false",
    # *Choice*: how Descope stores a date value is unpublished; we take whole epoch milliseconds (what a
    # JavaScript console's Date gives), never a string, so a date written as text is refused, not guessed.
    "date": "a date as whole epoch milliseconds, e.g. 1735689600000 for 2025-01-01T00:00:00Z",
}


def attribute_value_problem(definition: AttributeDefinition, value: object) -> str | None:
    """Why the project would refuse ``value`` for ``definition`` (``"must be ..."``), or None if it takes it.

    *Choice*: ``null`` is taken by every type and clears the value (node ``AttributesTypes`` allows null).
    Booleans are never numbers or dates, although Python says ``True == 1``.
    """
    if value is None or _takes(definition, value):
        return None
    return f"must be {definition.expected()}, not {_shown(value)}"


def _takes(definition: AttributeDefinition, value: object) -> bool:
    kind = definition.type
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if kind == "date":
        return isinstance(value, int)
    if kind == "singleselect":
        return isinstance(value, str) and value in definition.values
    if kind == "multiselect":
        return (
            isinstance(value, list)
            and all(isinstance(item, str) and item in definition.values for item in value)
            and len(set(value)) == len(value)
        )
    return False  # pragma: no cover - parse_attribute_definitions admits only ATTRIBUTE_TYPES


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {text!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list" + (" with an item listed twice" if _has_duplicates(value) else f" of {len(value)} items")
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _has_duplicates(items: list[Any]) -> bool:
    try:
        return len(set(items)) != len(items)
    except TypeError:  # unhashable items: the list is refused for them anyway
        return False


def parse_attribute_definitions(items: object) -> dict[str, AttributeDefinition]:
    """A project's attribute definitions by machine name, from their wire form; ValueError says what is wrong.

    Each item is ``{"name", "displayName"?, "type", "options"?: [{"label", "value"} | "value"]}`` (a plain
    string option is its own label) or an ``AttributeDefinition``. Keys we do not model (``authorization``)
    are ignored, so definitions copied from Descope's configuration are accepted as they are.
    """
    if not isinstance(items, list | tuple):
        raise ValueError("attributes must be a list of attribute definitions")
    catalogue: dict[str, AttributeDefinition] = {}
    for index, item in enumerate(items):
        definition = item if isinstance(item, AttributeDefinition) else _definition(item, f"attributes[{index}]")
        if definition.name in catalogue:
            raise ValueError(f"attributes[{index}]: attribute {definition.name!r} is defined twice")
        catalogue[definition.name] = definition
    return catalogue


def _definition(item: object, where: str) -> AttributeDefinition:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object with name, type and (for select types) options")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.name must be the attribute's machine name, a non-empty string")
    where = f"{where} ({name!r})"
    kind = item.get("type")
    if kind not in ATTRIBUTE_TYPES:
        raise ValueError(f"{where}.type must be one of {', '.join(ATTRIBUTE_TYPES)}, not {kind!r}")
    display = item.get("displayName")
    if display is not None and not isinstance(display, str):
        raise ValueError(f"{where}.displayName must be a string")
    options = _options(item.get("options"), where)
    if kind in SELECT_TYPES and not options:
        raise ValueError(f"{where}: a {kind} attribute needs options to choose from")
    if kind not in SELECT_TYPES and options:
        raise ValueError(f"{where}: options are only for singleselect and multiselect attributes, not {kind}")
    return AttributeDefinition(name=name, type=str(kind), display_name=display or "", options=options)


def _options(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}.options must be a list")
    options: list[tuple[str, str]] = []
    for index, option in enumerate(raw):
        if isinstance(option, str):
            label = value = option
        elif isinstance(option, dict) and isinstance(option.get("value"), str):
            value = option["value"]
            raw_label = option.get("label", value)
            if not isinstance(raw_label, str):
                raise ValueError(f"{where}.options[{index}].label must be a string")
            label = raw_label
        else:
            raise ValueError(f'{where}.options[{index}] must be {{"label": ..., "value": ...}} or a string')
        if not value:
            raise ValueError(f"{where}.options[{index}]: an option value cannot be empty")
        if any(value == seen for _label, seen in options):
            raise ValueError(f"{where}.options[{index}]: option value {value!r} is listed twice")
        options.append((label, value))
    return tuple(options)


# ----- rate limits ----------------------------------------------------------------------------------

_RATE_FORM: Final = re.compile(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s")
RATE_FORM_HINT: Final = 'must be "N/Ws" (at most N requests in any W seconds, e.g. "100/60s") or requests per second'


@dataclass(frozen=True)
class RateLimit:
    """A limit as Descope states its own: at most ``count`` requests in any ``window_s``-second span.

    Descope counts the requests that *arrive* in a sliding window and, once a client has sent one
    too many, refuses everything it sends for one whole window (docs.descope.com/rate-limiting:
    "100 requests / 60 s" with "a backoff of 60 s").
    """

    count: int
    window_s: float

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError('must allow at least 1 request per window ("N/Ws" with N >= 1)')
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError('the window must be longer than 0 seconds ("N/Ws" with W > 0)')

    @classmethod
    def parse(cls, value: object) -> RateLimit:
        """``"N/Ws"`` (Descope's form), or a number of requests per second (``10``, ``"2.5"``).

        A fractional rate keeps its rate with a whole count: 2.5 per second is 2 per 0.8 s.
        Raises ValueError with a one-line reason that does not repeat ``value``.
        """
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, str):
            form = _RATE_FORM.fullmatch(value.strip())
            if form is not None:
                return cls(int(form[1]), float(form[2]))
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(RATE_FORM_HINT) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(RATE_FORM_HINT)
        if not math.isfinite(value):
            raise ValueError('must be a finite number of requests per second (or "N/Ws", e.g. "100/60s")')
        if value <= 0:
            raise ValueError('must be more than 0 requests per second (or "N/Ws", e.g. "100/60s")')
        count = max(1, math.floor(value))
        return cls(count, count / value)

    def __str__(self) -> str:
        window = int(self.window_s) if self.window_s.is_integer() else self.window_s
        return f"{self.count}/{window}s"


API_RATE_LIMIT: Final = RateLimit(100, 60.0)
"""Descope's published limit for plain API traffic, per IP: "100 requests / 60 s", and once it is
exceeded a backoff of 60 s (https://docs.descope.com/rate-limiting). No tenant-specific limit is published.
*Choice*: the tenant Management API is held to this one, the stricter of the two published limits, and
it is our default ``[descope] rate_limit``."""

SDK_RATE_LIMIT: Final = RateLimit(1000, 10.0)
"""Descope's published limit for backend SDK traffic, per IP: "1000 requests / 10 s", backoff 10 s
(https://docs.descope.com/rate-limiting). Which limit a project gets depends on its license tier, which
``GET /v1/mgmt/license`` answers as ``rateLimitTier`` (``tier1`` free to ``tier4`` enterprise) and the SDKs
send back as ``x-descope-license`` on every management request "so Cloudflare can apply the right rate
limit bucket" (py 2.3.0, the license handshake; go, node, java and net do the same)."""

RATE_LIMITED_STATUS: Final = 429
"""Descope's answer to a client over its limit (docs; py, go, java), with body code ``E130429``."""

RETRY_AFTER_HEADER: Final = "Retry-After"
"""Whole seconds to wait after a 429 (py ``API_RATE_LIMIT_RETRY_AFTER_HEADER``, go, java). A 429 may come
without it when the CDN in front of Descope answers (java treats any 429 as rate limited and then waits
60 s); the client then waits its limit's window, the backoff Descope publishes."""
