"""The daemon's one HTTP port: health and readiness probes, Prometheus metrics and the Git push webhook.

A small WSGI application served by the standard library's ``wsgiref.simple_server`` with a
threading mixin (no new dependency; ``prometheus_client.start_http_server`` serves the same way),
so ``/metrics`` is simply prometheus-client's ``make_wsgi_app()`` mounted beside our own routes::

    GET  /healthz    200 {"status": "ok", **detail} | 503 {"status": "unavailable", **detail}
    GET  /readyz     same shape, from the readiness callback
    GET  /metrics    the mounted ``metrics_app`` (404 when none is given)
    POST /hooks/git  push webhook: verified, then ``on_push(PushEvent)`` and 202 {"triggered": true}
    anything else    404; a known path with the wrong method 405 (with ``Allow``)

This is an adapter: it does I/O only. Whether the process is alive or ready, and what a push
means, is decided by the callbacks the daemon passes in; ``on_push`` must return fast (the daemon
only sets a flag so that the next cycle starts now; polling stays on).

Webhook verification (the secret is never logged, echoed or put in an error; every comparison
is constant-time with ``hmac.compare_digest``):

- GitHub (``X-GitHub-Event`` present): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``.
  ``push`` triggers, ``ping`` answers 200 pong, any other event 202 ignored. Delivery id from
  ``X-GitHub-Delivery``; ``ref`` and ``after`` from the payload.
- GitLab (``X-Gitlab-Token`` or ``X-Gitlab-Event`` present): GitLab does not sign, it sends the
  secret itself in ``X-Gitlab-Token``. ``Push Hook`` and ``Tag Push Hook`` trigger, others are
  ignored. ``after`` (or ``checkout_sha``) from the payload; delivery id from ``X-Gitlab-Event-UUID``.
- Generic (anything else): ``X-Signature-256`` or ``X-Hub-Signature-256`` with the same HMAC as
  GitHub, any JSON body (``ref``/``after`` used when it is an object that has them); delivery id
  from ``X-Delivery-Id``.

The body must be ``application/json`` or ``application/x-www-form-urlencoded`` with a ``payload``
field (GitHub's form mode; the HMAC is over the raw form body). Refusals, all JSON ``{"error": ...}``:
401 unsigned, wrongly signed or wrong token; 413 body over ``max_body_bytes`` (decided from
``Content-Length`` before reading, and while decoding a chunked body, never after buffering it
all); 415 another content type; 400 malformed body or payload; 404 when no secret is configured.
A verified push whose ``ref`` the ``accepted_refs`` predicate rejects answers 202
``{"triggered": false, ...}``; a push without a ``ref`` is always passed on (a trigger only makes
the next poll come early). Each refusal is reported as one line to the optional ``log`` callback,
with the reason only.

Robustness: every exception inside a route, including those raised by the callbacks or by the
mounted metrics app, becomes a 500 ``{"error": "internal error"}`` without a traceback, and the
server keeps serving. The server is quiet: no per-request lines on stderr. Each connection serves
one request with a socket timeout (no slow client can hold a thread forever); when a request body
was left unread (a 413, say) the connection is closed gracefully ("lingering close", bounded in
time and bytes) so the client reads our answer instead of a connection reset.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from controller.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

__all__ = ["Health", "HttpEndpoints", "PushEvent", "sign", "verify_signature"]

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
SOCKET_TIMEOUT_SECONDS: Final = 15.0  # per read/write on a connection
POLL_INTERVAL_SECONDS: Final = 0.1  # how quickly stop() is noticed by the serving loop
LINGER_SECONDS: Final = 1.0  # lingering close after a body was left unread
LINGER_MAX_BYTES: Final = 8 * 1024 * 1024
_MAX_CHUNK_LINE: Final = 1024
_MAX_TRAILER_LINES: Final = 64
_MAX_FORM_FIELDS: Final = 100
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_UNREAD_MARK: Final = "descope_gitops.mark_body_unread"
_JSON_TYPE: Final = "application/json"
_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_GITLAB_PUSH_EVENTS: Final = frozenset({"Push Hook", "Tag Push Hook"})


@dataclass(frozen=True)
class Health:
    """What ``/healthz`` and ``/readyz`` report; ``detail`` is rendered as JSON beside ``status``."""

    ok: bool
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PushEvent:
    """What a verified webhook tells the daemon."""

    provider: str  # "github" | "gitlab" | "generic"
    ref: str | None  # e.g. "refs/heads/main", when the payload says
    after: str | None  # the new head sha, when the payload says
    delivery_id: str | None


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``"sha256=<hex HMAC-SHA256(secret, body)>"`` (as GitHub sends)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is ``sha256=<hex>`` of ``body`` under ``secret`` (constant-time compare)."""
    if not header_value:
        return False
    algorithm, sep, digest = header_value.strip().partition("=")
    if not sep or algorithm.strip().lower() != "sha256":
        return False
    try:
        given = digest.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign(secret, body).partition("=")[2].encode("ascii")
    return hmac.compare_digest(expected, given)


def _token_matches(secret: str, token: str) -> bool:
    """Constant-time comparison of GitLab's plain ``X-Gitlab-Token`` with the configured secret."""
    try:
        given = token.strip().encode("latin-1")  # WSGI decodes header bytes as latin-1; this restores them
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), given)


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


def _json(code: int, payload: dict[str, object], headers: Iterable[tuple[str, str]] = ()) -> _Response:
    body = json.dumps(_json_safe(payload), default=str, allow_nan=False).encode("utf-8")
    fixed = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    return _Response(_status_line(code), [*fixed, *headers], body)


_INTERNAL_ERROR: Final = _json(500, {"error": "internal error"})


class _Refused(Exception):
    """A webhook request is refused with ``code`` and a short reason that never carries the secret."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --------------------------------------------------------------------------------------------- requests


class _Request:
    """One WSGI request: header lookup and a bounded body reader that remembers whether the body was read."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO", "") or "/")
        self.body_read = False
        length = str(environ.get("CONTENT_LENGTH", "") or "").strip()
        self.transfer_encoding = (self.header("Transfer-Encoding") or "").strip().lower()
        self.content_length = length
        self.declares_body = bool(self.transfer_encoding) or (length not in ("", "0"))

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    def media_type(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", "") or "").split(";", 1)[0].strip().lower()

    def read_body(self, limit: int) -> bytes:
        """The whole body, or ``_Refused``: 413 over ``limit`` (never buffered past it), 400 malformed, 408 slow."""
        stream: IO[bytes] = self.environ["wsgi.input"]
        try:
            if self.transfer_encoding:
                if self.transfer_encoding != "chunked":
                    raise _Refused(501, "unsupported Transfer-Encoding (only chunked)")
                body = _read_chunked(stream, limit)
            else:
                if not self.content_length:
                    body = b""  # a request with neither Content-Length nor Transfer-Encoding has no body
                else:
                    if not self.content_length.isdigit():
                        raise _Refused(400, "invalid Content-Length")
                    size = int(self.content_length)
                    if size > limit:
                        raise _Refused(413, f"body larger than {limit} bytes")
                    body = _read_exact(stream, size)
                    if len(body) != size:
                        raise _Refused(400, "body shorter than its Content-Length")
        except TimeoutError as exc:
            raise _Refused(408, "timed out reading the body") from exc
        except OSError as exc:
            raise _Refused(400, "connection failed while reading the body") from exc
        self.body_read = True
        return body


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _read_chunked(stream: IO[bytes], limit: int) -> bytes:
    """Decode a chunked body, refusing with 413 as soon as the declared chunk sizes pass ``limit``."""
    body = bytearray()
    while True:
        line = stream.readline(_MAX_CHUNK_LINE + 1)
        if not line.endswith(b"\n"):
            raise _Refused(400, "malformed chunked body")
        size_text = line.split(b";", 1)[0].strip()
        if not _HEX_SIZE.fullmatch(size_text):
            raise _Refused(400, "malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(_MAX_TRAILER_LINES):
                trailer = stream.readline(_MAX_CHUNK_LINE + 1)
                if trailer in (b"\r\n", b"\n"):
                    return bytes(body)
                if not trailer.endswith(b"\n"):
                    raise _Refused(400, "malformed chunked body")
            raise _Refused(400, "malformed chunked body")
        if len(body) + size > limit:
            raise _Refused(413, f"body larger than {limit} bytes")
        data = _read_exact(stream, size)
        if len(data) != size or stream.readline(3) not in (b"\r\n", b"\n"):
            raise _Refused(400, "malformed chunked body")
        body += data


def _decode_payload(media_type: str, body: bytes) -> object:
    """The JSON document of a webhook body, raw JSON or GitHub's form-encoded ``payload=`` field."""
    try:
        if media_type == _FORM_TYPE:
            fields = urllib.parse.parse_qs(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS
            )
            if not fields.get("payload"):
                raise _Refused(400, "form body has no payload field")
            return json.loads(fields["payload"][0])
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _Refused(400, "body is not valid JSON") from exc


def _str_or_none(payload: object, key: str) -> str | None:
    if isinstance(payload, dict):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _short(text: str, limit: int = 64) -> str:
    """An attacker-influenced value made safe to put in a one-line answer."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


# --------------------------------------------------------------------------------------------- server


class _QuietErrors:
    """wsgiref's error stream: swallowed, since the application itself never lets an exception out."""

    def flush(self) -> None:
        return None

    def write(self, s: str, /) -> None:
        return None

    def writelines(self, seq: list[str], /) -> None:
        return None


class _RequestHandler(WSGIRequestHandler):
    """One request per connection, no access log, a socket timeout, and a lingering close when needed."""

    timeout = SOCKET_TIMEOUT_SECONDS
    server_version = "descope-gitops"
    _body_unread = False

    def get_environ(self) -> WSGIEnvironment:
        environ = super().get_environ()
        environ[_UNREAD_MARK] = self._mark_body_unread
        return environ

    def get_stderr(self) -> _QuietErrors:
        return _QuietErrors()

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _mark_body_unread(self) -> None:
        self._body_unread = True

    def finish(self) -> None:
        super().finish()
        if self._body_unread:
            self._linger()

    def _linger(self) -> None:
        """Send our FIN, then read and drop what the client still sends (bounded), so it sees the answer, not a RST."""
        sock: socket.socket = self.connection
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_MAX_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    report_error: Callable[[str], None] | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup that can stall startup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print a traceback to stderr; one line to the log is enough (it is a client problem).
        if self.report_error is not None:
            self.report_error(f"http: error serving a connection: {type(sys.exc_info()[1]).__name__}")


class _ThreadingWSGIServerV6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError([f"http.listen must be HOST:PORT (e.g. 0.0.0.0:9464), not {listen!r}"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - ":9464" means every interface, as the user asked


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
    ) -> None:
        if webhook_secret is not None and not webhook_secret:
            raise ConfigError(["http.webhook_secret is empty; leave it unset to turn the webhook off"])
        if max_body_bytes < 1:
            raise ConfigError([f"http max body size must be at least 1 byte, not {max_body_bytes}"])
        self._liveness = liveness
        self._readiness = readiness
        self._on_push = on_push
        self._secret = webhook_secret
        self._metrics_app = metrics_app
        self._max_body_bytes = max_body_bytes
        self._accepted_refs = accepted_refs
        self._log_callback = log
        self._routes: dict[str, tuple[frozenset[str], Route]] = {
            "/healthz": (frozenset({"GET"}), lambda req: self._probe(self._liveness)),
            "/readyz": (frozenset({"GET"}), lambda req: self._probe(self._readiness)),
            "/metrics": (frozenset({"GET"}), self._metrics),
            "/hooks/git": (frozenset({"POST"}), self._webhook),
        }

        host, port = _parse_listen(listen)
        server_class = _ThreadingWSGIServerV6 if ":" in host else _ThreadingWSGIServer
        try:
            self._server = server_class((host, port), _RequestHandler)
        except OSError as exc:
            raise ConfigError([f"http.listen: cannot listen on {listen}: {exc.strerror or exc}"]) from exc
        self._server.report_error = self._log
        self._server.set_app(self._app)
        self.port: int = int(self._server.server_address[1])
        url_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
        self.url: str = f"http://[{url_host}]:{self.port}" if ":" in url_host else f"http://{url_host}:{self.port}"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> HttpEndpoints:
        """Serve in a daemon thread; returns self. Starting twice is a no-op; starting after stop() is an error."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("HttpEndpoints was stopped; create a new one")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._server.serve_forever,
                    kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
                    name=f"descope-gitops-http:{self.port}",
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._server.shutdown()
            thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> HttpEndpoints:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # WSGI --------------------------------------------------------------------------------------------

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        request: _Request | None = None
        try:
            request = _Request(environ)
            response = self._dispatch(request)
        except Exception as exc:
            where = f"{request.method} {_short(request.path)}" if request is not None else "request"
            self._log(f"http: {where} failed: {type(exc).__name__}: {_short(str(exc), 200)}")
            response = _INTERNAL_ERROR
        if request is not None and request.declares_body and not request.body_read:
            mark = environ.get(_UNREAD_MARK)
            if callable(mark):
                mark()
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
        try:
            return self._handle_webhook(request)
        except _Refused as refused:
            self._log(f"webhook refused ({refused.code}): {refused.reason}")
            return _json(refused.code, {"error": refused.reason})

    def _handle_webhook(self, request: _Request) -> _Response:
        if self._secret is None:
            raise _Refused(404, "webhook not configured")
        media_type = request.media_type()
        if media_type not in (_JSON_TYPE, _FORM_TYPE):
            raise _Refused(415, f"Content-Type must be {_JSON_TYPE} or {_FORM_TYPE}")
        body = request.read_body(self._max_body_bytes)
        provider = self._authenticate(request, body, self._secret)

        if provider == "github":
            event = request.header("X-GitHub-Event") or ""
            if event == "ping":
                return _json(200, {"status": "pong", "triggered": False})
            if event != "push":
                return _json(202, {"triggered": False, "reason": f"event {_short(event)!r} ignored"})
            delivery = request.header("X-GitHub-Delivery")
        elif provider == "gitlab":
            event = request.header("X-Gitlab-Event") or ""
            if event not in _GITLAB_PUSH_EVENTS:
                return _json(202, {"triggered": False, "reason": f"event {_short(event)!r} ignored"})
            delivery = request.header("X-Gitlab-Event-UUID")
        else:
            delivery = request.header("X-Delivery-Id")

        payload = _decode_payload(media_type, body)
        if provider != "generic" and not isinstance(payload, dict):
            raise _Refused(400, "payload must be a JSON object")
        after = _str_or_none(payload, "after")
        if provider == "gitlab" and after is None:
            after = _str_or_none(payload, "checkout_sha")
        push = PushEvent(
            provider=provider,
            ref=_str_or_none(payload, "ref"),
            after=after,
            delivery_id=_short(delivery, 128) if delivery else None,
        )
        if push.ref is not None and self._accepted_refs is not None and not self._accepted_refs(push.ref):
            return _json(202, {"triggered": False, "reason": f"ref {_short(push.ref, 200)!r} not followed"})
        self._on_push(push)
        return _json(202, {"triggered": True})

    @staticmethod
    def _authenticate(request: _Request, body: bytes, secret: str) -> str:
        """Which provider sent this, once its credential checks out; ``_Refused(401)`` otherwise."""
        token = request.header("X-Gitlab-Token")
        if token is not None or request.header("X-Gitlab-Event") is not None:
            if token is None:
                raise _Refused(401, "missing X-Gitlab-Token")
            if not _token_matches(secret, token):
                raise _Refused(401, "X-Gitlab-Token does not match")
            return "gitlab"
        if request.header("X-GitHub-Event") is not None:
            signature = request.header("X-Hub-Signature-256")
            if signature is None:
                raise _Refused(401, "missing X-Hub-Signature-256")
            if not verify_signature(secret, body, signature):
                raise _Refused(401, "X-Hub-Signature-256 does not match the body")
            return "github"
        signature = request.header("X-Signature-256") or request.header("X-Hub-Signature-256")
        if signature is None:
            raise _Refused(401, "missing X-Signature-256 (or X-Hub-Signature-256)")
        if not verify_signature(secret, body, signature):
            raise _Refused(401, "signature does not match the body")
        return "generic"


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
