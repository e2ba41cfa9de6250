"""Shared fixtures: a loopback OpenAI-compatible server and a throwaway project folder.

Tests record against the server, stop it, and replay with nothing listening, so a replay that
touched the network would fail.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main as harness_main
from harness.testing.fake_openai import FakeOpenAI

CANARY = "sk-canary-7f3a9c21d4e8b6a0f5c3e1d9"
AZURE_CANARY = "azcanary0123456789abcdef0123"

pytest_plugins = ["pytester", "ci_strict"]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(require_key=CANARY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RunResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Project:
    """A temporary project: suites/ and cassettes/ beside a pyproject.toml, run in-process."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
        (root / "suites").mkdir()
        (root / "cassettes").mkdir()
        monkeypatch.chdir(root)
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                     "OPENAI_API_VERSION", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "NO_COLOR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COLUMNS", "200")

    def suite(self, name: str, text: str) -> Path:
        path = self.root / "suites" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def run(self, *args: str, env: dict[str, str] | None = None) -> RunResult:
        with self.monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            self.capsys.readouterr()
            code = harness_main(list(args))
            captured = self.capsys.readouterr()
        return RunResult(code, captured.out, captured.err)

    def record(self, fake: FakeOpenAI, *args: str, mode: str = "once") -> RunResult:
        return self.run("run", *args, "--record-mode", mode, "--base-url", fake.base_url,
                        env={"OPENAI_API_KEY": CANARY})

    def cassette_files(self) -> list[Path]:
        return sorted(p for p in (self.root / "cassettes").rglob("*") if p.is_file())

    def all_files_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.root.rglob("*") if p.is_file())


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    return Project(root, capsys, monkeypatch)


@contextmanager
def network_blocked() -> Iterator[list[str]]:
    """Any attempt to connect a socket is refused and logged (replay must never try)."""
    import socket

    attempts: list[str] = []
    real_connect = socket.socket.connect

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(repr(address))
        raise ConnectionRefusedError("network blocked by the test")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]


def env_without_keys() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "KEY" not in k}


#: A project file that opts its suites/ folder into pytest collection (the plugin's harness_suites).
OPTED_IN_PYPROJECT = "[project]\nname='demo'\n\n[tool.pytest.ini_options]\nharness_suites = ['suites']\n"


def record_for_pytester(pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
                        suite: str, *, code: int) -> pytest.Pytester:
    """A pytester project whose suites/demo.yaml is recorded from ``fake`` (which is then stopped),
    so that pytest sessions in it replay offline. ``code``: the recording run's exit status."""
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "demo.yaml").write_text(suite)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == code
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.stop()
    return pytester
