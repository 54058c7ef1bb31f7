"""A restore's part for roles, SSO configurations and password policy: plan them back, then write them.

Why apart from ``restore``: the sub-resources have reads, a planner and writes of their own
(``config_cycle``), and an OIDC ``clientSecret`` no backup can hold (Descope never returns it). The restored
tenants carry ``roles``/``sso``/``passwordPolicy`` as tenants.yaml would say them (``timeline.tenant_from_backup``;
from Git, as written there); they are planned against live with the sync's planner, with prune off (a restore
never deletes: a role or SSO configuration made since stays) and nothing claimed as managed, and written
after the tenant record (so a deleted tenant exists again first), each write after a pre-image of the tenant
(operation "restore"), so it can be undone.

Secrets: ``--secret TENANT/SSOID=env:NAME`` (or ``=file:PATH``) puts a reference in the OIDC configuration,
resolved at send time like a sync's. Without one, an OIDC configuration that must be written is not
restored (a configuration without its secret cannot log anyone in, and writing it would replace a working
one's): the plan says so and names the option. One that already matches live needs no secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import replace

from controller.core.config_desired import SecretRefs, oidc_without_secret
from controller.core.config_plan import make_config_plan
from controller.core.config_types import ConfigPolicy, SubAction, SubConflict, SubKind
from controller.core.model import DesiredState, DesiredTenant, JSONValue
from controller.engine.config_cycle import ConfigClient, ConfigCycle, apply_config, desired_config, read_live
from controller.engine.config_secrets import fingerprint_key, resolve_all
from controller.errors import UsageError

_SECRET_ARG = re.compile(r"(?P<tenant>[^/=]+)/(?P<sso>[^=]*)=(?P<kind>env|file):(?P<target>.+)")


def parse_secret_refs(values: Sequence[str]) -> dict[tuple[str, str], dict[str, str]]:
    """``--secret`` values as references; UsageError naming the bad one (a reference, never a secret itself)."""
    refs: dict[tuple[str, str], dict[str, str]] = {}
    for value in values:
        match = _SECRET_ARG.fullmatch(value.strip())
        if match is None:
            raise UsageError(
                "--secret takes TENANT/SSOID=env:VARIABLE or TENANT/SSOID=file:/absolute/path "
                "(a reference to the secret, never the secret itself)"
            )
        kind, target = match["kind"], match["target"]
        if kind == "env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", target):
            raise UsageError(f"--secret {match['tenant']}/{match['sso']}: env: needs a variable name")
        if kind == "file" and not target.startswith("/"):
            raise UsageError(f"--secret {match['tenant']}/{match['sso']}: file: needs an absolute path")
        refs[(match["tenant"], match["sso"])] = {kind: target}
    return refs


def with_secret_refs(tenants: Sequence[DesiredTenant], refs: SecretRefs) -> list[DesiredTenant]:
    """The restored tenants with each given reference as their OIDC configuration's ``clientSecret``."""
    out: list[DesiredTenant] = []
    for tenant in tenants:
        entries = tenant.fields.get("sso")
        if isinstance(entries, list):
            fields = dict(tenant.fields)
            fields["sso"] = [_with_ref(tenant.id, e, refs) for e in entries]
            tenant = replace(tenant, fields=fields)
        out.append(tenant)
    return out


def _with_ref(tenant_id: str, entry: JSONValue, refs: SecretRefs) -> JSONValue:
    if not isinstance(entry, dict) or not isinstance(entry.get("oidc"), dict):
        return entry
    reference = refs.get((tenant_id, str(entry.get("ssoId") or "")))
    if reference is None:
        return entry
    oidc = dict(entry["oidc"])
    oidc["clientSecret"] = dict(reference)
    return {**entry, "oidc": oidc}


def unused_refs(tenants: Sequence[DesiredTenant], refs: SecretRefs) -> list[str]:
    """``--secret`` keys that name no OIDC configuration being restored (a typo the user should hear of)."""
    oidc = {
        (t.id, str(e.get("ssoId") or ""))
        for t in tenants
        for e in t.fields.get("sso") or ()
        if isinstance(e, dict) and isinstance(e.get("oidc"), dict)
    }
    return [f"{t}/{s}" for t, s in sorted(refs) if (t, s) not in oidc]


def plan_config(
    client: ConfigClient, restored: Sequence[DesiredTenant], live_ids: Set[str], notes: list[str]
) -> ConfigCycle | None:
    """The sub-resource writes that bring live back to the restored state (None: nothing restored has any)."""
    config = desired_config(DesiredState(tuple(restored)))
    if not config:
        return None
    live = read_live(client, config, live_ids, notes)
    fingerprints, values = resolve_all(
        config, lambda: fingerprint_key(None), {}
    )  # nothing written yet: each secret is sent
    plan = make_config_plan(config, live, secrets=fingerprints, policy=ConfigPolicy(prune=False, adopt=True))
    missing = {(tid, sso) for tid, wanted in config.items() for sso in oidc_without_secret(tid, wanted)}
    conflicts = tuple(_secret_conflict(c) if (c.tenant_id, c.key) in missing else c for c in plan.conflicts)
    plan = replace(plan, conflicts=conflicts, orphaned=())
    return ConfigCycle(plan, live=live, config=config, secrets=values)


def _secret_conflict(conflict: SubConflict) -> SubConflict:
    if conflict.kind is not SubKind.SSO or "clientSecret" not in conflict.message:
        return conflict
    label = f"{conflict.tenant_id}/{conflict.key}"
    return replace(
        conflict,
        message="not restored: an OIDC configuration needs its clientSecret, which no backup holds (Descope never "
        f"returns it); give a reference with --secret {label}=env:VARIABLE (or =file:PATH) and restore again",
    )


def apply_config_restore(
    cycle: ConfigCycle,
    client: ConfigClient,
    held: Set[str],
    before_write: Callable[[SubAction], None] | None,
) -> None:
    """Write the planned sub-resources; ``held`` tenants (their record's restore failed) are skipped."""
    cycle.results = apply_config(cycle.plan, client, secrets=cycle.secrets, held=held, before_write=before_write)
