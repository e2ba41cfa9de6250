"""A recording thread builds its first request of a wire API and model through the SDK and sends the
later ones with the same URL, headers and timeout: what reaches the server must not change."""

from __future__ import annotations

import json

from harness.testing.fake_openai import FakeOpenAI

from conftest import AZURE_CANARY, CANARY, Project, network_blocked

#: Headers that are the same for every request of an endpoint (the body's length is not).
_PER_BODY = {"content-length"}


def _cases(n: int) -> str:
    return "cases:\n" + "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(n))


def test_every_request_carries_what_the_sdk_sent_first(project: Project) -> None:
    """One thread, five cases: the later four reach the server with the first one's auth, user
    agent and SDK headers, a compact JSON body of their own, and replay offline afterwards."""
    project.suite("s.yaml", "model: gpt-4o\n" + _cases(5))
    with FakeOpenAI(require_key=CANARY) as server:
        recorded = project.run("run", "suites", "--record-mode", "once", "--base-url", server.base_url,
                               "--concurrency", "1", env={"OPENAI_API_KEY": CANARY})
        requests = list(server.requests)
    assert recorded.code == 0, recorded.text
    assert len(requests) == 5 and {r.path for r in requests} == {"/v1/chat/completions"}
    first = {k: v for k, v in requests[0].headers.items() if k not in _PER_BODY}
    assert first["authorization"] == f"Bearer {CANARY}" and first["x-stainless-retry-count"] == "0"
    assert "user-agent" in first and "x-stainless-read-timeout" in first
    for request in requests[1:]:
        assert {k: v for k, v in request.headers.items() if k not in _PER_BODY} == first
        assert int(request.headers["content-length"]) == len(request.body)
        assert request.body == json.dumps(request.json, ensure_ascii=False, separators=(",", ":")).encode()
    assert sorted(r.json["messages"][-1]["content"] for r in requests) == [f"question {i}" for i in range(5)]
    with network_blocked() as attempts:
        replayed = project.run("run", "suites")
    assert replayed.code == 0 and "5 passed" in replayed.out and attempts == []


def test_azure_requests_keep_their_deployment_key_and_version(project: Project) -> None:
    """Azure, two models and no deployment named: every request, the later ones too, goes to its
    model's deployment with the ``api-key`` header and the ``api-version`` query."""
    project.suite("s.yaml", "provider: {type: azure, api_version: '2024-10-21'}\n"
                  "models: [gpt-4o, gpt-4o-mini]\n" + _cases(3))
    with FakeOpenAI(require_key=AZURE_CANARY) as server:
        recorded = project.run("run", "suites", "--record-mode", "once", "--concurrency", "1",
                               env={"AZURE_OPENAI_API_KEY": AZURE_CANARY,
                                    "AZURE_OPENAI_ENDPOINT": server.azure_endpoint})
        requests = list(server.requests)
    assert recorded.code == 0, recorded.text
    assert len(requests) == 6
    for request in requests:
        assert request.path == f"/openai/deployments/{request.json['model']}/chat/completions"
        assert request.headers["api-key"] == AZURE_CANARY and request.query["api-version"] == "2024-10-21"
    assert {r.json["model"] for r in requests} == {"gpt-4o", "gpt-4o-mini"}


def test_a_later_request_that_times_out_reads_like_the_first(project: Project) -> None:
    """The second case goes the prepared way: its timeout is kept and reported the same."""
    project.suite("s.yaml", "model: gpt-4o\n" + _cases(2))
    with FakeOpenAI(latency=4.0) as slow:
        url = slow.base_url
        result = project.run("run", "suites", "--record-mode", "once", "--base-url", url, "--concurrency", "1",
                             "--timeout", "0.3", "--max-retries", "0", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1 and "Traceback" not in result.text
    assert result.out.count(f"APITimeoutError: no answer from {url}/chat/completions within 0.3 s") == 2, result.out
    assert project.cassette_files() == []
