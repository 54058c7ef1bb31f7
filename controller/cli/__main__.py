"""Lets ``python -m controller.cli`` run the CLI, as it did when the CLI was one module."""

from controller.cli import run

run()
