"""[reconcile] flapping_reverts / flapping_window: safe defaults, off with 0, and 1 refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.engine.compose import daemon_options
from controller.errors import ConfigError
from controller.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("DESCOPE_GITOPS_", "DESCOPE_")):
            monkeypatch.delenv(name)


def settings_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[reconcile]\n" + text)
    return path


def test_the_daemon_holds_after_three_reverts_in_ten_minutes_by_default(tmp_path: Path) -> None:
    policy = daemon_options(load_settings(settings_with(tmp_path, ""))).flapping
    assert (policy.reverts, policy.window, policy.enabled) == (3, 600.0, True)


def test_zero_turns_detection_off_and_the_environment_can_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESCOPE_GITOPS_RECONCILE__FLAPPING_WINDOW", "120")
    policy = daemon_options(load_settings(settings_with(tmp_path, "flapping_reverts = 0\n"))).flapping
    assert not policy.enabled and policy.window == 120


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("flapping_reverts = 1\n", "must be 0 (off) or at least 2"),
        ("flapping_reverts = -2\n", "greater than or equal to 0"),
        ("flapping_window = 0\n", "greater than 0"),
    ],
)
def test_a_bad_flapping_setting_is_one_clear_line(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(settings_with(tmp_path, text))
    (problem,) = info.value.problems
    assert problem.startswith("reconcile.flapping_") and reason in problem
