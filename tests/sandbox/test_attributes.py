"""The sandbox's custom attribute definitions: undefined keys and wrong types are refused as Descope would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.descope_api import ATTRIBUTE_UNDEFINED_CODE, ATTRIBUTE_VALUE_CODE
from controller.sandbox import SandboxServer, SandboxStateError
from tests.sandbox.test_sandbox import (
    CREATE,
    PATCH,
    UPDATE,
    assert_error,
    client,
    create,
    load,
    sandbox,
)

CATALOGUE: list[dict[str, Any]] = [
    {"name": "label", "displayName": "Label", "type": "string"},
    {"name": "seats", "type": "number"},
    {"name": "vip", "type": "boolean"},
    {"name": "plan", "type": "singleselect", "options": [{"label": "Free", "value": "free"}, "pro"]},
    {"name": "regions", "type": "multiselect", "options": ["eu", "us", "ap"]},
    {"name": "renewal", "type": "date"},
]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with sandbox(attributes=CATALOGUE) as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Iterator[httpx.Client]:
    with client(server.url) as api_client:
        yield api_client


@pytest.fixture
def control(server: SandboxServer) -> Iterator[httpx.Client]:
    with client(server.url, auth=False) as control_client:
        yield control_client


# ----- undefined keys -------------------------------------------------------------------------------------
def test_create_with_an_undefined_key_is_refused_naming_key_and_tenant(
    server: SandboxServer, api: httpx.Client
) -> None:
    response = api.post(CREATE, json={"id": "acme", "name": "Acme", "customAttributes": {"plan": "pro", "tier": 1}})
    assert_error(response, 400, ATTRIBUTE_UNDEFINED_CODE, "Custom attribute 'tier' of tenant acme is not defined")
    assert server.tenants() == []


def test_a_create_without_an_id_names_the_tenant_by_its_name(api: httpx.Client) -> None:
    response = api.post(CREATE, json={"name": "Acme", "customAttributes": {"tier": "gold"}})
    assert_error(response, 400, ATTRIBUTE_UNDEFINED_CODE, "'tier' of tenant named 'Acme'")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", UPDATE, {"id": "acme", "name": "Acme", "customAttributes": {"seats": 5, "tier": "gold"}}),
        ("PATCH", PATCH, {"id": "acme", "customAttributes": {"tier": "gold"}}),
        ("PATCH", PATCH, {"id": "acme", "customAttributes": {"tier": None}}),  # even to clear it
    ],
)
def test_update_and_patch_with_an_undefined_key_change_nothing(
    api: httpx.Client, method: str, path: str, body: dict[str, Any]
) -> None:
    create(api, id="acme", name="Acme", customAttributes={"seats": 5})
    response = api.request(method, path, json=body)
    assert_error(response, 400, ATTRIBUTE_UNDEFINED_CODE, "'tier' of tenant acme")
    assert load(api, "acme")["customAttributes"] == {"seats": 5}


def test_a_seed_with_an_undefined_key_seeds_nothing(server: SandboxServer, control: httpx.Client) -> None:
    tenants = [
        {"id": "a", "name": "A", "customAttributes": {"seats": 1}},
        {"id": "b", "name": "B", "customAttributes": {"x": 1}},
    ]
    response = control.post("/_sandbox/tenants", json={"tenants": tenants})
    assert_error(response, 400, ATTRIBUTE_UNDEFINED_CODE, "'x' of tenant b")
    assert server.tenants() == []


# ----- values by type ---------------------------------------------------------------------------------------
ACCEPTED = [
    ("label", "anything"),
    ("label", ""),
    ("seats", 50),
    ("seats", 2.5),
    ("seats", -1),
    ("vip", True),
    ("vip", False),
    ("plan", "free"),
    ("plan", "pro"),
    ("regions", ["eu", "ap"]),
    ("regions", []),
    ("renewal", 1735689600000),
]
REFUSED = [
    ("label", 5, "must be a string, not the number 5"),
    ("label", ["a"], "must be a string"),
    ("seats", "50", "must be a number, not the string '50'"),
    ("seats", True, "must be a number, not true"),
    ("vip", 1, "must be true or false, not the number 1"),
    ("vip", "true", "must be true or false"),
    ("plan", "Free", "must be one of 'free', 'pro'"),  # the label is not the value
    ("plan", "gold", "not the string 'gold'"),
    ("plan", ["pro"], "must be one of 'free', 'pro'"),
    ("regions", "eu", "must be a list of 'eu', 'us', 'ap'"),
    ("regions", ["eu", "mars"], "must be a list of"),
    ("regions", ["eu", "eu"], "with an item listed twice"),
    ("renewal", "2025-01-01", "whole epoch milliseconds"),
    ("renewal", 1735689600000.5, "whole epoch milliseconds"),
    ("renewal", False, "whole epoch milliseconds"),
]


@pytest.mark.parametrize(("key", "value"), ACCEPTED)
def test_values_the_type_takes_are_stored(api: httpx.Client, key: str, value: Any) -> None:
    create(api, id="acme", name="Acme", customAttributes={key: value})
    assert load(api, "acme").get("customAttributes", {}) == {key: value}


@pytest.mark.parametrize(("key", "value", "complaint"), REFUSED)
@pytest.mark.parametrize("path", [CREATE, UPDATE, PATCH])
def test_values_the_type_does_not_take_are_refused_naming_the_key(
    server: SandboxServer, api: httpx.Client, path: str, key: str, value: Any, complaint: str
) -> None:
    if path != CREATE:
        create(api, id="acme", name="Acme")
    body = {"id": "acme", "name": "Acme", "customAttributes": {key: value}}
    response = api.request("PATCH" if path == PATCH else "POST", path, json=body)
    assert_error(response, 400, ATTRIBUTE_VALUE_CODE, f"Custom attribute '{key}' of tenant acme")
    assert complaint in response.json()["errorMessage"]
    assert all(not t["customAttributes"] for t in server.tenants())


def test_null_clears_a_value_of_any_type(api: httpx.Client) -> None:
    create(api, id="acme", name="Acme", customAttributes={"seats": 5, "plan": "pro", "vip": True})
    api.patch(PATCH, json={"id": "acme", "customAttributes": {"seats": None, "plan": "free", "vip": None}})
    assert load(api, "acme")["customAttributes"] == {"plan": "free"}


def test_null_clears_without_a_catalogue_too() -> None:
    with sandbox() as running, client(running.url) as api:
        create(api, id="acme", name="Acme", customAttributes={"anything": None, "kept": 1})
        assert load(api, "acme")["customAttributes"] == {"kept": 1}


# ----- the catalogue through the control API ------------------------------------------------------------
def test_the_catalogue_is_read_back_in_descopes_wire_form(control: httpx.Client) -> None:
    attributes = control.get("/_sandbox/attributes").json()["attributes"]
    assert {a["name"]: a["type"] for a in attributes} == {a["name"]: a["type"] for a in CATALOGUE}
    plan = next(a for a in attributes if a["name"] == "plan")
    assert plan == {
        "name": "plan",
        "displayName": "plan",
        "type": "singleselect",
        "options": [{"label": "Free", "value": "free"}, {"label": "pro", "value": "pro"}],
    }


def test_replacing_and_removing_the_catalogue(api: httpx.Client, control: httpx.Client) -> None:
    response = control.post("/_sandbox/attributes", json={"attributes": [{"name": "tier", "type": "string"}]})
    assert response.status_code == 200, response.text
    assert [a["name"] for a in response.json()["attributes"]] == ["tier"]
    create(api, id="a", name="A", customAttributes={"tier": "gold"})
    assert_error(
        api.post(CREATE, json={"id": "b", "name": "B", "customAttributes": {"seats": 1}}), 400, ATTRIBUTE_UNDEFINED_CODE
    )

    assert control.post("/_sandbox/attributes", json={"attributes": None}).json() == {"attributes": None}
    create(api, id="b", name="B", customAttributes={"whatever": "x"})  # no catalogue: any key


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "The attributes field is required"),
        ({"attributes": {"name": "x"}}, "The attributes field must be a list"),
        ({"attributes": [{"name": "x", "type": "colour"}]}, "type must be one of string, number"),
        ({"attributes": [{"type": "string"}]}, "name must be the attribute's machine name"),
        ({"attributes": [{"name": "x", "type": "singleselect"}]}, "needs options"),
        ({"attributes": [{"name": "x", "type": "string", "options": ["a"]}]}, "options are only for"),
        ({"attributes": [{"name": "x", "type": "multiselect", "options": ["a", "a"]}]}, "listed twice"),
        ({"attributes": [{"name": "x", "type": "string"}, {"name": "x", "type": "number"}]}, "defined twice"),
    ],
)
def test_a_bad_catalogue_is_refused_and_the_old_one_stays(
    control: httpx.Client, body: dict[str, Any], complaint: str
) -> None:
    response = control.post("/_sandbox/attributes", json=body)
    assert response.status_code == 400, response.text
    assert complaint in response.json()["errorMessage"]
    assert len(control.get("/_sandbox/attributes").json()["attributes"]) == len(CATALOGUE)


def test_a_bad_catalogue_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="needs options"):
        sandbox(attributes=[{"name": "plan", "type": "singleselect"}])


def test_a_catalogue_change_keeps_stored_values_but_refuses_writing_them_back(
    api: httpx.Client, control: httpx.Client
) -> None:
    create(api, id="acme", name="Acme", customAttributes={"seats": 5, "plan": "pro"})
    control.post("/_sandbox/attributes", json={"attributes": [{"name": "plan", "type": "string"}]})
    tenant = load(api, "acme")
    assert tenant["customAttributes"] == {"seats": 5, "plan": "pro"}
    response = api.post(UPDATE, json=tenant)  # read-modify-write of the whole tenant
    assert_error(response, 400, ATTRIBUTE_UNDEFINED_CODE, "'seats'")


# ----- state file -------------------------------------------------------------------------------------------
def test_the_catalogue_survives_a_restart_and_an_argument_replaces_it(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with sandbox(state_file=state, attributes=CATALOGUE) as first, client(first.url) as api:
        create(api, id="acme", name="Acme", customAttributes={"seats": 5})
    assert json.loads(state.read_text())["version"] == 3  # 3: the file also holds SSO, roles, password settings
    with sandbox(state_file=state) as second, client(second.url) as api:
        assert_error(api.patch(PATCH, json={"id": "acme", "customAttributes": {"x": 1}}), 400, ATTRIBUTE_UNDEFINED_CODE)
    with sandbox(state_file=state, attributes=[{"name": "x", "type": "number"}]) as third, client(third.url) as api:
        assert api.patch(PATCH, json={"id": "acme", "customAttributes": {"x": 1}}).status_code == 200
    assert [a["name"] for a in json.loads(state.read_text())["attributes"]] == ["x"]


def test_a_version_1_state_file_is_read_as_having_no_catalogue(tmp_path: Path) -> None:
    state = tmp_path / "old.json"
    tenants = [{"id": "acme", "name": "Acme", "customAttributes": {"any": "thing", "gone": None}}]
    state.write_text(json.dumps({"format": "descope-sandbox-state", "version": 1, "tenants": tenants}))
    with sandbox(state_file=state) as running, client(running.url) as api:
        assert load(api, "acme")["customAttributes"] == {"any": "thing"}
        assert api.patch(PATCH, json={"id": "acme", "customAttributes": {"other": 1}}).status_code == 200


def test_a_state_file_with_a_bad_catalogue_is_an_error_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "broken.json"
    content = json.dumps(
        {"format": "descope-sandbox-state", "version": 2, "tenants": [], "attributes": [{"name": "x", "type": "?"}]}
    )
    state.write_text(content)
    with pytest.raises(SandboxStateError, match="type must be one of") as caught:
        sandbox(state_file=state)
    assert str(state) in str(caught.value)
    assert state.read_text() == content
