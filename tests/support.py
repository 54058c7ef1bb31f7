"""Helpers shared by the end-to-end tests and the benchmarks: a real Git repository, a free port."""

from __future__ import annotations

import subprocess
from pathlib import Path

from controller.testing import free_port

__all__ = ["GitRepo", "free_port"]


class GitRepo:
    """A real Git repository in a temp directory, read by the daemon over file://."""

    def __init__(self, path: Path, *, user: str = "Platform Team", email: str = "platform@example.com") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", email)
        self.git("config", "user.name", user)
        self.git("config", "commit.gpgsign", "false")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.path, check=True, capture_output=True, text=True, timeout=60
        ).stdout.strip()

    def commit(self, files: dict[str, str] | dict[str, bytes], message: str = "update tenants") -> str:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.git("add", name)
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")
