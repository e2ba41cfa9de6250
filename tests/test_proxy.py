"""Recording honours the environment's proxy (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY), as
any HTTP client a user has behind a corporate proxy does; loopback hosts are never proxied."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from harness.proxy_env import proxy_for
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project


class _ForwardProxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy on loopback that sends every request to one upstream server,
    whatever host it names: the client never resolves the name, so no DNS or network is used."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ForwardProxy

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.server.seen.append(self.path)  # absolute form: the URL the client wanted
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        parts = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
        upstream.request("POST", parts.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_recording_goes_through_the_proxy_the_environment_names(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hello there\n")
    server = FakeOpenAI().start()
    proxy = _ForwardProxy(server.port)
    try:
        result = project.run("run", "suites", "--record-mode", "once", "--base-url",
                             "http://models.example.test/v1", "--max-retries", "0",
                             env={"OPENAI_API_KEY": CANARY, "HTTP_PROXY": proxy.url, "NO_PROXY": ""})
    finally:
        proxy.shutdown()
        server.stop()
    assert result.code == 0, result.text
    assert proxy.seen == ["http://models.example.test/v1/chat/completions"]
    (cassette,) = project.cassette_files()
    assert "uri: http://models.example.test/v1/chat/completions" in cassette.read_text()
    replay = project.run("run", "suites")  # proxy and server stopped: replay stays offline
    assert replay.code == 0, replay.text


@pytest.mark.parametrize(("url", "env", "expected"), [
    ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
    ("https://api.openai.com/v1", {"https_proxy": "http://lower:3128"}, "http://lower:3128"),
    ("http://gateway.internal:8000/v1", {"HTTP_PROXY": "http://p:3128"}, "http://p:3128"),
    ("https://api.openai.com/v1", {"HTTP_PROXY": "http://p:3128"}, None),  # no proxy for https
    ("https://api.openai.com/v1", {"ALL_PROXY": "http://all:3128"}, "http://all:3128"),
    ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "openai.com"}, None),
    ("https://x.openai.azure.com/", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".azure.com,foo"}, None),
    ("https://api.openai.com/v1", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, None),
    ("http://127.0.0.1:8080/v1", {"HTTP_PROXY": "http://p:3128", "NO_PROXY": ""}, None),
    ("http://localhost:8080/v1", {"HTTP_PROXY": "http://p:3128"}, None),
    ("http://[::1]:8080/v1", {"HTTP_PROXY": "http://p:3128"}, None),
    ("http://127.8.9.1:8080/v1", {"ALL_PROXY": "http://p:3128"}, None),
])
def test_which_requests_are_proxied(monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str],
                                    expected: str | None) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(url) == expected
