"""Recording sends over the standard library's ``http.client`` (record/stdlib_transport.py): what the
capture sees, and so what the cassettes hold, must be what httpx's own pool gave it.

Everything runs on loopback: the fake OpenAI server (plain and behind TLS with a CA made here), and
small socket servers that misbehave on purpose (close idle connections, hang up mid-request).
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
import trustme

import harness.transport
from harness.record.stdlib_transport import StdlibTransport
from harness.testing.fake_http import Handler, Server
from harness.testing.fake_openai import FakeOpenAI
from harness.transport import _CaptureTransport, _pool_for

from conftest import CANARY, Project, network_blocked

TIMEOUT = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


def _httpx_pool(target: str, tls: Callable[[], ssl.SSLContext]) -> httpx2.BaseTransport:
    return httpx2.HTTPTransport(verify=tls(), limits=httpx2.Limits(max_connections=2, max_keepalive_connections=2))


def _cases(n: int, extra: str = "") -> str:
    return "cases:\n" + "".join(f"  - id: c{i}\n    prompt: question {i}\n{extra}" for i in range(n))


def _timeless(folder: Path) -> dict[str, str]:
    """Each cassette's text without its timings (the only part two recordings may differ in)."""
    return {str(p.relative_to(folder)): re.sub(r"(latency|ttft)_ms: \d+", r"\1_ms: _", p.read_text())
            for p in sorted(folder.rglob("*.yaml"))}


def _post(transport: httpx2.BaseTransport, url: str, body: bytes = b"{}") -> httpx2.Response:
    request = httpx2.Request("POST", url, headers={"content-type": "application/json",
                                                   "accept-encoding": "gzip, deflate"},
                             content=body, extensions={"timeout": TIMEOUT})
    response = transport.handle_request(request)
    response.read()
    response.close()
    return response


# ---------------------------------------------------------------- a recording, both ways


def test_cassettes_are_the_bytes_httpx_recorded(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same suite recorded through ``http.client`` and through httpx's pool, against the same
    gzipping server with 429s on the way (Retry-After honoured), plain and streamed answers, one
    thread: the cassettes are the same bytes but for the timings, and replay offline."""
    project.suite("s.yaml", "model: gpt-4o\n" + _cases(4) + _cases(3, "    stream: true\n")
                  .replace("cases:\n", "").replace("id: c", "id: s"))
    folders = {}
    with FakeOpenAI(require_key=CANARY, fault_every=3, fault_retry_after=0.01) as server:
        for name, pool in (("stdlib", _pool_for), ("httpx", _httpx_pool)):
            monkeypatch.setattr(harness.transport, "_pool_for", pool)
            recorded = project.record(server, "suites", "--concurrency", "1")
            assert recorded.code == 0, recorded.text
            folders[name] = project.root / f"cassettes-{name}"
            (project.root / "cassettes").rename(folders[name])
            (project.root / "cassettes").mkdir()
        sent = len(server.requests)
    assert sent == 2 * 10  # 7 cases, 3 of them answered 429 first, each way
    stdlib, httpx = _timeless(folders["stdlib"]), _timeless(folders["httpx"])
    assert len(stdlib) == 7 and stdlib == httpx
    assert "data: " in "".join(v for k, v in stdlib.items() if "s0" in k)  # the streamed body as sent
    (project.root / "cassettes").rmdir()
    folders["stdlib"].rename(project.root / "cassettes")
    with network_blocked() as attempts:
        replayed = project.run("run", "suites")
    assert replayed.code == 0 and "7 passed" in replayed.out and attempts == []


def test_a_proxied_endpoint_keeps_httpx_and_loopback_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """``http.client`` does no proxying: an endpoint a proxy applies to goes through httpx's pool."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    tls = ssl.create_default_context()
    assert isinstance(_pool_for("https://api.openai.com/v1", lambda: tls), httpx2.HTTPTransport)
    assert isinstance(_pool_for("http://127.0.0.1:8080/v1", lambda: tls), StdlibTransport)
    monkeypatch.delenv("HTTPS_PROXY")
    assert isinstance(_pool_for("https://api.openai.com/v1", lambda: tls), StdlibTransport)


def test_a_body_of_unknown_length_goes_chunked(fake: FakeOpenAI) -> None:
    """A body httpx frames as chunks (an iterator) arrives whole, and the connection stays usable."""
    transport = StdlibTransport(ssl.create_default_context())
    pieces = [b'{"model": "gpt-4o", ', b'"messages": [{"role": "user", "content": "hi"}]}']
    for via in (transport, _CaptureTransport(transport)):
        request = httpx2.Request("POST", fake.base_url + "/chat/completions", content=iter(pieces),
                                 headers={"authorization": f"Bearer {CANARY}"}, extensions={"timeout": TIMEOUT})
        assert request.headers["transfer-encoding"] == "chunked"
        response = via.handle_request(request)
        assert response.status_code == 200 and b"chatcmpl" in response.read()
        response.close()
    transport.close()
    assert [r.json["messages"][0]["content"] for r in fake.requests] == ["hi", "hi"]


# ---------------------------------------------------------------- TLS


@contextmanager
def _tls_fake(ca: trustme.CA) -> Iterator[str]:
    """The fake OpenAI server behind TLS with a certificate for 127.0.0.1 from ``ca``; its base URL."""
    backend = FakeOpenAI(require_key=CANARY)
    server = Server(("127.0.0.1", 0), Handler)
    server.backend = backend
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join(timeout=5)


def test_https_verifies_the_server_against_ssl_cert_file(project: Project, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Over TLS the server's certificate is checked against the CA that ``SSL_CERT_FILE`` names:
    with the CA that signed it the suite records (and replays offline); with another CA the
    connection is refused and nothing is written."""
    ca, other = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    project.suite("s.yaml", "model: gpt-4o\n" + _cases(3))
    with _tls_fake(ca) as url:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "other.pem"))
        refused = project.run("run", "suites", "--record-mode", "once", "--base-url", url,
                              "--concurrency", "1", "--max-retries", "0", env={"OPENAI_API_KEY": CANARY})
        assert refused.code == 1 and "Traceback" not in refused.text
        assert refused.out.count("CERTIFICATE_VERIFY_FAILED") == 3, refused.out
        assert project.cassette_files() == []
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        recorded = project.run("run", "suites", "--record-mode", "once", "--base-url", url,
                               "--concurrency", "1", env={"OPENAI_API_KEY": CANARY})
    assert recorded.code == 0, recorded.text
    assert len(project.cassette_files()) == 3
    with network_blocked() as attempts:
        replayed = project.run("run", "suites")
    assert replayed.code == 0 and "3 passed" in replayed.out and attempts == []


def test_plain_http_records_whatever_the_ca_bundle_and_https_names_a_broken_one(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain-HTTP server (a local model, a gateway on loopback) needs no CA certificates: the
    suite records even when ``SSL_CERT_FILE`` names a file that is gone. Over HTTPS the same
    setting is an error that says which file, for each case, and nothing is written."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))
    project.suite("s.yaml", "model: gpt-4o\n" + _cases(2))
    with FakeOpenAI(require_key=CANARY) as server:
        recorded = project.record(server, "suites")
    assert recorded.code == 0 and "2 passed" in recorded.out, recorded.text
    assert len(project.cassette_files()) == 2
    project.suite("t.yaml", "model: gpt-4o\n" + _cases(2).replace("id: c", "id: t"))
    with _tls_fake(trustme.CA()) as url:
        refused = project.run("run", "suites/t.yaml", "--record-mode", "once", "--base-url", url,
                              "--max-retries", "0", env={"OPENAI_API_KEY": CANARY})
    assert refused.code == 1 and "Traceback" not in refused.text
    assert refused.out.count(f"SSL_CERT_FILE={tmp_path / 'gone.pem'}") == 2, refused.out
    assert len(project.cassette_files()) == 2


# ---------------------------------------------------------------- a server that misbehaves


@contextmanager
def _raw_server(serve: Callable[[socket.socket, int], None]) -> Iterator[str]:
    """A loopback server calling ``serve(connection, index)`` for each connection; its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        index = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn, index), daemon=True).start()
            index += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/chat/completions"
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        listener.close()
        thread.join(timeout=5)


def _read_request(conn: socket.socket) -> bytes:
    """One request (head and Content-Length body), or b"" at the end of the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return b""
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_an_idle_connection_the_server_closed_is_replaced_before_sending() -> None:
    """A server that answers one request per connection and then closes it (without saying so): each
    later request notices before sending, opens a new connection, and is sent exactly once."""
    seen: list[int] = []

    def serve(conn: socket.socket, index: int) -> None:
        with conn:
            if _read_request(conn):
                seen.append(index)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n{}")

    transport = StdlibTransport(ssl.create_default_context())
    with _raw_server(serve) as url:
        for _ in range(3):
            assert _post(transport, url).status_code == 200
            threading.Event().wait(0.05)  # the server's close reaches the idle connection
    transport.close()
    assert seen == [0, 1, 2]


def test_a_connection_closed_after_the_request_went_out_is_an_error_not_a_resend() -> None:
    """The server reads the request and hangs up: that is the retry loop's to decide, so the
    transport raises httpx's error (the SDK reads it as a connection error) and sends it once."""
    seen: list[int] = []

    def serve(conn: socket.socket, index: int) -> None:
        with conn:
            if _read_request(conn):
                seen.append(index)

    transport = StdlibTransport(ssl.create_default_context())
    with _raw_server(serve) as url, pytest.raises(httpx2.RemoteProtocolError):
        _post(transport, url)
    transport.close()
    assert seen == [0]


def test_a_server_that_does_not_answer_in_time_is_a_read_timeout() -> None:
    """The read timeout of the request's timeout extension applies, with httpx's exception (the
    SDK's APITimeoutError; tests/test_prepared_send.py shows the message a user gets)."""
    def serve(conn: socket.socket, index: int) -> None:
        with conn:
            _read_request(conn)
            conn.recv(1)  # waits for the client to give up

    transport = StdlibTransport(ssl.create_default_context())
    with _raw_server(serve) as url, pytest.raises(httpx2.ReadTimeout):
        transport.handle_request(httpx2.Request("POST", url, content=b"{}",
                                                extensions={"timeout": {**TIMEOUT, "read": 0.2}}))
    transport.close()


# ---------------------------------------------------------------- the answer as httpx gave it

def _chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


_DEFLATED = zlib.compress(b'{"error": "slow down"}')
_GZIPPED = zlib.compressobj(wbits=31)
_GZ = _GZIPPED.compress(b'{"answer": "gzip"}') + _GZIPPED.flush()
_ANSWERS = {
    "gzip, content-length": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                             b"Set-Cookie: a=1\r\nX-Dup: one\r\nSet-Cookie: b=2\r\nX-Dup:  two \r\n"
                             b"Content-Length: %d\r\n\r\n" % len(_GZ) + _GZ),
    "deflate, chunked": (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Encoding: deflate\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(_DEFLATED[:7], _DEFLATED[7:])),
    "event stream, chunked": (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                              + _chunked(b'data: {"a": 1}\n\n', b"data: [DONE]\n\n")),
}
_DECODED = {"gzip, content-length": b'{"answer": "gzip"}', "deflate, chunked": b'{"error": "slow down"}',
            "event stream, chunked": b'data: {"a": 1}\n\ndata: [DONE]\n\n'}


@pytest.mark.parametrize("kind", sorted(_ANSWERS))
def test_the_capture_sees_what_httpx_gave_it(kind: str) -> None:
    """Status, headers (order, duplicates, blanks) and the decoded body the capture keeps, and the
    response headers as the SDK gets them: the same through both transports, each over one
    kept-alive connection for its three requests."""
    connections: list[int] = []

    def serve(conn: socket.socket, index: int) -> None:
        connections.append(index)
        with conn:
            while _read_request(conn):
                conn.sendall(_ANSWERS[kind])

    seen = {}
    with _raw_server(serve) as url:
        for name, inner in (("stdlib", StdlibTransport(ssl.create_default_context())),
                            ("httpx", httpx2.HTTPTransport())):
            capture = _CaptureTransport(inner)
            for n in range(2):
                _post(capture, url, b'{"n": %d}' % n)
            headers = _post(inner, url).headers.multi_items()
            inner.close()
            seen[name] = ([(c.status, c.headers, c.content, c.body) for c in capture.captured], headers)
    assert seen["stdlib"] == seen["httpx"]
    captured, headers = seen["stdlib"]
    assert [c[2] for c in captured] == [_DECODED[kind]] * 2 and captured[0][3] == b'{"n": 0}'
    assert headers == [(k.decode().lower(), v.decode().strip()) for k, _, v in (
        line.partition(b":") for line in _ANSWERS[kind].split(b"\r\n\r\n")[0].split(b"\r\n")[1:])]
    assert connections == [0, 1]  # one connection each way: kept alive between the requests
