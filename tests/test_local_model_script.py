"""scripts/local_model.py's supervision, with stand-in servers (the real model: test_real_model.py).

`serve` must never fail silently: it is ready only after a real chat completion, it names the exit
status or signal of a server that died with the last lines of its log, and SIGINT/SIGTERM stop the
server with it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_model() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import local_model as module  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fake_server(port: int) -> list[str]:
    return [sys.executable, "-m", "harness.testing.fake_openai", "--port", str(port)]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_server_that_crashes_is_reported_with_its_signal_and_log(local_model: ModuleType, tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import os, signal, sys; print('llama_decode: loading', flush=True); "
             "os.kill(os.getpid(), signal.SIGSEGV)"]
    with pytest.raises(local_model.ServerDied) as died:
        local_model.launch(crash, "http://127.0.0.1:9/v1", tmp_path / "server.log", ready_within=30)
    message = str(died.value)
    assert "was killed by SIGSEGV (signal 11)" in message
    assert "llama_decode: loading" in message and str(tmp_path / "server.log") in message


def test_an_exit_status_is_reported(local_model: ModuleType, tmp_path: Path) -> None:
    fail = [sys.executable, "-c", "import sys; print('model file not found'); sys.exit(3)"]
    with pytest.raises(local_model.ServerDied, match=r"exited with status 3 .*\n.*model file not found"):
        local_model.launch(fail, "http://127.0.0.1:9/v1", tmp_path / "server.log", ready_within=30)


def test_ready_means_it_answered_a_chat_completion_and_sigterm_stops_it(
        local_model: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    proc = local_model.launch(_fake_server(port), f"http://127.0.0.1:{port}/v1", tmp_path / "s.log",
                              ready_within=60)
    assert proc.poll() is None and _listening(port)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = local_model.supervise(proc, tmp_path / "s.log")
    finally:
        timer.cancel()
    assert code == 0 and proc.poll() is not None and not _listening(port)
    assert "SIGTERM: stopping the model server" in capsys.readouterr().err


def test_a_server_dying_while_serving_is_reported(local_model: ModuleType, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    proc = local_model.launch(_fake_server(port), f"http://127.0.0.1:{port}/v1", tmp_path / "s.log",
                              ready_within=60)
    threading.Timer(0.5, proc.kill).start()
    assert local_model.supervise(proc, tmp_path / "s.log") == 1
    assert "the model server was killed by SIGKILL (signal 9) while serving" in capsys.readouterr().err


def test_a_server_that_never_answers_is_stopped(local_model: ModuleType, tmp_path: Path) -> None:
    mute = [sys.executable, "-c", "import time; print('warming up', flush=True); time.sleep(600)"]
    start = time.monotonic()
    with pytest.raises(local_model.ServerDied, match="did not answer a chat completion within 2 s"):
        local_model.launch(mute, "http://127.0.0.1:9/v1", tmp_path / "server.log", ready_within=2)
    assert time.monotonic() - start < 60


def test_the_build_is_portable(local_model: ModuleType) -> None:
    """A native build (-march=native) crashed on a CPU with AVX-512 + AMX; the wheel cache is keyed
    by the flags, so a native wheel cached earlier is never reused."""
    flags = local_model.portable_cmake_args()
    assert "-DGGML_NATIVE=OFF" in flags and "AVX512" not in flags
    assert local_model.wheel_dir(flags) != local_model.wheel_dir("")


def test_serve_cli_reports_a_dead_server(tmp_path: Path) -> None:
    """The command line says why it stopped (no model installed here counts as a failure to start)."""
    env = dict(os.environ, HARNESS_MODEL_DIR=str(tmp_path / "models"))
    code = ("import sys, runpy; sys.argv = ['local_model.py', 'serve', '--port', '9', '--log', "
            f"{str(tmp_path / 'x.log')!r}]; import local_model; local_model.server_command = lambda port: "
            "[sys.executable, '-c', 'import sys; print(\"boom\"); sys.exit(7)']; sys.exit(local_model.main())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "scripts", env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "exited with status 7" in done.stderr and "boom" in done.stderr and "Traceback" not in done.stderr
