"""A custom attribute catalogue file is read as JSON or YAML, and every problem names the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.adapters.attribute_file import read_attribute_file
from controller.descope_api import AttributeDefinition
from controller.errors import ConfigError


def test_yaml_and_json_give_the_same_definitions(tmp_path: Path) -> None:
    yaml_file = tmp_path / "attributes.yaml"
    yaml_file.write_text(
        "attributes:\n"
        "  - {name: plan, displayName: Plan, type: singleselect, options: [free, {label: Pro, value: pro}]}\n"
        "  - name: seats\n    type: number\n    authorization: {viewPermissions: [admin]}\n"
    )
    json_file = tmp_path / "attributes.json"
    json_file.write_text(
        '{"attributes": [{"name": "plan", "displayName": "Plan", "type": "singleselect",'
        ' "options": [{"label": "free", "value": "free"}, {"label": "Pro", "value": "pro"}]},'
        ' {"name": "seats", "type": "number", "options": []}]}'
    )
    expected = {
        "plan": AttributeDefinition("plan", "singleselect", "Plan", (("free", "free"), ("Pro", "pro"))),
        "seats": AttributeDefinition("seats", "number"),
    }
    assert read_attribute_file(yaml_file) == expected
    assert read_attribute_file(json_file) == expected


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [
        ("a.yaml", "attributes:\n  - {name: plan, type: [\n", "a.yaml:3: not valid YAML"),
        ("a.json", '{"attributes": [\n  {"name": "plan",,}]}', "a.json:2: not valid JSON"),
        ("a.yaml", "- {name: plan, type: string}\n", "expected a mapping with the key `attributes:`"),
        ("a.yaml", "attributes: {name: plan}\n", "attributes must be a list"),
        ("a.yaml", "attributes:\n  - {name: plan, type: text}\n", "attributes[0] ('plan').type must be one of"),
        ("a.yaml", "attributes:\n  - {name: plan, type: multiselect}\n", "needs options"),
    ],
)
def test_problems_name_the_file(tmp_path: Path, name: str, content: str, complaint: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        read_attribute_file(path)
    assert complaint in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read attribute catalogue .*missing\.yaml"):
        read_attribute_file(tmp_path / "missing.yaml")
