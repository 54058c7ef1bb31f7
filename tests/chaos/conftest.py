"""Reliability attacks run the real daemon with the end-to-end fixtures (sandbox, git repository, world)."""

from tests.e2e.conftest import cli_env, sandbox, world

__all__ = ["cli_env", "sandbox", "world"]
