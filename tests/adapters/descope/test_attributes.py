"""A custom attribute refused by Descope becomes a message that names the key and says what to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from controller.descope_api import ATTRIBUTE_UNDEFINED_CODE, ATTRIBUTE_VALUE_CODE
from controller.errors import DescopeAttributeRefused, DescopeValidationError
from controller.sandbox import SandboxServer
from tests.adapters.descope.support import BASE, CREATE, KEY, PATCH, PID, UPDATE, descope_error

CONSOLE = "define it in the console (Project → Tenants → Custom attributes) or remove it from tenants.yaml"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def client() -> Iterator[DescopeClient]:
    with httpx.Client() as http:
        yield DescopeClient(http, project_id=PID, management_key=KEY, base_url=BASE, sleep=lambda _s: None)


def refusal(call: Any) -> DescopeAttributeRefused:
    with pytest.raises(DescopeAttributeRefused) as info:
        call()
    assert isinstance(info.value, DescopeValidationError)  # still a per-tenant refusal for the engine
    assert KEY not in str(info.value)
    return info.value


def test_an_undefined_key_is_named_with_what_to_do(api: respx.MockRouter, client: DescopeClient) -> None:
    body = descope_error(ATTRIBUTE_UNDEFINED_CODE, "Custom attribute not defined", "Custom attribute 'seats' of x")
    route = api.post(CREATE).respond(400, json=body)
    exc = refusal(
        lambda: client.create({"id": "acme", "name": "Acme", "customAttributes": {"plan": "pro", "seats": 5}})
    )
    assert (exc.attribute, exc.reason, exc.status, exc.code) == ("seats", "undefined", 400, ATTRIBUTE_UNDEFINED_CODE)
    assert str(exc).endswith(
        f"tenant 'acme' rejected: custom attribute 'seats' is not defined in the Descope project; {CONSOLE}"
    )
    assert route.call_count == 1  # a refusal is not retried


def test_a_wrongly_typed_value_names_the_key_and_keeps_descopes_reason(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    message = "Custom attribute 'seats' of tenant acme (number) must be a number, not the string '50'"
    api.patch(PATCH).respond(400, json=descope_error(ATTRIBUTE_VALUE_CODE, "Invalid custom attribute value", message))
    exc = refusal(lambda: client.patch("acme", {"customAttributes": {"plan": "pro", "seats": "50"}}))
    assert (exc.attribute, exc.reason) == ("seats", "value")
    text = str(exc)
    assert "tenant 'acme' rejected: custom attribute 'seats' has a value its type in the Descope project" in text
    assert "must be a number, not the string '50'" in text
    assert "fix the value in tenants.yaml" in text


@pytest.mark.parametrize(
    ("error_message", "key"),
    [
        ('invalid custom attributes: key "tier" is not configured', "tier"),
        ("customAttributes.tier: unknown attribute", "tier"),
        ("Attribute seats is not allowed for tenants", "seats"),  # unquoted, as a whole word
        ("Attribute 'seatsMax' is not allowed", "seatsMax"),  # not taken for the shorter 'seats'
    ],
)
def test_descopes_own_wording_is_recognised_by_the_keys_we_sent(
    api: respx.MockRouter, client: DescopeClient, error_message: str, key: str
) -> None:
    # Descope's real code is unpublished: any 400 speaking of an attribute we sent is its refusal
    api.post(UPDATE).respond(400, json=descope_error("E011003", "Request is invalid", error_message))
    body = {"id": "acme", "name": "Acme", "customAttributes": {"seats": 1, "seatsMax": 2, "tier": "gold"}}
    exc = refusal(lambda: client.update(body))
    assert (exc.attribute, exc.reason) == (key, "refused")
    assert f"tenant 'acme' rejected: Descope refused custom attribute {key!r}" in str(exc)
    assert error_message[:30] in str(exc)
    assert "defines it with a type that takes the value in tenants.yaml" in str(exc)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # names a key we sent, but not as an attribute
        (
            {"id": "acme", "name": "", "customAttributes": {"name": "x"}},
            descope_error("E011002", "Missing arguments", "The name field is required"),
        ),
        # speaks of attributes, but of none we sent
        (
            {"id": "acme", "name": "Acme", "customAttributes": {"plan": "pro"}},
            descope_error("E011003", "Validation failure", "attribute 'tier' is invalid"),
        ),
        # no attributes sent at all: our attribute code cannot be about them
        ({"id": "acme", "name": "Acme"}, descope_error(ATTRIBUTE_VALUE_CODE, "Invalid", "attribute 'plan'")),
    ],
)
def test_other_refusals_stay_plain_validation_errors(
    api: respx.MockRouter, client: DescopeClient, body: dict[str, Any], error: dict[str, str]
) -> None:
    api.post(CREATE).respond(400, json=error)
    with pytest.raises(DescopeValidationError) as info:
        client.create(body)
    assert type(info.value) is DescopeValidationError


def test_against_the_sandbox_the_refusals_name_each_key() -> None:
    catalogue = [{"name": "seats", "type": "number"}, {"name": "plan", "type": "singleselect", "options": ["pro"]}]
    with SandboxServer(project_id=PID, management_key=KEY, attributes=catalogue) as sandbox, httpx.Client() as http:
        client = DescopeClient(http, project_id=PID, management_key=KEY, base_url=sandbox.url)
        undefined = refusal(lambda: client.create({"id": "a", "name": "A", "customAttributes": {"tier": "gold"}}))
        client.create({"id": "b", "name": "B", "customAttributes": {"seats": 5}})
        wrong = refusal(lambda: client.patch("b", {"customAttributes": {"seats": 5, "plan": "enterprise"}}))
    assert (undefined.attribute, undefined.reason) == ("tier", "undefined")
    assert (wrong.attribute, wrong.reason) == ("plan", "value")
    assert "must be one of 'pro'" in str(wrong)
