"""A plan saved by ``plan --out FILE`` and applied by ``sync --apply --plan FILE``: apply what was reviewed.

Why a re-plan and not a replay. The file never drives a write: ``sync --apply --plan`` plans again from
the tenants files and Descope as they are now, and applies that fresh plan only when it is the saved one
(``check``, called from the reconciler's ``on_plan``, before the first write). Replaying saved request
bodies against a project that moved since would write over console edits nobody reviewed; a re-plan
that must come out identical cannot. It also means a tampered file can at most cause a refusal: it
cannot make the controller write anything that planning now would not.

What refuses (one message listing every difference; nothing is written):
- the file is not a saved plan, is of another format version, or fails its checksum (corrupt, or
  edited by hand: the checksum is a sha256 over the content, an integrity check and not a signature);
- the settings that decide a plan differ: project id, prune, max_deletes, max_delete_ratio,
  allow_deletes, drift_policy (``plan_settings``);
- the actions differ: a tenant's action added, removed, or changed (another kind, other field values
  before or after, other request bodies or stage), or the conflicts differ, or a guard now refuses;
  the same for the sub-resource actions (roles, SSO configurations, password policy: ``SubAction.what``,
  keyed by kind, tenant and name), so a console edit of a role after ``plan --out`` refuses, naming it;
- the tenants files changed (their digest), *even when the actions are the same*. A YAML edit can
  change what a sync records without changing a write: a tenant that already matches Descope is
  adopted into the inventory (and could later be pruned), one removed is orphaned. Terraform refuses
  a stale plan for the same reason. Plan again and review; it costs one read.

What does not refuse: Descope changed in a way that leaves the actions the same (a console edit of a
field or tenant the YAML does not manage). The actions carry each changed field's live value, so any
change that matters shows up as a changed action; the live digest is kept to say that Descope moved.

The file is JSON (``FORMAT``, ``VERSION``), written atomically with mode 0600. It holds tenant data from
tenants.yaml and Descope, never the management key or another secret (none of it is read here). An OIDC
``clientSecret`` appears only as its reference (``{env: NAME}``/``{file: PATH}``): ``SavedPlan.of``
refuses to save anything else there. Version 2 added the sub-resources: a version 1 file is refused, as
it cannot say which of them were reviewed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.adapters.atomic import write_atomic
from controller.adapters.local_source import read_tenant_files
from controller.core.config_types import ConfigPlan, sub_label
from controller.core.loader import source_digest
from controller.core.plan import Plan, PlanPolicy
from controller.engine.cycle import CyclePlan
from controller.errors import PlanError

FORMAT = "descope-gitops saved plan"
VERSION = 2
_SECRET_KEYS = frozenset({"clientSecret", "oidc.clientSecret"})  # a key or changed field that holds a secret
_REFERENCE_KEYS = frozenset({"env", "file"})
_MAX_BYTES = 64 * 1024 * 1024  # a plan of 100k tenants is far below; a bigger file is not ours


class SavedPlanRefused(PlanError):
    """``sync --apply --plan``: the saved plan is not what planning gives now, or the file is unusable."""


def plan_settings(project_id: str, policy: PlanPolicy, drift_policy: str) -> dict[str, Any]:
    """The settings that decide what a plan does, as the file records them (no secret among them)."""
    return {
        "project_id": project_id,
        "prune": policy.prune,
        "max_deletes": policy.max_deletes,
        "max_delete_ratio": policy.max_delete_ratio,
        "allow_deletes": policy.allow_deletes,
        "drift_policy": drift_policy,
    }


def desired_digest(path: Path) -> str:
    """A sha256 of the tenants files' content at ``path`` (a directory's relative names count, a file's not)."""
    files = read_tenant_files(path)
    if not os.path.isdir(path):
        files = {"": next(iter(files.values()))}  # one file: its content only, whatever the path given
    return source_digest(files)


@dataclass(frozen=True)
class SavedPlan:
    settings: Mapping[str, Any]
    desired_digest: str
    live_digest: str
    plan_digest: str
    actions: Sequence[Mapping[str, Any]]
    conflicts: Sequence[Mapping[str, Any]]
    tenants: str = ""  # the tenants path given to plan, for messages
    created: str = ""  # UTC, ISO 8601
    config_actions: Sequence[Mapping[str, Any]] = ()  # roles, SSO, password policy: SubAction.what()
    config_conflicts: Sequence[Mapping[str, Any]] = ()

    @classmethod
    def of(
        cls,
        plan: Plan,
        *,
        settings: Mapping[str, Any],
        desired: str,
        tenants: str,
        config: ConfigPlan | None = None,
    ) -> SavedPlan:
        config_actions = _config_actions(config)
        _refuse_secret_values(config_actions)
        return cls(
            settings=dict(settings),
            desired_digest=desired,
            live_digest=plan.live_digest,
            plan_digest=CyclePlan(plan, config).digest(),
            actions=_actions(plan),
            conflicts=_conflicts(plan),
            tenants=tenants,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            config_actions=config_actions,
            config_conflicts=_config_conflicts(config),
        )

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created": self.created,
            "tenants": self.tenants,
            "settings": dict(self.settings),
            "desired_digest": self.desired_digest,
            "live_digest": self.live_digest,
            "plan_digest": self.plan_digest,
            "actions": [dict(a) for a in self.actions],
            "conflicts": [dict(c) for c in self.conflicts],
            "config_actions": [dict(a) for a in self.config_actions],
            "config_conflicts": [dict(c) for c in self.config_conflicts],
        }

    def to_bytes(self) -> bytes:
        body = self.body()
        return (json.dumps({**body, "checksum": _checksum(body)}, indent=2, sort_keys=True) + "\n").encode()


def _actions(plan: Plan) -> list[dict[str, Any]]:
    # through JSON once, so a fresh plan compares equal to one read back from a file (tuples → lists)
    loaded: list[dict[str, Any]] = json.loads(json.dumps([a.as_dict() for a in plan.actions], default=str))
    return loaded


def _conflicts(plan: Plan) -> list[dict[str, Any]]:
    return [{"tenant_id": c.tenant_id, "message": c.message} for c in plan.conflicts]


def _config_actions(config: ConfigPlan | None) -> list[dict[str, Any]]:
    if config is None:
        return []
    loaded: list[dict[str, Any]] = json.loads(json.dumps([a.what() for a in config.actions], default=str))
    return loaded


def _config_conflicts(config: ConfigPlan | None) -> list[dict[str, Any]]:
    return [] if config is None else [c.as_dict() for c in config.conflicts]


def _refuse_secret_values(value: Any, key: str = "") -> None:
    """Every secret in a sub-resource action must be a reference: a value would be written to the file."""
    if key in _SECRET_KEYS and value is not None:
        if not (isinstance(value, Mapping) and value and set(value) <= _REFERENCE_KEYS):
            raise PlanError("not saving the plan: an OIDC clientSecret is not an {env: NAME} or {file: PATH} reference")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            # a changed field names the key in "field" and holds the value in "before"/"after"
            inner = str(value.get("field")) if k in ("before", "after") and "field" in value else str(k)
            _refuse_secret_values(v, inner)
    elif isinstance(value, list):
        for item in value:
            _refuse_secret_values(item, key)


def _checksum(body: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save(path: Path, saved: SavedPlan) -> None:
    """Write ``saved`` to ``path`` atomically; an existing file is replaced only if it is a saved plan.

    Like terraform's ``-out`` a plan file is overwritten (plan, review, fix, plan again into the same
    file), but never a file of anything else: ``--out tenants.yaml`` must not destroy the source.
    """
    if path.exists() or path.is_symlink():
        try:
            load(path)
        except SavedPlanRefused as exc:
            raise SavedPlanRefused(f"not overwriting {path}: it is not a saved plan ({exc})") from None
    write_atomic(path, saved.to_bytes(), root=path.parent if str(path.parent) else Path("."))


def load(path: Path) -> SavedPlan:
    """Read and check a saved plan; SavedPlanRefused names what is wrong with the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise SavedPlanRefused(f"cannot read the saved plan {path}: {exc.strerror or exc}") from exc
    if len(raw) > _MAX_BYTES:
        raise SavedPlanRefused(f"{path} is not a saved plan (over {_MAX_BYTES // 2**20} MiB)")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SavedPlanRefused(f"{path} is corrupt or not a saved plan (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SavedPlanRefused(f"{path} is not a saved plan of descope-gitops (no format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise SavedPlanRefused(
            f"{path} is a saved plan of format version {data.get('version')!r}; this descope-gitops reads "
            f"version {VERSION}: plan again with this version"
        )
    checksum = data.pop("checksum", None)
    if checksum != _checksum(data):
        raise SavedPlanRefused(f"{path} was changed after it was saved (checksum mismatch): plan again")
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise SavedPlanRefused(f"{path} is not a valid saved plan ({type(exc).__name__}: {exc})") from None


def _parse(data: Mapping[str, Any]) -> SavedPlan:
    settings, actions, conflicts = data["settings"], data["actions"], data["conflicts"]
    config_actions, config_conflicts = data["config_actions"], data["config_conflicts"]
    lists = (actions, conflicts, config_actions, config_conflicts)
    if not isinstance(settings, dict) or not all(isinstance(x, list) for x in lists):
        raise TypeError("settings, actions or conflicts of the wrong type")
    if not all(isinstance(a, dict) and isinstance(a.get("tenant_id"), str) for a in actions):
        raise TypeError("an action without a tenant_id")
    if not all(isinstance(a, dict) and all(isinstance(a.get(k), str) for k in _SUB_IDENT) for a in config_actions):
        raise TypeError("a sub-resource action without a kind, tenant_id or key")
    if not isinstance(settings.get("prune"), bool) or type(settings.get("allow_deletes")) is not int:
        raise TypeError("settings.prune must be a boolean and settings.allow_deletes an integer")
    return SavedPlan(
        settings=settings,
        desired_digest=str(data["desired_digest"]),
        live_digest=str(data["live_digest"]),
        plan_digest=str(data["plan_digest"]),
        actions=actions,
        conflicts=conflicts,
        tenants=str(data.get("tenants", "")),
        created=str(data.get("created", "")),
        config_actions=config_actions,
        config_conflicts=config_conflicts,
    )


def refused(path: Path, lines: Sequence[str]) -> SavedPlanRefused:
    """The one refusal of ``sync --apply --plan``: every difference, and what to do."""
    listed = "\n".join(f"  {line}" for line in lines)
    return SavedPlanRefused(
        f"the saved plan {path} was not applied, nothing was written: it is not what planning gives now\n"
        f"{listed}\nplan again with --out, review it, and apply that file"
    )


def settings_differences(saved: SavedPlan, settings: Mapping[str, Any]) -> list[str]:
    """One line per setting that differs between the saved plan and now."""
    lines = []
    for key in sorted(set(saved.settings) | set(settings)):
        if saved.settings.get(key) != settings.get(key):
            was, now = json.dumps(saved.settings.get(key)), json.dumps(settings.get(key))
            lines.append(f"setting {key}: {was} when saved, {now} now")
    return lines


def differences(saved: SavedPlan, plan: Plan, *, desired: str, config: ConfigPlan | None = None) -> list[str]:
    """One line per difference between the saved plan and ``plan`` and ``config`` (planned now from ``desired``)."""
    lines: list[str] = []
    if desired != saved.desired_digest:
        lines.append(f"the tenants files changed since the plan was saved ({saved.tenants or 'tenants path'})")
    lines += action_differences(saved.actions, _actions(plan))
    now_conflicts = _conflicts(plan)
    if list(saved.conflicts) != now_conflicts:
        gone = [c for c in saved.conflicts if c not in now_conflicts]
        new = [c for c in now_conflicts if c not in saved.conflicts]
        lines += [f"! conflict {c.get('tenant_id')} no longer planned: {c.get('message')}" for c in gone]
        lines += [f"! conflict {c['tenant_id']} planned now, not in the saved plan: {c['message']}" for c in new]
    lines += [f"refused by guard now: {reason}" for reason in plan.blocked]
    lines += sub_action_differences(saved.config_actions, _config_actions(config))
    now_sub = _config_conflicts(config)
    lines += [f"! conflict {_sub_label(c)} no longer planned: {c.get('message')}" for c in saved.config_conflicts
              if c not in now_sub]  # fmt: skip
    lines += [f"! conflict {_sub_label(c)} planned now, not in the saved plan: {c['message']}" for c in now_sub
              if c not in saved.config_conflicts]  # fmt: skip
    lines += [f"refused by guard now ({_SUBS}): {reason}" for reason in (config.blocked if config else ())]
    return lines


_SUB_IDENT = ("kind", "tenant_id", "key")
_SUBS = "roles/SSO/password policy"
_SUB_SYMBOL = {"create": "+", "update": "~", "delete": "-", "adopt": "~ adopt"}


def sub_action_differences(saved: Sequence[Mapping[str, Any]], now: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sub-resource actions (``SubAction.what()``) added, removed or changed, one line each, by label."""
    return _differences(saved, now, ident=lambda a: tuple(str(a[k]) for k in _SUB_IDENT), head=_sub_head, op_key="op")


def _sub_head(action: Mapping[str, Any]) -> str:
    return f"{_SUB_SYMBOL.get(str(action.get('op')), '?')} {_sub_label(action)}"


def _sub_label(item: Mapping[str, Any]) -> str:
    return sub_label(str(item.get("kind")), str(item.get("tenant_id")), str(item.get("key")))


_SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def action_differences(saved: Sequence[Mapping[str, Any]], now: Sequence[Mapping[str, Any]]) -> list[str]:
    """Actions added, removed or changed between two lists of ``Action.as_dict()``, one line each."""
    return _differences(saved, now, ident=lambda a: str(a["tenant_id"]), head=_head, op_key="kind")


def _differences(
    saved: Sequence[Mapping[str, Any]],
    now: Sequence[Mapping[str, Any]],
    *,
    ident: Callable[[Mapping[str, Any]], Any],
    head: Callable[[Mapping[str, Any]], str],
    op_key: str,
) -> list[str]:
    was = {ident(a): a for a in saved}
    is_ = {ident(a): a for a in now}
    lines = []
    for key in sorted(was.keys() | is_.keys()):
        old, new = was.get(key), is_.get(key)
        if old == new:
            continue
        if old is None:
            assert new is not None
            lines.append(f"{head(new)}: planned now, not in the saved plan")
        elif new is None:
            lines.append(f"{head(old)}: in the saved plan, not planned now")
        elif old.get(op_key) != new.get(op_key):
            lines.append(f"{head(new)}: saved as {old.get(op_key)}, planned now as {new.get(op_key)}")
        else:
            lines.append(f"{head(new)}: changed: {_changed(old, new)}")
    return lines


def _head(action: Mapping[str, Any]) -> str:
    kind = str(action.get("kind"))
    return f"{_SYMBOL.get(kind, '?')} {kind} {action.get('tenant_id')}"


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    def by_field(action: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        changes = action.get("changes") or []
        return {str(c.get("field")): (c.get("before"), c.get("after")) for c in changes if isinstance(c, dict)}

    old_fields, new_fields = by_field(old), by_field(new)
    parts = []
    for name in sorted(old_fields.keys() | new_fields.keys()):
        if old_fields.get(name) != new_fields.get(name):
            parts.append(f"{name} {_change(old_fields.get(name))} when saved, {_change(new_fields.get(name))} now")
    if not parts:  # same field changes, other request: stage, bodies, source line
        keys = sorted(k for k in old.keys() | new.keys() if k != "changes" and old.get(k) != new.get(k))
        parts.append("request differs in " + ", ".join(keys))
    return "; ".join(parts)


def _change(change: tuple[Any, Any] | None) -> str:
    if change is None:
        return "unchanged"
    before, after = (json.dumps(v, sort_keys=True, default=str) for v in change)
    return f"{before} → {after}"
