"""``validate`` with several paths, as pre-commit calls it: each validated on its own, one exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli import main

VALID = "tenants:\n  - id: acme\n    name: ACME\n"
PARENTED = "tenants:\n  - id: eu\n    name: EU\n    parent: acme\n"
INVALID = "tenants:\n  - id: globex\n    name: Globex\n    nam: typo\n"


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DESCOPE_GITOPS_CONFIG",
        "DESCOPE_GITOPS_DESCOPE__ATTRIBUTES",
        "DESCOPE_GITOPS_DESCOPE__ATTRIBUTES_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_path_is_reported_and_any_invalid_one_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write(tmp_path, "a.yaml", VALID), write(tmp_path, "b.yaml", INVALID)
    assert main(["validate", good, bad, str(tmp_path / "missing.yaml")]) == 1
    out, err = capsys.readouterr()
    assert f"{good}: valid, 1 tenant" in out
    assert f"{bad}:4: unknown tenant key 'nam'" in err
    assert "missing.yaml does not exist" in err


def test_several_valid_paths_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", write(tmp_path, "a.yaml", VALID), write(tmp_path, "c.yaml", VALID)]) == 0
    assert capsys.readouterr().out.count("valid, 1 tenant") == 2


def test_each_path_stands_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A parent declared in another path does not count: each path is a whole tenants source."""
    assert main(["validate", write(tmp_path, "a.yaml", VALID), write(tmp_path, "eu.yaml", PARENTED)]) == 1
    assert "parent 'acme' is not declared" in capsys.readouterr().err


def test_json_with_several_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write(tmp_path, "a.yaml", VALID), write(tmp_path, "b.yaml", INVALID)
    missing = str(tmp_path / "missing.yaml")
    assert main(["validate", good, bad, missing, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert [(p["path"], p["valid"]) for p in report["paths"]] == [(good, True), (bad, False), (missing, False)]
    assert report["paths"][0]["tenants"] == 1
    assert report["paths"][1]["problems"][0]["line"] == 4


def test_one_path_prints_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "a.yaml", VALID)
    assert main(["validate", good, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"valid": True, "tenants": 1, "files": [good]}
