"""harness's loopback OpenAI-compatible fake server, in its own process, with its request log.

A separate process, so its threads do not share a GIL with the client being measured (they share
the machine's 2 cores, as a local model server would). Its request log is how the benchmark counts
what a tool really sent (a cached re-run must send nothing).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from procs import LOGS

LATENCY_S = 0.2
FAULT_EVERY = 20  # every 20th chat request is a 429: 5 %
FAULT_RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class FakeServer:
    """A running fake server: its base URL and its request log (one line per answered request)."""

    url: str
    log: Path

    def statuses(self) -> Counter[str]:
        """HTTP statuses the server has answered so far (from its request log)."""
        return Counter(re.findall(r'" (\d{3}) ', self.log.read_text(errors="replace")))

    def answered(self) -> int:
        return sum(self.statuses().values())


@contextmanager
def fake_server(label: str, *, faults: bool = False) -> Iterator[FakeServer]:
    """The server at 200 ms per answer; with ``faults`` every 20th request is a 429 + Retry-After 1 s."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"fake-{label}.log"
    cmd = [sys.executable, "-m", "harness.testing.fake_openai", "--host", "127.0.0.1", "--port", "0",
           "--latency", str(LATENCY_S), "--verbose"]
    if faults:
        cmd += ["--fault-every", str(FAULT_EVERY), "--fault-retry-after", str(FAULT_RETRY_AFTER_S)]
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        url = proc.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fake server did not start (got {url!r}; see {log})")
        yield FakeServer(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
