"""Role bodies and role search, read strictly; what an answer shows of a role (Go ``omitempty``).

A role belongs to one tenant (``tenantId``) or to the project (``tenantId`` empty). The rules the sandbox
follows where Descope publishes none are ``descope_api.ROLE_UPDATE_OVERWRITES`` and ``ROLE_LISTING``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .fields import parse_bool, parse_required_string, parse_string, parse_strings

Record = dict[str, Any]

ROLE_ORDER: Final = ("id", "name", "description", "permissionNames", "createdTime", "tenantId", "default", "private")


def role_fields(body: Mapping[str, Any]) -> Record:
    """What a create or an update writes: omitted or null fields at their zero value (update overwrites)."""
    return {
        "description": parse_string(body.get("description"), "description"),
        "permissionNames": parse_strings(body.get("permissionNames"), "permissionNames"),
        "default": parse_bool(body.get("default"), "default"),
        "private": parse_bool(body.get("private"), "private"),
    }


@dataclass(frozen=True)
class RoleKey:
    """How a request names a role: by ``id``, else by ``name``; always within ``tenantId`` (empty: project)."""

    tenant_id: str
    role_id: str
    name: str

    def matches(self, role: Mapping[str, Any]) -> bool:
        return bool(role["id"] == self.role_id if self.role_id else role["name"] == self.name)

    def __str__(self) -> str:
        where = f"tenant {self.tenant_id}" if self.tenant_id else "the project"
        return f"Role {self.role_id or repr(self.name)} of {where}"


def role_key(body: Mapping[str, Any]) -> RoleKey:
    role_id = parse_string(body.get("id"), "id")
    name = parse_string(body.get("name"), "name")
    if not role_id:
        name = parse_required_string(name, "name")
    return RoleKey(parse_string(body.get("tenantId"), "tenantId"), role_id, name)


def render_role(role: Mapping[str, Any]) -> Record:
    """A role as an answer lists it: empty fields left out, ``name`` always there."""
    return {key: role[key] for key in ROLE_ORDER if key == "name" or role[key]}


@dataclass(frozen=True)
class RoleFilter:
    tenant_ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    name_like: str = ""  # casefolded
    permissions: frozenset[str] = frozenset()
    role_ids: frozenset[str] = frozenset()
    include_project_roles: bool = False

    def matches(self, role: Mapping[str, Any]) -> bool:
        tenant = role["tenantId"]
        in_scope = not self.tenant_ids or tenant in self.tenant_ids or (self.include_project_roles and not tenant)
        return (
            in_scope
            and (not self.names or role["name"] in self.names)
            and (not self.name_like or self.name_like in role["name"].casefold())
            and (not self.permissions or any(name in self.permissions for name in role["permissionNames"]))
            and (not self.role_ids or role["id"] in self.role_ids)
        )

    def select(self, roles: Iterable[Mapping[str, Any]]) -> list[Record]:
        return [render_role(role) for role in roles if self.matches(role)]


def parse_role_search(body: Mapping[str, Any]) -> RoleFilter:
    """Every filter optional; null, ``[]``, ``""`` and ``false`` mean "not filtered" (Go zero values)."""
    return RoleFilter(
        tenant_ids=frozenset(parse_strings(body.get("tenantIds"), "tenantIds")),
        names=frozenset(parse_strings(body.get("roleNames"), "roleNames")),
        name_like=parse_string(body.get("roleNameLike"), "roleNameLike").casefold(),
        permissions=frozenset(parse_strings(body.get("permissionNames"), "permissionNames")),
        role_ids=frozenset(parse_strings(body.get("roleIds"), "roleIds")),
        include_project_roles=parse_bool(body.get("includeProjectRoles"), "includeProjectRoles"),
    )
