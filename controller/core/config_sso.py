"""Planning one tenant's SSO configurations: compare in the write vocabulary, overwrite whole, never hold a secret.

Split from ``config_plan`` on the seam of the one sub-resource with a protocol and a secret. Rules:

- an entry is keyed by ``ssoId`` (``""`` is the tenant's default configuration); inside it only the keys
  written in YAML are managed, and the body is the live configuration (in *write* names) with them laid over;
- a configuration is SAML or OIDC: switching an existing one is a conflict (the write would drop the other
  protocol's settings; Descope keeps one), as is ``displayName`` on an existing one (set at create only);
- Descope never returns ``clientSecret``: the engine hands in fingerprints (keyed hashes) of the secret last
  written and of the one the reference resolves to now; the OIDC configuration is re-sent only when they
  differ or another managed key differs, and the action says why the secret is sent. Every OIDC write
  carries the reference (``{env: NAME}``/``{file: PATH}``), since a write without it would reset the secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from controller.core.config_types import Protocol, SecretFingerprints, Stage, SubAction, SubConflict, SubKind, SubOp
from controller.core.config_values import (
    LiveSso,
    diff,
    live_sso,
    overlay,
    referenced_roles,
    restricted,
    same,
)
from controller.core.plan_types import Cause, FieldChange
from controller.descope_api import SSO_OIDC_KEYS, SSO_SAML_METADATA_WRITE_KEYS, SSO_SAML_WRITE_KEYS

_WRITE_KEYS = {
    Protocol.SAML: SSO_SAML_WRITE_KEYS,
    Protocol.SAML_METADATA: SSO_SAML_METADATA_WRITE_KEYS,
    Protocol.OIDC: SSO_OIDC_KEYS,
}
_MANUAL_IDP = ("idpUrl", "entityId", "idpCert")

CauseOf = Callable[[str, str], Cause]  # (ssoId, dotted field) -> change or drift


@dataclass
class SsoOutcome:
    actions: list[SubAction] = field(default_factory=list)
    conflicts: list[SubConflict] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)  # role names the desired SSO configurations name


@dataclass(frozen=True)
class SsoContext:
    tenant_id: str
    known_roles: Set[str]  # role names an SSO configuration may name: declared, live, or the project's
    managed: Set[tuple[str, str, str]]
    inventory_known: bool
    adopt: bool
    secrets: SecretFingerprints
    cause: CauseOf


def plan_sso(want: Sequence[Mapping[str, Any]], have: Sequence[Mapping[str, Any]], ctx: SsoContext) -> SsoOutcome:
    """Creates, updates and adoptions of the desired configurations (deletes are ``config_plan``'s)."""
    out = SsoOutcome()
    live = {entry.sso_id: entry for entry in (live_sso(item) for item in have)}
    seen: set[str] = set()
    for entry in want:
        sso_id = str(entry.get("ssoId") or "")
        if sso_id in seen:
            out.conflicts.append(_conflict(ctx, sso_id, "ssoId is declared twice for this tenant"))
            continue
        seen.add(sso_id)
        for section in ("saml", "oidc"):
            if isinstance(entry.get(section), Mapping):
                out.referenced.update(referenced_roles(entry[section]))
        result = _plan_one(entry, sso_id, live.get(sso_id), ctx)
        if isinstance(result, SubConflict):
            out.conflicts.append(result)
        elif result is not None:
            out.actions.append(result)
    return out


def _conflict(ctx: SsoContext, sso_id: str, message: str) -> SubConflict:
    return SubConflict(SubKind.SSO, ctx.tenant_id, sso_id, message)


def _protocol(entry: Mapping[str, Any], current: LiveSso | None) -> Protocol:
    saml = entry.get("saml")
    if isinstance(saml, Mapping):
        if saml.get("idpMetadataUrl"):
            return Protocol.SAML_METADATA
        if any(k in saml for k in _MANUAL_IDP) or current is None or not current.by_metadata:
            return Protocol.SAML
        return Protocol.SAML_METADATA
    if isinstance(entry.get("oidc"), Mapping):
        return Protocol.OIDC
    if current is not None and current.protocol == "saml":
        return Protocol.SAML_METADATA if current.by_metadata else Protocol.SAML
    return Protocol.OIDC if current is not None and current.protocol == "oidc" else Protocol.NONE


def _plan_one(
    entry: Mapping[str, Any], sso_id: str, current: LiveSso | None, ctx: SsoContext
) -> SubAction | SubConflict | None:
    if "saml" in entry and "oidc" in entry:
        return _conflict(ctx, sso_id, "declares both saml and oidc; a configuration is one or the other")
    protocol = _protocol(entry, current)
    family = "oidc" if protocol is Protocol.OIDC else "saml" if protocol is not Protocol.NONE else ""
    if current is not None and current.protocol and family and current.protocol != family:
        return _conflict(
            ctx,
            sso_id,
            f"Descope has it as {current.protocol.upper()}, tenants.yaml says {family.upper()}: a write would drop "
            f"its {current.protocol.upper()} settings (a configuration holds one protocol); give the new one "
            "another ssoId, or delete this one in the console first",
        )
    section_name = family or ""
    section = dict(entry.get(section_name) or {}) if section_name else {}
    missing = sorted({r for r in _refs(section) if r not in ctx.known_roles})
    if missing:
        return _conflict(
            ctx,
            sso_id,
            f"names role(s) {', '.join(repr(r) for r in missing)} that exist neither in Descope (tenant or project "
            "roles) nor in this tenant's roles in tenants.yaml",
        )
    if (
        current is not None
        and "displayName" in entry
        and current.display_name
        and not same("displayName", entry["displayName"], current.display_name)
    ):
        return _conflict(
            ctx,
            sso_id,
            f"displayName is set when the configuration is created: Descope has {current.display_name!r}, "
            f"tenants.yaml says {entry['displayName']!r}; restore the YAML value, or recreate it",
        )
    secret_ref = section.pop("clientSecret", None) if family == "oidc" else None
    if isinstance(secret_ref, str):
        return _conflict(ctx, sso_id, "oidc.clientSecret is a literal value; write {env: NAME} or {file: PATH}")
    redirect = section.pop("redirectUrl", None) if family == "saml" else None

    base = current or LiveSso(sso_id)
    live_section = dict(base.saml if family == "saml" else base.oidc if family == "oidc" else {})
    changes: list[FieldChange] = []
    if "domains" in entry:
        changes.extend(diff("", {"domains": entry["domains"]}, {"domains": list(base.domains)}))
    if section_name:
        changes.extend(diff(section_name, section, live_section))
    if redirect is not None and not same("redirectUrl", redirect, base.redirect_url):
        changes.append(FieldChange("saml.redirectUrl", base.redirect_url or None, redirect))
    if protocol is Protocol.SAML and "saml" in entry and base.by_metadata:
        changes.append(FieldChange("saml.idpMetadataUrl", live_section.get("idpMetadataUrl"), None))

    notes: list[str] = []
    fingerprint = ""
    if family == "oidc":
        if not isinstance(secret_ref, Mapping):
            if changes or current is None:
                return _conflict(
                    ctx,
                    sso_id,
                    "an OIDC write replaces the whole configuration and Descope never returns clientSecret: "
                    "declare oidc.clientSecret as {env: NAME} or {file: PATH}",
                )
        else:
            reference = {str(k): str(v) for k, v in secret_ref.items()}
            fingerprint = ctx.secrets.wanted.get((ctx.tenant_id, sso_id), "")
            if not fingerprint:
                return _conflict(ctx, sso_id, f"oidc.clientSecret {_ref_text(reference)} could not be resolved")
            written = ctx.secrets.written.get((ctx.tenant_id, sso_id))
            if written is None:
                notes.append(f"clientSecret {_ref_text(reference)} is sent: unknown: never written by this controller")
            elif written != fingerprint:
                notes.append(
                    f"clientSecret {_ref_text(reference)} is re-sent because the secret its reference names changed"
                )
            elif changes:
                notes.append(
                    f"clientSecret {_ref_text(reference)} is sent again: an OIDC write replaces the whole configuration"
                )
            if written != fingerprint:
                changes.append(FieldChange("oidc.clientSecret", None, dict(reference)))

    creating = current is None
    if creating:
        changes = [FieldChange(c.field, None, c.after) for c in changes]
        if "displayName" in entry:
            changes.insert(0, FieldChange("displayName", None, entry["displayName"]))
    else:
        changes = [
            c if c.field == "oidc.clientSecret" else FieldChange(c.field, c.before, c.after, ctx.cause(sso_id, c.field))
            for c in changes
        ]
    if protocol is Protocol.NONE and any(c.field == "domains" for c in changes):
        return _conflict(ctx, sso_id, "domains are written with the SAML or OIDC settings: declare saml or oidc")

    outside = (SubKind.SSO.value, ctx.tenant_id, sso_id) not in ctx.managed
    adopting = not creating and outside and ctx.inventory_known
    if adopting and not ctx.adopt:
        return _conflict(ctx, sso_id, "exists in Descope but this controller did not create it, and adopt = false")
    if not changes and not creating:
        if adopting:
            return SubAction(SubKind.SSO, SubOp.ADOPT, ctx.tenant_id, sso_id, stage=Stage.SSO)
        return None

    settings: dict[str, Any] = {}
    if protocol is not Protocol.NONE:
        settings = restricted(overlay(live_section, section), _WRITE_KEYS[protocol])
        if family == "oidc" and isinstance(secret_ref, Mapping):
            settings["clientSecret"] = {str(k): str(v) for k, v in secret_ref.items()}
    body: dict[str, Any] = {
        "displayName": str(entry.get("displayName") or base.display_name or sso_id),
        # as the tenant planner sends domains: lower-cased, each once, sorted (Descope compares them so)
        "domains": sorted({str(d).strip().lower() for d in entry["domains"]})
        if "domains" in entry
        else list(base.domains),
        "settings": settings,
    }
    if family == "saml":
        body["redirectUrl"] = redirect if redirect is not None else base.redirect_url
    op = SubOp.CREATE if creating else SubOp.ADOPT if adopting else SubOp.UPDATE
    return SubAction(
        SubKind.SSO,
        op,
        ctx.tenant_id,
        sso_id,
        changes=tuple(changes),
        body=body,
        protocol=protocol,
        stage=Stage.SSO,
        notes=tuple(notes),
        secret_fingerprint=fingerprint if family == "oidc" else "",
    )


def _refs(section: Mapping[str, Any]) -> list[str]:
    return referenced_roles(section)


def _ref_text(reference: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in reference.items()) + "}"
