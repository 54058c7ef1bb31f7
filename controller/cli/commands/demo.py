"""``descope-gitops demo``: the parser and handler; the demo itself is ``controller/cli/demo.py``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from controller.cli.common import epilog
from controller.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from controller.cli.common import Subcommands


def add_parser(sub: Subcommands) -> None:
    """Add ``demo``."""
    p = sub.add_parser(
        "demo",
        help="see it work: sandbox + sample tenants.yaml, a change applied end to end",
        description="Start the bundled sandbox and a sample tenants.yaml in a temporary directory, "
        "apply it, change it, and show the change going through. Needs no settings.",
        **epilog(ExitCode.OK, ExitCode.ERROR),
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    p.set_defaults(handler=cmd_demo, serves=True)  # ends the ordinary way (cli.app.run)


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.cli.demo import run_demo

    return run_demo(keep=args.keep)
