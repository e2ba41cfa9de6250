"""Recording under load and faults: adaptive limit, retries, timeouts, Ctrl-C, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from harness import apis
from harness.limiter import AdaptiveLimiter
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project

ONE = "model: gpt-4o\ncases:\n  - id: a\n    prompt: hello there\n"


def _many(n: int) -> str:
    return "model: gpt-4o\ncases:\n" + "".join(f"  - id: c{i:03d}\n    prompt: question {i}\n" for i in range(n))


def test_limiter_cuts_once_per_cooldown_and_grows_back() -> None:
    now = [0.0]
    lim = AdaptiveLimiter(8, cooldown=1.0, clock=lambda: now[0])
    for _ in range(3):
        assert lim.acquire()
    for _ in range(3):  # a burst of 429s from one overload counts once
        lim.release(rate_limited=True)
    assert lim.limit == 6.0 and lim.cuts == 1
    now[0] = 2.0
    assert lim.acquire()
    lim.release(rate_limited=True)
    assert lim.limit == 4.5 and lim.cuts == 2
    for _ in range(10):
        assert lim.acquire()
        lim.release(success=True)
    assert lim.limit == 8.0


def test_limiter_blocks_at_the_limit_and_honours_stop() -> None:
    lim = AdaptiveLimiter(1)
    assert lim.acquire()
    stop = threading.Event()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lim.acquire(stop)))
    waiter.start()
    time.sleep(0.1)
    assert got == []  # still waiting for the one slot
    stop.set()
    waiter.join(2)
    assert got == [False]


def test_5xx_is_retried_then_recorded(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", ONE)
    fake.add_rule(Rule(contains="hello", status=503, times=2))
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    assert len(fake.requests) == 3


def test_retry_after_is_waited_out_before_the_retry(project: Project, fake: FakeOpenAI) -> None:
    """The server says "come back in 1.5 s": the retry must not arrive sooner. Without the
    header the first retry would wait at most 0.5 s (backoff with jitter), so the gap between
    the two requests tells the two apart whatever the machine's speed."""
    project.suite("s.yaml", ONE)
    fake.add_rule(Rule(contains="hello", status=429, retry_after=1.5, times=1))
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    arrivals = [r.received_at for r in fake.requests]  # stamped by the server as each one arrived
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.4, arrivals
    assert len(project.cassette_files()) == 1


def test_a_cookie_one_answer_sets_is_not_sent_with_the_next_case(project: Project, fake: FakeOpenAI) -> None:
    """The server sets a cookie with every answer (as a CDN in front of the API does); on one
    thread, case after case, none of it may come back: each case is its own request."""
    project.suite("s.yaml", _many(3))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--concurrency", "1", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 0, result.text
    assert len(fake.requests) == 3
    assert [r.headers.get("cookie") for r in fake.requests] == [None, None, None]


def test_a_case_waiting_to_retry_does_not_hold_up_the_others(project: Project, fake: FakeOpenAI) -> None:
    """One request in flight at a time, and the first case is told to come back in 1.5 s: the
    other cases are sent meanwhile, not after it (the wait holds neither a slot nor the pool)."""
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: come back later\n" +
                  "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(4)))
    fake.add_rule(Rule(contains="come back later", status=429, retry_after=1.5, times=1))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--concurrency", "1", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 0, result.text
    sent = ["a" if "come back later" in r.body.decode() else "other" for r in fake.requests]
    assert sent == ["a", "other", "other", "other", "other", "a"], sent
    assert len(project.cassette_files()) == 5


def test_persistent_failure_gives_up_after_max_retries(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", ONE)
    fake.add_rule(Rule(contains="hello", status=500))
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-retries", "2", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1
    assert "HTTP 500" in result.out and "after 3 attempts" in result.out
    assert len(fake.requests) == 3
    assert project.cassette_files() == []


def test_timeout_is_an_error_not_a_hang(project: Project) -> None:
    project.suite("s.yaml", ONE)
    # An ignored timeout would wait out the 4 s and record a passing case: the verdict, not a
    # clock, shows the timeout was kept (a wall-time bound flakes on a loaded machine).
    with FakeOpenAI(latency=4.0) as slow:
        url = slow.base_url
        result = project.run("run", "suites", "--record-mode", "once", "--base-url", slow.base_url,
                             "--timeout", "0.3", "--max-retries", "0", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1 and "Timeout" in result.out
    assert f"no answer from {url}/chat/completions within 0.3 s" in result.out
    assert project.cassette_files() == []


def test_connection_refused_names_the_url_and_what_to_check(project: Project) -> None:
    """Nothing listens on the port: each case fails with an error that says where it tried and
    what to look at, the run goes on to the next case, and the gateway key in the base URL's
    query stays out of the message."""
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hello there\n"
                  "  - id: b\n    prompt: and again\n")
    server = FakeOpenAI().start()
    url = server.base_url
    server.stop()
    gateway_key = "gw-key-5d1e9a7c3b"
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", f"{url}?api-key={gateway_key}",
                         "--max-retries", "1", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert result.out.count(f"could not connect to {url}/chat/completions") == 2, result.out
    assert "Connection refused" in result.out
    assert "check that the server is running" in result.out
    assert "--base-url" in result.out and "host and port" in result.out and "proxy" in result.out
    assert "after 2 attempts" in result.out
    assert gateway_key not in result.text and CANARY not in result.text
    assert project.cassette_files() == []


def test_unreachable_proxy_is_named_without_its_password(project: Project) -> None:
    project.suite("s.yaml", ONE)
    server = FakeOpenAI().start()
    url, port = server.base_url, server.port
    server.stop()  # nothing listens there: neither the proxy nor the server answers
    proxy = f"http://proxyuser:proxy-pass-9f8e7d@127.0.0.1:{port}"
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", url, "--max-retries", "0",
                         env={"OPENAI_API_KEY": CANARY, "HTTP_PROXY": proxy, "NO_PROXY": ""})
    assert result.code == 1, result.text
    assert "the proxy in HTTP_PROXY" in result.out, result.out
    assert "proxy-pass-9f8e7d" not in result.text


def test_empty_event_stream_is_an_error() -> None:
    for api in apis.APIS.values():
        out = apis.parse_answer(api, 200, {"content-type": "text/event-stream"}, "")
        assert out.error and "empty event stream" in out.error


def _spawn(project: Project, url: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OPENAI_API_KEY=CANARY, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "suites", "-q", "--record-mode", "once",
                             "--base-url", url, *args], cwd=project.root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_cassettes(root: Path, n: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((root / "cassettes").rglob("*.yaml"))) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} cassettes after {timeout}s")


def _all_whole(root: Path) -> int:
    files = list((root / "cassettes").rglob("*.yaml"))
    for path in files:
        data = yaml.safe_load(path.read_text())
        assert data["version"] == 1 and data["interactions"], path
    return len(files)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_keeps_finished_cassettes_and_once_records_the_rest(project: Project, sig: int) -> None:
    project.suite("s.yaml", _many(40))
    with FakeOpenAI(latency=0.15) as server:
        proc = _spawn(project, server.base_url, "--concurrency", "2")
        _wait_for_cassettes(project.root, 3)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, out + err
        assert "stopped:" in err and "--record-mode once" in err
        kept = _all_whole(project.root)
        assert 3 <= kept < 40
        sent = len(server.requests)
        assert sent <= kept + 2  # at most the requests in flight were lost, none started after
        server.clear_requests()
        result = project.record(server, "suites")
        assert result.code == 0, result.text
        assert len(server.requests) == 40 - kept  # only the missing ones
    assert _all_whole(project.root) == 40


def test_sigkill_mid_run_leaves_no_partial_cassette(project: Project) -> None:
    project.suite("s.yaml", _many(60))
    with FakeOpenAI(latency=0.05) as server:
        proc = _spawn(project, server.base_url, "--concurrency", "8")
        _wait_for_cassettes(project.root, 10)
        proc.kill()
        proc.wait(10)
        kept = _all_whole(project.root)  # every cassette on disk parses: none is half-written
        assert 10 <= kept < 60
        assert project.record(server, "suites").code == 0
    assert _all_whole(project.root) == 60
    # a write or a lock cut by SIGKILL leaves a hidden file; the next recording run sweeps it at once
    assert [p.name for p in (project.root / "cassettes").rglob(".*")] == []
