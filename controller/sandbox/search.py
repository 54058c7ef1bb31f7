"""``POST /v1/mgmt/tenant/search`` filters: OR within a list, AND across filters, unset filters match all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .fields import parse_attributes, parse_bool, parse_string, parse_strings


@dataclass(frozen=True)
class SearchFilter:
    ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    self_provisioning_domains: frozenset[str] = frozenset()  # lower-cased: domains ignore case
    sso_domains: frozenset[str] = frozenset()  # lower-cased
    attributes: dict[str, Any] = field(default_factory=dict)
    auth_type: str = ""
    parent: str = ""
    top_level_only: bool = False

    def matches(self, record: Mapping[str, Any]) -> bool:
        return (
            (not self.ids or record["id"] in self.ids)
            and (not self.names or record["name"] in self.names)
            and _any_domain(self.self_provisioning_domains, record["selfProvisioningDomains"])
            and _any_domain(self.sso_domains, record["domains"])
            and _attributes_match(self.attributes, record["customAttributes"])
            and (not self.auth_type or record["authType"] == self.auth_type)
            and (not self.parent or record["parent"] == self.parent)
            and (not self.top_level_only or not record["parent"])
        )


def parse_search(body: Mapping[str, Any]) -> SearchFilter:
    """Every filter is optional; null, ``[]``, ``""`` and ``false`` all mean "not filtered" (Go zero values)."""
    return SearchFilter(
        ids=frozenset(parse_strings(body.get("tenantIds"), "tenantIds")),
        names=frozenset(parse_strings(body.get("tenantNames"), "tenantNames")),
        self_provisioning_domains=_domains(body, "tenantSelfProvisioningDomains"),
        sso_domains=_domains(body, "tenantSSODomains"),
        attributes=parse_attributes(body.get("customAttributes"), "customAttributes"),
        auth_type=parse_string(body.get("authType"), "authType"),
        parent=parse_string(body.get("parentTenantId"), "parentTenantId"),
        top_level_only=parse_bool(body.get("topLevelOnly"), "topLevelOnly"),
    )


def _domains(body: Mapping[str, Any], name: str) -> frozenset[str]:
    return frozenset(domain.lower() for domain in parse_strings(body.get(name), name))


def _any_domain(wanted: frozenset[str], have: list[str]) -> bool:
    return not wanted or any(domain.lower() in wanted for domain in have)


def _attributes_match(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    missing = object()
    for key, want in wanted.items():
        value = have.get(key, missing)
        if value is missing:
            return False
        # A list filter value is an OR of its items, like the list filters; an exact list value also matches.
        if not (_same(value, want) or (isinstance(want, list) and any(_same(value, item) for item in want))):
            return False
    return True


def _same(left: object, right: object) -> bool:
    # Python says True == 1; JSON (and Descope) would not.
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right
