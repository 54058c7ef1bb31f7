"""The tenant API's routes: which handler answers which path and method, and how a request body is read.

Each handler takes the store, the request and its JSON body, and returns the answer's payload and
whether it wrote to the store (``Stats`` counts writes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from json import loads
from typing import Any, Final, TypeVar

from .config_routes import CONFIG_ROUTES
from .search import parse_search
from .store import TenantStore, render
from .wire import METHOD_NOT_ALLOWED, NOT_FOUND, ApiError, bad_request, missing

_T = TypeVar("_T")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    body: bytes
    error: ApiError | None = None  # a framing problem found while reading (413, bad Content-Length)


Handler = Callable[[TenantStore, Request, dict[str, Any]], tuple[object, bool]]


# ----- tenant API routes -------------------------------------------------------------------------------
def _query_id(request: Request) -> str:
    values = request.query.get("id") or [""]
    if not values[0]:
        raise missing("id")
    return values[0]


def _load_all(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return {"tenants": [render(record) for record in store.all()]}, False


def _load(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return render(store.get(_query_id(request)), keep_parent=True), False


def _search(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return {"tenants": [render(record) for record in store.search(parse_search(body))]}, False


def _create(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return {"id": store.create(body)}, True


def _load_settings(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return store.settings(_query_id(request)), False


def _license(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return {"rateLimitTier": "tier1"}, False


def _void_write(action: Callable[[TenantStore, dict[str, Any]], None]) -> Handler:
    """A write whose success answer is ``{}``: Descope answers its void operations with ``200 {}``."""

    def handle(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
        action(store, body)
        return {}, True

    return handle


TENANT_PATCH: Final = "/v1/mgmt/tenant/patch"
TENANT_ROUTES: Final[dict[str, dict[str, Handler]]] = {
    "/v1/mgmt/tenant/all": {"GET": _load_all},
    "/v1/mgmt/tenant": {"GET": _load},
    "/v1/mgmt/tenant/create": {"POST": _create},
    "/v1/mgmt/tenant/update": {"POST": _void_write(TenantStore.update)},
    TENANT_PATCH: {"PATCH": _void_write(TenantStore.patch)},
    "/v1/mgmt/tenant/delete": {"POST": _void_write(TenantStore.delete)},
    "/v1/mgmt/tenant/search": {"POST": _search},
    "/v1/mgmt/tenant/settings": {"GET": _load_settings, "POST": _void_write(TenantStore.set_settings)},
    "/v1/mgmt/tenant/updateDefaultRoles": {"POST": _void_write(TenantStore.set_default_roles)},
    "/v1/mgmt/license": {"GET": _license},
    **CONFIG_ROUTES,  # a tenant's SSO configurations, roles and password settings
}


def routes_without(path: str) -> dict[str, dict[str, Handler]]:
    """The tenant API of an older Descope deployment that lacks ``path`` (an unknown path: 404)."""
    return {known: methods for known, methods in TENANT_ROUTES.items() if known != path}


def route(routes: dict[str, dict[str, _T]], request: Request) -> _T:
    methods = routes.get(request.path)
    if methods is None:
        raise ApiError(404, NOT_FOUND, "Not found", f"No such endpoint: {request.path}")
    handler = methods.get(request.method)
    if handler is None:
        allowed = ", ".join(sorted(methods))
        message = f"{request.method} is not allowed on {request.path} (use {allowed})"
        raise ApiError(405, METHOD_NOT_ALLOWED, "Method not allowed", message, {"Allow": allowed})
    return handler


def json_body(request: Request) -> dict[str, Any]:
    """The body of a POST/PUT/PATCH as a JSON object; an empty body is ``{}``. Other methods' bodies are ignored."""
    if request.method not in _BODY_METHODS or not request.body.strip():
        return {}
    try:
        document = loads(request.body)
    except (ValueError, RecursionError) as exc:
        raise bad_request("The request body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise bad_request("The request body must be a JSON object")
    return document
