"""The composition root: turns settings into the real objects (HTTP client, Descope client, stores).

Only this module reads settings to build adapters, so tests and commands can build the same
objects by hand with fakes or the sandbox instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from controller import __version__
from controller.adapters.descope import DescopeClient, base_url_for_project_id
from controller.adapters.source import LocalSource, Source
from controller.adapters.state_store import StateStore
from controller.core.plan import PlanPolicy
from controller.engine.logs import register_secret
from controller.settings import Settings


def descope_base_url(settings: Settings) -> str:
    return settings.descope.base_url or base_url_for_project_id(settings.descope.project_id)


@contextmanager
def descope_client(settings: Settings) -> Iterator[DescopeClient]:
    """A DescopeClient over a pooled httpx.Client sized for the write concurrency; closed on exit."""
    settings.require_descope()
    key = settings.descope.management_key
    assert key is not None
    register_secret(key.get_secret_value())
    limits = httpx.Limits(max_connections=settings.descope.max_concurrency + 2)
    http = httpx.Client(
        timeout=httpx.Timeout(settings.descope.timeout),
        limits=limits,
        headers={"User-Agent": f"descope-gitops/{__version__}"},
        follow_redirects=False,
    )
    try:
        yield DescopeClient(
            http,
            project_id=settings.descope.project_id,
            management_key=key.get_secret_value(),
            base_url=descope_base_url(settings),
            rate_limit=settings.descope.rate_limit,
            max_retries=settings.descope.max_retries,
        )
    finally:
        http.close()


def local_source(path: str | Path) -> Source:
    return LocalSource(path)


def state_store(settings: Settings) -> StateStore:
    return StateStore(Path(settings.store.dir))


def plan_policy(settings: Settings, *, allow_deletes: int = 0, prune: bool | None = None) -> PlanPolicy:
    return PlanPolicy(
        prune=settings.reconcile.prune if prune is None else prune,
        max_deletes=settings.reconcile.max_deletes,
        max_delete_ratio=settings.reconcile.max_delete_ratio,
        allow_deletes=allow_deletes,
    )
