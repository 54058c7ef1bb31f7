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

Served by waitress, within the bounds ``HttpLimits`` sets (``controller.adapters.http_transport``
says why waitress and what each bound does).

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
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Final

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from controller.adapters.http_transport import (
    LOOP_SECONDS,
    MAX_HEADER_BYTES,
    PROBE_THREADS,
    WORKER_THREADS,
    BoundedServer,
    HttpLimits,
    json_body,
    listening_socket,
    parse_listen,
)
from controller.adapters.replay import RecentDeliveries
from controller.adapters.webhook import PushEvent, Verdict, decide, short, sign, verify_signature
from controller.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

__all__ = ["Health", "HttpEndpoints", "HttpLimits", "PushEvent", "sign", "verify_signature"]

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class Health:
    """What ``/healthz`` and ``/readyz`` report; ``detail`` is rendered as JSON beside ``status``."""

    ok: bool
    detail: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class _Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _json(code: int, payload: dict[str, object], headers: Iterable[tuple[str, str]] = ()) -> _Response:
    body = json_body(payload)
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

        host, port = parse_listen(listen)
        try:
            sock = listening_socket(host, port)
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

    def _make_server(self, sock: socket.socket) -> BoundedServer:
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
        return BoundedServer(
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
