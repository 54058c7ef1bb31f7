"""``export``'s reading half: the live project from Descope (one list call, then settings under the rate limit).

Why here: the decision "live tenants → YAML" is pure (``controller.core.export``); this module only
gathers its input. ``GET /v1/mgmt/tenant/all`` carries no session settings, so with settings on they
are read one call per tenant, a few at a time (``[descope] max_concurrency``), all paced by the
client's rate limiter: 300 tenants at the default 100/60 s take about three minutes, hence the
``on_progress`` callback. A tenant whose settings cannot be read (after the client's retries) is still
exported, without settings and with the reason, and the export counts as partial; a refused
management key stops everything.

With sub-resources on (the default), each tenant's roles, SSO configurations and password policy are read
too: the roles of every exported tenant in one ``role/search``, and per tenant one ``sso/settings/all`` and one
``password/settings`` (Descope lists neither across tenants), in the same pool as the settings; plus the
project's password settings once, so a tenant's policy is exported only in the keys where it differs from
what it would inherit (its parent's, else the project's). A tenant whose sub-resources cannot be read is
exported without them, and the export counts as partial.

``--tenant`` selects tenants by id; each selected tenant's ancestors come along, because the loader
requires every ``parent:`` to be declared in the same tenants files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from controller import __version__
from controller.core.export import Export, ExportOptions, Split, build_export
from controller.core.export_config import ExportConfig
from controller.descope_api import AttributeDefinition
from controller.engine.config_backups import scrubbed
from controller.errors import DescopeAuthError, DescopeError, UsageError

Progress = Callable[[int, int], None]
"""Called with (settings read so far, settings to read)."""


class ExportClient(Protocol):
    project_id: str

    def load_all(self) -> list[dict[str, Any]]: ...
    def load_settings(self, tenant_id: str) -> dict[str, Any]: ...
    def load_roles(self, tenant_ids: Sequence[str], *, include_project_roles: bool = False) -> list[dict[str, Any]]: ...
    def load_sso_all(self, tenant_id: str) -> list[dict[str, Any]]: ...
    def load_password_settings(self, tenant_id: str) -> dict[str, Any]: ...


@dataclass
class LiveProject:
    tenants: list[dict[str, Any]]
    settings_by_id: dict[str, Mapping[str, Any]] | None  # None: settings not read
    unreadable: dict[str, str] = field(default_factory=dict)  # tenant id -> why its settings are missing
    added_ancestors: tuple[str, ...] = ()  # ids not asked for with --tenant, exported as parents of those asked
    config_by_id: dict[str, dict[str, Any]] | None = None  # None: sub-resources not read; else as backups hold them
    project_password: dict[str, Any] | None = None  # the project's password settings (what a tenant inherits)
    unreadable_config: dict[str, str] = field(default_factory=dict)  # tenant id -> why its sub-resources are missing


def read_live(
    client: ExportClient,
    *,
    tenant_ids: Sequence[str] = (),
    include_settings: bool = True,
    include_config: bool = False,
    max_concurrency: int = 4,
    on_progress: Progress | None = None,
) -> LiveProject:
    """The tenants to export (all, or ``tenant_ids`` and their ancestors) and, if asked, settings and sub-resources."""
    tenants = client.load_all()
    added: list[str] = []
    if tenant_ids:
        tenants, added = _select(tenants, tenant_ids)
    ids = [str(t.get("id")) for t in tenants]
    config = _read_config(client, ids, max_concurrency) if include_config else None
    if not include_settings:
        return _with_config(LiveProject(tenants, None, added_ancestors=tuple(added)), config)
    settings: dict[str, Mapping[str, Any]] = {}
    unreadable: dict[str, str] = {}
    lock = threading.Lock()

    def read(tenant_id: str) -> None:
        try:
            answer: Mapping[str, Any] | None = client.load_settings(tenant_id)
            error = ""
        except DescopeAuthError:
            raise
        except DescopeError as exc:
            answer, error = None, str(exc)
        with lock:
            if answer is None:
                unreadable[tenant_id] = error
            else:
                settings[tenant_id] = answer
            done = len(settings) + len(unreadable)
        if on_progress is not None:
            on_progress(done, len(ids))

    if on_progress is not None:
        on_progress(0, len(ids))
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="export") as pool:
        for future in [pool.submit(read, tid) for tid in ids]:
            future.result()  # a refused key stops the export here
    return _with_config(LiveProject(tenants, settings, unreadable, tuple(added)), config)


_Config = tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, str]]


def _with_config(live: LiveProject, config: _Config | None) -> LiveProject:
    if config is not None:
        live.config_by_id, live.project_password, live.unreadable_config = config
    return live


def _read_config(client: ExportClient, ids: Sequence[str], max_concurrency: int) -> _Config:
    """(tenant id -> {"roles", "sso", "passwordPolicy"} as read, the project's password settings, unreadable)."""
    by_id: dict[str, dict[str, Any]] = {tid: {"roles": []} for tid in ids}
    for role in client.load_roles(list(ids)) if ids else []:
        owner = str(role.get("tenantId") or "")
        if owner in by_id:
            by_id[owner]["roles"].append(role)
    project = client.load_password_settings("")
    unreadable: dict[str, str] = {}
    lock = threading.Lock()

    def read(tenant_id: str) -> None:
        try:
            sso = client.load_sso_all(tenant_id)
            password = client.load_password_settings(tenant_id)
        except DescopeAuthError:
            raise
        except DescopeError as exc:
            with lock:
                unreadable[tenant_id] = str(exc)
                by_id.pop(tenant_id, None)
            return
        with lock:
            by_id[tenant_id].update(sso=scrubbed(sso), passwordPolicy=password)

    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="export-config") as pool:
        for future in [pool.submit(read, tid) for tid in ids]:
            future.result()
    return by_id, project, unreadable


def _select(tenants: list[dict[str, Any]], wanted: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    by_id = {str(t.get("id")): t for t in tenants}
    missing = [tid for tid in dict.fromkeys(wanted) if tid not in by_id]
    if missing:
        raise UsageError(f"no tenant with id {', '.join(repr(m) for m in missing)} in the Descope project")
    chosen: dict[str, None] = dict.fromkeys(wanted)
    added: list[str] = []
    for tid in list(chosen):
        parent = str(by_id[tid].get("parent") or "")
        while parent in by_id and parent not in chosen:
            chosen[parent] = None
            added.append(parent)
            parent = str(by_id[parent].get("parent") or "")
    return [by_id[tid] for tid in chosen], sorted(added)


@dataclass(frozen=True)
class ExportRequest:
    tenant_ids: tuple[str, ...] = ()
    include_settings: bool = True
    include_config: bool = True  # roles, SSO configurations, password policy
    split: Split = "none"
    file_name: str = "tenants.yaml"


@dataclass(frozen=True)
class ExportOutcome:
    export: Export
    live: LiveProject


def export_project(
    client: ExportClient,
    request: ExportRequest,
    *,
    attributes: Mapping[str, AttributeDefinition] | None = None,
    max_concurrency: int = 4,
    on_progress: Progress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportOutcome:
    """Read the project and build the export (nothing is written here)."""
    live = read_live(
        client,
        tenant_ids=request.tenant_ids,
        include_settings=request.include_settings,
        include_config=request.include_config,
        max_concurrency=max_concurrency,
        on_progress=on_progress,
    )
    options = ExportOptions(
        project_id=client.project_id,
        exported_at=now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        version=__version__,
        split=request.split,
        file_name=request.file_name,
        attributes=attributes,
    )
    export = build_export(
        live.tenants,
        options,
        settings_by_id=live.settings_by_id,
        unreadable_settings=live.unreadable,
        config=ExportConfig(live.config_by_id, live.project_password or {}, live.unreadable_config)
        if live.config_by_id is not None
        else None,
    )
    return ExportOutcome(export, live)
