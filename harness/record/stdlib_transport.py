"""An httpx transport that sends over the standard library's ``http.client``.

Recording is many small requests on a few keep-alive connections, one thread each. httpx's own
pool (httpcore + h11) spends per request a lock dance, h11's event objects and two writes (the
headers, then the body). ``http.client`` has none of the pool's bookkeeping, and with the head
and body joined into one write (``_Connection``) an exchange costs fewer system calls and less
Python. The interface is httpx's
public ``BaseTransport``: the SDK's client and record/prepared.py hand it ``httpx2.Request``s and
get ``httpx2.Response``s whose raw stream the capture decodes as before (gzip included), so the
cassettes are the same bytes whichever transport carried the exchange.

What it keeps from httpx's pool, on purpose:
- the per-request timeout extension (connect / write / read; ``pool`` has nothing to wait for with
  one thread per transport) and httpx's exception types, which the SDK and record/prepared.py map
  to ``APITimeoutError`` / ``APIConnectionError``;
- the TLS context the session built (verification, ``SSL_CERT_FILE``), ALPN ``http/1.1``;
- an idle connection the server has closed is noticed before anything is written to it (it reads
  as readable: EOF) and replaced, as httpcore does; a failure after the request went out is raised,
  never sent again here: whether to try again is the retry loop's call.
No proxy support: the session keeps httpx's transport when a proxy applies (harness/proxy_env.py).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

#: Idle keep-alive connections kept per origin (a recording thread sends one request at a time;
#: the second covers a response still being read when the next request starts).
MAX_IDLE = 2
_READ_SIZE = 65536

_Origin = tuple[str, str, int]


class _Connection(http.client.HTTPConnection):
    """``http.client`` writes the request head and the body apart (two system calls, and with
    Nagle's algorithm on a server the body can wait for a delayed ACK); holding the writes of one
    request and sending them joined makes it one."""

    _held: list[bytes] | None = None

    def send(self, data: Any) -> None:
        if self._held is not None and isinstance(data, bytes):
            self._held.append(data)
            return
        super().send(data)

    def send_request(self, method: str, target: str, headers: list[tuple[bytes, bytes]],
                     body: bytes) -> None:
        """The request line, ``headers`` as given (no Host or Accept-Encoding added) and
        ``body``, in one write."""
        held: list[bytes] = []
        self._held = held
        try:
            self.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                self.putheader(name, value)
            self.endheaders(body)
        finally:
            self._held = None
        super().send(b"".join(held))


class _TLSConnection(_Connection, http.client.HTTPSConnection):
    pass


def _settimeout(sock: socket.socket, seconds: float | None) -> None:
    # Each settimeout is a system call (it switches the socket's blocking mode); most requests
    # keep the same value from the one before.
    if sock.gettimeout() != seconds:
        sock.settimeout(seconds)


def _stale(conn: _Connection) -> bool:
    """An idle connection with something to read has been closed (or spoiled) by the server."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if not hasattr(select, "poll"):  # Windows
            return bool(select.select([sock], [], [], 0)[0])
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed, or beyond select()'s descriptor limit
        return True


class _Stream(httpx2.SyncByteStream):
    """The answer's body as it arrives (chunked framing undone, content encoding left as sent);
    closing it hands the connection back when the answer was read to its end."""

    def __init__(self, owner: StdlibTransport, origin: _Origin, conn: _Connection,
                 response: http.client.HTTPResponse, request: httpx2.Request) -> None:
        self._owner = owner
        self._origin = origin
        self._conn: _Connection | None = conn
        self._response = response
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            if response.chunked or response.length is None:
                # Pieces as they arrive (a stream of events is timed by its first token); the end
                # of the chunks, or of the connection, closes the response.
                while chunk := response.read1(_READ_SIZE):
                    yield chunk
            elif body := response.read():  # all of Content-Length, IncompleteRead if cut short
                yield body
        except TimeoutError as err:
            raise httpx2.ReadTimeout(str(err) or "timed out", request=self._request) from err
        except http.client.HTTPException as err:  # IncompleteRead, a broken chunk size
            raise httpx2.RemoteProtocolError(str(err) or type(err).__name__, request=self._request) from err
        except OSError as err:
            raise httpx2.ReadError(str(err), request=self._request) from err

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        response = self._response
        # isclosed(): http.client closes its side of a response read to the end; will_close: the
        # server said "Connection: close" (or framed the body by closing).
        if response.isclosed() and not response.will_close and conn.sock is not None:
            self._owner._checkin(self._origin, conn)
        else:
            response.close()
            conn.close()


class StdlibTransport(httpx2.BaseTransport):
    """Keep-alive HTTP/1.1 over ``http.client``; one instance per recording thread."""

    def __init__(self, tls: ssl.SSLContext | Callable[[], ssl.SSLContext]) -> None:
        """``tls``: the context for HTTPS origins, or what makes it when the first one is met
        (loading the CA bundle costs ~20 ms of CPU before the first request, for nothing when the
        server speaks plain HTTP: a local model, a gateway on loopback)."""
        self._tls_source = tls
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[_Origin, list[_Connection]] = {}

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            source = self._tls_source
            tls = source if isinstance(source, ssl.SSLContext) else source()
            # What httpcore offers in the handshake (it sets it on the same context for each connection).
            tls.set_alpn_protocols(["http/1.1"])
            self._tls = tls
        return self._tls

    def _checkin(self, origin: _Origin, conn: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE:
            idle.append(conn)
        else:
            conn.close()

    def _checkout(self, origin: _Origin, connect: float | None,
                  request: httpx2.Request) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not _stale(conn):
                return conn
            conn.close()  # nothing was written to it: a fresh connection takes the request
        scheme, host, port = origin
        conn = (_TLSConnection(host, port, timeout=connect, context=self._context()) if scheme == "https"
                else _Connection(host, port, timeout=connect))
        try:
            conn.connect()
        except TimeoutError as err:
            conn.close()
            raise httpx2.ConnectTimeout(str(err) or "timed out", request=request) from err
        except OSError as err:  # refused, unreachable, a certificate that does not verify
            conn.close()
            raise httpx2.ConnectError(str(err), request=request) from err
        return conn

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme = url.scheme
        origin = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == "https" else 80))
        timeout: dict[str, float | None] = request.extensions.get("timeout") or {}
        body = request.read()
        if request.headers.get("transfer-encoding", "").lower() == "chunked":
            # httpx gave a body of unknown length (an iterator, a multipart upload) no length: frame
            # it as httpx would have (read() above has it whole, so as one chunk).
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        conn = self._checkout(origin, timeout.get("connect"), request)
        sock: Any = conn.sock
        try:
            _settimeout(sock, timeout.get("write"))
            # httpx built the Host, Accept-Encoding and Content-Length headers: send its headers as
            # they are, in its order.
            conn.send_request(request.method, url.raw_path.decode("ascii"), request.headers.raw, body)
        except TimeoutError as err:
            conn.close()
            raise httpx2.WriteTimeout(str(err) or "timed out", request=request) from err
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise httpx2.WriteError(str(err) or type(err).__name__, request=request) from err
        try:
            _settimeout(sock, timeout.get("read"))
            response = conn.getresponse()
        except TimeoutError as err:
            conn.close()
            raise httpx2.ReadTimeout(str(err) or "timed out", request=request) from err
        except (http.client.HTTPException, ConnectionResetError) as err:  # RemoteDisconnected is both
            conn.close()
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response." if isinstance(
                    err, http.client.RemoteDisconnected) else str(err) or type(err).__name__,
                request=request) from err
        except OSError as err:
            conn.close()
            raise httpx2.ReadError(str(err), request=request) from err
        # Header values as h11 gives them to httpx (surrounding blanks stripped), in their order
        # and with duplicates; bytes, so that httpx decodes them as it decodes its own.
        headers = [(name.encode("latin-1"), value.strip(" \t").encode("latin-1"))
                   for name, value in response.msg.items()]
        return httpx2.Response(response.status, headers=headers,
                               stream=_Stream(self, origin, conn, response, request),
                               extensions={"http_version": b"HTTP/1.1",
                                           "reason_phrase": response.reason.encode("latin-1")})

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
