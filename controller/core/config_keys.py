"""The vocabulary of a tenant's sub-resources in tenants.yaml, as the checks in ``schema_config`` use it.

Which SAML, OIDC and password keys exist and of what kind, what a secret reference and a URL must look
like: plain data and small pure functions, apart from the checks so each module stays readable.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from controller.core.model import PASSWORD_POLICY_BOUNDS, SSO_SAML_REDIRECT_KEY, JSONValue
from controller.core.problems import _q
from controller.core.yaml_tree import _BAD, _kind_of, _Map, _Seq
from controller.descope_api import (
    PASSWORD_SETTINGS_DEFAULTS,
    SSO_SAML_METADATA_WRITE_KEYS,
    SSO_SAML_WRITE_KEYS,
)

SAML_KEYS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys((*SSO_SAML_METADATA_WRITE_KEYS, *SSO_SAML_WRITE_KEYS, SSO_SAML_REDIRECT_KEY))
)
"""What ``saml:`` may hold: the settings of both SAML writes, and ``redirectUrl`` (sent beside them)."""

SAML_MANUAL: Final[tuple[str, ...]] = ("idpUrl", "entityId", "idpCert")
"""The IdP fields a SAML configuration without ``idpMetadataUrl`` must give (go refuses the write without them)."""

SAML_NOT_WITH_METADATA: Final[tuple[str, ...]] = tuple(
    k for k in SSO_SAML_WRITE_KEYS if k not in SSO_SAML_METADATA_WRITE_KEYS
)
"""What the metadata write does not take: the IdP fields the metadata URL gives (``idpUrl``, ``idpCert``, ...)."""

URL_KEYS: Final[frozenset[str]] = frozenset(
    {"idpMetadataUrl", "idpUrl", "spACSUrl", "redirectUrl", "authUrl", "tokenUrl", "userDataUrl", "JWKsUrl", "issuer"}
)
"""Keys whose value is an http(s) URL with a host."""

STRING_LIST_KEYS: Final[frozenset[str]] = frozenset(
    {"idpAdditionalCerts", "groupsPriority", "defaultSSORoles", "scope", "prompt"}
)
"""Keys whose value is a list of non-empty strings."""

STRING_MAP_KEYS: Final[frozenset[str]] = frozenset({"attributeMapping", "userAttrMapping"})
"""Keys whose value maps names to names (the IdP's attribute names)."""

OPTIONAL_STRING_KEYS: Final[frozenset[str]] = frozenset(
    {"configFGATenantIDResourcePrefix", "configFGATenantIDResourceSuffix"}
)
"""Keys whose value is any string, empty included."""

BOOL_KEYS: Final[frozenset[str]] = frozenset({"manageProviderTokens"})
"""Keys whose value is true or false."""

OBJECT_KEYS: Final[frozenset[str]] = frozenset({"fgaMappings"})
"""Keys whose value is a mapping kept as written (Descope's own structure; not checked further here)."""

SECRET_REFERENCE_KEYS: Final[tuple[str, ...]] = ("env", "file")
"""How a secret is referred to: an environment variable's name, or an absolute file path."""

ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""An environment variable's name, as a shell would take it."""

PASSWORD_POLICY_TYPES: Final[Mapping[str, type | tuple[int, int]]] = {
    name: (PASSWORD_POLICY_BOUNDS[name] if isinstance(default, int) and not isinstance(default, bool) else bool)
    for name, default in PASSWORD_SETTINGS_DEFAULTS.items()
}
"""Keys of ``passwordPolicy``: ``bool``, or the bounds of a whole number."""

_WHITESPACE: Final = re.compile(r"\s")


def secret_problem(path: str, value: Any) -> str | None:
    """Why ``value`` is not a secret reference, or None; the message never contains ``value`` itself."""
    hint = "give a reference instead: `{env: VARIABLE}` or `{file: /absolute/path}`"
    if not isinstance(value, _Map):
        if isinstance(value, str):
            return (
                f"{path} is a literal secret, which tenants.yaml must never hold (it would be in Git, plans and "
                f"backups); {hint}. The value is not repeated here: remove it from the file and its history"
            )
        return f"{path} must be a secret reference, found {_shape(value)}; {hint}"
    keys = list(value.entries)
    if len(keys) != 1 or keys[0] not in SECRET_REFERENCE_KEYS:
        unknown = [k for k in keys if k not in SECRET_REFERENCE_KEYS]
        what = f"unknown key {_q(unknown[0])}" if unknown else "both env and file" if keys else "nothing"
        return f"{path} must be a secret reference with exactly one of env or file, found {what}; {hint}"
    (key,) = keys
    target = value.entries[key][0]
    if target is _BAD:
        return None  # already reported
    if key == "env":
        if not (isinstance(target, str) and ENV_NAME.fullmatch(target)):
            shown = _q(target) if isinstance(target, str) else _shape(target)
            return f"{path}.env must be an environment variable's name ([A-Za-z_][A-Za-z0-9_]*), found {shown}"
        return None
    if not (isinstance(target, str) and target and "\0" not in target and posixpath.isabs(target)):
        shown = _q(target) if isinstance(target, str) else _shape(target)
        return f"{path}.file must be an absolute path to the file holding the secret, found {shown}"
    return None


def url_problem(value: Any) -> str | None:
    """Why ``value`` is not an http(s) URL with a host, or None."""
    if not isinstance(value, str):
        return f"found {_kind_of(value)}"
    if not value.isprintable() or _WHITESPACE.search(value):
        return f"found {_q(value)}, which contains whitespace or control characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return f"found {_q(value)}, which is not a valid URL"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return f"found {_q(value)}"
    return None


def _shape(value: Any) -> str:
    """What a value is, without showing it (for secrets)."""
    if isinstance(value, _Map):
        return "a mapping"
    if isinstance(value, _Seq):
        return "a list"
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a value of another kind"


def _plain(value: Any) -> Any:
    """A composed value as plain JSON data, or ``_BAD`` if any part of it was already reported."""
    if value is _BAD:
        return _BAD
    if isinstance(value, _Map):
        out: dict[str, JSONValue] = {}
        for key, (item, _kl, _vl, _raw) in value.entries.items():
            plain = _plain(item)
            if plain is _BAD:
                return _BAD
            out[key] = plain
        return out
    if isinstance(value, _Seq):
        items = [_plain(item) for item in value.items]
        return _BAD if any(item is _BAD for item in items) else items
    return value
