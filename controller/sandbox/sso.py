"""SSO configuration bodies, read strictly, and answered in Descope's read vocabulary.

A SAML write says ``idpUrl``/``entityId``/``idpCert``/``roleMappings`` where a load answers
``idpSSOUrl``/``idpEntityId``/``idpCertificate``/``groupsMapping`` (``descope_api.SSO_SAML_READ_NAMES``):
the sandbox keeps what was written and renames on the way out, so a client comparing a load with what it
wrote without mapping the names sees drift every time, as it would against Descope. The OIDC
``clientSecret`` is checked and dropped here, before anything is stored (``descope_api.SSO_SECRET_KEYS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from controller.descope_api import SSO_DEFAULT_ID, SSO_SAML_READ_NAMES, SSO_SECRET_KEYS

from .fields import Parser, parse_bool, parse_required_string, parse_string, parse_strings
from .wire import invalid, missing

Record = dict[str, Any]
RoleLookup = Callable[[str], str | None]  # a role name -> its id, or None when no such role exists


def _parse_string_map(value: object, name: str) -> dict[str, Any]:
    """An object of strings (an attribute mapping); ``customAttributes`` inside it is one too."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "an object")
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        if key == "customAttributes":
            custom = _parse_string_map(item, f"{name}.customAttributes")
            if custom:
                parsed[key] = custom
        elif item is not None:
            text = parse_string(item, f"{name}.{key}")
            if text:
                parsed[key] = text
    return parsed


def _parse_object(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "an object")
    return dict(value)


def _parse_role_mappings(value: object, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(name, 'a list of {"groups", "roleName"} objects')
    mappings = []
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise invalid(where, 'a {"groups", "roleName"} object')
        mappings.append(
            {
                "groups": parse_strings(item.get("groups"), f"{where}.groups"),
                "roleName": parse_required_string(item.get("roleName"), f"{where}.roleName"),
            }
        )
    return mappings


_SAML_SETTINGS: Final[dict[str, Parser]] = {
    "idpUrl": parse_string,
    "entityId": parse_string,
    "idpCert": parse_string,
    "idpAdditionalCerts": parse_strings,
    "idpMetadataUrl": parse_string,
    "spACSUrl": parse_string,
    "spEntityId": parse_string,
    "attributeMapping": _parse_string_map,
    "roleMappings": _parse_role_mappings,
    "defaultSSORoles": parse_strings,
    "groupsPriority": parse_strings,
    "fgaMappings": _parse_object,
    "configFGATenantIDResourcePrefix": parse_string,
    "configFGATenantIDResourceSuffix": parse_string,
}
_SAML_REQUIRED: Final = ("idpUrl", "entityId", "idpCert")
_METADATA_ONLY_IDP: Final = frozenset({"idpUrl", "idpCert", "idpAdditionalCerts"})

_OIDC_SETTINGS: Final[dict[str, Parser]] = {
    "name": parse_string,
    "clientId": parse_string,
    "clientSecret": parse_string,
    "redirectUrl": parse_string,
    "authUrl": parse_string,
    "tokenUrl": parse_string,
    "userDataUrl": parse_string,
    "scope": parse_strings,
    "JWKsUrl": parse_string,
    "userAttrMapping": _parse_string_map,
    "manageProviderTokens": parse_bool,
    "callbackDomain": parse_string,
    "prompt": parse_strings,
    "grantType": parse_string,
    "issuer": parse_string,
    "groupsPriority": parse_strings,
    "defaultSSORoles": parse_strings,
    "fgaMappings": _parse_object,
}
_OIDC_REQUIRED: Final = ("name", "clientId")


def _settings(body: Mapping[str, Any]) -> Mapping[str, Any]:
    settings = body.get("settings")
    if settings is None:
        raise missing("settings")
    if not isinstance(settings, dict):
        raise invalid("settings", "an object")
    return settings


def _non_empty(parsers: Mapping[str, Parser], settings: Mapping[str, Any], skip: frozenset[str]) -> Record:
    """Every known key parsed (null reads as its zero value), kept only when not empty: a full overwrite."""
    parsed: Record = {}
    for key, parse in parsers.items():
        if key in skip:
            continue
        value = parse(settings.get(key), f"settings.{key}")
        if value not in ("", [], {}, False):
            parsed[key] = value
    return parsed


def parse_saml(body: Mapping[str, Any], *, by_metadata: bool) -> Record:
    """A saml (or saml/metadata) write as the configuration it leaves: ``{"saml", "redirectUrl", "domains"}``."""
    settings = _settings(body)
    skip = _METADATA_ONLY_IDP if by_metadata else frozenset({"idpMetadataUrl"})
    saml = _non_empty(_SAML_SETTINGS, settings, skip)
    for key in ("idpMetadataUrl",) if by_metadata else _SAML_REQUIRED:
        if key not in saml:
            raise missing(f"settings.{key}")
    return {
        "authType": "saml",
        "saml": saml,
        "oidc": None,
        "redirectUrl": parse_string(body.get("redirectUrl"), "redirectUrl"),
        "domains": parse_strings(body.get("domains"), "domains"),
    }


def parse_oidc(body: Mapping[str, Any]) -> Record:
    """An oidc write as the configuration it leaves; the client secret is checked, then dropped."""
    settings = _settings(body)
    oidc = _non_empty(_OIDC_SETTINGS, settings, frozenset())
    for key in _OIDC_REQUIRED:
        if key not in oidc:
            raise missing(f"settings.{key}")
    for key in SSO_SECRET_KEYS:
        oidc.pop(key, None)
    return {
        "authType": "oidc",
        "saml": None,
        "oidc": oidc,
        "redirectUrl": "",
        "domains": parse_strings(body.get("domains"), "domains"),
    }


def referenced_roles(config: Mapping[str, Any]) -> list[str]:
    """The role names a configuration names (role mappings and default SSO roles), in order."""
    names: list[str] = []
    for part in (config.get("saml"), config.get("oidc")):
        if not part:
            continue
        names.extend(mapping["roleName"] for mapping in part.get("roleMappings", []))
        names.extend(part.get("defaultSSORoles", []))
    return names


def blank_config(sso_id: str, display_name: str = "") -> Record:
    """A configuration with nothing set (what ``settings/new`` makes and a default delete leaves)."""
    return {
        "ssoId": sso_id,
        "displayName": display_name,
        "authType": "none",
        "saml": None,
        "oidc": None,
        "redirectUrl": "",
        "domains": [],
    }


def render_sso(tenant: Mapping[str, Any], config: Mapping[str, Any], role_id: RoleLookup) -> Record:
    """A configuration as ``GET /v2/mgmt/sso/settings`` answers it (go ``SSOTenantSettingsResponse``).

    The default configuration's domains and auth type are the tenant's own (``descope_api.SSO_DEFAULT_ID``).
    Empty fields are left out (Go ``omitempty``); ``saml`` and ``oidc`` are always objects, the one not
    configured empty. Never a secret: none is stored.
    """
    default = config["ssoId"] == SSO_DEFAULT_ID
    auth_type = tenant["authType"] if default else config["authType"]
    domains = tenant["domains"] if default else config["domains"]
    summary = {
        "id": tenant["id"],
        "name": tenant["name"],
        "selfProvisioningDomains": tenant["selfProvisioningDomains"],
        "customAttributes": tenant["customAttributes"],
        "authType": auth_type,
        "domains": domains,
    }
    answer: Record = {"tenant": {key: value for key, value in summary.items() if value or key in ("id", "name")}}
    answer["saml"] = _saml_read(config["saml"] or {}, config["redirectUrl"], role_id)
    answer["oidc"] = _oidc_read(config["oidc"] or {}, role_id)
    if config["ssoId"]:
        answer["ssoId"] = config["ssoId"]
    if config["displayName"]:
        answer["displayName"] = config["displayName"]
    return answer


def _saml_read(saml: Mapping[str, Any], redirect_url: str, role_id: RoleLookup) -> Record:
    out: Record = {}
    for key, value in saml.items():
        if key == "roleMappings":
            out["groupsMapping"] = [_group_mapping(mapping, role_id) for mapping in value]
        else:
            out[SSO_SAML_READ_NAMES.get(key, key)] = value
    if saml and redirect_url:
        out["redirectUrl"] = redirect_url
    return out


def _oidc_read(oidc: Mapping[str, Any], role_id: RoleLookup) -> Record:
    return {key: value for key, value in oidc.items() if key not in SSO_SECRET_KEYS}


def _group_mapping(mapping: Mapping[str, Any], role_id: RoleLookup) -> Record:
    found = role_id(mapping["roleName"])
    role = {"id": found, "name": mapping["roleName"]} if found else {"name": mapping["roleName"]}
    return {"role": role, "groups": list(mapping["groups"])}
