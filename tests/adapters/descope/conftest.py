"""Fixtures of the Descope client tests: a respx router for the fake API and clients on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from tests.adapters.descope.support import (
    BASE,
    KEY,
    PID,
    FakeTime,
)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One pooled client for the module (respx patches its transport inside each test's mock)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.Client, ft: FakeTime) -> Callable[..., DescopeClient]:
    def make(**kw: Any) -> DescopeClient:
        kw.setdefault("sleep", ft.sleep)
        kw.setdefault("clock", ft.clock)
        return DescopeClient(http, project_id=PID, management_key=KEY, base_url=BASE, **kw)

    return make


@pytest.fixture
def client(make_client: Callable[..., DescopeClient]) -> DescopeClient:
    return make_client()
