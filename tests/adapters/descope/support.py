"""What the Descope client tests share: the fake API's addresses and key, a fake clock, canned answers."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import respx

from controller.adapters.descope import DescopeClient

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


def rate_limited(retry_after: str | None = "7") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = descope_error("E130429", "https://docs.descope.com/rate-limit", "API rate limit exceeded.")
    return httpx.Response(429, headers=headers, json=body)


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

BODY = {"id": "acme", "name": "ACME Corp"}
FOUND = {"id": "acme", "name": "ACME Corp", "createdTime": 1726067547}
MISSING = httpx.Response(404, json=descope_error("E0xxxxx-placeholder", "Tenant not found"))
