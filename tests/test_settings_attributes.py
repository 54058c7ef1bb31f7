"""``[descope] attributes`` / ``attributes_file``: the project's custom attributes, for offline checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.descope_api import AttributeDefinition
from controller.engine.compose import attribute_catalogue
from controller.errors import ConfigError
from controller.settings import load_settings
from tests.test_settings import clean_env, write

__all__ = ["clean_env"]  # the autouse fixture: no DESCOPE_* variable of the machine leaks in


def test_inline_definitions_as_toml(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[descope]\nattributes = [{ name = "plan", type = "singleselect", options = ["free", "pro"] }]\n',
    )
    catalogue = attribute_catalogue(load_settings(config))
    assert catalogue == {
        "plan": AttributeDefinition("plan", "singleselect", options=(("free", "free"), ("pro", "pro")))
    }


def test_definitions_from_a_file_and_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue_file = tmp_path / "attributes.yaml"
    catalogue_file.write_text("attributes:\n  - {name: seats, type: number}\n")
    monkeypatch.setenv("DESCOPE_GITOPS_DESCOPE__ATTRIBUTES_FILE", str(catalogue_file))
    assert attribute_catalogue(load_settings()) == {"seats": AttributeDefinition("seats", "number")}
    monkeypatch.delenv("DESCOPE_GITOPS_DESCOPE__ATTRIBUTES_FILE")
    monkeypatch.setenv("DESCOPE_GITOPS_DESCOPE__ATTRIBUTES", '[{"name": "vip", "type": "boolean"}]')
    assert attribute_catalogue(load_settings()) == {"vip": AttributeDefinition("vip", "boolean")}


def test_no_catalogue_by_default() -> None:
    assert attribute_catalogue(load_settings()) is None


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        ('attributes = [{ name = "x", type = "colour" }]', "descope: attributes[0] ('x').type must be one of"),
        ('attributes = []\nattributes_file = "a.yaml"', "descope: set attributes or attributes_file, not both"),
        ('attributes = "plan"', "descope.attributes: Input should be a valid list"),
    ],
)
def test_bad_settings_are_one_line_each(tmp_path: Path, toml: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"[descope]\n{toml}\n"))
    assert complaint in str(caught.value)


def test_a_bad_catalogue_file_is_reported_when_it_is_used(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, f'[descope]\nattributes_file = "{tmp_path / "missing.yaml"}"\n'))
    with pytest.raises(ConfigError, match="cannot read attribute catalogue"):
        attribute_catalogue(settings)
