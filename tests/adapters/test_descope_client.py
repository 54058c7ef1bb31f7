"""The Descope client speaks the tenant API as the SDKs do, maps failures to our errors, and retries safely."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from controller import __version__
from controller.adapters.descope import DescopeClient, base_url_for_project_id
from controller.adapters.metrics import Metrics
from controller.descope_api import RateLimit
from controller.errors import (
    DescopeAuthError,
    DescopeBadResponse,
    DescopeConflict,
    DescopeError,
    DescopeNotFound,
    DescopeRateLimited,
    DescopeServerError,
    DescopeUnreachable,
    DescopeValidationError,
)

BASE = "https://api.test.descope.example"
HOST = "api.test.descope.example"
PID = "P2aAc4T2V93bddihGEx2Ryhc8e5Z"
KEY = "K2zQv-SECRET-mgmt-key-do-not-leak-8f3a1"

ALL = "/v1/mgmt/tenant/all"
ONE = "/v1/mgmt/tenant"
CREATE = "/v1/mgmt/tenant/create"
UPDATE = "/v1/mgmt/tenant/update"
PATCH = "/v1/mgmt/tenant/patch"
DELETE = "/v1/mgmt/tenant/delete"
SEARCH = "/v1/mgmt/tenant/search"
SETTINGS = "/v1/mgmt/tenant/settings"
ROLES = "/v1/mgmt/tenant/updateDefaultRoles"
LICENSE = "/v1/mgmt/license"

CLOUDFLARE_502 = (
    """<!DOCTYPE html>
<html lang="en-US"><head><title>api.descope.com | 502: Bad gateway</title>
<style>body{font-family:system-ui} .cf-error{color:red}</style>
<script>window._cf_chl_opt={cvId: '3'};</script></head>
<body><div id="cf-wrapper"><h1>Bad gateway</h1><span>Error code 502</span>
<p>The web server reported a bad gateway error.</p>"""
    + ("<p>padding</p>" * 200)
    + "</body></html>"
)


class FakeTime:
    """A clock that moves only when the client sleeps; records the sleeps. Thread-safe."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One pooled client for the module (respx patches its transport inside each test's mock)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.Client, ft: FakeTime) -> Callable[..., DescopeClient]:
    def make(**kw: Any) -> DescopeClient:
        kw.setdefault("sleep", ft.sleep)
        kw.setdefault("clock", ft.clock)
        return DescopeClient(http, project_id=PID, management_key=KEY, base_url=BASE, **kw)

    return make


@pytest.fixture
def client(make_client: Callable[..., DescopeClient]) -> DescopeClient:
    return make_client()


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def descope_error(code: str, description: str, message: str | None = None) -> dict[str, str]:
    body = {"errorCode": code, "errorDescription": description}
    if message is not None:
        body["errorMessage"] = message
    return body


def assert_no_secret(exc: BaseException, client: DescopeClient) -> None:
    for text in (str(exc), repr(exc), repr(client), str(exc.args)):
        assert KEY not in text


# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    ("project_id", "url"),
    [
        ("Puse12aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.use1.descope.com"),
        ("Peuc12gotLL7ZROo6LTAOK1XGv0cqsqX", "https://api.euc1.descope.com"),
        ("P2aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.descope.com"),
        ("PUSE12aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.use1.descope.com"),  # region is lower-cased
        ("P" + "x" * 30, "https://api.descope.com"),  # 31 chars: not regional
    ],
)
def test_base_url_for_project_id(project_id: str, url: str) -> None:
    assert base_url_for_project_id(project_id) == url


# --------------------------------------------------------------------------- headers


def test_sends_descope_auth_and_sdk_headers(api: respx.MockRouter, client: DescopeClient) -> None:
    get = api.get(ALL).respond(200, json={"tenants": []})
    post = api.post(ROLES).respond(200, json={})
    client.load_all()
    client.update_default_roles("t1", ["viewer"])
    for route in (get, post):
        headers = route.calls.last.request.headers
        assert headers["Authorization"] == f"Bearer {PID}:{KEY}"
        assert headers["x-descope-project-id"] == PID
        assert headers["x-descope-sdk-name"] == "descope-gitops"
        assert headers["x-descope-sdk-version"] == __version__
        assert "x-descope-license" not in headers
    assert post.calls.last.request.headers["Content-Type"] == "application/json"


def test_license_tier_is_sent_once_known(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(LICENSE).respond(200, json={"rateLimitTier": "tier3"})
    route = api.get(ALL).respond(200, json={"tenants": []})
    assert client.license_tier() == "tier3"
    client.load_all()
    assert route.calls.last.request.headers["x-descope-license"] == "tier3"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json=descope_error("E000000", "Not found")),
        httpx.Response(500, text="oops"),
        httpx.Response(401, json=descope_error("E011003", "Unauthorized")),
        httpx.Response(200, text="<html>proxy</html>"),
        httpx.Response(200, json={"rateLimitTier": 3}),
        httpx.ConnectError("refused"),
    ],
)
def test_license_tier_is_none_on_any_failure_and_not_retried(
    api: respx.MockRouter, client: DescopeClient, response: httpx.Response | Exception
) -> None:
    route = api.get(LICENSE).mock(side_effect=[response])
    assert client.license_tier() is None
    assert route.call_count == 1


def test_repr_does_not_show_the_key(client: DescopeClient) -> None:
    assert KEY not in repr(client)
    assert PID in repr(client)


# --------------------------------------------------------------------------- paths, methods, bodies

TENANT = {"id": "t1", "name": "tenant1", "selfProvisioningDomains": ["domain1.com"], "createdTime": 172606520}

CALLS: list[tuple[str, Callable[[DescopeClient], Any], str, str, dict[str, str], Any, Any, Any]] = [
    # name, call, method, path, query, body sent (None = no body), response json, return value
    ("load_all", lambda c: c.load_all(), "GET", ALL, {}, None, {"tenants": [TENANT]}, [TENANT]),
    ("load", lambda c: c.load("t1"), "GET", ONE, {"id": "t1"}, None, TENANT, TENANT),
    (
        "create",
        lambda c: c.create({"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"]}),
        "POST",
        CREATE,
        {},
        {"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"]},
        {"id": "t1"},
        "t1",
    ),
    (
        "update",
        lambda c: c.update({"id": "t1", "name": "new-name", "enforceSSO": True, "disabled": True}),
        "POST",
        UPDATE,
        {},
        {"id": "t1", "name": "new-name", "enforceSSO": True, "disabled": True},
        {},
        None,
    ),
    (
        "patch",
        lambda c: c.patch("t1", {"name": "ACME 2", "customAttributes": {"plan": "pro"}}),
        "PATCH",
        PATCH,
        {},
        {"id": "t1", "name": "ACME 2", "customAttributes": {"plan": "pro"}},
        {},
        None,
    ),
    ("delete", lambda c: c.delete("t1"), "POST", DELETE, {}, {"id": "t1", "cascade": False}, {}, True),
    (
        "delete cascade",
        lambda c: c.delete("t1", cascade=True),
        "POST",
        DELETE,
        {},
        {"id": "t1", "cascade": True},
        {},
        True,
    ),
    (
        "load_settings",
        lambda c: c.load_settings("t1"),
        "GET",
        SETTINGS,
        {"id": "t1"},
        None,
        {"enabled": True, "sessionTokenExpiration": 11, "JITDisabled": True},
        {"enabled": True, "sessionTokenExpiration": 11, "JITDisabled": True},
    ),
    (
        "update_default_roles",
        lambda c: c.update_default_roles("t1", ("role1", "role2")),
        "POST",
        ROLES,
        {},
        {"id": "t1", "defaultRoles": ["role1", "role2"]},
        {},
        None,
    ),
    (
        "search all filters",
        lambda c: c.search(tenant_ids=["id1"], names=["name1"], domains=["spd1"], custom_attributes={"k1": "v1"}),
        "POST",
        SEARCH,
        {},
        {
            "tenantIds": ["id1"],
            "tenantNames": ["name1"],
            "tenantSelfProvisioningDomains": ["spd1"],
            "customAttributes": {"k1": "v1"},
        },
        {"tenants": [TENANT]},
        [TENANT],
    ),
    ("search no filter", lambda c: c.search(), "POST", SEARCH, {}, {}, {"tenants": []}, []),
    ("license", lambda c: c.license_tier(), "GET", LICENSE, {}, None, {"rateLimitTier": "tier2"}, "tier2"),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "body", "answer", "expected"),
    [c[1:] for c in CALLS],
    ids=[c[0] for c in CALLS],
)
def test_each_method_sends_the_documented_request(
    api: respx.MockRouter,
    client: DescopeClient,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    answer: Any,
    expected: Any,
) -> None:
    route = api.route(method=method, path=path).respond(200, json=answer)
    assert call(client) == expected
    assert route.call_count == 1
    request = route.calls.last.request
    assert dict(request.url.params) == query
    if body is None:
        assert request.content == b""
    else:
        assert json.loads(request.content) == body


def test_patch_and_settings_keep_the_id_they_were_given(api: respx.MockRouter, client: DescopeClient) -> None:
    patch = api.patch(PATCH).respond(200, json={})
    api.get(SETTINGS).respond(200, json={**LIVE_SETTINGS, "tenantId": "t1"})
    settings = api.post(SETTINGS).respond(200, json={})
    client.patch("t1", {"id": "other", "disabled": True})
    client.update_settings("t1", {"tenantId": "other", "enabled": False})
    assert sent_json(patch) == {"id": "t1", "disabled": True}
    assert sent_json(settings)["tenantId"] == "t1"


# ------------------------------------------------- full-overwrite endpoints are read-modify-write

LIVE_SETTINGS: dict[str, Any] = {
    "selfProvisioningDomains": ["acme.com"],
    "domains": ["sso.acme.com"],
    "authType": "saml",
    "enforceSSO": True,
    "enforceSSOExclusions": ["u1"],
    "federatedAppIds": ["app1"],
    "enabled": False,
    "sessionTokenExpiration": 11,
    "sessionTokenExpirationUnit": "minutes",
    "refreshTokenExpiration": 2,
    "refreshTokenExpirationUnit": "days",
    "JITDisabled": True,
    "ssoSetupSuiteSettings": {"enabled": True, "styleId": "s1"},
}


def test_a_settings_write_sends_the_live_settings_with_the_managed_keys_laid_over(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    """Descope's settings POST resets what it omits: domains, SSO and console-set values must be sent back."""
    read = api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)
    write = api.post(SETTINGS).respond(200, json={})
    tenant = api.get(ONE).respond(200, json=TENANT)
    client.update_settings("t1", {"enabled": True, "sessionTokenExpiration": 5})
    assert dict(read.calls.last.request.url.params) == {"id": "t1"}
    assert sent_json(write) == {"tenantId": "t1", **LIVE_SETTINGS, "enabled": True, "sessionTokenExpiration": 5}
    assert tenant.call_count == 0  # the settings answer carried every tenant field


def test_tenant_fields_a_settings_answer_leaves_out_are_taken_from_the_tenant(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    """Go's omitempty may drop empty or false keys from the settings answer; the tenant record has them."""
    api.get(SETTINGS).respond(200, json={"enabled": True, "sessionTokenExpiration": 11})
    api.get(ONE).respond(
        200, json={"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"], "domains": ["sso.acme.com"]}
    )
    write = api.post(SETTINGS).respond(200, json={})
    client.update_settings("t1", {"sessionTokenExpiration": 5})
    assert sent_json(write) == {
        "tenantId": "t1",
        "enabled": True,
        "sessionTokenExpiration": 5,
        "selfProvisioningDomains": ["acme.com"],
        "domains": ["sso.acme.com"],
    }


def test_a_settings_write_that_cannot_read_first_sends_nothing(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(SETTINGS).respond(404, json=descope_error("E404", "Tenant not found"))
    write = api.post(SETTINGS).respond(200, json={})
    with pytest.raises(DescopeNotFound):
        client.update_settings("t1", {"enabled": True})
    assert write.call_count == 0


LIVE_TENANT: dict[str, Any] = {
    "id": "t1",
    "name": "ACME",
    "selfProvisioningDomains": ["acme.com"],
    "customAttributes": {"plan": "pro", "seats": 5},
    "createdTime": 1726067547,
    "authType": "saml",
    "domains": ["sso.acme.com"],
    "enforceSSO": True,
    "federatedAppIds": ["app1"],
    "defaultRoles": ["viewer"],
    "parent": "holding",
    "successors": ["child"],
    "roleInheritance": "userOnly",
    "someNewerField": {"kept": True},
}


@pytest.mark.parametrize("status", [404, 405])
def test_without_patch_a_change_is_a_read_modify_write_update_from_then_on(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], status: int
) -> None:
    notices: list[str] = []
    client = make_client(on_notice=notices.append)
    patch = api.patch(PATCH).respond(status, json=descope_error("E404", "Not found"))
    load = api.get(ONE).respond(200, json=LIVE_TENANT)
    update = api.post(UPDATE).respond(200, json={})

    client.patch("t1", {"name": "ACME 2", "customAttributes": {"plan": "enterprise", "seats": 5}})
    client.patch("t1", {"disabled": True})

    assert patch.call_count == 1, "PATCH is not tried again once Descope has shown it has none"
    assert dict(load.calls.last.request.url.params) == {"id": "t1"}
    sent = sent_json(update, 0)
    # every field the update overwrites comes from the live tenant, so nothing unmanaged is reset ...
    assert sent == {
        "id": "t1",
        "name": "ACME 2",
        "selfProvisioningDomains": ["acme.com"],
        "customAttributes": {"plan": "enterprise", "seats": 5},
        "enforceSSO": True,
        "federatedAppIds": ["app1"],
        "roleInheritance": "userOnly",
        "someNewerField": {"kept": True},
    }
    # ... and what update does not take (parent, SSO domains, read-only fields) is not sent
    assert sent_json(update, 1)["disabled"] is True and update.call_count == 2
    assert len(notices) == 1 and "PATCH" in notices[0] and "read-modify-write" in notices[0]


def test_a_404_from_patch_for_a_tenant_that_is_gone_is_not_found(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    notices: list[str] = []
    client = make_client(on_notice=notices.append)
    patch = api.patch(PATCH).respond(404, json=descope_error("E404", "Tenant not found"))
    api.get(ONE).respond(404, json=descope_error("E404", "Tenant not found"))
    update = api.post(UPDATE).respond(200, json={})
    with pytest.raises(DescopeNotFound):
        client.patch("t1", {"disabled": True})
    with pytest.raises(DescopeNotFound):
        client.patch("t1", {"disabled": True})
    assert patch.call_count == 2, "PATCH exists: it is still used"
    assert update.call_count == 0 and notices == []


def test_void_writes_accept_an_empty_body(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.patch(PATCH).respond(200, content=b"")
    assert client.patch("t1", {"disabled": True}) is None
    assert route.call_count == 1  # an empty 200 is success, not a bad response to retry


# --------------------------------------------------------------------------- response shapes


def test_load_reads_the_flat_object_and_tolerates_omitted_fields(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(ONE, params={"id": "t1"}).respond(200, json={"id": "t1", "name": "abc"})
    assert client.load("t1") == {"id": "t1", "name": "abc"}


def test_load_also_understands_the_openapi_wrapped_shape(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(ONE).respond(200, json={"tenant": {"id": "t1", "name": "abc"}})
    assert client.load("t1") == {"id": "t1", "name": "abc"}


def test_load_all_keeps_tenants_as_sent_with_missing_fields(api: respx.MockRouter, client: DescopeClient) -> None:
    fixture = {
        "id": "t1",
        "name": "abc",
        "selfProvisioningDomains": ["domain.com"],
        "createdTime": 1726067547,
        "disabled": True,
        "enforceSSO": True,
    }
    api.get(ALL).respond(200, json={"tenants": [fixture, {"id": "t2", "name": "bare"}]})
    assert client.load_all() == [fixture, {"id": "t2", "name": "bare"}]


@pytest.mark.parametrize("answer", [{}, {"tenants": None}])
def test_load_all_reads_an_omitted_list_as_empty(
    api: respx.MockRouter, client: DescopeClient, answer: dict[str, Any]
) -> None:
    api.get(ALL).respond(200, json=answer)
    assert client.load_all() == []


def test_find_returns_none_on_404(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.get(ONE).respond(404, json=descope_error("E0xxxxx", "Tenant not found"))
    assert client.find("ghost") is None
    assert route.call_count == 1  # a 404 is an answer, not retried


# --------------------------------------------------------------------------- errors

ERRORS: list[tuple[str, int, dict[str, str], Any, type[DescopeError], str | None, list[str]]] = [
    # name, status, headers, body (dict → JSON, str → text), class, code, words the message must contain
    (
        "401 json",
        401,
        {},
        descope_error("E061004", "Unauthorized access", "Invalid management key"),
        DescopeAuthError,
        "E061004",
        ["project id", PID, "management key", "Unauthorized access"],
    ),
    (
        "403 html",
        403,
        {},
        "<html><head><title>403 Forbidden</title></head><body>nginx</body></html>",
        DescopeAuthError,
        None,
        ["project id", "management key", "403 Forbidden"],
    ),
    (
        "404",
        404,
        {},
        descope_error("E0xxxxx-placeholder", "Tenant not found"),
        DescopeNotFound,
        "E0xxxxx-placeholder",
        ["tenant 't1' not found", "Tenant not found"],
    ),
    (
        "409",
        409,
        {},
        descope_error("E0yyyyy", "Conflict", "Tenant with this name already exists"),
        DescopeConflict,
        "E0yyyyy",
        ["already exists"],
    ),
    (
        "400 already exists",
        400,
        {},
        descope_error("E011003", "Request is invalid", "Tenant ID t1 already exists"),
        DescopeConflict,
        "E011003",
        ["Tenant ID t1 already exists"],
    ),
    (
        "400 missing field",
        400,
        {},
        descope_error("E011002", "Missing arguments", "The name field is required"),
        DescopeValidationError,
        "E011002",
        ["Missing arguments: The name field is required"],
    ),
    (
        "400 without errorMessage",
        400,
        {},
        descope_error("E011001", "Bad request"),
        DescopeValidationError,
        "E011001",
        ["Bad request"],
    ),
    (
        "422",
        422,
        {},
        descope_error("E011004", "Invalid arguments", "selfProvisioningDomains: invalid domain"),
        DescopeValidationError,
        "E011004",
        ["invalid domain"],
    ),
    (
        "429",
        429,
        {"Retry-After": "10"},
        descope_error("E130429", "https://docs.descope.com/rate-limit", "API rate limit exceeded."),
        DescopeRateLimited,
        "E130429",
        ["rate limited", "10 s", "API rate limit exceeded."],
    ),
    (
        "500 json",
        500,
        {},
        descope_error("E000001", "Internal error"),
        DescopeServerError,
        "E000001",
        ["server error", "Internal error"],
    ),
    (
        "502 cloudflare html",
        502,
        {},
        CLOUDFLARE_502,
        DescopeServerError,
        None,
        ["502: Bad gateway"],
    ),
    ("503 empty", 503, {}, "", DescopeServerError, None, ["Service Unavailable"]),
    ("418 other", 418, {}, "I'm a teapot", DescopeError, None, ["teapot"]),
    ("307 redirect", 307, {"Location": "https://login.example/"}, "", DescopeError, None, ["redirect", BASE]),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "code", "words"),
    [e[1:] for e in ERRORS],
    ids=[e[0] for e in ERRORS],
)
def test_error_mapping(
    api: respx.MockRouter,
    make_client: Callable[..., DescopeClient],
    status: int,
    headers: dict[str, str],
    body: Any,
    cls: type[DescopeError],
    code: str | None,
    words: list[str],
) -> None:
    client = make_client(max_retries=0)
    kw: dict[str, Any] = {"json": body} if isinstance(body, dict) else {"text": body}
    api.get(ONE).respond(status, headers=headers, **kw)
    with pytest.raises(DescopeError) as info:
        client.load("t1")
    exc = info.value
    assert type(exc) is cls
    assert exc.operation == "tenant.load"
    assert exc.status == status
    assert exc.code == code
    message = str(exc)
    assert message.startswith(f"Descope tenant.load HTTP {status}")
    for word in words:
        assert word in message
    assert "<" not in message  # no raw markup
    assert len(message) < 400
    assert_no_secret(exc, client)


def test_a_cdn_html_page_is_reduced_to_its_title(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    client = make_client(max_retries=0)
    api.post(CREATE).respond(502, text=CLOUDFLARE_502, headers={"Content-Type": "text/html"})
    with pytest.raises(DescopeServerError) as info:
        client.create({"id": "acme", "name": "ACME"})
    assert str(info.value) == (
        "Descope tenant.create HTTP 502: server error for tenant 'acme': api.descope.com | 502: Bad gateway"
    )


def test_html_without_a_title_keeps_the_text_and_drops_styles_and_scripts(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    client = make_client(max_retries=0)
    page = (
        "<html><head><style>body { font-family: sans }</style><script>var x = 1;</script></head>"
        "<body><h1>Internal Server Error</h1><p>Try again &amp; later</p></body></html>"
    )
    api.get(ALL).respond(500, text=page)
    with pytest.raises(DescopeServerError) as info:
        client.load_all()
    assert str(info.value).endswith("server error for the request: Internal Server Error Try again & later")


def test_a_long_plain_text_body_is_truncated(api: respx.MockRouter, make_client: Callable[..., DescopeClient]) -> None:
    client = make_client(max_retries=0)
    api.get(ALL).respond(500, text="x" * 5000)
    with pytest.raises(DescopeServerError) as info:
        client.load_all()
    assert len(str(info.value)) < 250
    assert str(info.value).endswith("…")


def test_a_server_echoing_the_key_does_not_leak_it(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    client = make_client(max_retries=0)
    echo = descope_error("E011003", "Invalid header", f"Authorization: Bearer {PID}:{KEY} is not valid")
    api.get(ONE).respond(400, json=echo)
    with pytest.raises(DescopeValidationError) as info:
        client.load("t1")
    assert "Bearer" in str(info.value)
    assert_no_secret(info.value, client)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ["failed", "ConnectError", "Connection refused"]),
        (httpx.ReadTimeout("timed out"), ["timed out", "ReadTimeout"]),
        (httpx.ConnectTimeout("timed out"), ["timed out"]),
        (httpx.RemoteProtocolError("Server disconnected"), ["RemoteProtocolError"]),
    ],
)
def test_transport_errors_are_unreachable_naming_host_and_operation(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], error: Exception, words: list[str]
) -> None:
    client = make_client(max_retries=2)
    route = api.get(ALL).mock(side_effect=error)
    with pytest.raises(DescopeUnreachable) as info:
        client.load_all()
    exc = info.value
    assert route.call_count == 3
    assert exc.operation == "tenant.load_all"
    assert exc.status is None
    assert isinstance(exc.__cause__, httpx.TransportError)
    assert HOST in str(exc)
    assert "tenant.load_all" in str(exc)
    for word in words:
        assert word in str(exc)
    assert_no_secret(exc, client)


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "response"),
    [
        ("html", lambda c: c.load_all(), "GET", ALL, httpx.Response(200, text="<html><b>Welcome</b></html>")),
        ("tenants not list", lambda c: c.load_all(), "GET", ALL, httpx.Response(200, json={"tenants": {}})),
        ("tenant not object", lambda c: c.load_all(), "GET", ALL, httpx.Response(200, json={"tenants": [1]})),
        ("tenant without id", lambda c: c.search(), "POST", SEARCH, httpx.Response(200, json={"tenants": [{}]})),
        ("list at root", lambda c: c.load_all(), "GET", ALL, httpx.Response(200, json=[])),
        ("load not object", lambda c: c.load("t1"), "GET", ONE, httpx.Response(200, json=["t1"])),
        ("load empty", lambda c: c.load("t1"), "GET", ONE, httpx.Response(200, content=b"")),
        ("settings string", lambda c: c.load_settings("t1"), "GET", SETTINGS, httpx.Response(200, json="x")),
        (
            "create without id",
            lambda c: c.create({"id": "t1", "name": "A"}),
            "POST",
            CREATE,
            httpx.Response(200, json={}),
        ),
        (
            "create id not str",
            lambda c: c.create({"name": "A"}),
            "POST",
            CREATE,
            httpx.Response(200, json={"id": 7}),
        ),
        ("patch html", lambda c: c.patch("t1", {"x": 1}), "PATCH", PATCH, httpx.Response(200, text="<p>ok</p>")),
    ],
)
def test_garbage_2xx_is_a_bad_response_and_not_retried(
    api: respx.MockRouter,
    client: DescopeClient,
    name: str,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    response: httpx.Response,
) -> None:
    route = api.route(method=method, path=path).mock(return_value=response)
    with pytest.raises(DescopeBadResponse) as info:
        call(client)
    assert route.call_count == 1
    assert HOST in str(info.value)
    assert "<" not in str(info.value)
    assert_no_secret(info.value, client)


# --------------------------------------------------------------------------- 429 and retries


def rate_limited(retry_after: str | None = "7") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = descope_error("E130429", "https://docs.descope.com/rate-limit", "API rate limit exceeded.")
    return httpx.Response(429, headers=headers, json=body)


def test_429_waits_retry_after_then_succeeds(api: respx.MockRouter, client: DescopeClient, ft: FakeTime) -> None:
    route = api.get(ALL).mock(side_effect=[rate_limited("7"), httpx.Response(200, json={"tenants": []})])
    assert client.load_all() == []
    assert route.call_count == 2
    assert ft.sleeps == [7]


def test_429_retries_are_bounded_then_rate_limited(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=2)
    route = api.post(CREATE).mock(return_value=rate_limited("4"))
    with pytest.raises(DescopeRateLimited) as info:
        client.create({"id": "t1", "name": "ACME"})
    assert route.call_count == 3
    assert ft.sleeps == [4, 4]  # waited exactly Retry-After each time, nothing added on top
    assert info.value.retry_after == 4
    assert info.value.code == "E130429"
    assert info.value.retryable


@pytest.mark.parametrize(
    ("headers", "limit", "expected"),
    [
        ({"Retry-After": "7"}, "20/4s", 7),
        ({}, "20/4s", 4),  # missing (a CDN 429): the configured window, Descope's published backoff
        ({"Retry-After": "soon"}, "20/4s", 4),  # unparseable: the same
        ({}, "100/60s", 60),  # the default limit
        ({}, None, 60),  # no limit configured: the published API window
        ({}, "1/600s", 90),  # a longer window is capped by max_retry_wait
        ({"Retry-After": "600"}, None, 90),  # capped by max_retry_wait
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}, None, 30),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "Date": "Wed, 21 Oct 2015 07:29:00 GMT"}, None, 0),
    ],
)
def test_retry_after_forms(
    api: respx.MockRouter,
    make_client: Callable[..., DescopeClient],
    headers: dict[str, str],
    limit: str | None,
    expected: float,
) -> None:
    rate_limit = None if limit is None else RateLimit.parse(limit)
    client = make_client(max_retries=0, max_retry_wait=90, rate_limit=rate_limit)
    api.get(ALL).respond(429, headers=headers, text="Too Many Requests")
    with pytest.raises(DescopeRateLimited) as info:
        client.load_all()
    assert info.value.retry_after == pytest.approx(expected)


def test_a_429_pauses_other_threads_for_retry_after(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=0)
    api.get(ALL).mock(return_value=rate_limited("5"))
    api.get(ONE).respond(200, json={"id": "t1", "name": "A"})
    with pytest.raises(DescopeRateLimited):
        client.load_all()
    assert ft.sleeps == []  # the thread that got the 429 gave up (no retries left) ...
    other = threading.Thread(target=client.load, args=("t1",))
    other.start()
    other.join()
    assert ft.sleeps == [5]  # ... but another thread still waited out the cooldown


def test_the_rate_limit_sends_a_burst_then_waits_a_window_after_the_first_answer(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(rate_limit=RateLimit.parse("2/10s"))

    def answer_after_a_second(request: httpx.Request) -> httpx.Response:
        ft.now += 1.0
        return httpx.Response(200, json={})

    api.patch(PATCH).mock(side_effect=answer_after_a_second)
    for _ in range(3):
        client.patch("t1", {"disabled": True})
    # two at once (each takes 1 s), then the third 10 s after the first answer came back (at 1001)
    assert ft.sleeps == pytest.approx([9.0])


def test_a_429_without_retry_after_pauses_the_whole_client_for_the_window(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=0, rate_limit=RateLimit.parse("20/4s"))
    api.get(ALL).respond(429, text="<html><title>429 Too Many Requests</title></html>")
    api.get(ONE).respond(200, json={"id": "t1", "name": "A"})
    with pytest.raises(DescopeRateLimited):
        client.load_all()
    assert client.limiter.paused_for() == pytest.approx(4)
    other = threading.Thread(target=client.load, args=("t1",))
    other.start()
    other.join()
    assert ft.sleeps == [4]


def test_every_429_is_counted_in_metrics_including_retried_ones(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    metrics = Metrics()
    client = make_client(max_retries=3, on_request=metrics.on_request)
    api.get(ALL).mock(side_effect=[rate_limited("1"), rate_limited(None), httpx.Response(200, json={"tenants": []})])
    api.post(CREATE).mock(return_value=rate_limited("2"))
    assert client.load_all() == []  # two 429s, retried
    with pytest.raises(DescopeRateLimited):
        client.create({"id": "t1", "name": "ACME"})  # four 429s: the first try and 3 retries
    assert metrics.registry.get_sample_value("descope_gitops_descope_rate_limited_total") == 6
    create_429s = {"operation": "tenant.create", "code": "429"}
    assert metrics.registry.get_sample_value("descope_gitops_descope_requests_total", create_429s) == 4


@pytest.mark.parametrize(
    ("name", "call", "method", "path"),
    [
        ("patch", lambda c: c.patch("t1", {"disabled": True}), "PATCH", PATCH),
        ("update", lambda c: c.update({"id": "t1", "name": "A"}), "POST", UPDATE),
        ("settings", lambda c: c.update_settings("t1", {"enabled": True}), "POST", SETTINGS),
        ("roles", lambda c: c.update_default_roles("t1", ["r"]), "POST", ROLES),
        ("load_all", lambda c: c.load_all(), "GET", ALL),
    ],
)
@pytest.mark.parametrize("status", [502, 503, 504, 520, 521, 522, 524, 530])
def test_transient_statuses_are_retried_then_succeed(
    api: respx.MockRouter,
    client: DescopeClient,
    ft: FakeTime,
    name: str,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    status: int,
) -> None:
    ok: dict[str, Any] = {"tenants": []} if name == "load_all" else {}
    api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)  # the read before a settings write
    route = api.route(method=method, path=path).mock(
        side_effect=[httpx.Response(status, text="busy"), httpx.Response(200, json=ok)]
    )
    call(client)
    assert route.call_count == 2
    assert len(ft.sleeps) == 1
    assert 0.5 <= ft.sleeps[0] <= 1.0


def test_backoff_grows_exponentially_with_jitter_and_is_bounded(
    api: respx.MockRouter, client: DescopeClient, ft: FakeTime
) -> None:
    route = api.patch(PATCH).respond(503, text="Service Unavailable")
    with pytest.raises(DescopeServerError):
        client.patch("t1", {"disabled": True})
    assert route.call_count == 4  # 1 + max_retries=3
    assert len(ft.sleeps) == 3
    for wait, low in zip(ft.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert low <= wait <= low + 0.5


def test_backoff_is_capped_by_max_retry_wait(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=5, max_retry_wait=1.0)
    api.get(ALL).respond(503, text="busy")
    with pytest.raises(DescopeServerError):
        client.load_all()
    assert len(ft.sleeps) == 5
    assert max(ft.sleeps) <= 1.0


@pytest.mark.parametrize(
    ("name", "call", "method", "path"),
    [
        ("patch", lambda c: c.patch("t1", {"disabled": True}), "PATCH", PATCH),
        ("create", lambda c: c.create({"id": "t1", "name": "A"}), "POST", CREATE),
        ("delete", lambda c: c.delete("t1"), "POST", DELETE),
        ("settings", lambda c: c.update_settings("t1", {"enabled": True}), "POST", SETTINGS),
    ],
)
@pytest.mark.parametrize("status", [500, 400, 409])
def test_500_and_4xx_on_a_write_are_not_retried(
    api: respx.MockRouter,
    client: DescopeClient,
    ft: FakeTime,
    name: str,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    status: int,
) -> None:
    api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)  # the read before a settings write
    route = api.route(method=method, path=path).respond(status, json=descope_error("E1", "nope"))
    lookup = api.get(ONE).respond(404, json=descope_error("E2", "not found"))
    with pytest.raises(DescopeError):
        call(client)
    assert route.call_count == 1
    assert lookup.call_count == 0
    assert ft.sleeps == []


def test_500_on_a_read_is_retried(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.get(ALL).mock(side_effect=[httpx.Response(500, text="boom"), httpx.Response(200, json={})])
    assert client.load_all() == []
    assert route.call_count == 2


def test_zero_retries_means_one_attempt(api: respx.MockRouter, make_client: Callable[..., DescopeClient]) -> None:
    client = make_client(max_retries=0)
    route = api.get(ALL).respond(503, text="busy")
    with pytest.raises(DescopeServerError):
        client.load_all()
    assert route.call_count == 1


# --------------------------------------------------------------------------- create is never repeated blindly

BODY = {"id": "acme", "name": "ACME Corp"}
FOUND = {"id": "acme", "name": "ACME Corp", "createdTime": 1726067547}
MISSING = httpx.Response(404, json=descope_error("E0xxxxx-placeholder", "Tenant not found"))


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


def test_conflict_on_the_first_create_is_reported_without_a_lookup(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    api.post(CREATE).respond(409, json=descope_error("E0yyyyy", "Conflict", "Tenant name already exists"))
    lookup = api.get(ONE).respond(200, json=FOUND)
    with pytest.raises(DescopeConflict):
        client.create(BODY)
    assert lookup.call_count == 0


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


# --------------------------------------------------------------------------- on_request seam


def test_on_request_reports_every_attempt(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    seen: list[tuple[str, str, float]] = []
    client = make_client(on_request=lambda op, code, secs: seen.append((op, code, secs)))
    api.get(ALL).mock(side_effect=[rate_limited("2"), httpx.Response(200, json={"tenants": []})])
    api.post(CREATE).mock(side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(200, json={"id": "acme"})])
    api.get(ONE).mock(return_value=MISSING)
    client.load_all()
    client.create(BODY)
    assert [(op, code) for op, code, _ in seen] == [
        ("tenant.load_all", "429"),
        ("tenant.load_all", "200"),
        ("tenant.create", "ReadTimeout"),
        ("tenant.load", "404"),
        ("tenant.create", "200"),
    ]
    assert all(isinstance(secs, float) and secs >= 0 for _, _, secs in seen)


def test_on_request_measures_the_request_with_the_injected_clock(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    seen: list[float] = []
    client = make_client(on_request=lambda op, code, secs: seen.append(secs))

    def slow(request: httpx.Request) -> httpx.Response:
        ft.now += 0.25
        return httpx.Response(200, json={"tenants": []})

    api.get(ALL).mock(side_effect=slow)
    client.load_all()
    assert seen == [pytest.approx(0.25)]


def test_a_failing_on_request_hook_does_not_fail_the_call(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    def broken(op: str, code: str, secs: float) -> None:
        raise RuntimeError("metrics down")

    client = make_client(on_request=broken)
    api.post(CREATE).respond(200, json={"id": "acme"})
    assert client.create(BODY) == "acme"


# --------------------------------------------------------------------------- threads


def test_the_client_can_be_shared_between_threads(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.patch(PATCH).respond(200, json={})
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            client.patch(f"t{i}", {"disabled": True})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(json.loads(c.request.content)["id"] for c in route.calls) == sorted(f"t{i}" for i in range(16))
