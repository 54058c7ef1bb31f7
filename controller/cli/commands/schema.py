"""``descope-gitops schema``: print the JSON Schema of tenants.yaml, for editors and other checkers.

The schema is generated from the loader's own catalogue (``controller.core.json_schema``), so what an
editor underlines is what ``validate`` refuses. The copy shipped in the repository
(deploy/schema/tenants.schema.json) is this command's output without ``--attributes``; a test fails when
it is stale. With ``--attributes`` the schema also knows the project's custom attributes, read from the
same settings ``validate`` uses, so an editor can flag an undefined key or a wrongly typed value.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from controller.cli.common import add_config, epilog, load_settings
from controller.cli.exit_codes import ExitCode
from controller.errors import ConfigError

if TYPE_CHECKING:
    from controller.cli.common import Subcommands

SHIPPED = "deploy/schema/tenants.schema.json"
"""Where the repository keeps the generic schema (the output without ``--attributes``)."""


def add_parser(sub: Subcommands) -> None:
    """Add ``schema``."""
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema (draft 2020-12) of tenants.yaml, for editors",
        description="Print the JSON Schema of tenants.yaml, generated from the rules validate applies (it "
        "checks less than validate: its description lists what it does not cover). Point an editor at it "
        "with a first line `# yaml-language-server: $schema=<path or URL>`. Without --attributes no settings "
        f"are read; the output is the file shipped as {SHIPPED}.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    p.add_argument(
        "--attributes",
        action="store_true",
        help="also describe the project's custom attributes, from [descope] attributes_file or attributes",
    )
    add_config(p)
    p.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from controller.core.json_schema import render, tenants_json_schema

    attributes = None
    if args.attributes:
        from controller.engine.compose import attribute_catalogue

        attributes = attribute_catalogue(load_settings(args))
        if attributes is None:
            raise ConfigError(
                ["--attributes needs the project's definitions: set [descope] attributes_file or attributes"]
            )
    sys.stdout.write(render(tenants_json_schema(attributes)))
    return ExitCode.OK
