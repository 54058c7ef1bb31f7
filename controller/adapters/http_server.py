"""The daemon's one HTTP port: health and readiness probes, Prometheus metrics and the Git push webhook.

A small WSGI application, with prometheus-client's ``make_wsgi_app()`` mounted at ``/metrics``::

    GET  /healthz    200 {"status": "ok", **detail} | 503 {"status": "unavailable", **detail}
    GET  /readyz     same shape, from the readiness callback
    GET  /metrics    the mounted ``metrics_app`` (404 when none is given)
    POST /hooks/git  push webhook: verified (``controller.adapters.webhook``), de-duplicated, then
                     ``on_push(PushEvent)`` and 202 {"triggered": true}
    anything else    404; a known path with the wrong method 405 (with ``Allow``)

This is an adapter: it does I/O only. Whether the process is alive or ready, and what a push
means, is decided by the callbacks the daemon passes in and by the pure ``webhook.decide``;
``on_push`` must return fast (the daemon only sets a flag so that the next cycle starts now).

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

Refusals are JSON ``{"error": ...}``: 413 body over ``max_body_bytes`` (decided from
``Content-Length`` before the body is read, and while decoding a chunked body, never after buffering
it all; the connection then lingers, bounded in time and bytes, so a sender still writing reads our
answer instead of a reset), 400 malformed framing, 431 headers too large, 501 another
Transfer-Encoding; webhook refusals as in ``controller.adapters.webhook``, plus 404 when no secret
is configured. A verified delivery whose id (``X-GitHub-Delivery``, ``X-Gitlab-Event-UUID``,
``X-Delivery-Id``) was already accepted within the replay window answers 200
``{"triggered": false, "duplicate": true}`` and triggers nothing. Each refusal and duplicate is one
line to the optional ``log`` callback, and each webhook outcome is reported to ``on_webhook``.

Robustness: every exception inside a route, including those raised by the callbacks or by the
mounted metrics app, becomes a 500 ``{"error": "internal error"}`` without a traceback, and the
server keeps serving. The server is quiet: no per-request lines on stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, Final

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from controller.adapters.replay import RecentDeliveries
from controller.adapters.webhook import PushEvent, Verdict, decide, short, sign, verify_signature
from controller.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

__all__ = ["Health", "HttpEndpoints", "HttpLimits", "PushEvent", "sign", "verify_signature"]

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
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
class Health:
    """What ``/healthz`` and ``/readyz`` report; ``detail`` is rendered as JSON beside ``status``."""

    ok: bool
    detail: dict[str, object] = field(default_factory=dict)


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


# --------------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class _Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _json_safe(value: object) -> object:
    """Non-finite floats become null so the body stays valid JSON (e.g. an age of ``inf`` before a first success)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _json_body(payload: dict[str, object]) -> bytes:
    return json.dumps(_json_safe(payload), default=str, allow_nan=False).encode("utf-8")


def _json(code: int, payload: dict[str, object], headers: Iterable[tuple[str, str]] = ()) -> _Response:
    body = _json_body(payload)
    fixed = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    return _Response(_status_line(code), [*fixed, *headers], body)


_INTERNAL_ERROR: Final = _json(500, {"error": "internal error"})


# --------------------------------------------------------------------------------------------- requests


class _Request:
    """One WSGI request as waitress hands it over: the body is already received whole (and de-chunked)."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO", "") or "/")

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    def media_type(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", "") or "").split(";", 1)[0].strip().lower()

    def read_body(self, limit: int) -> bytes | None:
        """The whole body, or None when it is over ``limit`` (waitress refuses those first; this is a backstop)."""
        length = str(self.environ.get("CONTENT_LENGTH", "") or "0").strip()
        size = int(length) if length.isdigit() else 0
        if size > limit:
            return None
        stream: IO[bytes] = self.environ["wsgi.input"]
        return stream.read(size) if size else b""


# --------------------------------------------------------------------------------------------- transport


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
        body = _json_body({"error": reason})
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


class _BoundedServer(TcpWSGIServer):  # type: ignore[misc]
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


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError([f"http.listen must be HOST:PORT (e.g. 0.0.0.0:9464), not {listen!r}"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - ":9464" means every interface, as the user asked


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # "[::]" keeps the system's dual-stack default, as the stdlib server did
    except BaseException:
        sock.close()
        raise
    return sock


# --------------------------------------------------------------------------------------------- endpoints


Route = Callable[[_Request], _Response]


class HttpEndpoints:
    """``/healthz``, ``/readyz``, ``/metrics`` and ``POST /hooks/git`` on one port; bound in ``__init__``."""

    def __init__(
        self,
        *,
        listen: str = "127.0.0.1:0",
        liveness: Callable[[], Health],
        readiness: Callable[[], Health],
        on_push: Callable[[PushEvent], None],
        webhook_secret: str | None,
        metrics_app: WSGIApplication | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        accepted_refs: Callable[[str], bool] | None = None,
        log: Callable[[str], None] | None = None,
        limits: HttpLimits | None = None,
        deliveries: RecentDeliveries | None = None,
        on_webhook: Callable[[str], None] | None = None,
        on_deadline: Callable[[], None] | None = None,
    ) -> None:
        if webhook_secret is not None and not webhook_secret:
            raise ConfigError(["http.webhook_secret is empty; leave it unset to turn the webhook off"])
        if max_body_bytes < 1:
            raise ConfigError([f"http max body size must be at least 1 byte, not {max_body_bytes}"])
        self.limits = limits or HttpLimits()
        if problems := self.limits.problems():
            raise ConfigError(problems)
        self._liveness = liveness
        self._readiness = readiness
        self._on_push = on_push
        self._secret = webhook_secret
        self._metrics_app = metrics_app
        self._max_body_bytes = max_body_bytes
        self._accepted_refs = accepted_refs
        self._log_callback = log
        self._deliveries = deliveries or RecentDeliveries()
        self._on_webhook = on_webhook
        self._on_deadline_callback = on_deadline
        self.deadline_closes = 0  # connections closed at the request deadline before they were answered
        self._routes: dict[str, tuple[frozenset[str], Route]] = {
            "/healthz": (frozenset({"GET"}), lambda req: self._probe(self._liveness)),
            "/readyz": (frozenset({"GET"}), lambda req: self._probe(self._readiness)),
            "/metrics": (frozenset({"GET"}), self._metrics),
            "/hooks/git": (frozenset({"POST"}), self._webhook),
        }

        host, port = _parse_listen(listen)
        try:
            sock = _listening_socket(host, port)
        except OSError as exc:
            raise ConfigError([f"http.listen: cannot listen on {listen}: {exc.strerror or exc}"]) from exc
        self._server = self._make_server(sock)
        self.port: int = int(sock.getsockname()[1])
        url_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
        self.url: str = f"http://[{url_host}]:{self.port}" if ":" in url_host else f"http://{url_host}:{self.port}"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stopped = False

    def _make_server(self, sock: socket.socket) -> _BoundedServer:
        limits = self.limits
        adjustments = Adjustments(
            sockets=[sock],
            backlog=limits.backlog,
            # waitress counts its own listening socket and wake-up pipe among the connections
            connection_limit=limits.max_connections + 2,
            threads=WORKER_THREADS,
            channel_timeout=limits.request_timeout + 5,  # waitress' idle timeout: a backstop, our deadline comes first
            cleanup_interval=1,
            asyncore_loop_timeout=LOOP_SECONDS,
            asyncore_use_poll=True,  # select() cannot watch file descriptors past 1024
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=self._max_body_bytes + 1,  # waitress refuses at >=, we at >
            ident="descope-gitops",
            log_socket_errors=False,  # a client hanging up is not our error
            expose_tracebacks=False,
        )
        workers = ThreadedTaskDispatcher()  # threads start in start()
        probes = ThreadedTaskDispatcher()
        self._dispatchers = (workers, probes)
        return _BoundedServer(
            self._app,
            {},
            True,
            sock,
            dispatcher=workers,
            adj=adjustments,
            bind_socket=False,
            sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
            request_timeout=limits.request_timeout,
            probe_dispatcher=probes,
            on_deadline=self._deadline_hit,
        )

    # lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> HttpEndpoints:
        """Serve in a daemon thread; returns self. Starting twice is a no-op; starting after stop() is an error."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("HttpEndpoints was stopped; create a new one")
            if self._thread is None:
                workers, probes = self._dispatchers
                workers.set_thread_count(WORKER_THREADS)
                probes.set_thread_count(PROBE_THREADS)
                self._thread = threading.Thread(
                    target=self._serve, name=f"descope-gitops-http:{self.port}", daemon=True
                )
                self._thread.start()
        return self

    def _serve(self) -> None:
        socket_map = self._server._map
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_SECONDS, use_poll=True, map=socket_map, count=1)
        except Exception as exc:  # pragma: no cover - waitress handles per-connection errors itself
            self._log(f"http: server loop stopped: {type(exc).__name__}: {short(str(exc), 200)}")
        finally:
            self._close_all()

    def _close_all(self) -> None:
        # In the loop's own thread (or after it ended): asyncore's map is not safe to change from another.
        with contextlib.suppress(Exception):
            wasyncore.close_all(self._server._map, ignore_all=True)
        for dispatcher in self._dispatchers:
            with contextlib.suppress(Exception):
                dispatcher.shutdown(cancel_pending=True, timeout=2)

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        self._stopping.set()
        if thread is None:
            self._close_all()
            return
        with contextlib.suppress(Exception):
            self._server.pull_trigger()  # wake the loop now rather than at its next timeout
        thread.join(timeout=10)

    def __enter__(self) -> HttpEndpoints:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def thread_count(self) -> int:
        """Threads serving this port: the I/O loop and both worker pools (fixed, whatever the load)."""
        workers, probes = self._dispatchers
        return int(len(workers.threads) + len(probes.threads)) + (1 if self._thread is not None else 0)

    # WSGI --------------------------------------------------------------------------------------------

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        request: _Request | None = None
        try:
            request = _Request(environ)
            response = self._dispatch(request)
        except Exception as exc:
            where = f"{request.method} {short(request.path)}" if request is not None else "request"
            self._log(f"http: {where} failed: {type(exc).__name__}: {short(str(exc), 200)}")
            response = _INTERNAL_ERROR
        start_response(response.status, list(response.headers))
        return [response.body]

    def _dispatch(self, request: _Request) -> _Response:
        route = self._routes.get(request.path)
        if route is None:
            return _json(404, {"error": "not found"})
        methods, handler = route
        if request.method not in methods:
            return _json(405, {"error": "method not allowed"}, [("Allow", ", ".join(sorted(methods)))])
        return handler(request)

    def _log(self, line: str) -> None:
        if self._log_callback is None:
            return
        with contextlib.suppress(Exception):  # a broken logger must not break the endpoint
            self._log_callback(line)

    def _deadline_hit(self, before_answer: bool) -> None:
        if not before_answer:
            return  # a client slow to read our answer: closed all the same, but it had its answer
        self.deadline_closes += 1
        if self._on_deadline_callback is not None:
            with contextlib.suppress(Exception):
                self._on_deadline_callback()

    # routes ------------------------------------------------------------------------------------------

    @staticmethod
    def _probe(check: Callable[[], Health]) -> _Response:
        health = check()
        body: dict[str, object] = {"status": "ok" if health.ok else "unavailable"}
        body.update((k, v) for k, v in health.detail.items() if k != "status")
        return _json(200 if health.ok else 503, body)

    def _metrics(self, request: _Request) -> _Response:
        if self._metrics_app is None:
            return _json(404, {"error": "metrics not enabled"})
        return _call_wsgi(self._metrics_app, request.environ)

    def _webhook(self, request: _Request) -> _Response:
        verdict = self._webhook_verdict(request)
        if verdict.outcome == "refused":
            self._log(f"webhook refused ({verdict.code}): {verdict.reason}")
        elif verdict.outcome == "duplicate":
            self._log(f"webhook: {verdict.reason}; nothing triggered")
        if self._on_webhook is not None:
            with contextlib.suppress(Exception):
                self._on_webhook(verdict.outcome)
        return _json(verdict.code, verdict.body, verdict.headers)

    def _webhook_verdict(self, request: _Request) -> Verdict:
        if self._secret is None:
            return Verdict(404, {"error": "webhook not configured"}, "refused", reason="webhook not configured")
        body = request.read_body(self._max_body_bytes)
        if body is None:
            reason = f"body larger than {self._max_body_bytes} bytes"
            return Verdict(413, {"error": reason}, "refused", reason=reason)
        verdict = decide(
            request.header, request.media_type(), body, secret=self._secret, accepted_refs=self._accepted_refs
        )
        push = verdict.push
        if push is None:
            return verdict
        # Only a verified delivery reaches this point, so nobody without the secret can fill or probe the memory.
        key = f"{push.provider}:{push.delivery_id}" if push.delivery_id else None
        if key is not None and not self._deliveries.claim(key):
            reason = f"{push.provider} delivery {push.delivery_id!r} was already received"
            return Verdict(200, {"triggered": False, "duplicate": True, "reason": reason}, "duplicate", reason=reason)
        try:
            self._on_push(push)
        except BaseException:
            if key is not None:
                self._deliveries.release(key)  # not handled: a redelivery must be able to trigger
            raise
        return verdict


def _call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> _Response:
    """Run a mounted WSGI app to completion, so anything it raises becomes our 500 instead of a broken answer."""
    captured: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        captured[:] = [(status, list(headers))]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()
    if not captured:
        raise RuntimeError("the mounted WSGI app did not call start_response")
    status, headers = captured[0]
    return _Response(status, headers, b"".join(chunks))
