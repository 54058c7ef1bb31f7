"""The JSON Schema and the loader agree: one table of documents, each checked by both.

Every row is a document as data; the loader reads it as YAML (``yaml.safe_dump``), ``jsonschema``'s
Draft202012Validator reads the same data. On every row that the schema claims to cover, both give the
same verdict; the rows of ``GAPS`` are what its description says it does not cover, where the loader
refuses and the schema accepts. Never the other way round: a generated property checks that whatever
the schema refuses, the loader refuses too. The shipped file must be the generator's output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator

from controller.cli import main
from controller.core import json_schema
from controller.core.json_schema import NOT_COVERED, render, tenants_json_schema
from controller.core.loader import parse_tenant_files
from controller.core.model import MAX_ID_LENGTH, MAX_NAME_LENGTH, SETTINGS_FIELDS, TENANT_FIELDS
from controller.descope_api import AttributeDefinition
from controller.errors import TenantsFileInvalid

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "schema" / "tenants.schema.json"
REFRESH = "descope-gitops schema > deploy/schema/tenants.schema.json"

GENERIC = Draft202012Validator(tenants_json_schema())
DRAFT_7 = Draft7Validator(tenants_json_schema())  # what yaml-language-server implements


DROP = object()


def doc(**fields: Any) -> dict[str, Any]:
    """One tenant ``acme`` (named ACME) with ``fields`` laid over it; a field set to ``DROP`` is left out."""
    tenant = {"id": "acme", "name": "ACME", **fields}
    return {"tenants": [{k: v for k, v in tenant.items() if v is not DROP}]}


def loader_accepts(data: Any, attributes: dict[str, AttributeDefinition] | None = None) -> bool:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    try:
        parse_tenant_files({"tenants.yaml": text.encode()}, attributes=attributes)
    except TenantsFileInvalid:
        return False
    return True


def schema_accepts(data: Any, validator: Draft202012Validator = GENERIC) -> bool:
    return bool(validator.is_valid(data))


# (label, document, valid): the schema and the loader must both say ``valid``
TABLE: list[tuple[str, Any, bool]] = [
    # the file
    ("no tenants", {"tenants": []}, True),
    ("empty file", None, False),
    ("a list at the top", [{"id": "acme", "name": "ACME"}], False),
    ("no tenants key", {}, False),
    ("tenants: null", {"tenants": None}, False),
    ("tenants is a mapping", {"tenants": {"id": "acme"}}, False),
    ("unknown top-level key", {"tenants": [], "tenant": []}, False),
    ("a tenant that is a string", {"tenants": ["acme"]}, False),
    # a tenant's keys
    ("the smallest tenant", doc(), True),
    (
        "every field",
        doc(
            selfProvisioningDomains=["acme.com"],
            customAttributes={"plan": "enterprise", "seats": 50},
            enforceSSO=False,
            enforceSSOExclusions=["admin@acme.com"],
            disabled=False,
            federatedAppIds=["app1"],
            roleInheritance="userOnly",
            parent="",
            defaultRoles=["viewer"],
            settings={"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"},
        ),
        True,
    ),
    ("unknown tenant key", doc(nam="ACME"), False),
    ("no id", doc(id=DROP), False),
    ("no name", doc(name=DROP), False),
    ("a key with no value", doc(enforceSSO=None), False),
    # id
    ("id with '-', '_', '.'", doc(id="acme-corp_1.eu"), True),
    ("id in one other script", doc(id="テナント"), True),
    ("id at the length limit", doc(id="a" * MAX_ID_LENGTH), True),
    ("id over the length limit", doc(id="a" * (MAX_ID_LENGTH + 1)), False),
    ("empty id", doc(id=""), False),
    ("id with a space", doc(id="acme corp"), False),
    ("id with a tab", doc(id="acme\tcorp"), False),
    ("id ending in a newline", doc(id="acme\n"), False),
    ("id with NUL", doc(id="\x00acme"), False),
    ("id with DEL", doc(id="acme\x7f"), False),
    ("id with a no-break space", doc(id="acme\xa0corp"), False),
    ("id with an ideographic space", doc(id="acme\u3000corp"), False),
    ("id with a line separator", doc(id="acme\u2028corp"), False),
    ("id that is a number", doc(id=123), False),
    ("id that is a boolean", doc(id=True), False),
    ("id that is a list", doc(id=["acme"]), False),
    # name
    ("name with spaces around", doc(name=" ACME Corp "), True),
    ("name at the length limit", doc(name="A" * MAX_NAME_LENGTH), True),
    ("name over the length limit", doc(name="A" * (MAX_NAME_LENGTH + 1)), False),
    ("empty name", doc(name=""), False),
    ("name of spaces", doc(name="   "), False),
    ("name of a tab and an ideographic space", doc(name="\t\u3000"), False),
    ("name that is a number", doc(name=5), False),
    ("name that is a boolean", doc(name=False), False),
    # selfProvisioningDomains
    ("domains", doc(selfProvisioningDomains=["acme.com", "EU.Acme.co.uk", "xn--bcher-kva.example"]), True),
    ("no domains", doc(selfProvisioningDomains=[]), True),
    ("domains not a list", doc(selfProvisioningDomains="acme.com"), False),
    ("domain without a dot", doc(selfProvisioningDomains=["acme"]), False),
    ("domain that is an IP address", doc(selfProvisioningDomains=["10.0.0.1"]), False),
    ("domain ending in a newline", doc(selfProvisioningDomains=["acme.com\n"]), False),
    ("domain starting with '-'", doc(selfProvisioningDomains=["-acme.com"]), False),
    ("e-mail address as a domain", doc(selfProvisioningDomains=["it@acme.com"]), False),
    ("domain label of 64 characters", doc(selfProvisioningDomains=["a" * 64 + ".com"]), False),
    ("domain over 253 characters", doc(selfProvisioningDomains=[".".join(["a" * 63] * 4)]), False),
    ("non-ASCII domain", doc(selfProvisioningDomains=["bücher.example"]), False),
    ("empty domain", doc(selfProvisioningDomains=[""]), False),
    ("domain that is a number", doc(selfProvisioningDomains=[5]), False),
    ("the same domain twice", doc(selfProvisioningDomains=["acme.com", "acme.com"]), False),
    # customAttributes
    (
        "attributes of every kind",
        doc(
            customAttributes={
                "plan": "pro",
                "seats": 5,
                "ratio": 0.5,
                "trial": True,
                "cleared": None,
                "tags": ["a", "b"],
                "none": [],
            }
        ),
        True,
    ),
    ("no attributes", doc(customAttributes={}), True),
    ("attributes not a mapping", doc(customAttributes=["plan"]), False),
    ("attribute with an empty name", doc(customAttributes={"": "x"}), False),
    ("attribute that is a mapping", doc(customAttributes={"plan": {"tier": 1}}), False),
    ("attribute list of numbers", doc(customAttributes={"tags": [1, 2]}), False),
    # booleans, choices, lists of strings
    ("enforceSSO true", doc(enforceSSO=True), True),
    ("enforceSSO as a string", doc(enforceSSO="true"), False),
    ("disabled as a number", doc(disabled=1), False),
    ("roleInheritance none", doc(roleInheritance="none"), True),
    ("roleInheritance empty", doc(roleInheritance=""), True),
    ("roleInheritance in another case", doc(roleInheritance="UserOnly"), False),
    ("roleInheritance as a number", doc(roleInheritance=1), False),
    ("defaultRoles empty", doc(defaultRoles=[]), True),
    ("defaultRoles not a list", doc(defaultRoles="viewer"), False),
    ("defaultRoles with an empty role", doc(defaultRoles=[""]), False),
    ("federatedAppIds with a number", doc(federatedAppIds=[1]), False),
    ("enforceSSOExclusions not a list", doc(enforceSSOExclusions="it@acme.com"), False),
    ("parent as a number", doc(parent=5), False),
    # settings
    (
        "every setting",
        doc(
            settings={
                "enabled": True,
                "sessionTokenExpiration": 10,
                "sessionTokenExpirationUnit": "minutes",
                "refreshTokenExpiration": 4,
                "refreshTokenExpirationUnit": "weeks",
                "stepupTokenExpiration": 5,
                "stepupTokenExpirationUnit": "seconds",
                "enableInactivity": True,
                "inactivityTime": 12,
                "inactivityTimeUnit": "hours",
                "JITDisabled": False,
            }
        ),
        True,
    ),
    ("settings not a mapping", doc(settings=[]), False),
    ("unknown setting", doc(settings={"sessionTimeout": 10}), False),
    ("setting of zero", doc(settings={"inactivityTime": 0}), False),
    ("negative setting", doc(settings={"refreshTokenExpiration": -1}), False),
    ("setting beyond 64 bits", doc(settings={"refreshTokenExpiration": 2**63}), False),
    ("number setting as a string", doc(settings={"sessionTokenExpiration": "10"}), False),
    ("number setting as a boolean", doc(settings={"sessionTokenExpiration": True}), False),
    ("unit in the singular", doc(settings={"sessionTokenExpirationUnit": "minute"}), False),
    ("boolean setting as a string", doc(settings={"enabled": "yes"}), False),
    # roles, sso, passwordPolicy (sub-resources)
    ("no roles, no sso", doc(roles=[], sso=[]), True),
    (
        "roles",
        doc(roles=[{"name": "Admin", "description": "d", "permissionNames": ["p"], "default": False, "private": True}]),
        True,
    ),
    ("roles not a list", doc(roles={"name": "Admin"}), False),
    ("role without a name", doc(roles=[{"description": "d"}]), False),
    ("role with a blank name", doc(roles=[{"name": " "}]), False),
    ("role with an unknown key", doc(roles=[{"name": "A", "permissions": ["p"]}]), False),
    ("role permissionNames not strings", doc(roles=[{"name": "A", "permissionNames": [1]}]), False),
    (
        "sso saml metadata and oidc",
        doc(
            sso=[
                {
                    "ssoId": "okta",
                    "displayName": "Okta",
                    "domains": ["acme.com"],
                    "saml": {
                        "idpMetadataUrl": "https://acme.okta.com/m",
                        "entityId": "urn:acme",
                        "attributeMapping": {"email": "email"},
                        "roleMappings": [{"groups": ["g"], "roleName": "Admin"}],
                        "defaultSSORoles": ["viewer"],
                    },
                },
                {"ssoId": "g", "oidc": {"clientId": "c", "clientSecret": {"env": "G_SECRET"}, "scope": ["openid"]}},
                {"oidc": {"clientSecret": {"file": "/run/secret"}, "issuer": "http://issuer.example"}},
            ]
        ),
        True,
    ),
    (
        "sso saml manual",
        doc(sso=[{"ssoId": "s", "saml": {"idpUrl": "https://i.example", "entityId": "e", "idpCert": "C"}}]),
        True,
    ),
    ("sso without a protocol", doc(sso=[{"ssoId": "s"}]), False),
    (
        "sso with both protocols",
        doc(sso=[{"ssoId": "s", "oidc": {}, "saml": {"idpMetadataUrl": "https://m.example"}}]),
        False,
    ),
    ("sso with an unknown key", doc(sso=[{"ssoId": "s", "oidc": {}, "domain": ["acme.com"]}]), False),
    ("ssoId with a space", doc(sso=[{"ssoId": "a b", "oidc": {}}]), False),
    ("sso domain that is an e-mail", doc(sso=[{"ssoId": "s", "oidc": {}, "domains": ["it@acme.com"]}]), False),
    ("saml partial", doc(sso=[{"ssoId": "s", "saml": {"idpUrl": "https://i.example", "entityId": "e"}}]), False),
    (
        "saml both modes",
        doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https://m.example", "idpCert": "C"}}]),
        False,
    ),
    ("saml url not http", doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "ftp://m.example"}}]), False),
    ("saml unknown key", doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https://m.example", "x": 1}}]), False),
    (
        "saml attributeMapping not strings",
        doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https://m.example", "attributeMapping": {"e": 1}}}]),
        False,
    ),
    (
        "saml roleMapping without roleName",
        doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https://m.example", "roleMappings": [{"groups": ["g"]}]}}]),
        False,
    ),
    ("oidc literal secret", doc(sso=[{"ssoId": "s", "oidc": {"clientSecret": "hunter2"}}]), False),
    (
        "oidc secret env and file",
        doc(sso=[{"ssoId": "s", "oidc": {"clientSecret": {"env": "A", "file": "/b"}}}]),
        False,
    ),
    ("oidc secret bad env name", doc(sso=[{"ssoId": "s", "oidc": {"clientSecret": {"env": "1A"}}}]), False),
    ("oidc secret relative file", doc(sso=[{"ssoId": "s", "oidc": {"clientSecret": {"file": "run/s"}}}]), False),
    ("oidc unknown key", doc(sso=[{"ssoId": "s", "oidc": {"clientID": "c"}}]), False),
    ("password policy", doc(passwordPolicy={"minLength": 12, "lowercase": True, "expirationWeeks": 0}), True),
    ("password policy unknown key", doc(passwordPolicy={"minLenght": 12}), False),
    ("password policy minLength 0", doc(passwordPolicy={"minLength": 0}), False),
    ("password policy over the bound", doc(passwordPolicy={"lockAttempts": 101}), False),
    ("password policy bool as a number", doc(passwordPolicy={"number": 1}), False),
]

# (label, document): the loader refuses, the schema cannot tell (its description says so)
GAPS: list[tuple[str, Any]] = [
    ("duplicate ids", {"tenants": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}),
    ("names alike but for case", {"tenants": [{"id": "a", "name": "ACME"}, {"id": "b", "name": "acme"}]}),
    ("lookalike ids", {"tenants": [{"id": "acme", "name": "A"}, {"id": "\u0430cme", "name": "B"}]}),
    ("a name mixing scripts in a word", doc(name="P\u0430yPal")),
    ("undeclared parent", doc(parent="holding")),
    ("own parent", doc(parent="acme")),
    ("parent cycle", {"tenants": [{"id": "a", "name": "A", "parent": "b"}, {"id": "b", "name": "B", "parent": "a"}]}),
    ("the same domain in another case", doc(selfProvisioningDomains=["acme.com", "ACME.com"])),
    ("id with a zero-width space", doc(id="acme\u200b")),
    ("id with a private-use character", doc(id="acme\ue000")),
    ("setting written with a fraction", doc(settings={"sessionTokenExpiration": 10.0})),
    ("infinite attribute", doc(customAttributes={"seats": float("inf")})),
    ("attribute beyond 64 bits", doc(customAttributes={"seats": 2**64})),
    ("role names alike but for case", doc(roles=[{"name": "Admin"}, {"name": "admin"}])),
    (
        "a role mapping naming a declared role in another case",
        doc(
            roles=[{"name": "Admin"}],
            sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https://m.example", "defaultSSORoles": ["ADMIN"]}}],
        ),
    ),
    ("ssoId twice", doc(sso=[{"ssoId": "s", "oidc": {}}, {"ssoId": "s", "oidc": {}}])),
    ("displayName on the default configuration", doc(sso=[{"displayName": "D", "oidc": {}}])),
    ("URL without a host", doc(sso=[{"ssoId": "s", "saml": {"idpMetadataUrl": "https:///x"}}])),
]


def _ids(rows: list[Any]) -> list[str]:
    return [row[0] for row in rows]


@pytest.mark.parametrize(("label", "data", "valid"), TABLE, ids=_ids(TABLE))
def test_the_schema_and_the_loader_agree(label: str, data: Any, valid: bool) -> None:
    assert loader_accepts(data) is valid, f"the loader says {not valid} for {label}"
    assert schema_accepts(data) is valid, f"the schema says {not valid} for {label}"
    assert DRAFT_7.is_valid(data) is valid, f"read as draft-07 the schema says {not valid} for {label}"


@pytest.mark.parametrize(("label", "data"), GAPS, ids=_ids(GAPS))
def test_what_the_schema_does_not_cover_is_refused_by_the_loader_alone(label: str, data: Any) -> None:
    assert not loader_accepts(data), label
    assert schema_accepts(data), f"{label}: the schema covers it now; move the row to TABLE and out of NOT_COVERED"


def test_the_description_lists_what_the_schema_does_not_cover() -> None:
    description = tenants_json_schema()["description"]
    assert all(item in description for item in NOT_COVERED)


def test_every_field_of_the_model_is_in_the_schema_with_a_description() -> None:
    tenant = tenants_json_schema()["properties"]["tenants"]["items"]
    assert set(tenant["properties"]) == {"id", *TENANT_FIELDS}
    assert set(tenant["properties"]["settings"]["properties"]) == set(SETTINGS_FIELDS)
    for name, spec in tenant["properties"].items():
        assert spec["description"], name
    for name, spec in tenant["properties"]["settings"]["properties"].items():
        assert spec["description"], name


def test_a_field_without_a_description_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        json_schema, "DESCRIPTIONS", {k: v for k, v in json_schema.DESCRIPTIONS.items() if k != "parent"}
    )
    with pytest.raises(ValueError, match="no description for parent"):
        tenants_json_schema()


# ---- with the project's custom attribute definitions ----------------------------------------------

DEFINITIONS = {
    d.name: d
    for d in (
        AttributeDefinition("plan", "singleselect", "Plan", (("Free", "free"), ("Pro", "pro"))),
        AttributeDefinition("regions", "multiselect", "Regions", (("EU", "eu"), ("US", "us"))),
        AttributeDefinition("seats", "number", "Seats"),
        AttributeDefinition("trial", "boolean"),
        AttributeDefinition("note", "string"),
        AttributeDefinition("renewal", "date"),
    )
}
WITH_DEFINITIONS = Draft202012Validator(tenants_json_schema(DEFINITIONS))

ATTRIBUTE_TABLE: list[tuple[str, dict[str, Any], bool]] = [
    (
        "every type",
        {"plan": "pro", "regions": ["eu", "us"], "seats": 2.5, "trial": False, "note": "x", "renewal": 1735689600000},
        True,
    ),
    ("null clears every type", dict.fromkeys(DEFINITIONS), True),
    ("an undefined attribute", {"seat": 5}, False),
    ("an option that is not listed", {"plan": "enterprise"}, False),
    ("an option label instead of its value", {"plan": "Pro"}, False),
    ("a multi-select option twice", {"regions": ["eu", "eu"]}, False),
    ("a multi-select that is a string", {"regions": "eu"}, False),
    ("a number as a string", {"seats": "5"}, False),
    ("a boolean as a number", {"trial": 1}, False),
    ("a number as a boolean", {"seats": True}, False),
    ("a string as a number", {"note": 5}, False),
    ("a date as text", {"renewal": "2025-01-01"}, False),
    ("a date with a fraction of a millisecond", {"renewal": 1.5}, False),
]


@pytest.mark.parametrize(("label", "attributes", "valid"), ATTRIBUTE_TABLE, ids=_ids(ATTRIBUTE_TABLE))
def test_with_definitions_the_schema_and_the_loader_agree_on_attributes(
    label: str, attributes: dict[str, Any], valid: bool
) -> None:
    data = doc(customAttributes=attributes)
    assert loader_accepts(data, DEFINITIONS) is valid, f"the loader says {not valid} for {label}"
    assert schema_accepts(data, WITH_DEFINITIONS) is valid, f"the schema says {not valid} for {label}"


# ---- never stricter than the loader ---------------------------------------------------------------

_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    # NEL (U+0085) is left out: PyYAML's emitter does not round-trip it (tests/core/loader/test_properties.py)
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x85"), max_size=12),
    st.sampled_from(["acme.com", "minutes", "userOnly", "none", "", "a b", "x@y.z", "10.0.0.1"]),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["", "plan", "enabled", "inactivityTime", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
_KEYS = st.sampled_from(["id", "name", "nam", *TENANT_FIELDS])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.dictionaries(_KEYS, _VALUE, max_size=3))
def test_whatever_the_schema_refuses_the_loader_refuses(fields: dict[str, Any]) -> None:
    data = doc(**fields)
    if not schema_accepts(data):
        assert not loader_accepts(data), json.dumps(data, default=str)


# ---- the shipped file and the command ------------------------------------------------------------


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == render(tenants_json_schema()), (
        f"{SHIPPED.relative_to(ROOT)} is stale; refresh it with: {REFRESH}"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json.loads(SHIPPED.read_text(encoding="utf-8")))
    Draft202012Validator.check_schema(tenants_json_schema(DEFINITIONS))


def test_the_command_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == SHIPPED.read_text(encoding="utf-8")


def test_the_command_adds_the_projects_attributes_from_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[descope]\nattributes = [{ name = "seats", type = "number" }]\n', encoding="utf-8")
    assert main(["schema", "--attributes", "--config", str(config)]) == 0
    schema = json.loads(capsys.readouterr().out)
    attributes = schema["properties"]["tenants"]["items"]["properties"]["customAttributes"]
    assert attributes["additionalProperties"] is False
    assert attributes["properties"]["seats"]["type"] == ["number", "null"]


def test_the_command_refuses_attributes_without_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "DESCOPE_GITOPS_DESCOPE__ATTRIBUTES",
        "DESCOPE_GITOPS_DESCOPE__ATTRIBUTES_FILE",
        "DESCOPE_GITOPS_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.toml"
    config.write_text("[descope]\n", encoding="utf-8")
    assert main(["schema", "--attributes", "--config", str(config)]) == 1
    assert "--attributes needs the project's definitions" in capsys.readouterr().err


def test_editors_regex_dialect_reads_the_patterns_as_python_does() -> None:
    """ECMA-262 (with the ``u`` flag, as editors compile patterns) and Python agree on every string in the table."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not on PATH: the patterns are checked with Python's re only")
    tenant = tenants_json_schema()["properties"]["tenants"]["items"]["properties"]
    patterns = {
        "id": tenant["id"]["pattern"],
        "name": tenant["name"]["pattern"],
        "selfProvisioningDomains": tenant["selfProvisioningDomains"]["items"]["pattern"],
    }
    cases: list[tuple[str, str]] = []
    for _label, data, *_ in [*TABLE, *GAPS]:
        tenants = data.get("tenants") if isinstance(data, dict) else None
        for item in tenants if isinstance(tenants, list) else []:
            if not isinstance(item, dict):
                continue
            for key in ("id", "name"):
                if isinstance(item.get(key), str):
                    cases.append((key, item[key]))
            domains = item.get("selfProvisioningDomains")
            if isinstance(domains, list):
                cases.extend(("selfProvisioningDomains", d) for d in domains if isinstance(d, str))
    script = (
        "const [patterns, cases] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.map(([k, s]) => new RegExp(patterns[k], 'u').test(s))));"
    )
    answer = subprocess.run(
        [node, "-e", script],
        input=json.dumps([patterns, cases]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    in_js = json.loads(answer.stdout)
    in_python = [re.search(patterns[key], text) is not None for key, text in cases]
    assert len(cases) > 50
    assert in_js == in_python, [c for c, a, b in zip(cases, in_js, in_python, strict=True) if a != b]
