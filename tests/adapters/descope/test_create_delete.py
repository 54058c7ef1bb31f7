"""A create is never repeated blindly, and a delete of a tenant already gone is not an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from controller.errors import (
    DescopeConflict,
    DescopeServerError,
)
from tests.adapters.descope.support import (
    BODY,
    CLOUDFLARE_502,
    CREATE,
    DELETE,
    FOUND,
    MISSING,
    ONE,
    PATCH,
    descope_error,
    rate_limited,
    sent_json,
)

# --------------------------------------------------------------------------- create is never repeated blindly


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(502, text=CLOUDFLARE_502),
        httpx.Response(504, text="Gateway Timeout"),
    ],
    ids=["read-timeout", "disconnect", "503", "502", "504"],
)
def test_create_that_landed_is_found_not_posted_again(
    api: respx.MockRouter, client: DescopeClient, failure: Any
) -> None:
    create = api.post(CREATE).mock(side_effect=[failure, httpx.Response(200, json={"id": "acme"})])
    lookup = api.get(ONE, params={"id": "acme"}).respond(200, json=FOUND)
    assert client.create(BODY) == "acme"
    assert create.call_count == 1
    assert lookup.call_count == 1


def test_create_that_did_not_land_is_posted_again(api: respx.MockRouter, client: DescopeClient) -> None:
    create = api.post(CREATE).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json={"id": "acme"})]
    )
    lookup = api.get(ONE).mock(return_value=MISSING)
    assert client.create(BODY) == "acme"
    assert create.call_count == 2
    assert lookup.call_count == 1
    assert sent_json(create, 0) == sent_json(create, 1) == BODY


@pytest.mark.parametrize("conflict_status", [409, 400])
def test_conflict_on_a_retried_create_with_our_name_is_success(
    api: respx.MockRouter, client: DescopeClient, conflict_status: int
) -> None:
    conflict = httpx.Response(
        conflict_status, json=descope_error("E0yyyyy", "Conflict", "Tenant ID acme already exists")
    )
    create = api.post(CREATE).mock(side_effect=[httpx.ReadTimeout("timed out"), conflict])
    # Not visible yet at the first check (eventual consistency), visible at the second.
    lookup = api.get(ONE).mock(side_effect=[MISSING, httpx.Response(200, json=FOUND)])
    assert client.create(BODY) == "acme"
    assert create.call_count == 2
    assert lookup.call_count == 2


def test_conflict_on_a_retried_create_with_another_name_is_a_conflict(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    conflict = httpx.Response(409, json=descope_error("E0yyyyy", "Conflict", "already exists"))
    create = api.post(CREATE).mock(side_effect=[httpx.Response(503, text="busy"), conflict])
    api.get(ONE).mock(side_effect=[MISSING, httpx.Response(200, json={"id": "acme", "name": "Someone Else"})])
    with pytest.raises(DescopeConflict) as info:
        client.create(BODY)
    assert create.call_count == 2
    assert "'Someone Else'" in str(info.value)
    assert "'ACME Corp'" in str(info.value)


def test_create_that_timed_out_and_found_with_another_name_is_a_conflict(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    create = api.post(CREATE).mock(side_effect=[httpx.ReadTimeout("timed out")])
    api.get(ONE).respond(200, json={"id": "acme", "name": "Other"})
    with pytest.raises(DescopeConflict) as info:
        client.create(BODY)
    assert create.call_count == 1
    assert info.value.operation == "tenant.create"


def test_conflict_on_the_first_create_is_looked_up_once_and_never_posted_again(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    create = api.post(CREATE).respond(409, json=descope_error("E0yyyyy", "Conflict", "Tenant name already exists"))
    lookup = api.get(ONE).respond(200, json=FOUND)
    with pytest.raises(DescopeConflict, match="tenant id 'acme' already exists"):
        client.create(BODY)
    assert (create.call_count, lookup.call_count) == (1, 1)


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("timed out")])
def test_create_that_never_left_is_retried_without_a_lookup(
    api: respx.MockRouter, client: DescopeClient, failure: Exception
) -> None:
    create = api.post(CREATE).mock(side_effect=[failure, httpx.Response(200, json={"id": "acme"})])
    lookup = api.get(ONE).respond(200, json=FOUND)
    assert client.create(BODY) == "acme"
    assert create.call_count == 2
    assert lookup.call_count == 0


def test_create_after_429_is_retried_without_a_lookup(api: respx.MockRouter, client: DescopeClient) -> None:
    create = api.post(CREATE).mock(side_effect=[rate_limited("3"), httpx.Response(200, json={"id": "acme"})])
    lookup = api.get(ONE).respond(200, json=FOUND)
    assert client.create(BODY) == "acme"
    assert create.call_count == 2
    assert lookup.call_count == 0


def test_create_without_id_is_not_retried_when_it_may_have_landed(api: respx.MockRouter, client: DescopeClient) -> None:
    create = api.post(CREATE).mock(side_effect=[httpx.Response(503, text="busy"), httpx.Response(200)])
    with pytest.raises(DescopeServerError):
        client.create({"name": "ACME Corp"})
    assert create.call_count == 1


def test_create_lookup_failure_counts_as_a_failed_attempt(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    client = make_client(max_retries=2)
    create = api.post(CREATE).mock(
        side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(200, json={"id": "acme"})]
    )
    lookup = api.get(ONE).mock(side_effect=[httpx.Response(503, text="busy"), MISSING])
    assert client.create(BODY) == "acme"
    assert lookup.call_count == 2
    assert create.call_count == 2


# --------------------------------------------------------------------------- delete


def test_delete_of_a_missing_tenant_returns_false(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.post(DELETE).mock(return_value=MISSING)
    assert client.delete("ghost") is False
    assert route.call_count == 1


def test_delete_retried_after_it_may_have_landed_counts_404_as_success(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    route = api.post(DELETE).mock(side_effect=[httpx.ReadTimeout("timed out"), MISSING])
    assert client.delete("t1") is True
    assert route.call_count == 2


def test_delete_retried_after_429_then_404_was_not_ours(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.post(DELETE).mock(side_effect=[rate_limited("1"), MISSING])
    assert client.delete("t1") is False
    assert route.call_count == 2


# --------------------------------------------------------------------------- a 409 names its real cause


def test_a_refused_create_whose_id_is_free_names_the_taken_name(api: respx.MockRouter, client: DescopeClient) -> None:
    refusal = descope_error("E0yyyyy", "Conflict", "A tenant with name 'ACME Corp' already exists (globex)")
    api.post(CREATE).respond(409, json=refusal)
    api.get(ONE).mock(return_value=MISSING)
    with pytest.raises(DescopeConflict) as info:
        client.create(BODY)
    message = str(info.value)
    assert "tenant 'acme' cannot be created: another tenant already has the name 'ACME Corp'" in message
    assert "tenant 'acme' already exists" not in message  # the id is free: saying so would mislead


def test_a_refused_create_whose_id_is_taken_says_so(api: respx.MockRouter, client: DescopeClient) -> None:
    api.post(CREATE).respond(409, json=descope_error("E0yyyyy", "Conflict", "already exists"))
    api.get(ONE).respond(200, json={"id": "acme", "name": "Old ACME"})
    with pytest.raises(DescopeConflict, match="tenant id 'acme' already exists with name 'Old ACME'"):
        client.create(BODY)


def test_a_refused_rename_names_the_name(api: respx.MockRouter, client: DescopeClient) -> None:
    api.patch(PATCH).respond(409, json=descope_error("E0yyyyy", "Conflict", "name taken"))
    with pytest.raises(DescopeConflict, match="tenant 'acme' cannot take the name 'Globex': another tenant"):
        client.patch("acme", {"name": "Globex"})
