"""What the loader tests share: load text as one file, collect its problems, compare them with the expected."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from controller.core.loader import LoadLimits, parse_tenant_files
from controller.core.model import DesiredState
from controller.errors import Problem, TenantsFileInvalid


def load(text: str | bytes, name: str = "tenants.yaml", **limits: int) -> DesiredState:
    data = text.encode() if isinstance(text, str) else text
    return parse_tenant_files({name: data}, limits=LoadLimits(**limits))


def problems_of(files: Mapping[str, str | bytes], **limits: int) -> list[Problem]:
    encoded = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    with pytest.raises(TenantsFileInvalid) as info:
        parse_tenant_files(encoded, limits=LoadLimits(**limits))
    return info.value.problems


def problems(text: str | bytes, **limits: int) -> list[Problem]:
    return problems_of({"tenants.yaml": text}, **limits)


def assert_problems(found: list[Problem], expected: list[tuple[int | None, str]]) -> None:
    """Exactly the expected problems, in order: same line, message containing the fragment."""
    shown = "\n".join(str(p) for p in found)
    assert len(found) == len(expected), f"expected {len(expected)} problem(s), got:\n{shown}"
    for problem, (line, fragment) in zip(found, expected, strict=True):
        assert problem.line == line, f"wrong line for {fragment!r}:\n{shown}"
        assert fragment in problem.message, f"{fragment!r} not in:\n{shown}"


def tenant(body: str) -> str:
    """A file with one tenant: id on line 2, name on line 3, ``body`` from line 4 on."""
    return "tenants:\n  - id: acme\n    name: ACME\n" + body
