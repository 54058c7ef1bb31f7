"""HTTP plumbing: the stdlib threading server that reads requests off sockets and writes the answers.

Body framing (Content-Length, chunked) and the body size limits are decided here; everything else is
the ``App``'s.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from .app import App, is_control
from .routes import Request
from .wire import ApiError, Response, bad_request, too_large

MAX_BODY_BYTES: Final = 10 * 1024 * 1024
# Seeding 100k tenants through /_sandbox/tenants takes more than the API's limit (about 11 MB).
MAX_CONTROL_BODY_BYTES: Final = 512 * 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    # Daemon threads: a request sleeping on latency or a fault delay must not keep the process alive.
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when a benchmark opens many at once

    def __init__(self, address: tuple[str, int], app: App, *, verbose: bool) -> None:
        self.app = app
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can take seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """End kept-alive connections, so nothing is served by a stopped sandbox."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections, benchmarks depend on it
    server_version = "descope-sandbox/1"
    sys_version = ""
    timeout = 120  # an idle kept-alive connection is closed after this many seconds
    # Headers and body go out in two writes; with Nagle on, a kept-alive client's delayed ACK stalls
    # every answer by ~40 ms.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:  # BaseHTTPRequestHandler dispatches on this name
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        request = self._read_request()
        response = self.server.app.handle(request)
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test); nothing left to tell it

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        body, error = self._read_body(MAX_CONTROL_BODY_BYTES if is_control(parts.path) else MAX_BODY_BYTES)
        if error is not None:
            # The rest of the body is still on the socket: it cannot carry another request.
            self.close_connection = True
        query = parse_qs(parts.query, keep_blank_values=True)
        return Request(self.command, parts.path, query, self.headers.get("Authorization", ""), body, error)

    def _read_body(self, limit: int) -> tuple[bytes, ApiError | None]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b"", None
        try:
            length = int(raw)
        except ValueError:
            return b"", bad_request("Invalid Content-Length header")
        if length < 0:
            return b"", bad_request("Invalid Content-Length header")
        if length > limit:
            return b"", too_large(limit)
        return self.rfile.read(length), None

    def _read_chunked(self, limit: int) -> tuple[bytes, ApiError | None]:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            except ValueError:
                return b"", bad_request("Invalid chunked request body")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks), None
            total += size
            if total > limit:
                return b"", too_large(limit)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)
