"""The chaos suite attacks the same real daemon, CLI and sandbox as the end-to-end tests: reuse their fixtures."""

from tests.e2e.conftest import cli, cli_env, sandbox, world

__all__ = ["cli", "cli_env", "sandbox", "world"]
