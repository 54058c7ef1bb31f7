"""Run a Descope sandbox and the real daemon for a test, a demo or a benchmark, like ``kopf.testing``.

Why this module exists: ``descope-gitops demo``, the end-to-end and chaos tests, and the benchmark
harness all need the same two things, and used to write them three times: a Descope sandbox (the real
HTTP server of :mod:`controller.sandbox` on loopback, in this process or as ``descope-gitops sandbox``
in its own process) and the real daemon (``descope-gitops run`` as a child process, with its log in a
file) started against it with a config. Here they are written once:

``run_sandbox(project_id=..., management_key=...)``
    a context manager yielding a :class:`Sandbox` handle: ``url``, ``project_id``, ``management_key``,
    ``api()`` (a console-side call with the key), ``tenants()``, ``stats()``, ``configure()``,
    ``faults()``, ``seed()``. ``process=True`` runs it as its own process (its CPU then does not share
    this process's GIL); keyword options go to :class:`~controller.sandbox.SandboxServer` otherwise.
``run_daemon(config, env=..., log=...)``
    a context manager yielding a started :class:`Daemon` handle, stopped with SIGTERM on exit (SIGKILL
    if it does not exit in time). :class:`Daemon` can also be made and started by hand: ``start()``
    (again after ``kill()``), ``signal()``, ``stop()``, ``kill()``, ``wait_ready()``,
    ``wait_applied()``, ``wait_for_log()``, ``push()`` (a signed GitHub push webhook), ``log``.
``write_config(path, sections)``, ``clean_env()``, ``wait_until()``, ``free_port()``
    the small pieces every caller needs around them.

Every wait has a deadline and raises :class:`WaitTimeout`; every process started is stopped by its
handle or by :meth:`Processes.stop_all`, so nothing outlives its caller. Import-linter places this
module below ``cli`` (the demo imports it) and above ``engine | sandbox``; with ``cli`` it is the only
importer of the sandbox.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from controller.adapters.webhook import sign
from controller.sandbox import SandboxServer

__all__ = [
    "Daemon",
    "Processes",
    "Sandbox",
    "WaitTimeout",
    "clean_env",
    "free_port",
    "is_ready",
    "push",
    "run_daemon",
    "run_sandbox",
    "wait_until",
    "write_config",
]

LOOPBACK = "127.0.0.1"


# ----- small pieces ---------------------------------------------------------------------------------------
class WaitTimeout(Exception):
    """A wait passed its deadline.

    Not an ``OSError`` (as ``TimeoutError`` is), so an ``except OSError`` around a file read never hides it.
    """


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str) -> Any:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy, and return that.

    Raises :class:`WaitTimeout` naming ``what`` once ``timeout`` seconds have passed; an exception from
    ``predicate`` (e.g. "the daemon exited") ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``DESCOPE_*`` variable, plus ``extra``.

    So a developer's own Descope settings never reach a sandboxed daemon or command.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCOPE_")}
    env.update(extra)
    return env


TomlValue = str | int | float | bool


def write_config(path: Path, sections: Mapping[str, Mapping[str, TomlValue]]) -> Path:
    """Write ``{"section": {"key": value}}`` as a TOML config file for ``descope-gitops``; return ``path``."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


# ----- processes ------------------------------------------------------------------------------------------
class Processes:
    """The child processes started; ``stop_all`` ends those still alive (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], *, env: Mapping[str, str], log: Path | None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``args`` with stdout and stderr appended to ``log`` (discarded when None)."""
        handle: IO[bytes] | None = log.open("ab") if log is not None else None
        try:
            proc = subprocess.Popen(
                args,
                env=dict(env),
                cwd=cwd,
                stdout=handle if handle is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        finally:
            if handle is not None:
                handle.close()
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], *, timeout: float = 20) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds; its exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop_all(self) -> None:
        """Stop every process still alive, newest first."""
        for proc in reversed(self.procs):
            try:
                self.stop(proc, timeout=10)
            except Exception:
                proc.kill()


def _controller(*args: str) -> list[str]:
    return [sys.executable, "-m", "controller", *args]


# ----- the sandbox ----------------------------------------------------------------------------------------
class Sandbox:
    """A running Descope sandbox: in this process (``server``) or in its own (``proc``)."""

    def __init__(
        self,
        url: str,
        *,
        project_id: str,
        management_key: str,
        server: SandboxServer | None = None,
        proc: subprocess.Popen[bytes] | None = None,
        log: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.project_id = project_id
        self.management_key = management_key
        self.server = server
        self.proc = proc
        self.log = log
        self.timeout = timeout
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r}, project_id={self.project_id!r})"  # never the key

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A console-side request: the Management API with the management key, as a human would send it."""
        headers = {"Authorization": f"Bearer {self.project_id}:{self.management_key}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=self.timeout, **kwargs)

    def tenants(self) -> list[dict[str, Any]]:
        """Every stored tenant as a full record, each with its ``settings`` (not counted in the stats)."""
        if self.server is not None:
            return self.server.tenants()
        response = self._http.get("/_sandbox/tenants")
        response.raise_for_status()
        tenants: list[dict[str, Any]] = response.json()["tenants"]
        return tenants

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``: the requests received per endpoint, status, writes, ..."""
        response = self._http.get("/_sandbox/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def reset_stats(self) -> None:
        self._http.post("/_sandbox/stats/reset").raise_for_status()

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """``POST /_sandbox/config``: latency, rate limit, failure rate, ...; returns the knobs now in force."""
        response = self._http.post("/_sandbox/config", json=knobs)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def faults(self, *rules: dict[str, Any]) -> None:
        """``POST /_sandbox/faults``: queue these fault rules."""
        self._http.post("/_sandbox/faults", json={"rules": list(rules)}).raise_for_status()

    def seed(self, tenants: list[dict[str, Any]], *, replace: bool = True) -> None:
        """``POST /_sandbox/tenants``: store these records as they are, without counting requests."""
        body = json.dumps({"tenants": tenants, "replace": replace}).encode()
        response = self._http.post("/_sandbox/tenants", content=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()

    def close(self) -> None:
        """Stop the sandbox (its process with SIGTERM); calling it again does nothing."""
        self._http.close()
        if self.server is not None:
            self.server.stop()
        if self.proc is not None:
            Processes.stop(self.proc)


@contextmanager
def run_sandbox(
    *,
    project_id: str,
    management_key: str,
    process: bool = False,
    log_dir: Path | None = None,
    cwd: Path | None = None,
    processes: Processes | None = None,
    timeout: float = 10.0,
    **options: Any,
) -> Iterator[Sandbox]:
    """A Descope sandbox on loopback for the ``with`` block, stopped at its end.

    In this process by default (``options`` are :class:`SandboxServer`'s: ``patch_endpoint``,
    ``attributes``, ``latency_ms``, ...). With ``process=True``, ``descope-gitops sandbox`` in a child
    process with a clean environment, its output in ``log_dir/sandbox-PORT.log``, registered in
    ``processes``, and configured through ``configure()`` once up. ``timeout`` is the handle's HTTP timeout.
    """
    if process:
        if options:
            raise TypeError(f"a sandbox process is configured with configure(), not {sorted(options)}")
        handle = _sandbox_process(project_id, management_key, log_dir, cwd, processes or Processes(), timeout)
    else:
        server = SandboxServer(project_id=project_id, management_key=management_key, **options).start()
        handle = Sandbox(
            server.url, project_id=project_id, management_key=management_key, server=server, timeout=timeout
        )
    try:
        yield handle
    finally:
        handle.close()


def _sandbox_process(
    project_id: str, management_key: str, log_dir: Path | None, cwd: Path | None, processes: Processes, timeout: float
) -> Sandbox:
    port = free_port()
    log = log_dir / f"sandbox-{port}.log" if log_dir is not None else None
    args = ["--host", LOOPBACK, "--port", str(port), "--project-id", project_id, "--management-key", management_key]
    proc = processes.start(_controller("sandbox", *args), env=clean_env(), log=log, cwd=cwd)
    handle = Sandbox(
        f"http://{LOOPBACK}:{port}",
        project_id=project_id,
        management_key=management_key,
        proc=proc,
        log=log,
        timeout=timeout,
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {proc.returncode}; see {log}")
        try:
            return handle._http.get("/_sandbox/config", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30, interval=0.1, what="the sandbox to listen")
    except BaseException:
        handle.close()
        raise
    return handle


# ----- the daemon -----------------------------------------------------------------------------------------
class Daemon:
    """``descope-gitops run --config CONFIG`` as a real child process, its output appended to a log file.

    ``url`` is the daemon's HTTP port (``http://127.0.0.1:PORT``, from ``[http] listen``), needed by
    ``ready()`` and ``push()``; ``store`` is its ``[store] dir``, read by ``state()``.
    """

    def __init__(
        self,
        config: Path,
        env: Mapping[str, str],
        log: Path,
        *,
        cwd: Path | None = None,
        url: str | None = None,
        store: Path | None = None,
        webhook_secret: str | None = None,
        processes: Processes | None = None,
    ) -> None:
        self.config, self.env, self.log_path, self.cwd = config, dict(env), log, cwd
        self.url, self.store, self.webhook_secret = url, store, webhook_secret
        self.processes = processes or Processes()
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.starts = 0

    def start(self, *, log: Path | None = None) -> Daemon:
        """Start the process (again after it stopped); output goes to ``log``, by default the handle's."""
        path = log or self.log_path
        if path not in self.logs:
            self.logs.append(path)
        self.starts += 1
        self.proc = self.processes.start(
            _controller("run", "--config", str(self.config)), env=self.env, log=path, cwd=self.cwd
        )
        return self

    def _running(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise RuntimeError("the daemon was not started")
        return self.proc

    @property
    def log(self) -> str:
        """Everything the daemon wrote so far, over all its starts."""
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` (SIGHUP asks for a cycle now, SIGTERM stops it gracefully)."""
        self._running().send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit; its exit code (``subprocess.TimeoutExpired`` after ``timeout``)."""
        return self._running().wait(timeout=timeout)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, and SIGKILL if it is still running after ``timeout`` seconds; its exit code."""
        return Processes.stop(self.proc, timeout=timeout) if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL (as a crash or an OOM kill would) and wait for the process to be gone."""
        proc = self._running()
        proc.kill()
        proc.wait(timeout=10)

    def ready(self) -> bool:
        """``GET /readyz`` answers 200: a cycle has succeeded and is recent."""
        if self.url is None:
            raise RuntimeError("the daemon's url is not known")
        return is_ready(self.url)

    def wait_ready(self, *, timeout: float = 30, interval: float = 0.05, what: str = "the daemon to be ready") -> None:
        """Wait for ``ready()``; raise ``RuntimeError("the daemon exited with N")`` as soon as it exits."""

        def ready_or_exited() -> bool:
            if self.ready():
                return True
            proc = self._running()
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {proc.returncode}")
            return False

        wait_until(ready_or_exited, timeout=timeout, interval=interval, what=what)

    def state(self) -> dict[str, Any]:
        """The store's ``state.json`` (``{}`` while there is none or it is being replaced)."""
        if self.store is None:
            raise RuntimeError("the daemon's store is not known")
        try:
            state: dict[str, Any] = json.loads((self.store / "state.json").read_text())
        except (OSError, ValueError):
            return {}
        return state

    def wait_applied(
        self, revision: str, *, timeout: float = 30, interval: float = 0.05, what: str | None = None
    ) -> None:
        """Wait until a cycle has recorded ``revision`` as the last applied one."""
        wait_until(
            lambda: self.state().get("last_applied_revision") == revision,
            timeout=timeout,
            interval=interval,
            what=what or f"revision {revision[:12]} to be applied",
        )

    def wait_for_log(self, text: str, *, timeout: float = 30, interval: float = 0.05) -> None:
        """Wait until the log holds ``text`` (a line such as ``resuming interrupted cycle``)."""
        wait_until(lambda: text in self.log, timeout=timeout, interval=interval, what=f"{text!r} in the daemon's log")

    def push(
        self, sha: str, *, secret: str | None = None, delivery: str | None = None, timeout: float = 5
    ) -> httpx.Response:
        """A GitHub push webhook for ``refs/heads/main`` at ``sha``, signed with ``secret`` (or the handle's)."""
        if self.url is None:
            raise RuntimeError("the daemon's url is not known")
        return push(self.url, sha, secret=secret or self.webhook_secret or "", delivery=delivery, timeout=timeout)


def is_ready(url: str) -> bool:
    """The daemon on ``url`` answers 200 to ``GET /readyz`` (False when nothing answers)."""
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def push(url: str, sha: str, *, secret: str, delivery: str | None = None, timeout: float = 5) -> httpx.Response:
    """POST a signed GitHub push delivery for ``refs/heads/main`` at ``sha`` to ``url``/hooks/git.

    ``delivery`` is its ``X-GitHub-Delivery`` id (none sent when None).
    """
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    headers["X-Hub-Signature-256"] = sign(secret, body)
    return httpx.post(f"{url}/hooks/git", content=body, headers=headers, timeout=timeout)


@contextmanager
def run_daemon(
    config: Path,
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    url: str | None = None,
    store: Path | None = None,
    webhook_secret: str | None = None,
    processes: Processes | None = None,
) -> Iterator[Daemon]:
    """``descope-gitops run`` started for the ``with`` block, stopped with SIGTERM (then SIGKILL) at its end."""
    daemon = Daemon(
        config, env, log, cwd=cwd, url=url, store=store, webhook_secret=webhook_secret, processes=processes
    ).start()
    try:
        yield daemon
    finally:
        daemon.stop()
