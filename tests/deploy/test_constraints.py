"""The lock of tested versions (deploy/constraints.txt): complete, exact, inside pyproject's ranges, and used."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "deploy" / "constraints.txt"


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for raw in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[A-Za-z0-9_.\-]+", name), f"not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in found, f"{name} is pinned twice"
        found[key] = Version(version)
    return found


def test_every_dependency_and_test_tool_is_pinned_inside_the_range_users_get() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()
    for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(text)
        key = canonicalize_name(requirement.name)
        assert key in pinned, f"{requirement.name} is not in deploy/constraints.txt"
        assert requirement.specifier.contains(pinned[key], prereleases=True), (
            f"{requirement.name}=={pinned[key]} is outside pyproject's {requirement.specifier}"
        )
    assert "pip" in pinned, "CI upgrades pip to the tested version too"
    assert "descope-gitops" not in pinned, "the package itself is never pinned"


def test_ci_installs_from_the_lock_and_runs_the_readme_command_under_ci_true() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -c deploy/constraints.txt -e '.[test]'" in ci
    assert "CI=true pytest" in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && pytest" in readme, "the README command stays the unlocked one"
    assert ".ci/refresh-constraints" in readme, "the README says how to refresh the lock"
