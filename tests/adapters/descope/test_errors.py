"""Every failure Descope (or what stands in front of it) can answer is mapped to our errors, without the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
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
from tests.adapters.descope.support import (
    ALL,
    BASE,
    CLOUDFLARE_502,
    CREATE,
    HOST,
    KEY,
    ONE,
    PATCH,
    PID,
    SEARCH,
    SETTINGS,
    assert_no_secret,
    descope_error,
)

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
        (
            "a later tenant's id not a string",
            lambda c: c.load_all(),
            "GET",
            ALL,
            httpx.Response(200, json={"tenants": [{"id": "a"}, {"id": "b"}, {"id": 7}]}),
        ),
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
