"""The composition root builds the Git source from settings and warns, at every start, about insecure host keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from controller.engine import compose
from controller.settings import Settings, load_settings


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(str(message)), level="WARNING", format="{message}")
    yield seen
    logger.remove(sink)


def settings(tmp_path: Path, **source: object) -> Settings:
    return load_settings(
        None,
        descope={"project_id": "P2test", "management_key": "not-a-real-key"},
        store={"dir": str(tmp_path / "state")},
        source={"kind": "git", "url": "git@github.com:org/tenants.git", **source},
    )


def test_the_daemon_warns_at_every_start_while_host_keys_are_not_checked(tmp_path: Path, warnings: list[str]) -> None:
    insecure = settings(tmp_path, insecure_accept_new_host_keys=True)
    for _start in range(2):
        with compose.daemon(insecure):
            pass
    said = [w for w in warnings if "insecure_accept_new_host_keys is set" in w]
    assert len(said) == 2
    assert "git@github.com:org/tenants.git" in said[0] and "man-in-the-middle" in said[0]
    assert "set known_hosts_file instead" in said[0]


def test_no_warning_when_host_keys_are_checked(tmp_path: Path, warnings: list[str]) -> None:
    hosts = tmp_path / "known_hosts"
    hosts.write_text("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    with compose.daemon(settings(tmp_path, known_hosts_file=str(hosts))):
        pass
    assert not [w for w in warnings if "host key" in w]
