"""A Descope-compatible tenant API server on loopback for demos, tests and benchmarks."""

from .persist import SandboxStateError
from .server import SandboxServer

__all__ = ["SandboxServer", "SandboxStateError"]
