"""The ``descope-gitops`` command: argv → settings → one command → an exit code that means something."""

from controller.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
