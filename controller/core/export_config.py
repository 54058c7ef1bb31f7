"""``export``'s part for each tenant's roles, SSO configurations and password policy: the lines to write.

Apart from ``core.export`` (the tenant record) because the values come from other reads and one of them, an
OIDC ``clientSecret``, can never be exported: Descope never returns it. In its place the export writes a
reference, ``clientSecret: {env: DESCOPE_SSO_SECRET_<TENANT>_<SSOID>}``, and names it in a comment under the
tenant: the user sets that variable (or changes the reference) before applying. The reference is written so
the output loads and plans: a ``plan`` on it re-sends the secret once (the controller has never written it).

Each kind is written in the form ``config_desired`` gives (what tenants.yaml would say to leave live as it
is), one role or SSO configuration per line as a flow map; the password policy only in the keys where the
tenant's differs from what it would inherit (its parent's, else the project's), so a tenant that merely
inherits exports none. A tenant with no roles or SSO configurations exports no such key (not ``[]``, which
would manage the list and want it empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.core.config_desired import desired_password, desired_roles, desired_sso, secret_env_name
from controller.core.export_yaml import value_text


@dataclass(frozen=True)
class ExportConfig:
    by_id: Mapping[str, Mapping[str, Any]]  # tenant id -> {"roles", "sso", "passwordPolicy"} as read
    project_password: Mapping[str, Any] = field(default_factory=dict)
    unreadable: Mapping[str, str] = field(default_factory=dict)  # tenant id -> why it was not read


Entry = tuple[str, str, int]  # (owner key, "key: value" or "- value", depth)


def config_entries(tenant_id: str, parent: str, config: ExportConfig) -> tuple[list[Entry], list[tuple[str, str]]]:
    """The lines of one tenant's sub-resources, and (field, why) notes for what is not written as a value."""
    read = config.by_id.get(tenant_id)
    if read is None:
        return [], []
    entries: list[Entry] = []
    notes: list[tuple[str, str]] = []
    roles = desired_roles(read.get("roles") or [])
    if roles:
        entries.append(("roles", "roles:", 0))
        entries.extend((f"roles.{r['name']}", f"- {value_text(r)}", 1) for r in roles)
    oidc_ids = [str(e.get("ssoId") or "") for e in desired_sso(tenant_id, read.get("sso") or [], {}) if "oidc" in e]
    refs = {(tenant_id, sso_id): {"env": secret_env_name(tenant_id, sso_id)} for sso_id in oidc_ids}
    sso = desired_sso(tenant_id, read.get("sso") or [], refs)
    if sso:
        entries.append(("sso", "sso:", 0))
        entries.extend((f"sso.{e['ssoId']}", f"- {value_text(e)}", 1) for e in sso)
    for sso_id in oidc_ids:
        notes.append(
            (
                f"sso.{sso_id or '(default)'}.oidc.clientSecret",
                "Descope never returns it: the export refers to the environment variable "
                f"{secret_env_name(tenant_id, sso_id)}; set it (or change the reference) before applying",
            )
        )
    password = read.get("passwordPolicy")
    if isinstance(password, Mapping):
        inherited = config.by_id.get(parent, {}).get("passwordPolicy") if parent else None
        base = inherited if isinstance(inherited, Mapping) else config.project_password
        policy = desired_password(password, base=base)
        if policy:
            entries.append(("passwordPolicy", "passwordPolicy:", 0))
            entries.extend((f"passwordPolicy.{k}", f"{k}: {value_text(v)}", 1) for k, v in policy.items())
    return entries, notes
