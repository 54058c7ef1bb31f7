"""The transport under ``http_server``'s endpoints: waitress, bounded in connections, time and size.

Served by waitress (a new dependency, for this reason: a production WSGI server whose one I/O thread
reads every request whole before a worker sees it, so a slow or malicious client holds a socket,
never a thread; a fixed worker pool, a listen backlog, a connection limit, header and body size
limits, all built in and long used; pure Python without dependencies). The bounds, all in
``HttpLimits`` and ``[http]`` settings:

- **listen backlog** (``backlog``, 1024): a burst of connections waits in the kernel queue instead
  of being dropped (the kernel's ``somaxconn`` may cap it lower).
- **connections** (``max_connections``, 500): above it, new connections wait in the backlog until one
  closes; they are not refused. Worker threads are fixed (``WORKER_THREADS`` plus ``PROBE_THREADS``,
  and one I/O thread), whatever the number of clients.
- **request deadline** (``request_timeout``, 10 s): a client has that long from being accepted to finish
  sending its request, headers and body (a slowloris dribbling a byte a second is closed at the
  deadline), and that long again to read our answer. Checked about every second.
- **one request per connection** (``Connection: close``), as before: no idle keep-alive connections.
- **probes never queue behind scrapes**: ``/healthz`` and ``/readyz`` run on their own small pool, so
  a scrape storm, a slow ``/metrics`` or a stuck webhook callback cannot make a Kubernetes probe
  (1 s timeout) wait.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from controller.adapters.webhook import short
from controller.errors import ConfigError

DEFAULT_BACKLOG: Final = 1024
DEFAULT_MAX_CONNECTIONS: Final = 500
DEFAULT_REQUEST_TIMEOUT: Final = 10.0
WORKER_THREADS: Final = 4  # webhook and /metrics; CPU-bound under the GIL, more threads would not help
PROBE_THREADS: Final = 2  # /healthz and /readyz only
MAX_HEADER_BYTES: Final = 64 * 1024  # request line + headers; a webhook's are a few KiB
LINGER_SECONDS: Final = 1.0  # lingering close after a body was left unread
LINGER_MAX_BYTES: Final = 8 * 1024 * 1024
LOOP_SECONDS: Final = 1.0  # the I/O loop wakes at least this often: deadlines are checked about every second
PROBE_PATHS: Final = frozenset({"/healthz", "/readyz"})

# waitress warns "Task queue depth is N" on every request that waits for a worker: under a scrape
# storm that is hundreds of lines saying the bound works. Its other warnings stay (connection limit).
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@dataclass(frozen=True)
class HttpLimits:
    """How much the port accepts at once and how long a client may take (see the module docstring)."""

    backlog: int = DEFAULT_BACKLOG
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT

    def problems(self) -> list[str]:
        found = []
        if self.backlog < 1:
            found.append(f"http.backlog must be at least 1, not {self.backlog}")
        if self.max_connections < 1:
            found.append(f"http.max_connections must be at least 1, not {self.max_connections}")
        if not self.request_timeout > 0:
            found.append(f"http.request_timeout must be more than 0 seconds, not {self.request_timeout}")
        return found


def _json_safe(value: object) -> object:
    """Non-finite floats become null so the body stays valid JSON (e.g. an age of ``inf`` before a first success)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def json_body(payload: dict[str, object]) -> bytes:
    return json.dumps(_json_safe(payload), default=str, allow_nan=False).encode("utf-8")


class _Task(WSGITask):  # type: ignore[misc]  # waitress has no type hints
    """waitress' WSGI task, answering with ``Connection: close``: one request per connection."""

    def service(self) -> None:
        try:
            super().service()
        finally:
            # Before waitress releases the channel (its request list still holds this request), so the
            # deadline check never sees an answered connection as one still sending its request.
            self.channel.answered_at = time.monotonic()

    def build_response_header(self) -> bytes:
        self.set_close_on_finish()
        return super().build_response_header()  # type: ignore[no-any-return]


class _ErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress' own refusals (framing, sizes) as our JSON, and a lingering close: the body may still be coming."""

    def service(self) -> None:
        try:
            super().service()
        finally:
            self.channel.answered_at = time.monotonic()  # as in _Task.service

    def execute(self) -> None:
        error = self.request.error
        code = int(error.code)
        if code == 413:
            limit = int(self.channel.server.adj.max_request_body_size) - 1
            reason = f"body larger than {limit} bytes"
        else:
            reason = short(f"{error.reason}: {error.body}", 200)
        body = json_body({"error": reason})
        self.status = f"{code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.channel.linger = True
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    """One connection: its deadline clock, and a bounded lingering close after a refusal left input unread."""

    task_class = _Task
    error_task_class = _ErrorTask
    linger = False  # set by _ErrorTask: close by lingering, not at once

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected_at = time.monotonic()  # the request must be in by connected_at + request_timeout
        self.answered_at: float | None = None  # and the answer read by answered_at + request_timeout
        self.linger_until: float | None = None
        self.lingered_bytes = 0

    # lingering close ------------------------------------------------------------------------------

    def handle_close(self) -> None:
        if self.linger and self.linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # our FIN: the client sees the whole answer
            except OSError:
                pass
            else:
                self.linger_until = time.monotonic() + LINGER_SECONDS
                self.will_close = self.close_when_flushed = False
                return
        self.linger_until = None
        super().handle_close()

    def readable(self) -> bool:
        if self.linger_until is not None:
            return True
        return bool(super().readable())

    def writable(self) -> bool:
        if self.linger_until is not None:
            return False
        return bool(super().writable())

    def handle_read(self) -> None:
        if self.linger_until is None:
            super().handle_read()
            return
        try:
            data = self.socket.recv(65536)  # read and drop: the request was refused already
        except OSError:
            data = b""
        self.lingered_bytes += len(data)
        if not data or self.lingered_bytes > LINGER_MAX_BYTES or time.monotonic() > self.linger_until:
            self.close_now()

    def close_now(self) -> None:
        self.linger = False
        self.linger_until = None
        super().handle_close()


class BoundedServer(TcpWSGIServer):  # type: ignore[misc]
    """waitress' server with the request deadline, and probes dispatched apart from everything else."""

    channel_class = _Channel

    def __init__(
        self,
        *args: Any,
        request_timeout: float,
        probe_dispatcher: ThreadedTaskDispatcher,
        on_deadline: Callable[[bool], None],
        **kwargs: Any,
    ) -> None:
        self.request_timeout = request_timeout
        self.probe_dispatcher = probe_dispatcher
        self.on_deadline = on_deadline
        super().__init__(*args, **kwargs)

    def add_task(self, task: _Channel) -> None:
        # the channel is the task; its next request is the one to serve
        requests = task.requests
        if requests and requests[0].error is None and requests[0].path in PROBE_PATHS:
            self.probe_dispatcher.add_task(task)
        else:
            super().add_task(task)

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # waitress' idle timeout
        clock = time.monotonic()
        to_close: list[_Channel] = []
        for channel in list(self.active_channels.values()):
            if channel.linger_until is not None:
                if clock > channel.linger_until:
                    to_close.append(channel)
                continue
            if channel.requests or channel.will_close:
                continue  # received whole and queued or being answered (not the client's delay), or closing
            answered_at = channel.answered_at
            if clock - (channel.connected_at if answered_at is None else answered_at) > self.request_timeout:
                channel.will_close = True  # the loop closes it at once (a closing channel is writable)
                self.on_deadline(answered_at is None)
        for channel in to_close:
            channel.close_now()


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError([f"http.listen must be HOST:PORT (e.g. 0.0.0.0:9464), not {listen!r}"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - ":9464" means every interface, as the user asked


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # "[::]" keeps the system's dual-stack default, as the stdlib server did
    except BaseException:
        sock.close()
        raise
    return sock
