"""Running one measured command: a fresh subprocess, timed from spawn to exit, with a timeout.

Every number the benchmark reports comes through ``measure``: wall time as a user waits for it, and
peak RSS and CPU time from ``os.wait4``'s rusage, so nothing of the benchmark's own process is counted.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
LOGS = OUT / "logs"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once
FAKE_KEY = "sk-bench-not-a-real-key"


@dataclass(frozen=True)
class Measured:
    """One subprocess, spawn to exit: wall time, peak RSS, CPU (user + sys), exit code (None: killed
    at its timeout), and what it printed."""

    wall_s: float
    rss_mb: float
    cpu_s: float
    code: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def why(self) -> str:
        """A short reason for a failed run, for the table's notes."""
        if self.code is None:
            return "killed at its timeout"
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or [""]
        return f"exit {self.code}: {tail[0][:160]}"


@dataclass(frozen=True)
class Timing:
    """The median of several runs of one command, and its first run (kept apart: it may differ)."""

    wall_s: float
    rss_mb: float
    cpu_s: float
    first_s: float
    runs: int

    @classmethod
    def of(cls, runs: Sequence[Measured]) -> Timing:
        return cls(wall_s=statistics.median(r.wall_s for r in runs),
                   rss_mb=statistics.median(r.rss_mb for r in runs),
                   cpu_s=statistics.median(r.cpu_s for r in runs),
                   first_s=runs[0].wall_s, runs=len(runs))


#: What a CI job's environment adds: GitHub Actions, GitLab CI and most CI services set CI=true, and
#: harness then reads the parse cache but does not write it (a fresh checkout would never read it).
CI_ENV = {"CI": "true"}


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every measured command: no real key, no real endpoint, and a dead proxy.

    Why the proxy: a tool that phones home (telemetry, update checks) is sent to 127.0.0.1:9 and
    refused at once instead of leaving the machine; NO_PROXY keeps loopback direct. HARNESS_NO_CACHE
    is dropped so a run is cold or warm because of the folder it runs in, never because of a variable.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "HARNESS_")) and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["OPENAI_API_KEY"] = FAKE_KEY
    env.pop("CI", None)  # a run is a CI job's only where a part says so (CI_ENV)
    env.update(extra)
    return env


def measure(cmd: Sequence[str | Path], *, cwd: Path, timeout: float,
            env: dict[str, str] | None = None, log: str = "last") -> Measured:
    """Run ``cmd`` to exit; wall time from spawn to reaping, peak RSS and CPU from ``os.wait4``.

    The child leads its own process group so a timeout kills it and anything it started, and
    nothing else. Output goes to bench/out/logs/LOG.stdout and .stderr (a full pipe must never
    stall the child being timed; the files stay for a look after the run).
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    out_path, err_path = LOGS / f"{log}.stdout", LOGS / f"{log}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env or child_env(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return Measured(wall_s=wall, rss_mb=usage.ru_maxrss * 1024 / 1e6,  # ru_maxrss is in KiB
                    cpu_s=usage.ru_utime + usage.ru_stime,
                    code=None if killed.is_set() else proc.returncode,
                    stdout=out_path.read_text(errors="replace"),
                    stderr=err_path.read_text(errors="replace"))


def tool(name: str) -> list[str]:
    """A console script beside this Python (``harness``, ``pytest``), as a user would type it."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "harness.cli" if name == "harness" else name]


def say(text: str) -> None:
    """Progress on stderr; stdout is kept for the Markdown."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
