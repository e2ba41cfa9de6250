"""HTTP/1.1 plumbing for the fake OpenAI server: threaded server, keep-alive handler, SSE framing.

Kept apart from :mod:`harness.testing.fake_openai` (which decides what to
answer) so the transport details - keep-alive, chunked streaming, gzip, a deep
accept backlog for benchmarks, shutting idle sockets on stop - live in one
place.  Standard library only.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import socket
import socketserver
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from harness.testing.fake_answers import error_body


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it, so tests can assert what a client really sent."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    json: Any = None  # parsed JSON body, None when absent or not JSON
    body: bytes = field(default=b"", repr=False)
    received_at: float = field(default_factory=time.monotonic, repr=False)  # when it arrived (monotonic)


@dataclass
class Reply:
    """What the handler must write: a JSON/bytes body, or a stream of SSE chunks."""

    status: int
    payload: Any = None  # JSON-serialisable; ignored when raw or events is set
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    events: Iterable[dict[str, Any]] | None = None
    #: Name each event by its ``type`` (``event: response.created``) and end without ``data: [DONE]``,
    #: as the Responses API streams; chat streams are bare ``data:`` lines ending with [DONE].
    named_events: bool = False
    rewrite: Callable[[bytes], bytes] | None = None  # applied to the body / each event as sent


class Backend(Protocol):
    """What the handler needs from the server object (implemented by ``FakeOpenAI``)."""

    gzip: bool
    verbose: bool

    def _record(self, request: RecordedRequest) -> None: ...

    def _handle(self, request: RecordedRequest) -> Reply: ...

    def _volatile_headers(self, azure: bool) -> dict[str, str]: ...


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a deep backlog (benchmarks open dozens of connections at once)."""

    daemon_threads = True
    request_queue_size = 256
    backend: Backend

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS getfqdn(), slow on some CI hosts: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Shut idle keep-alive sockets so stop() really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler; every response has Content-Length or chunked framing."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per response), which would dominate every latency measurement.
    disable_nagle_algorithm = True
    server: Server

    def version_string(self) -> str:
        return "cloudflare"  # what api.openai.com answers with

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.backend.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self) -> None:
        backend = self.server.backend
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self._read_body()
        parsed: Any = None
        if body and "json" in headers.get("content-type", "json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        request = RecordedRequest(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                                  headers, parsed, body)
        backend._record(request)
        try:
            reply = backend._handle(request)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must surface as a 500 the test can see, not a hang
            traceback.print_exc()
            reply = Reply(500, error_body(500, f"fake server error: {exc!r}"))
        try:
            self._write(reply, backend, azure=url.path.startswith("/openai/"))
        except OSError:  # the client went away (or stop() shut the socket) mid-reply
            self.close_connection = True

    def _write(self, reply: Reply, backend: Backend, azure: bool) -> None:
        self.send_response(reply.status)
        for name, value in {**backend._volatile_headers(azure), **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        if reply.events is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in _sse(reply.events, named=reply.named_events):
                event = reply.rewrite(event) if reply.rewrite else event
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        data = reply.raw if reply.raw is not None else json.dumps(reply.payload).encode()
        if reply.rewrite is not None:
            data = reply.rewrite(data)
        if backend.gzip and "gzip" in self.headers.get("Accept-Encoding", "").lower():
            data = gzip_module.compress(data, mtime=0)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _sse(events: Iterable[dict[str, Any]], *, named: bool = False) -> Iterator[bytes]:
    for event in events:
        name = b"event: %s\n" % str(event.get("type")).encode() if named else b""
        yield name + b"data: " + json.dumps(event).encode() + b"\n\n"
    if not named:
        yield b"data: [DONE]\n\n"
