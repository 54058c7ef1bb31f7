"""A tenant's SSO configurations, roles and password settings: ``DescopeClient``'s methods for them.

Split from ``descope`` (the tenant record) on the seam between resources; ``DescopeClient`` inherits
``TenantConfigApi``, so callers still use one object, with the same rate limiter, retries, error mapping,
redaction and ``on_request`` hooks (every call goes through ``DescopeClient._send``). Reads return Descope's
JSON as plain dicts, in Descope's shape: SAML in its *read* names (``descope_api.SSO_SAML_READ_NAMES``), and
never an OIDC ``clientSecret`` (Descope does not return it). The writes are Descope's **full overwrites**
(``descope_api.SSO_OVERWRITE``, ``ROLE_UPDATE_OVERWRITES``, ``PASSWORD_SETTINGS_DEFAULTS``): whatever a body
omits is reset. These methods send what they are given; building the whole object (read, lay the managed keys
over, write) is the engine's business.

Retries (``_descope_retry``): reads and the overwriting writes (saml, oidc, role update, password settings)
are retried like the tenant writes, since repeating them sets the same values; ``new_sso`` and
``create_role`` are settled like a tenant create: after an attempt that may have landed, a 409 is checked
by a read and taken as success when the object is there; ``delete_sso`` and ``delete_role`` return False
when there was nothing to delete. Secrets: an OIDC ``clientSecret`` being sent is added to the client's
redactor first, so no error message, notice or log line built from an answer can carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from controller.adapters._descope_retry import READ_RETRY_STATUSES, TRANSIENT_STATUSES, _may_have_landed
from controller.descope_api import SSO_SECRET_KEYS
from controller.errors import DescopeConflict, DescopeNotFound, DescopeServerError, DescopeUnreachable
from controller.redaction import Redactor

# Paths, as Descope's SDKs call them (github.com/descope/python-sdk ``descope/management/common.py``).
SSO_ALL: Final = "/v2/mgmt/sso/settings/all"
SSO_LOAD: Final = "/v2/mgmt/sso/settings"
SSO_NEW: Final = "/v1/mgmt/sso/settings/new"
SSO_DELETE: Final = "/v1/mgmt/sso/settings"
SSO_SAML: Final = "/v1/mgmt/sso/saml"
SSO_SAML_METADATA: Final = "/v1/mgmt/sso/saml/metadata"
SSO_OIDC: Final = "/v1/mgmt/sso/oidc"
ROLE_CREATE: Final = "/v1/mgmt/role/create"
ROLE_UPDATE: Final = "/v1/mgmt/role/update"
ROLE_DELETE: Final = "/v1/mgmt/role/delete"
ROLE_SEARCH: Final = "/v1/mgmt/role/search"
ROLE_ALL: Final = "/v1/mgmt/role/all"
POLICY_SETTINGS: Final = "/v1/mgmt/password/settings"  # the password policy


def _sso_subject(tenant_id: str, sso_id: str) -> str:
    which = f"SSO configuration {sso_id!r}" if sso_id else "the default SSO configuration"
    return f"{which} of tenant {tenant_id!r}"


def _role_subject(name: str, tenant_id: str) -> str:
    return f"role {name!r} of " + (f"tenant {tenant_id!r}" if tenant_id else "the project")


class TenantConfigApi:
    """``DescopeClient``'s methods for SSO configurations, roles and password settings."""

    _redact: Redactor
    _send: Callable[..., Any]
    _retry: Callable[..., Any]
    _retry_if: Callable[..., Any]
    _expect_object: Callable[[str, Any], dict[str, Any]]
    _bad_response: Callable[[str, str, Any], Exception]

    # ------------------------------------------------------------------ SSO

    def load_sso_all(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every SSO configuration of a tenant (``GET /v2/mgmt/sso/settings/all``), each as ``load_sso`` answers."""
        op = "sso.load_all"

        def once() -> list[dict[str, Any]]:
            data = self._send(op, "GET", SSO_ALL, params={"tenantId": tenant_id}, subject=f"tenant {tenant_id!r}")
            return self._list_of(op, data, "SSOSettings")

        result: list[dict[str, Any]] = self._retry(READ_RETRY_STATUSES, once)
        return result

    def load_sso(self, tenant_id: str, sso_id: str = "") -> dict[str, Any]:
        """One SSO configuration (``GET /v2/mgmt/sso/settings``): ``{"tenant", "saml", "oidc", "ssoId"}``.

        ``sso_id`` empty: the tenant's default configuration. SAML comes in Descope's read names; the OIDC
        ``clientSecret`` is never there. DescopeNotFound for an unknown tenant or ``sso_id``.
        """
        op = "sso.load"
        params = {"tenantId": tenant_id, **({"ssoId": sso_id} if sso_id else {})}

        def once() -> dict[str, Any]:
            data = self._send(op, "GET", SSO_LOAD, params=params, subject=_sso_subject(tenant_id, sso_id))
            return self._expect_object(op, data)

        result: dict[str, Any] = self._retry(READ_RETRY_STATUSES, once)
        return result

    def new_sso(self, tenant_id: str, sso_id: str, display_name: str) -> dict[str, Any]:
        """Add an SSO configuration to a tenant (``POST /v1/mgmt/sso/settings/new``); returns it as loaded.

        Nothing is configured yet: follow with ``configure_saml``/``configure_oidc`` naming ``sso_id``.
        DescopeConflict if the tenant already has ``sso_id`` (unless our own earlier attempt made it).
        """
        op = "sso.new"
        body = {"tenantId": tenant_id, "ssoId": sso_id, "displayName": display_name}

        def check() -> dict[str, Any]:
            return self.load_sso(tenant_id, sso_id)

        answer = self._create_once(op, SSO_NEW, body, _sso_subject(tenant_id, sso_id), check)
        return self._expect_object(op, answer)

    def configure_saml(
        self,
        tenant_id: str,
        settings: Mapping[str, Any],
        *,
        sso_id: str = "",
        domains: Sequence[str] = (),
        redirect_url: str = "",
        by_metadata: bool = False,
    ) -> None:
        """Overwrite an SSO configuration with SAML (``POST /v1/mgmt/sso/saml``, or ``/saml/metadata``).

        ``settings`` in Descope's *write* names (``descope_api.SSO_SAML_WRITE_KEYS``); everything omitted,
        ``domains`` and ``redirect_url`` included, is reset.
        """
        body: dict[str, Any] = {"tenantId": tenant_id, "settings": dict(settings), "domains": list(domains)}
        body["redirectUrl"] = redirect_url
        if sso_id:
            body["ssoId"] = sso_id
        op, path = ("sso.saml_metadata", SSO_SAML_METADATA) if by_metadata else ("sso.saml", SSO_SAML)
        self._overwrite(op, path, body, _sso_subject(tenant_id, sso_id))

    def configure_oidc(
        self, tenant_id: str, settings: Mapping[str, Any], *, sso_id: str = "", domains: Sequence[str] = ()
    ) -> None:
        """Overwrite an SSO configuration with OIDC (``POST /v1/mgmt/sso/oidc``); omitted keys are reset.

        A ``clientSecret`` in ``settings`` is sent, and masked in every message from then on.
        """
        for key in SSO_SECRET_KEYS:
            secret = settings.get(key)
            if isinstance(secret, str):
                self._redact.add(secret)
        body: dict[str, Any] = {"tenantId": tenant_id, "settings": dict(settings), "domains": list(domains)}
        if sso_id:
            body["ssoId"] = sso_id
        self._overwrite("sso.oidc", SSO_OIDC, body, _sso_subject(tenant_id, sso_id))

    def delete_sso(self, tenant_id: str, sso_id: str = "") -> bool:
        """Delete an SSO configuration (``DELETE /v1/mgmt/sso/settings``; empty ``sso_id``: reset the default).

        False if it was already gone.
        """
        params = {"tenantId": tenant_id, **({"ssoId": sso_id} if sso_id else {})}
        return self._delete_once("sso.delete", "DELETE", SSO_DELETE, _sso_subject(tenant_id, sso_id), params=params)

    # ---------------------------------------------------------------- roles

    def load_roles(self, tenant_ids: Sequence[str], *, include_project_roles: bool = False) -> list[dict[str, Any]]:
        """The roles of these tenants in one call (``POST /v1/mgmt/role/search`` with ``tenantIds``).

        Each ``{"id", "name", "description", "permissionNames", "createdTime", "tenantId", "default",
        "private"}``, empty fields left out. With ``include_project_roles``, the project's roles too.
        """
        op = "role.search"
        body: dict[str, Any] = {"tenantIds": list(tenant_ids)}
        if include_project_roles:
            body["includeProjectRoles"] = True

        def once() -> list[dict[str, Any]]:
            return self._list_of(op, self._send(op, "POST", ROLE_SEARCH, body=body), "roles")

        result: list[dict[str, Any]] = self._retry(READ_RETRY_STATUSES, once)
        return result

    def load_all_roles(self) -> list[dict[str, Any]]:
        """Every role ``GET /v1/mgmt/role/all`` answers (see ``descope_api.ROLE_LISTING`` for which)."""
        op = "role.load_all"

        def once() -> list[dict[str, Any]]:
            return self._list_of(op, self._send(op, "GET", ROLE_ALL), "roles")

        result: list[dict[str, Any]] = self._retry(READ_RETRY_STATUSES, once)
        return result

    def create_role(self, role: Mapping[str, Any]) -> None:
        """Create a role (``POST /v1/mgmt/role/create``): ``{"name", "tenantId", "description",
        "permissionNames", "default", "private"}``; no ``tenantId``: a project role."""
        name, tenant_id = str(role.get("name", "")), str(role.get("tenantId") or "")
        body = dict(role)

        def check() -> object:
            found = self._find_role(name, tenant_id)
            if found is None:
                raise DescopeNotFound(f"{_role_subject(name, tenant_id)} not found", operation="role.create")
            return found

        self._create_once("role.create", ROLE_CREATE, body, _role_subject(name, tenant_id), check)

    def update_role(self, name: str, role: Mapping[str, Any]) -> None:
        """Overwrite the role named ``name`` (``POST /v1/mgmt/role/update``) with ``role``, whose ``name`` is
        its new name; ``tenantId`` says whose role it is. Omitted fields are reset."""
        tenant_id = str(role.get("tenantId") or "")
        body = {**role, "name": name, "newName": role.get("name", name)}
        self._overwrite("role.update", ROLE_UPDATE, body, _role_subject(name, tenant_id))

    def delete_role(self, name: str, tenant_id: str = "") -> bool:
        """Delete a role (``POST /v1/mgmt/role/delete``); False if it was already gone."""
        body = {"name": name, "tenantId": tenant_id}
        return self._delete_once("role.delete", "POST", ROLE_DELETE, _role_subject(name, tenant_id), body=body)

    # ------------------------------------------------------- password policy

    def load_password_settings(self, tenant_id: str) -> dict[str, Any]:
        """A tenant's effective password settings (``GET /v1/mgmt/password/settings?tenantId=``), every key."""
        op = "password.load"

        def once() -> dict[str, Any]:
            data = self._send(
                op, "GET", POLICY_SETTINGS, params={"tenantId": tenant_id}, subject=f"tenant {tenant_id!r}"
            )
            return self._expect_object(op, data)

        result: dict[str, Any] = self._retry(READ_RETRY_STATUSES, once)
        return result

    def update_password_settings(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        """Overwrite a tenant's password settings (``POST /v1/mgmt/password/settings``); omitted keys reset."""
        body = {**settings, "tenantId": tenant_id}
        self._overwrite("password.update", POLICY_SETTINGS, body, f"tenant {tenant_id!r}")

    # ------------------------------------------------------------- plumbing

    def _overwrite(self, op: str, path: str, body: dict[str, Any], subject: str) -> None:
        """A write that sets whole values: repeating it cannot do harm, so transient failures are retried."""
        self._retry(TRANSIENT_STATUSES, lambda: self._send(op, "POST", path, body=body, subject=subject))

    def _create_once(self, op: str, path: str, body: dict[str, Any], subject: str, check: Callable[[], object]) -> Any:
        """Send a create; after an attempt that may have landed, a 409 is settled by ``check`` (a read)."""
        may_have_landed = False

        def once() -> Any:
            nonlocal may_have_landed
            try:
                return self._send(op, "POST", path, body=body, subject=subject)
            except DescopeConflict:
                if may_have_landed:
                    try:
                        return check()
                    except DescopeNotFound:
                        pass
                raise
            except (DescopeServerError, DescopeUnreachable) as exc:
                may_have_landed = may_have_landed or _may_have_landed(exc)
                raise

        return self._retry(TRANSIENT_STATUSES, once)

    def _delete_once(self, op: str, method: str, path: str, subject: str, **request: Any) -> bool:
        may_have_landed = False

        def once() -> bool:
            nonlocal may_have_landed
            try:
                self._send(op, method, path, subject=subject, **request)
            except DescopeNotFound:
                return may_have_landed  # gone: by our earlier attempt, or it never existed
            except (DescopeServerError, DescopeUnreachable) as exc:
                may_have_landed = may_have_landed or _may_have_landed(exc)
                raise
            return True

        result: bool = self._retry(TRANSIENT_STATUSES, once)
        return result

    def _find_role(self, name: str, tenant_id: str) -> dict[str, Any] | None:
        roles = self.load_roles([tenant_id]) if tenant_id else self.load_all_roles()
        return next((r for r in roles if r.get("name") == name and (r.get("tenantId") or "") == tenant_id), None)

    def _list_of(self, op: str, data: Any, key: str) -> list[dict[str, Any]]:
        """``data[key]`` as a list of objects; a missing key or null is none (Go ``omitempty``)."""
        if data is None:
            return []
        if not isinstance(data, dict):
            raise self._bad_response(op, f"expected a JSON object with {key!r}", data)
        items = data.get(key)
        if items is None:
            return []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise self._bad_response(op, f"{key!r} is not a list of objects", data)
        return items
