"""Live recording against the loopback fake server (200 ms per answer, 32 in flight), with and without
5% 429s, and a bare Node fetch client on the same server for reference.

Besides wall time against the ideal (N x 0.2 s / 32), each row gives the client's CPU per recorded
case (user + sys from ``os.wait4``, over N): on 2 shared cores the client's CPU is what keeps it
from the ideal.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from loopback import LATENCY_S, fake_server
from procs import BENCH, OUT, measure, say, tool
from projects import ensure_project, suite_of
from replay_rows import passed_of
from table import Row

CONCURRENCY = 32
REFERENCE_SIZE = 1_000
#: Where a row's old cassettes go until the live part ends (see ``_set_aside``).
TRASH = OUT / "trash"


@dataclass(frozen=True)
class Live:
    """One recording run: its size, whether 429s were injected, wall over ideal, CPU per case."""

    n: int
    faults: bool
    ratio: float
    cpu_ms_per_case: float
    complete: bool


@dataclass
class LivePart:
    runs: list[Live]
    rows: list[Row] = field(default_factory=list)


def _label(faults: bool) -> str:
    return f"live record, c={CONCURRENCY}" + (", 5% 429 + Retry-After 1 s" if faults else "")


def recorded_latency_ms(cassettes: Path) -> float:
    """Mean request latency as harness recorded it (``latency_ms`` in each cassette), in ms.

    Against 200 ms of server sleep it shows how much each request waited beyond the server.
    """
    values = [float(m) for path in cassettes.rglob("*.yaml")
              for m in re.findall(r"^\s*latency_ms: ([\d.]+)", path.read_text(), re.MULTILINE)]
    return statistics.fmean(values) if values else float("nan")


def _set_aside(path: Path) -> None:
    """Move ``path`` out of the way; the live part deletes it when all its rows are measured.

    Not deleted before a row: on an ext4 file system without a journal (this machine's), creating
    a file skips every inode freed in the last minutes, one by one, so deleting the previous row's
    thousands of cassettes just before a row charged that row's cassette and lock files with the
    bench's own clean-up (~1-2 ms of system time per case; the rows with 429s, which always came
    right after the rows without, looked ~1.3 ms a case dearer at 5,000 for it).
    """
    if path.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{path.parent.name}-{path.name}-{time.time_ns()}")


def live_row(n: int, *, faults: bool) -> tuple[Live, Row]:
    """Record n cases at --concurrency 32, from no cassettes at all."""
    root = ensure_project("live", n)
    tag = f"{n}-{'429' if faults else 'ok'}"
    cassettes = root / "cassettes"
    _set_aside(cassettes)
    _set_aside(root / ".harness")
    cassettes.mkdir()
    ideal = n * LATENCY_S / CONCURRENCY
    with fake_server(f"harness-{tag}", faults=faults) as server:
        say(f"{_label(faults)}: {n} cases (ideal {ideal:.1f} s)")
        run = measure([*tool("harness"), "run", suite_of(n), "-q", "--record-mode", "once",
                       "--base-url", server.url, "--concurrency", str(CONCURRENCY)],
                      cwd=root, timeout=max(120.0, 10 * ideal), log=f"live-{tag}")
        statuses = server.statuses()
    written = sum(1 for _ in cassettes.rglob("*.yaml"))
    passed = passed_of(run)
    complete = run.ok and written == n and passed == n
    live = Live(n, faults, run.wall_s / ideal, run.cpu_s / n * 1000, complete)
    notes = [f"ideal {ideal:.2f} s", f"**{live.ratio:.2f}x ideal**",
             f"client CPU {live.cpu_ms_per_case:.2f} ms/case", f"{written}/{n} cassettes",
             f"{sum(statuses.values())} requests ({statuses.get('429', 0)} answered 429)",
             f"mean latency {recorded_latency_ms(cassettes):.0f} ms as recorded"]
    if not complete:
        notes.insert(0, f"FAILED ({passed}/{n} passed): {run.why()}")
    return live, Row(_label(faults), n, run.wall_s, run.rss_mb, "; ".join(notes))


def one_case_row(repeats: int = 3) -> Row:
    """Record one case, ``repeats`` times from no cassette: what a live run pays besides its
    requests (start-up, importing the SDK, planning, writing, exit), fixed whatever its size. Set
    beside the ideal of the sized rows, it shows how much of their ratio no per-case saving can
    reach."""
    root = ensure_project("live", 1)
    runs = []
    for k in range(repeats):
        _set_aside(root / "cassettes")
        _set_aside(root / ".harness")
        (root / "cassettes").mkdir()
        with fake_server(f"harness-1-{k}") as server:
            runs.append(measure([*tool("harness"), "run", suite_of(1), "-q", "--record-mode", "once",
                                 "--base-url", server.url, "--concurrency", str(CONCURRENCY)],
                                cwd=root, timeout=120.0, log=f"live-1-{k}"))
    failed = [r for r in runs if not (r.ok and passed_of(r) == 1)]
    if failed:
        return Row("live record, one case (fixed cost)", 1, None, None, f"FAILED: {failed[0].why()}")
    wall = statistics.median(r.wall_s for r in runs)
    cpu = statistics.median(r.cpu_s for r in runs)
    fixed = wall - LATENCY_S
    ideal = REFERENCE_SIZE * LATENCY_S / CONCURRENCY
    return Row("live record, one case (fixed cost)", 1, wall, statistics.median(r.rss_mb for r in runs),
               f"median of {repeats}; CPU {cpu:.2f} s; wall - the 0.2 s answer = {fixed:.2f} s fixed, "
               f"{fixed / ideal:.2f}x of the {REFERENCE_SIZE:,}-case ideal ({ideal:.2f} s)")


def node_binary(node22: Path) -> Path | None:
    """Node 22 from bench/out if installed, else the machine's node (the reference client only
    needs fetch, which Node 20 has)."""
    if node22.exists():
        return node22
    found = shutil.which("node")
    return Path(found) if found else None


def reference_row(n: int, node: Path | None, *, faults: bool) -> Row:
    """A bare Node fetch client, 32 in flight, on the same kind of server: the server's own floor.

    Not a target: it tells how much of a live ratio is the loopback server's (and, with 429s, the
    Retry-After waits') and how much is harness's.
    """
    label = f"reference: bare Node fetch client, {CONCURRENCY} in flight" + \
        (", 5% 429 + Retry-After 1 s" if faults else "")
    if node is None:
        return Row(label, n, None, None, "NOT MEASURED: no node")
    ideal = n * LATENCY_S / CONCURRENCY
    tag = f"reference-{n}-{'429' if faults else 'ok'}"
    with fake_server(tag, faults=faults) as server:
        say(f"{label}: {n} requests")
        run = measure([node, BENCH / "loopback_client.mjs", server.url, str(n), str(CONCURRENCY)],
                      cwd=BENCH, timeout=max(120.0, 10 * ideal), log=tag)
    try:
        stats = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return Row(label, n, None, None, f"FAILED: {run.why()}")
    notes = f"ideal {ideal:.2f} s; {stats['wall_s'] / ideal:.2f}x ideal; mean latency " \
            f"{stats['mean_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms; " \
            f"{stats['rate_limited']} answered 429; {stats['failed']} failed; " \
            f"client CPU {run.cpu_s / n * 1000:.2f} ms/request"
    return Row(label, n, float(stats["wall_s"]), run.rss_mb, notes)


def live_part(sizes: tuple[int, ...], node22: Path) -> LivePart:
    part = LivePart([])
    shutil.rmtree(TRASH, ignore_errors=True)  # a killed bench's
    try:
        for n in sizes:
            for faults in (False, True):
                live, row = live_row(n, faults=faults)
                part.runs.append(live)
                part.rows.append(row)
        part.rows.append(one_case_row())
    finally:
        shutil.rmtree(TRASH, ignore_errors=True)
    node = node_binary(node22)
    part.rows += [reference_row(REFERENCE_SIZE, node, faults=False), reference_row(REFERENCE_SIZE, node, faults=True)]
    return part
