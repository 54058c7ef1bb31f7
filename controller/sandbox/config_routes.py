"""Routes of a tenant's SSO configurations, roles and password settings (paths as py ``MgmtV1`` names them).

Each handler reads the tenant id from the query (GET, DELETE) or the body (POST) and leaves the rules to
``tenant_config``; the store runs them under its lock and saves the state file after a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .fields import parse_required_string, parse_string
from .roles import parse_role_search, render_role
from .store import PROJECT, ScopeOf, TenantStore
from .tenant_config import (
    Outcome,
    Scope,
    TenantConfig,
    all_sso,
    configure_sso,
    create_role,
    delete_role,
    delete_sso,
    effective_password,
    load_sso,
    new_sso,
    set_password,
    update_role,
)
from .wire import missing

if TYPE_CHECKING:
    from .routes import Handler, Request

_MAX_DEPTH: Final = 64  # parents never form a cycle (the store refuses one); a bound all the same


def _query(request: Request, name: str, *, required: bool) -> str:
    value = (request.query.get(name) or [""])[0]
    if required and not value:
        raise missing(name)
    return value


def _read(action: Callable[[Scope, Request], object]) -> Handler:
    def handle(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
        tenant_id = _query(request, "tenantId", required=True)
        return store.read_config(lambda scope_of, _ids: action(scope_of(tenant_id), request)), False

    return handle


def _write(change: Callable[[Scope, Mapping[str, Any]], Outcome], *, project: bool = False) -> Handler:
    """A POST naming its tenant in the body (``project``: an empty ``tenantId`` means the project)."""

    def handle(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
        raw = body.get("tenantId")
        tenant_id = parse_string(raw, "tenantId") if project else parse_required_string(raw, "tenantId")
        return store.write_config(tenant_id or PROJECT, lambda scope: change(scope, body)), True

    return handle


def _delete_sso(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    tenant_id = _query(request, "tenantId", required=True)
    sso_id = _query(request, "ssoId", required=False)
    return store.write_config(tenant_id, lambda scope: delete_sso(scope, sso_id)), True


def _all_roles(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    return {"roles": [render_role(role) for role in store.read_config(_every_role)]}, False


def _search_roles(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    wanted = parse_role_search(body)
    return {"roles": wanted.select(store.read_config(_every_role))}, False


def _every_role(scope_of: ScopeOf, tenant_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Project roles first, then each tenant's, in tenant order; each group in creation order."""
    roles = list(scope_of(PROJECT).config.roles)
    for tenant_id in tenant_ids:
        roles.extend(scope_of(tenant_id).config.roles)
    return roles


def _load_password(store: TenantStore, request: Request, body: dict[str, Any]) -> tuple[object, bool]:
    """The effective settings: the tenant's own, else its parent's, ..., else the project's, else defaults."""
    tenant_id = _query(request, "tenantId", required=False)

    def effective(scope_of: ScopeOf, tenant_ids: Iterable[str]) -> object:
        chain: list[TenantConfig] = []
        current = tenant_id
        while current and len(chain) < _MAX_DEPTH:
            scope = scope_of(current)
            chain.append(scope.config)
            current = scope.tenant["parent"] if scope.tenant else ""
        return effective_password([*chain, scope_of(PROJECT).config])

    return store.read_config(effective), False


CONFIG_ROUTES: Final[dict[str, dict[str, Handler]]] = {
    "/v2/mgmt/sso/settings/all": {"GET": _read(lambda scope, request: all_sso(scope))},
    "/v2/mgmt/sso/settings": {
        "GET": _read(lambda scope, request: load_sso(scope, _query(request, "ssoId", required=False)))
    },
    "/v1/mgmt/sso/settings/new": {"POST": _write(new_sso)},
    "/v1/mgmt/sso/settings": {"DELETE": _delete_sso},
    "/v1/mgmt/sso/saml": {"POST": _write(lambda scope, body: configure_sso(scope, body, "saml"))},
    "/v1/mgmt/sso/saml/metadata": {"POST": _write(lambda scope, body: configure_sso(scope, body, "metadata"))},
    "/v1/mgmt/sso/oidc": {"POST": _write(lambda scope, body: configure_sso(scope, body, "oidc"))},
    "/v1/mgmt/role/create": {"POST": _write(create_role, project=True)},
    "/v1/mgmt/role/update": {"POST": _write(update_role, project=True)},
    "/v1/mgmt/role/delete": {"POST": _write(delete_role, project=True)},
    "/v1/mgmt/role/search": {"POST": _search_roles},
    "/v1/mgmt/role/all": {"GET": _all_roles},
    "/v1/mgmt/password/settings": {"GET": _load_password, "POST": _write(set_password, project=True)},
}
