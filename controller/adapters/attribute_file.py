"""Reads a custom attribute catalogue file (JSON or YAML), for the sandbox and for offline validation.

The file mirrors Descope's own attribute definitions (``controller.descope_api``)::

    attributes:
      - {name: plan, displayName: Plan, type: singleselect, options: [free, pro]}
      - {name: seats, type: number}

Every problem is a ConfigError naming the file, so a typo in the catalogue is never mistaken for a
problem of tenants.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from controller.descope_api import AttributeDefinition, parse_attribute_definitions
from controller.errors import ConfigError

MAX_BYTES = 1024 * 1024  # a project has tens of attributes; anything this large is the wrong file


def read_attribute_file(path: Path) -> dict[str, AttributeDefinition]:
    """The definitions in ``path`` by machine name; ConfigError says what is wrong and where."""
    where = "attribute catalogue"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path} is larger than {MAX_BYTES} bytes; is it the attribute catalogue?"], where)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read attribute catalogue {path}: {exc.strerror or exc}"], where) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"attribute catalogue {path} is not UTF-8 text"], where) from exc
    try:
        # .json by its own parser, for its own error messages; anything else as YAML (a superset of JSON)
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError([_syntax_problem(path, exc)], where) from exc
    if not isinstance(document, dict) or "attributes" not in document:
        raise ConfigError([f"{path}: expected a mapping with the key `attributes:` (a list of definitions)"], where)
    try:
        return parse_attribute_definitions(document["attributes"])
    except ValueError as exc:
        raise ConfigError([f"{path}: {exc}"], where) from exc


def _syntax_problem(path: Path, exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"{path}:{exc.problem_mark.line + 1}: not valid YAML: {exc.problem}"
    return f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}"
